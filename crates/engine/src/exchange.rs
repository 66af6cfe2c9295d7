//! The message a rank sends in the per-interval all-gather (see [`crate::ranks`]): its stop vote
//! and, for each of its threads in order, the interval's output — spikes, graded values, weight
//! events, recorded samples and a model failure — in a fixed little-endian layout.

use crate::ranks::wire::{self, Reader};
use crate::sim::{Failure, GradedEvent, IntervalOutput, Samples, Spike};
use crate::synapse::WeightEvent;

/// Encodes the vote and the threads' outputs.
pub(crate) fn encode(halt: bool, outputs: &[&IntervalOutput], out: &mut Vec<u8>) {
    out.clear();
    wire::put_u64(out, u64::from(halt));
    wire::put_u64(out, outputs.len() as u64);
    for o in outputs {
        wire::put_u64(out, o.spikes.len() as u64);
        for s in &o.spikes {
            wire::put_u64(out, s.step);
            wire::put_u64(out, s.gid);
            wire::put_f64(out, s.offset);
        }
        wire::put_u64(out, o.graded.len() as u64);
        for g in &o.graded {
            wire::put_u64(out, g.step);
            wire::put_u64(out, g.gid);
            wire::put_f64(out, g.value);
        }
        wire::put_u64(out, o.weights.len() as u64);
        for w in &o.weights {
            wire::put_u64(out, w.projection as u64);
            wire::put_f64(out, w.t_ms);
            wire::put_u64(out, w.source);
            wire::put_u64(out, w.target);
            wire::put_f64(out, w.weight);
        }
        wire::put_u64(out, o.samples.len() as u64);
        for recording in &o.samples {
            wire::put_u64(out, recording.steps.len() as u64);
            wire::put_u64(out, recording.width as u64);
            recording.steps.iter().for_each(|&step| wire::put_u64(out, step));
            recording.values.iter().for_each(|&v| wire::put_f64(out, v));
        }
        wire::put_u64(out, u64::from(o.failure.is_some()));
        if let Some(f) = &o.failure {
            wire::put_u64(out, f.step);
            wire::put_u64(out, f.gid);
            wire::put_bytes(out, f.message.as_bytes());
        }
    }
}

/// Decodes a rank's message: its vote, and its threads' outputs appended to `outputs`.
pub(crate) fn decode(bytes: &[u8], outputs: &mut Vec<IntervalOutput>) -> bool {
    let mut r = Reader::new(bytes);
    let halt = r.u64() != 0;
    for _ in 0..r.usize() {
        // Read in the order written.
        let spikes = (0..r.usize()).map(|_| Spike { step: r.u64(), gid: r.u64(), offset: r.f64() }).collect();
        let graded = (0..r.usize()).map(|_| GradedEvent { step: r.u64(), gid: r.u64(), value: r.f64() }).collect();
        let weights = (0..r.usize())
            .map(|_| WeightEvent {
                projection: r.usize(),
                t_ms: r.f64(),
                source: r.u64(),
                target: r.u64(),
                weight: r.f64(),
            })
            .collect();
        let samples = (0..r.usize())
            .map(|_| {
                let (n, width) = (r.usize(), r.usize());
                let steps = (0..n).map(|_| r.u64()).collect();
                Samples { steps, width, values: (0..n * width).map(|_| r.f64()).collect() }
            })
            .collect();
        let failure = (r.u64() != 0).then(|| Failure {
            step: r.u64(),
            gid: r.u64(),
            message: String::from_utf8_lossy(r.bytes()).into_owned(),
        });
        let o = IntervalOutput { spikes, graded, weights, samples, failure };
        outputs.push(o);
    }
    halt
}

/// Encodes weight events alone (the last interval's, after the loop).
pub(crate) fn encode_weights(events: &[WeightEvent]) -> Vec<u8> {
    let output = IntervalOutput { weights: events.to_vec(), ..IntervalOutput::default() };
    let mut out = Vec::new();
    encode(false, &[&output], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_round_trip_bit_for_bit() {
        let o = IntervalOutput {
            spikes: vec![Spike { step: 3, gid: 9, offset: -0.0 }, Spike { step: 4, gid: 1, offset: 0.025 }],
            graded: vec![GradedEvent { step: 3, gid: 2, value: 1.5e-300 }],
            weights: vec![WeightEvent { projection: 2, t_ms: 0.4, source: 7, target: 8, weight: -3.25 }],
            samples: vec![
                Samples { steps: vec![3, 4], width: 2, values: vec![1.0, f64::NAN, -0.0, 2.5] },
                Samples::default(),
            ],
            failure: Some(Failure { step: 4, gid: 9, message: "numerical instability (V_m = −1e4 mV)".into() }),
        };
        let mut bytes = Vec::new();
        encode(true, &[&o, &IntervalOutput::default()], &mut bytes);
        let mut back = Vec::new();
        assert!(decode(&bytes, &mut back));
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].spikes, o.spikes);
        assert_eq!(back[0].spikes[0].offset.to_bits(), (-0.0f64).to_bits());
        assert_eq!(back[0].graded, o.graded);
        assert_eq!(back[0].weights, o.weights);
        assert_eq!(back[0].failure, o.failure);
        assert_eq!(back[1].failure, None);
        assert_eq!(back[0].samples[0].steps, [3, 4]);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(back[0].samples[0].at(1)), bits(&[-0.0, 2.5]));
        assert_eq!(bits(back[0].samples[0].at(0)), bits(&[1.0, f64::NAN]));
        assert_eq!(back[0].samples[1], Samples::default());
        assert!(back[1].spikes.is_empty());
    }
}
