//! `laminar build`: what a model file builds — populations with their place in the circuit,
//! projections with realised synapse counts, in-degrees and memory — and the circuit's export
//! as SONATA nodes and edges.
//!
//! The table is computed from a real build of the network (the same one `laminar run` would
//! simulate with that seed), so the counts are the realised ones, not expectations; the
//! expectation of each rule is printed next to them.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use laminar_engine::Rule;

use crate::config::ModelFile;

/// The manifest placements of a column-built circuit, by population name.
pub fn manifest_placements(e: &laminar_column::Expanded) -> Vec<(String, laminar_record::Placement)> {
    e.populations
        .iter()
        .map(|p| {
            let pl = &p.placement;
            (
                p.name.clone(),
                laminar_record::Placement {
                    layer: pl.layer.clone(),
                    cell_type: Some(pl.cell_type.clone()),
                    area: pl.area.clone(),
                    column: pl.column.clone(),
                    column_index: pl.column_index,
                },
            )
        })
        .collect()
}

/// The expected number of synapses of a rule between populations of `ns` and `nt` neurons.
fn expected_synapses(rule: &Rule, ns: usize, nt: usize, same: bool, autapses: bool) -> Option<f64> {
    let (ns, nt) = (ns as f64, nt as f64);
    let pairs = ns * nt - if same && !autapses { nt } else { 0.0 };
    Some(match rule {
        Rule::AllToAll => pairs,
        Rule::OneToOne => nt,
        Rule::PairwiseBernoulli { p } => p * pairs,
        Rule::FixedIndegree { k } => *k as f64 * nt,
        Rule::FixedOutdegree { k } => *k as f64 * ns,
        Rule::FixedTotalNumber { n } => *n as f64,
        Rule::Explicit(list) => list.len() as f64,
    })
}

fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} {}", UNITS[u]) } else { format!("{v:.1} {}", UNITS[u]) }
}

/// What `laminar build` measured.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub text: String,
    pub synapses: u64,
    pub bytes: usize,
    pub build_seconds: f64,
}

/// Builds `file` with `seed` on `threads` threads and tabulates it.
pub fn build_table(file: &ModelFile, seed: u64, threads: usize) -> Result<BuildSummary> {
    let started = Instant::now();
    let built = file.build(seed, threads)?;
    let build_seconds = started.elapsed().as_secs_f64();
    let sim = &built.simulation;
    let (synapses, bytes) = sim.memory();
    let per_synapse = if synapses > 0 { bytes as f64 / synapses as f64 } else { 0.0 };
    let circuit = file.circuit();
    let placement = |name: &str| circuit.and_then(|c| c.populations.iter().find(|p| p.name == name));
    let stream = |name: &str| circuit.and_then(|c| c.projections.iter().find(|p| p.name == name));
    let mut t = String::new();
    let pops = sim.populations();
    writeln!(t, "{}", file.describe())?;
    writeln!(t, "\npopulations")?;
    writeln!(
        t,
        "  {:<24} {:<6} {:<10} {:<8} {:<8} {:<18} {:>9}",
        "name", "layer", "type", "area", "column", "model", "size"
    )?;
    for p in pops {
        let pl = placement(&p.name).map(|q| &q.placement);
        let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
        writeln!(
            t,
            "  {:<24} {:<6} {:<10} {:<8} {:<8} {:<18} {:>9}",
            p.name,
            dash(pl.and_then(|q| q.layer.as_deref())),
            dash(pl.map(|q| q.cell_type.as_str())),
            dash(pl.and_then(|q| q.area.as_deref())),
            dash(pl.and_then(|q| q.column.as_deref())),
            p.model,
            p.size
        )?;
    }
    writeln!(
        t,
        "\nprojections (memory at the network's all-in {per_synapse:.1} bytes per synapse: connectivity, \
         synaptic state and input buffers)"
    )?;
    writeln!(
        t,
        "  {:<36} {:<16} {:>12} {:>12} {:>10} {:>10}",
        "name", "stream", "synapses", "expected", "in-degree", "memory"
    )?;
    let counts = sim.projection_synapses();
    for (i, name) in sim.projection_names().iter().enumerate() {
        let spec = file.projection(i);
        let (ns, nt) = (pops[spec.source].size, pops[spec.target].size);
        let expected = expected_synapses(&spec.rule, ns, nt, spec.source == spec.target, spec.autapses);
        let kind = stream(name)
            .map(|s| match &s.label {
                Some(l) => format!("{}/{l}", s.stream.as_str()),
                None => s.stream.as_str().to_string(),
            })
            .unwrap_or_else(|| "declared".into());
        writeln!(
            t,
            "  {:<36} {:<16} {:>12} {:>12} {:>10.2} {:>10}",
            name,
            kind,
            counts[i],
            expected.map_or("-".into(), |e| format!("{e:.0}")),
            counts[i] as f64 / nt.max(1) as f64,
            human_bytes(counts[i] as f64 * per_synapse)
        )?;
    }
    let neurons: usize = pops.iter().map(|p| p.size).sum();
    writeln!(
        t,
        "\ntotal: {neurons} neurons, {synapses} synapses, {} ({per_synapse:.1} bytes per synapse); \
         built in {build_seconds:.2} s on {threads} threads ({:.3e} synapses/s)",
        human_bytes(bytes as f64),
        synapses as f64 / build_seconds.max(1e-9)
    )?;
    Ok(BuildSummary { text: t, synapses: synapses as u64, bytes, build_seconds })
}
