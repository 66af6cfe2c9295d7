//! Describing a network and building it into per-thread partitions.
//!
//! A [`NetworkBuilder`] collects populations (a model factory and a size), projections (a rule,
//! weight and delay distributions, a receptor), devices and recordings. [`NetworkBuilder::build`]
//! assigns global ids (populations are contiguous gid ranges, in declaration order), partitions
//! every population into contiguous per-thread chunks, and lets each thread generate the synapses
//! onto its own neurons (see [`crate::connect`] for why this is deterministic), store them as a
//! CSR indexed by source gid, and build its model shards, buffers and device channels.

use std::sync::Arc;

use thiserror::Error;

use crate::buffer::InputBuffer;
use crate::connect::{Dist, Rule, TargetDraw};
use crate::population::{BuildContext, ModelError, PopulationFactory};
use crate::queue::NextEventQueue;
use crate::ranks::{Ranks, SingleRank, wire};
use crate::rng::{Stream, stream_for};
use crate::sim::{Partition, RecordingPart, Shard, Simulation};
use crate::stimulus::{ChannelTarget, StimulusFactory};
use crate::synapse::{PlasticGroup, PostHistory, SynapseFactory};
use crate::time::{Resolution, Step};

/// Why a network could not be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BuildError {
    #[error("population '{population}': {message}")]
    Population { population: String, message: String },
    #[error("projection '{projection}': {message}")]
    Projection { projection: String, message: String },
    #[error("device '{device}': {message}")]
    Device { device: String, message: String },
    #[error("recording of '{population}': {message}")]
    Recording { population: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// The longest synaptic or device delay, in steps: delays are stored in 16 bits per synapse, and
/// every target neuron keeps one ring-buffer slot per step of the longest delay, so this also
/// bounds the buffers' memory. Model files are checked against it before anything is built.
pub const MAX_DELAY_STEPS: Step = u16::MAX as Step;

/// An initial value of a state variable: one value, a distribution, or one value per neuron.
#[derive(Debug, Clone, PartialEq)]
pub enum Initial {
    Dist(Dist),
    PerNeuron(Vec<f64>),
}

#[derive(Clone)]
pub(crate) struct PopulationEntry {
    pub name: String,
    pub size: usize,
    pub factory: Arc<dyn PopulationFactory>,
    pub initial: Vec<(usize, String, Initial)>,
}

/// The synapse model of a projection: a shared factory, compared by model name.
#[derive(Clone)]
pub struct SynapseModel(pub Arc<dyn SynapseFactory>);

impl std::fmt::Debug for SynapseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SynapseModel({})", self.0.name())
    }
}

impl PartialEq for SynapseModel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A projection between two populations.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub name: String,
    pub source: usize,
    pub target: usize,
    pub rule: Rule,
    pub weight: Dist,
    /// Delay in ms; rounded to whole steps, at least one step.
    pub delay: Dist,
    /// Receptor index on the target model; `None` picks by the weight's sign (NEST's convention).
    pub receptor: Option<usize>,
    pub autapses: bool,
    pub multapses: bool,
    /// `None`: static synapses. Otherwise the synapse model whose state each synapse carries.
    pub synapse: Option<SynapseModel>,
    /// Report every transmission's weight (NEST's `weight_recorder`); needs a synapse model.
    pub record_weights: bool,
    /// Half-open windows `[start, stop)` in ms in which long-term plasticity changes weights (a
    /// write phase); outside them weights are frozen (a read phase). Empty: always plastic.
    pub learning_windows: Vec<(f64, f64)>,
}

impl Projection {
    /// A projection of static synapses with NEST's defaults (autapses and multapses allowed,
    /// receptor by the weight's sign).
    pub fn new(name: &str, source: usize, target: usize, rule: Rule, weight: Dist, delay: Dist) -> Self {
        Self {
            name: name.to_string(),
            source,
            target,
            rule,
            weight,
            delay,
            receptor: None,
            autapses: true,
            multapses: true,
            synapse: None,
            record_weights: false,
            learning_windows: Vec::new(),
        }
    }
}

/// A device connected to neurons of one population.
#[derive(Clone)]
pub struct DeviceEntry {
    pub name: String,
    pub factory: Arc<dyn StimulusFactory>,
    pub population: usize,
    /// Indices within the population (ascending).
    pub targets: Vec<u64>,
    pub weight: f64,
    pub delay_ms: f64,
    pub receptor: Option<usize>,
}

/// A state variable sampled at a fixed interval.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingSpec {
    pub population: usize,
    /// Index into the model's recordables.
    pub variable: usize,
    /// Neuron indices within the population, ascending and unique.
    pub nodes: Vec<u64>,
    /// Sampling interval in steps: samples are taken at the end of steps k with (k+1) % interval == 0.
    pub interval: Step,
}

/// Collects a network description.
#[derive(Clone)]
pub struct NetworkBuilder {
    pub(crate) resolution: Resolution,
    pub(crate) seed: u64,
    pub(crate) populations: Vec<PopulationEntry>,
    pub(crate) projections: Vec<Projection>,
    pub(crate) devices: Vec<DeviceEntry>,
    pub(crate) recordings: Vec<RecordingSpec>,
    /// Round the weights of static synapses to single precision when they are drawn
    /// ([`NetworkBuilder::set_single_precision_weights`]).
    pub(crate) single_precision_weights: bool,
}

impl std::fmt::Debug for NetworkBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkBuilder")
            .field("populations", &self.populations.iter().map(|p| (&p.name, p.size)).collect::<Vec<_>>())
            .field("projections", &self.projections.len())
            .field("devices", &self.devices.len())
            .finish()
    }
}

/// A shard's packed incoming connectivity, built before its model and buffers.
struct ShardConnectivity {
    csr: crate::csr::IncomingCsr,
    graded_csr: crate::csr::IncomingCsr,
    plastic: Vec<PlasticGroup>,
    history: Option<PostHistory>,
    min_delay: Option<Step>,
    max_delay: Option<Step>,
    /// Synapses per projection onto this shard: `(projection, count)` for the projections that
    /// have any.
    projection_counts: Vec<(u32, u64)>,
    /// Time spent drawing this shard's synapses, and sorting and packing them into the CSR.
    draw_seconds: f64,
    pack_seconds: f64,
}

/// Buffers a building thread reuses from one shard to the next: edges drawn in one piece, the
/// records of a bucketed shard (single- or double-precision weights) and the packing's space.
/// Allocations this large are fresh mappings, so without reuse every shard would fault in (and
/// the kernel zero) its pages again.
#[derive(Default)]
struct BuildScratch {
    edges: Vec<Edge>,
    /// A bucketed shard's sources (indices in their population) and its targets with how many
    /// sources each has, as the first pass draws them.
    sources: Vec<u32>,
    targets: Vec<(u32, u32)>,
    single: Vec<crate::csr::Record<f32>>,
    double: Vec<crate::csr::Record<f64>>,
    pack: crate::csr::PackScratch,
}

/// How a synapse is stored: in the static CSR, in a projection's plastic group, or in the CSR of
/// graded (non-spike) couplings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Static,
    Plastic,
    Graded,
}

/// One synapse as [`NetworkBuilder::for_each_synapse`] reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynapseView {
    /// Index of the projection (in the order they were added).
    pub projection: usize,
    /// Source and target neuron, 0-based within their populations.
    pub source: u64,
    pub target: u64,
    /// The weight as stored (1 for the spike-counting input of parrot-like models).
    pub weight: f64,
    pub delay_steps: u32,
    pub receptor: u8,
}

/// What drawing a shard's edges notes about them on the way, while each edge is in the cache:
/// packing needs it before it places the edges, and a shard's edges are far larger
/// than the caches, so a pass over them just to count would cost as much as the placing.
#[derive(Debug, Default)]
struct EdgeTally {
    /// Edges per source gid, shifted by one (`row_counts[g + 1]`: CSR row starts once summed).
    row_counts: Vec<u64>,
    min_delay: Option<Step>,
    max_delay: Option<Step>,
    /// Edges per projection, in the order drawn (each projection's edges are drawn together).
    projection_counts: Vec<(u32, u64)>,
}

impl EdgeTally {
    fn with_sources(n_total: u64) -> Self {
        Self { row_counts: vec![0; n_total as usize + 1], ..Self::default() }
    }

    /// Notes one edge from `source_gid` with `delay` steps (the rows are counted only when sized).
    #[inline]
    fn note(&mut self, source_gid: u64, delay: u32) {
        if let Some(n) = self.row_counts.get_mut(source_gid as usize + 1) {
            *n += 1;
        }
        self.note_delays(Step::from(delay), Step::from(delay));
    }

    /// Notes edges with delays from `shortest` to `longest` steps.
    #[inline]
    fn note_delays(&mut self, shortest: Step, longest: Step) {
        self.min_delay = Some(self.min_delay.map_or(shortest, |m| m.min(shortest)));
        self.max_delay = Some(self.max_delay.map_or(longest, |m| m.max(longest)));
    }
}

/// A partition's generated synapses onto one shard before CSR packing.
struct Edge {
    /// Index of the projection: static, plastic and graded synapses are stored apart.
    projection: u32,
    source_gid: u64,
    target: u32,
    weight: f64,
    /// In steps; saturated at `u32::MAX` (anything above `u16::MAX` is refused when packing).
    delay: u32,
    receptor: u8,
}

impl NetworkBuilder {
    pub fn new(resolution: Resolution, seed: u64) -> Self {
        Self {
            resolution,
            seed,
            populations: Vec::new(),
            projections: Vec::new(),
            devices: Vec::new(),
            recordings: Vec::new(),
            single_precision_weights: false,
        }
    }

    /// Rounds every static synapse's weight to the nearest single-precision number as it is
    /// drawn (plastic synapses keep double precision: their weights evolve). A weight then takes
    /// 4 bytes in the connectivity instead of 8 (PD14: 2.4 GB instead of 3.6 GB); input is still
    /// summed in double precision. For networks whose weights are drawn from distributions, whose
    /// spread is many orders of magnitude above the rounding (2⁻²⁴ of the weight); the network is
    /// then a (slightly) different draw, so the spikes differ from a double-precision run's.
    pub fn set_single_precision_weights(&mut self, single: bool) {
        self.single_precision_weights = single;
    }

    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Adds a population; returns its index.
    pub fn add_population(&mut self, name: &str, size: usize, factory: Arc<dyn PopulationFactory>) -> usize {
        self.populations.push(PopulationEntry { name: name.to_string(), size, factory, initial: Vec::new() });
        self.populations.len() - 1
    }

    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    pub fn population_name(&self, index: usize) -> &str {
        &self.populations[index].name
    }

    pub fn population_size(&self, index: usize) -> usize {
        self.populations[index].size
    }

    pub fn population_factory(&self, index: usize) -> &Arc<dyn PopulationFactory> {
        &self.populations[index].factory
    }

    /// Sets the initial value of recordable `variable` for every neuron of `population`.
    pub fn set_initial(&mut self, population: usize, variable: &str, value: Initial) -> Result<(), BuildError> {
        let entry = &mut self.populations[population];
        let info = entry.factory.info();
        let index = info.recordable_index(variable).ok_or_else(|| BuildError::Population {
            population: entry.name.clone(),
            message: format!(
                "model {} has no state variable '{variable}' (it has: {})",
                info.name,
                info.recordables.iter().map(|r| r.name.as_ref()).collect::<Vec<_>>().join(", ")
            ),
        })?;
        if let Initial::PerNeuron(v) = &value
            && v.len() != entry.size
        {
            return Err(BuildError::Population {
                population: entry.name.clone(),
                message: format!("{} initial values of {variable} for {} neurons", v.len(), entry.size),
            });
        }
        entry.initial.push((index, variable.to_string(), value));
        Ok(())
    }

    /// The number of projections added so far (the next projection's index).
    pub fn projection_count(&self) -> usize {
        self.projections.len()
    }

    pub fn add_projection(&mut self, projection: Projection) {
        self.projections.push(projection);
    }

    pub fn add_device(&mut self, device: DeviceEntry) {
        self.devices.push(device);
    }

    /// Adds a recording; returns its index (the index the observer sees).
    pub fn add_recording(&mut self, recording: RecordingSpec) -> usize {
        self.recordings.push(recording);
        self.recordings.len() - 1
    }

    fn first_gids(&self) -> Vec<u64> {
        let mut next = 0u64;
        self.populations
            .iter()
            .map(|p| {
                let first = next;
                next += p.size as u64;
                first
            })
            .collect()
    }

    /// Checks the description for what [`build`](Self::build) would refuse without drawing a
    /// synapse: receptors, graded signals, the rules' limits, node ranges.
    pub fn check(&self) -> Result<(), BuildError> {
        for p in &self.projections {
            let proj_err = |message: String| BuildError::Projection { projection: p.name.clone(), message };
            let target = &self.populations[p.target];
            let source = &self.populations[p.source];
            let info = target.factory.info();
            if info.source_only {
                return Err(proj_err(format!("target '{}' ({}) accepts no connections", target.name, info.name)));
            }
            if info.receptors.is_empty() {
                return Err(proj_err(format!(
                    "target '{}' ({}) has no receptors to connect to",
                    target.name, info.name
                )));
            }
            if let Some(r) = p.receptor
                && r >= info.receptors.len()
            {
                return Err(proj_err(format!("receptor {r} does not exist on {}", info.name)));
            }
            if let Some(signal) = source.factory.info().graded_output
                && p.receptor.is_none()
                && info.receptor_index(signal).is_none()
            {
                return Err(proj_err(format!(
                    "'{}' sends a graded {signal} signal, but {} has no {signal} receptor",
                    source.name, info.name
                )));
            }
            let source_info = source.factory.info();
            if source_info.graded_output.is_some() && p.synapse.is_some() {
                return Err(proj_err(format!(
                    "'{}' ({}) emits a graded signal ({}), not spikes: its projections take no synapse model",
                    source.name,
                    source_info.name,
                    source_info.graded_output.unwrap_or_default()
                )));
            }
            if p.record_weights && p.synapse.is_none() {
                return Err(proj_err("weights can be recorded only for projections with a synapse model".into()));
            }
            let ns = source.size as u64;
            let nt = target.size as u64;
            let same = p.source == p.target;
            let max_in = ns - u64::from(same && !p.autapses);
            match &p.rule {
                Rule::PairwiseBernoulli { p: prob } if !(0.0..=1.0).contains(prob) => {
                    return Err(proj_err(format!("p = {prob}: must be in [0, 1]")));
                }
                Rule::FixedIndegree { k } if !p.multapses && *k > max_in => {
                    return Err(proj_err(format!("indegree {k} > {max_in} available sources without multapses")));
                }
                Rule::FixedOutdegree { k } if !p.multapses && *k > nt - u64::from(same && !p.autapses) => {
                    return Err(proj_err(format!("outdegree {k} > {nt} available targets without multapses")));
                }
                Rule::FixedTotalNumber { n } if !p.multapses && *n > max_in * nt => {
                    return Err(proj_err(format!(
                        "total number {n} > {} possible pairs without multapses",
                        max_in * nt
                    )));
                }
                Rule::OneToOne if ns != nt => {
                    return Err(proj_err(format!("one_to_one needs equal sizes ({ns} vs {nt})")));
                }
                Rule::Explicit(edges) => {
                    if let Some(e) = edges.iter().find(|e| e.source >= ns || e.target >= nt) {
                        return Err(proj_err(format!(
                            "edge {} -> {} outside the populations ({ns} sources, {nt} targets)",
                            e.source, e.target
                        )));
                    }
                }
                _ => {}
            }
        }
        for (pi, pop) in self.populations.iter().enumerate() {
            let mut taus = self
                .projections
                .iter()
                .filter(|p| p.target == pi)
                .filter_map(|p| p.synapse.as_ref().and_then(|s| s.0.post_history()).map(|t| (t, &p.name)));
            if let Some((tau, first)) = taus.next()
                && let Some((other, name)) = taus.find(|(t, _)| *t != tau)
            {
                return Err(BuildError::Population {
                    population: pop.name.clone(),
                    message: format!(
                        "spike-timing projections onto one population must share tau_minus \
                         (the postsynaptic trace): '{first}' has {tau} ms, '{name}' has {other} ms"
                    ),
                });
            }
        }
        for d in &self.devices {
            let delay = self.resolution.round_steps(d.delay_ms);
            if delay > MAX_DELAY_STEPS {
                return Err(BuildError::Device {
                    device: d.name.clone(),
                    message: format!("a delay of {delay} steps exceeds the longest supported, {MAX_DELAY_STEPS} steps"),
                });
            }
            let target = &self.populations[d.population];
            if let Some(t) = d.targets.iter().find(|&&t| t >= target.size as u64) {
                return Err(BuildError::Device {
                    device: d.name.clone(),
                    message: format!("target {t} outside population '{}' of size {}", target.name, target.size),
                });
            }
        }
        for r in &self.recordings {
            let pop = &self.populations[r.population];
            if r.interval == 0 {
                return Err(BuildError::Recording { population: pop.name.clone(), message: "interval 0".into() });
            }
            if r.nodes.windows(2).any(|w| w[0] >= w[1]) || r.nodes.last().is_some_and(|&n| n >= pop.size as u64) {
                return Err(BuildError::Recording {
                    population: pop.name.clone(),
                    message: "node ids must be ascending, unique and inside the population".into(),
                });
            }
        }
        Ok(())
    }

    /// Builds the network for `threads` threads.
    pub fn build(&self, threads: usize) -> Result<Simulation, BuildError> {
        self.build_on(threads, Arc::new(SingleRank))
    }

    /// Builds this rank's part of the network for a run on `ranks.size()` ranks of `threads`
    /// threads each (see [`crate::ranks`]): every population is split into ranks × threads
    /// chunks, and this rank builds only its own chunks and their incoming synapses. Collective:
    /// every rank must call it.
    pub fn build_on(&self, threads: usize, ranks: Arc<dyn Ranks>) -> Result<Simulation, BuildError> {
        let threads = threads.max(1);
        self.check()?;
        let first_gids = self.first_gids();
        let n_total: u64 = self.populations.iter().map(|p| p.size as u64).sum();
        let splits = threads * ranks.size();
        let first_split = threads * ranks.rank();
        let ranges: Vec<Vec<(usize, usize)>> = (first_split..first_split + threads)
            .map(|t| self.populations.iter().map(|p| (p.size * t / splits, p.size * (t + 1) / splits)).collect())
            .collect();
        let total_splits = self.total_splits(&first_gids);
        let build_order = &self.largest_in_degree_first();

        // Phase 1 (parallel): each thread draws the synapses onto its neurons and packs them, one
        // shard at a time, so at most one shard's unpacked edges exist per thread.
        let connectivity: Vec<Result<Vec<Option<ShardConnectivity>>, BuildError>> = std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|r| {
                    let first_gids = &first_gids;
                    let total_splits = &total_splits;
                    s.spawn(move || {
                        let mut scratch = BuildScratch::default();
                        let mut shards: Vec<Option<ShardConnectivity>> =
                            (0..self.populations.len()).map(|_| None).collect();
                        for &pi in build_order {
                            if r[pi].0 < r[pi].1 {
                                shards[pi] = Some(self.shard_connectivity(
                                    pi,
                                    r[pi],
                                    first_gids,
                                    total_splits,
                                    n_total,
                                    &mut scratch,
                                )?);
                            }
                        }
                        Ok(shards)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("edge generation thread panicked")).collect()
        });
        let connectivity: Vec<Vec<Option<ShardConnectivity>>> = connectivity.into_iter().collect::<Result<_, _>>()?;

        let h = self.resolution.h();
        let device_delays: Vec<Step> =
            self.devices.iter().map(|d| self.resolution.round_steps(d.delay_ms.max(h)).max(1)).collect();
        let shards = || connectivity.iter().flatten().flatten();
        // The interval and the buffers' depth must be the same on every rank.
        let local_delays = [
            shards().filter_map(|c| c.min_delay).min().unwrap_or(Step::MAX),
            shards().filter_map(|c| c.max_delay).max().unwrap_or(0),
        ];
        let mut message = Vec::new();
        local_delays.iter().for_each(|&d| wire::put_u64(&mut message, d));
        let (mut min_delay, mut max_synapse_delay) = (Step::MAX, 0);
        for m in ranks.all_gather(&message) {
            let mut r = wire::Reader::new(&m);
            min_delay = min_delay.min(r.u64());
            max_synapse_delay = max_synapse_delay.max(r.u64());
        }
        let min_delay = if min_delay == Step::MAX { 1 } else { min_delay.max(1) };
        let max_synapse_delay = max_synapse_delay.max(1);
        let max_device_delay = device_delays.iter().copied().max();
        // The fewest ring-buffer slots that hold every pending input (see `buffer`): a
        // clock-driven population sweeps each slot in turn, so every extra slot is cache it evicts.
        let slots = max_synapse_delay.max(max_device_delay.map_or(1, |d| d + 1)) as usize;
        let mut local_synapses = vec![0u64; self.projections.len()];
        for (p, n) in shards().flat_map(|c| c.projection_counts.iter()) {
            local_synapses[*p as usize] += n;
        }
        let mut message = Vec::new();
        local_synapses.iter().for_each(|&n| wire::put_u64(&mut message, n));
        let mut projection_synapses = vec![0u64; self.projections.len()];
        for m in ranks.all_gather(&message) {
            let mut r = wire::Reader::new(&m);
            projection_synapses.iter_mut().for_each(|n| *n += r.u64());
        }
        let ctx = BuildContext { resolution: self.resolution, seed: self.seed };
        let (draw_seconds, pack_seconds) =
            shards().fold((0.0, 0.0), |(d, p), c| (d + c.draw_seconds, p + c.pack_seconds));
        let phase2 = std::time::Instant::now();

        // Phase 2 (parallel): shards, buffers, CSR, device channels.
        let partitions: Vec<Result<Partition, BuildError>> = std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .zip(connectivity)
                .enumerate()
                .map(|(t, (r, connectivity))| {
                    let first_gids = &first_gids;
                    let device_delays = &device_delays;
                    s.spawn(move || self.build_partition(t, r, connectivity, first_gids, device_delays, slots, &ctx))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("partition build thread panicked")).collect()
        });
        let partitions: Vec<Partition> = partitions.into_iter().collect::<Result<_, _>>()?;
        let populations = self
            .populations
            .iter()
            .zip(&first_gids)
            .map(|(p, &g)| crate::sim::PopulationMeta {
                name: p.name.clone(),
                model: p.factory.info().name.to_string(),
                size: p.size,
                first_gid: g,
                recordables: p.factory.info().recordables.to_vec(),
            })
            .collect();
        let mut simulation = Simulation::new(
            self.resolution,
            self.seed,
            populations,
            partitions,
            min_delay,
            self.recordings.clone(),
            self.projections.iter().map(|p| p.name.clone()).collect(),
            self.devices.iter().map(|d| d.name.clone()).collect(),
            ranks,
        );
        simulation.projection_synapses = projection_synapses;
        simulation.build_times = crate::sim::BuildTimes {
            draw: draw_seconds,
            pack: pack_seconds,
            partitions: phase2.elapsed().as_secs_f64(),
        };
        Ok(simulation)
    }

    /// The populations by their expected incoming synapses, most first (ties in declaration
    /// order): the order a thread builds its shards in, so that the records it reuses from
    /// shard to shard only ever shrink (growing them would fault in fresh pages).
    fn largest_in_degree_first(&self) -> Vec<usize> {
        let incoming = self.expected_incoming();
        let mut order: Vec<usize> = (0..self.populations.len()).collect();
        order.sort_by(|&a, &b| incoming[b].total_cmp(&incoming[a]));
        order
    }

    /// Generates the synapses exactly as [`build`](Self::build) draws them (the network is the
    /// same for any thread count), one target population after another in blocks of at most
    /// `block` target neurons, and hands each to `visit`; at most one block's synapses are held
    /// in memory. Within a block they come projection by projection. For exports and statistics
    /// of circuits too large to hold twice.
    pub fn for_each_synapse(&self, block: usize, mut visit: impl FnMut(&SynapseView)) -> Result<(), BuildError> {
        self.check()?;
        let block = block.max(1);
        let first_gids = self.first_gids();
        let total_splits = self.total_splits(&first_gids);
        for (pi, pop) in self.populations.iter().enumerate() {
            let mut lo = 0;
            while lo < pop.size {
                let hi = (lo + block).min(pop.size);
                for e in self.shard_edges(pi, (lo, hi), &first_gids, &total_splits) {
                    let p = &self.projections[e.projection as usize];
                    visit(&SynapseView {
                        projection: e.projection as usize,
                        source: e.source_gid - first_gids[p.source],
                        target: lo as u64 + u64::from(e.target),
                        weight: e.weight,
                        delay_steps: e.delay,
                        receptor: e.receptor,
                    });
                }
                lo = hi;
            }
        }
        Ok(())
    }

    /// Per projection, the split of a `fixed_total_number` among the target neurons: drawn once
    /// per network and shared by every shard (and thread) that generates that projection.
    fn total_splits(&self, first_gids: &[u64]) -> Vec<Option<Vec<u64>>> {
        self.projections
            .iter()
            .map(|p| match p.rule {
                Rule::FixedTotalNumber { n } => Some(self.target_draw(p, first_gids).total_number_split(n)),
                _ => None,
            })
            .collect()
    }

    fn target_draw<'a>(&self, p: &'a Projection, first_gids: &[u64]) -> TargetDraw<'a> {
        TargetDraw {
            projection: &p.name,
            seed: self.seed,
            n_sources: self.populations[p.source].size as u64,
            n_targets: self.populations[p.target].size as u64,
            autapses: p.autapses,
            multapses: p.multapses,
            same_population: p.source == p.target,
            source_first_gid: first_gids[p.source],
            target_first_gid: first_gids[p.target],
        }
    }

    /// The synapses onto neurons `lo..hi` of population `population` (targets relative to `lo`).
    fn shard_edges(
        &self,
        population: usize,
        range: (usize, usize),
        first_gids: &[u64],
        total_splits: &[Option<Vec<u64>>],
    ) -> Vec<Edge> {
        let mut out = Vec::new();
        self.shard_edges_into(population, range, first_gids, total_splits, &mut out, &mut EdgeTally::default());
        out
    }

    /// How projection `pi`'s drawn synapses onto neurons `lo..` of its target become edges:
    /// `(source index, target index, drawn weight, drawn delay ms)` → the edge as stored (the
    /// weight 1 for spike-counting models, single precision where asked; the delay in whole
    /// steps, at least one; the receptor by name, sign or the projection's choice).
    fn edge_maker(&self, pi: usize, first_gids: &[u64], lo: usize) -> impl Fn(u64, u64, f64, f64) -> Edge + '_ {
        let p = &self.projections[pi];
        let info = self.populations[p.target].factory.info();
        let counts = info.counts_spikes && p.synapse.is_none();
        let single = self.single_precision_weights && p.synapse.is_none();
        // A graded signal goes to the receptor of its name (an astrocyte's SIC to `SIC`).
        let graded_receptor =
            self.populations[p.source].factory.info().graded_output.and_then(|g| info.receptor_index(g));
        let source_gid0 = first_gids[p.source];
        move |source: u64, target: u64, w: f64, d_ms: f64| Edge {
            projection: pi as u32,
            source_gid: source_gid0 + source,
            target: (target as usize - lo) as u32,
            weight: if counts {
                1.0
            } else if single {
                f64::from(w as f32)
            } else {
                w
            },
            delay: self.resolution.round_steps(d_ms).max(1).min(u64::from(u32::MAX)) as u32,
            receptor: p.receptor.or(graded_receptor).unwrap_or_else(|| info.receptor_for(w)) as u8,
        }
    }

    /// As [`NetworkBuilder::shard_edges`], appending to `out` (a buffer reused between shards).
    fn shard_edges_into(
        &self,
        population: usize,
        (lo, hi): (usize, usize),
        first_gids: &[u64],
        total_splits: &[Option<Vec<u64>>],
        out: &mut Vec<Edge>,
        tally: &mut EdgeTally,
    ) {
        let h = self.resolution.h();
        for (pi, p) in self.projections.iter().enumerate() {
            if p.target != population || lo == hi {
                continue;
            }
            let draw = self.target_draw(p, first_gids);
            let streams = self.weight_delay_streams(p);
            let make = self.edge_maker(pi, first_gids, lo);
            let drawn_before = out.len();
            let mut push = |source: u64, target: u64, w: f64, d_ms: f64| {
                let edge = make(source, target, w, d_ms);
                tally.note(edge.source_gid, edge.delay);
                out.push(edge);
            };
            match &p.rule {
                Rule::Explicit(list) => {
                    for e in list.iter().filter(|e| (lo as u64..hi as u64).contains(&e.target)) {
                        push(e.source, e.target, e.weight, e.delay_ms);
                    }
                }
                Rule::FixedOutdegree { k } => {
                    let n_src = self.populations[p.source].size as u64;
                    let mut marks = vec![false; self.populations[p.target].size];
                    let mut targets = Vec::new();
                    for s in 0..n_src {
                        targets.clear();
                        draw.outdegree_targets(*k, s, &mut marks, &mut targets);
                        let (mut wr, mut dr) = streams(first_gids[p.source] + s);
                        for &t in &targets {
                            let w = p.weight.draw_weight(&mut wr);
                            let d = p.delay.draw_delay(&mut dr, h);
                            if (lo as u64..hi as u64).contains(&t) {
                                push(s, t, w, d);
                            }
                        }
                    }
                }
                _ => self.for_each_target(pi, (lo, hi), first_gids, total_splits, |t, sources| {
                    let (mut wr, mut dr) = streams(first_gids[p.target] + t);
                    for &s in sources {
                        let w = p.weight.draw_weight(&mut wr);
                        let d = p.delay.draw_delay(&mut dr, h);
                        push(s, t, w, d);
                    }
                }),
            }
            if out.len() > drawn_before {
                tally.projection_counts.push((pi as u32, (out.len() - drawn_before) as u64));
            }
        }
    }

    /// Whether a shard of population `pi` is drawn in two passes and gathered by source in
    /// buckets ([`NetworkBuilder::bucketed_shard`]): every projection onto it draws per target
    /// (not from an explicit list or per source, which the passes would have to scan whole) into
    /// static synapses (plastic groups and graded couplings are built from edges in one piece),
    /// and every population is small enough for its indices to be kept in 32 bits.
    pub(crate) fn bucketable(&self, pi: usize) -> bool {
        self.populations.iter().all(|p| u32::try_from(p.size).is_ok())
            && self.projections.iter().filter(|p| p.target == pi).all(|p| {
                p.synapse.is_none()
                    && !matches!(p.rule, Rule::Explicit(_) | Rule::FixedOutdegree { .. })
                    && self.populations[p.source].factory.info().graded_output.is_none()
            })
    }

    /// Whether every weight stored onto population `pi` is exactly a single-precision number,
    /// known before drawing: spike counts (1), weights rounded to single precision by the
    /// model's `weight_precision`, or constants that are singles.
    pub(crate) fn stores_single_weights(&self, pi: usize) -> bool {
        let counts = self.populations[pi].factory.info().counts_spikes;
        self.projections.iter().filter(|p| p.target == pi).all(|p| {
            p.synapse.is_none()
                && (counts
                    || self.single_precision_weights
                    || matches!(p.weight, Dist::Constant(w) if crate::csr::is_single(w)))
        })
    }

    /// The weight and delay streams of projection `p` for the neuron with global id `gid` (the
    /// target's; for `fixed_outdegree` the source's), the purposes hashed once per projection.
    fn weight_delay_streams(&self, p: &Projection) -> impl Fn(u64) -> (Stream, Stream) + use<'_> {
        let weight = crate::rng::purpose_hash(&format!("weight:{}", p.name));
        let delay = crate::rng::purpose_hash(&format!("delay:{}", p.name));
        move |gid| (crate::rng::stream(self.seed, weight, gid), crate::rng::stream(self.seed, delay, gid))
    }

    /// Calls `f(target, sources)` for each target `lo..hi` of projection `pi` (drawn per target)
    /// with the target's sources (indices in the source population) in their canonical order.
    fn for_each_target(
        &self,
        pi: usize,
        (lo, hi): (usize, usize),
        first_gids: &[u64],
        total_splits: &[Option<Vec<u64>>],
        mut f: impl FnMut(u64, &[u64]),
    ) {
        let p = &self.projections[pi];
        let draw = self.target_draw(p, first_gids);
        let mut marks = vec![false; self.populations[p.source].size];
        let mut sources = Vec::new();
        for t in lo as u64..hi as u64 {
            sources.clear();
            let per_target = total_splits[pi].as_ref().map(|c| c[t as usize]);
            draw.sources(&p.rule, t, per_target, &mut marks, &mut sources);
            if !sources.is_empty() {
                f(t, &sources);
            }
        }
    }

    /// Draws and packs the synapses onto one shard (population `pi`, neurons `lo..hi`): gathered
    /// by source in buckets where the projections allow it ([`NetworkBuilder::bucketable`]), else
    /// drawn as edges in one piece and packed ([`NetworkBuilder::connect_shard`]).
    fn shard_connectivity(
        &self,
        pi: usize,
        (lo, hi): (usize, usize),
        first_gids: &[u64],
        total_splits: &[Option<Vec<u64>>],
        n_total: u64,
        scratch: &mut BuildScratch,
    ) -> Result<ShardConnectivity, BuildError> {
        let BuildScratch { edges, sources, targets, single, double, pack } = scratch;
        if self.bucketable(pi) {
            let (shard, drawn) = ((pi, (lo, hi), first_gids, total_splits, n_total), (sources, targets));
            return if self.stores_single_weights(pi) {
                self.bucketed_shard(shard, single, drawn, pack)
            } else {
                self.bucketed_shard(shard, double, drawn, pack)
            };
        }
        let t0 = std::time::Instant::now();
        edges.clear();
        let mut tally = EdgeTally::with_sources(n_total);
        self.shard_edges_into(pi, (lo, hi), first_gids, total_splits, edges, &mut tally);
        let t1 = std::time::Instant::now();
        let mut shard = self.connect_shard(pi, (lo, hi), edges, tally, first_gids, pack)?;
        shard.draw_seconds = (t1 - t0).as_secs_f64();
        shard.pack_seconds = t1.elapsed().as_secs_f64();
        Ok(shard)
    }

    /// Draws the static synapses onto one shard whose projections all draw per target, and packs
    /// them gathered by source (see [`crate::csr::SourceBuckets`]): a first pass draws each
    /// target's sources (from their own streams), keeps them and counts the rows, so that every
    /// bucket's place is known; the second draws their weights and delays (from theirs) and
    /// appends each synapse to its bucket; the buckets are then packed in row order. The synapses
    /// are the ones [`NetworkBuilder::shard_edges`] draws, in the same order.
    #[allow(clippy::type_complexity)] // the shard's description, as the callers hold it
    fn bucketed_shard<W: crate::csr::StoredWeight>(
        &self,
        (pi, (lo, hi), first_gids, total_splits, n_total): (usize, (usize, usize), &[u64], &[Option<Vec<u64>>], u64),
        records: &mut Vec<crate::csr::Record<W>>,
        (sources, targets): (&mut Vec<u32>, &mut Vec<(u32, u32)>),
        pack: &mut crate::csr::PackScratch,
    ) -> Result<ShardConnectivity, BuildError> {
        let t0 = std::time::Instant::now();
        let h = self.resolution.h();
        let projections: Vec<usize> =
            (0..self.projections.len()).filter(|&q| self.projections[q].target == pi && lo < hi).collect();
        // The list of sources is kept from shard to shard, but only as long as this one needs
        // (about: what is beyond is returned, a shortfall grows it).
        let expected = self.expected_incoming()[pi] * (hi - lo) as f64 / self.populations[pi].size as f64;
        sources.clear();
        sources.shrink_to((expected * 1.05) as usize);
        targets.clear();
        let mut row_counts = vec![0u64; n_total as usize + 1];
        let mut targets_of = Vec::with_capacity(projections.len());
        for &q in &projections {
            let first = first_gids[self.projections[q].source];
            let before = targets.len();
            self.for_each_target(q, (lo, hi), first_gids, total_splits, |t, drawn| {
                targets.push((t as u32, drawn.len() as u32));
                for &s in drawn {
                    row_counts[(first + s) as usize + 1] += 1;
                    sources.push(s as u32);
                }
            });
            targets_of.push(targets.len() - before);
        }
        let mut buckets = crate::csr::SourceBuckets::new(&row_counts, records);
        let mut tally = EdgeTally::default();
        let (mut kept, mut listed) = (sources.iter(), targets.iter());
        for (&q, &n_targets) in projections.iter().zip(&targets_of) {
            let p = &self.projections[q];
            let streams = self.weight_delay_streams(p);
            let make = self.edge_maker(q, first_gids, lo);
            let (mut drawn, mut shortest, mut longest) = (0u64, u32::MAX, 0u32);
            for &(t, n) in listed.by_ref().take(n_targets) {
                let (mut wr, mut dr) = streams(first_gids[p.target] + u64::from(t));
                for &s in kept.by_ref().take(n as usize) {
                    let w = p.weight.draw_weight(&mut wr);
                    let d = p.delay.draw_delay(&mut dr, h);
                    let e = make(u64::from(s), u64::from(t), w, d);
                    (shortest, longest) = (shortest.min(e.delay), longest.max(e.delay));
                    buckets.place(
                        e.source_gid,
                        e.target,
                        e.weight,
                        e.delay.min(MAX_DELAY_STEPS as u32) as u16,
                        e.receptor,
                    );
                }
                drawn += u64::from(n);
            }
            if Step::from(longest) > MAX_DELAY_STEPS {
                return Err(BuildError::Projection {
                    projection: p.name.clone(),
                    message: format!(
                        "a delay of {longest} steps exceeds the longest supported, {MAX_DELAY_STEPS} steps"
                    ),
                });
            }
            if drawn > 0 {
                tally.projection_counts.push((q as u32, drawn));
                tally.note_delays(Step::from(shortest), Step::from(longest));
            }
        }
        let t1 = std::time::Instant::now();
        let delays = (tally.min_delay.unwrap_or(1) as u16, tally.max_delay.unwrap_or(1) as u16);
        let csr = buckets.pack(&row_counts, delays, pack);
        Ok(ShardConnectivity {
            csr,
            graded_csr: crate::csr::IncomingCsr::from_sorted(n_total, std::iter::empty()),
            plastic: Vec::new(),
            history: None,
            min_delay: tally.min_delay,
            max_delay: tally.max_delay,
            projection_counts: tally.projection_counts,
            draw_seconds: (t1 - t0).as_secs_f64(),
            pack_seconds: t1.elapsed().as_secs_f64(),
        })
    }

    /// Packs the synapses onto one shard (population `pi`, neurons `lo..hi`): static synapses
    /// and graded couplings into CSRs by source gid, each plastic projection into its group.
    fn connect_shard(
        &self,
        pi: usize,
        (lo, hi): (usize, usize),
        edges: &[Edge],
        tally: EdgeTally,
        first_gids: &[u64],
        scratch: &mut crate::csr::PackScratch,
    ) -> Result<ShardConnectivity, BuildError> {
        let EdgeTally { mut row_counts, min_delay, max_delay, projection_counts } = tally;
        let n_total = row_counts.len() as u64 - 1;
        if max_delay.is_some_and(|d| d > MAX_DELAY_STEPS) {
            let e = edges.iter().find(|e| Step::from(e.delay) > MAX_DELAY_STEPS).expect("the longest delay");
            return Err(BuildError::Projection {
                projection: self.projections[e.projection as usize].name.clone(),
                message: format!("a delay of {} steps exceeds the longest supported, {MAX_DELAY_STEPS} steps", e.delay),
            });
        }
        let kinds: Vec<EdgeKind> = self
            .projections
            .iter()
            .map(|p| {
                if self.populations[p.source].factory.info().graded_output.is_some() {
                    EdgeKind::Graded
                } else if p.synapse.is_some() {
                    EdgeKind::Plastic
                } else {
                    EdgeKind::Static
                }
            })
            .collect();
        let present = |k: EdgeKind| projection_counts.iter().any(|&(p, _)| kinds[p as usize] == k);
        let only_static = projection_counts.iter().all(|&(p, _)| kinds[p as usize] == EdgeKind::Static);
        // Rows by source gid keep, within a row, the canonical order (target, draw order): the
        // order in which the edges were generated.
        let as_tuple = |e: &Edge| (e.source_gid, e.target, e.weight, Step::from(e.delay), e.receptor);
        let mut pack = |k: EdgeKind| {
            if !present(k) {
                crate::csr::IncomingCsr::from_sorted(n_total, std::iter::empty())
            } else if only_static {
                crate::csr::IncomingCsr::from_counted_edges(std::mem::take(&mut row_counts), edges, as_tuple, scratch)
            } else {
                crate::csr::IncomingCsr::from_edges(
                    n_total,
                    edges.iter().filter(|e| kinds[e.projection as usize] == k).map(as_tuple),
                )
            }
        };
        let csr = pack(EdgeKind::Static);
        let graded_csr = pack(EdgeKind::Graded);
        let mut plastic = Vec::new();
        let mut history: Option<PostHistory> = None;
        for (proj_index, proj) in self.projections.iter().enumerate() {
            let Some(model) = proj.synapse.as_ref().filter(|_| proj.target == pi) else { continue };
            let mut mine: Vec<&Edge> = edges.iter().filter(|e| e.projection as usize == proj_index).collect();
            // Stable: a row keeps the canonical order (target, draw order).
            mine.sort_by_key(|e| e.source_gid);
            let source_first = first_gids[proj.source];
            let n_src = self.populations[proj.source].size;
            let mut row_start = vec![0u64; n_src + 1];
            for e in &mine {
                row_start[(e.source_gid - source_first) as usize + 1] += 1;
            }
            for i in 0..n_src {
                row_start[i + 1] += row_start[i];
            }
            let targets: Vec<u32> = mine.iter().map(|e| e.target).collect();
            let dynamics = model
                .0
                .build(mine.iter().map(|e| e.weight).collect(), &targets, hi - lo)
                .map_err(|message| BuildError::Projection { projection: proj.name.clone(), message })?;
            if let Some(tau) = model.0.post_history() {
                history.get_or_insert_with(|| PostHistory::new(hi - lo, tau));
            }
            plastic.push(PlasticGroup {
                projection: proj_index,
                source_first_gid: source_first,
                target_first_index: lo as u64,
                row_start,
                target: targets,
                delay: mine.iter().map(|e| e.delay as u16).collect(),
                delay_ms: mine.iter().map(|e| e.delay as f64 * self.resolution.h()).collect(),
                receptor: mine.iter().map(|e| e.receptor).collect(),
                dynamics,
                record_weights: proj.record_weights,
                learning_windows: proj.learning_windows.clone(),
            });
        }
        Ok(ShardConnectivity {
            csr,
            graded_csr,
            plastic,
            history,
            min_delay,
            max_delay,
            projection_counts,
            draw_seconds: 0.0,
            pack_seconds: 0.0,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn build_partition(
        &self,
        thread: usize,
        ranges: &[(usize, usize)],
        mut connectivity: Vec<Option<ShardConnectivity>>,
        first_gids: &[u64],
        device_delays: &[Step],
        slots: usize,
        ctx: &BuildContext,
    ) -> Result<Partition, BuildError> {
        let mut shards = Vec::new();
        let mut shard_of_population = vec![usize::MAX; self.populations.len()];
        for (pi, pop) in self.populations.iter().enumerate() {
            let (lo, hi) = ranges[pi];
            if lo == hi {
                continue;
            }
            let info = pop.factory.info();
            let pop_err = |message: String| BuildError::Population { population: pop.name.clone(), message };
            let mut model =
                pop.factory.build(lo, first_gids[pi] + lo as u64, hi - lo, ctx).map_err(|ModelError(m)| pop_err(m))?;
            for (var, var_name, init) in &pop.initial {
                for local in lo..hi {
                    let value = match init {
                        Initial::PerNeuron(v) => v[local],
                        Initial::Dist(d) => {
                            let purpose = format!("init:{}:{var_name}", pop.name);
                            let mut rng = stream_for(self.seed, &purpose, first_gids[pi] + local as u64);
                            d.draw_weight(&mut rng)
                        }
                    };
                    model.set_state(*var, local - lo, value).map_err(|m| pop_err(format!("{var_name}: {m}")))?;
                }
            }
            let ShardConnectivity { csr, graded_csr, plastic, history, .. } = connectivity[pi]
                .take()
                .ok_or_else(|| BuildError::Other("internal: shard without connectivity".into()))?;
            shard_of_population[pi] = shards.len();
            shards.push(Shard {
                first_gid: first_gids[pi] + lo as u64,
                counts_spikes: info.counts_spikes,
                model,
                buffer: InputBuffer::new(hi - lo, info.receptors.len(), slots, info.input),
                queue: NextEventQueue::new(),
                csr,
                graded_csr,
                plastic,
                history,
                spikes: Vec::new(),
                graded: Vec::new(),
            });
        }

        let mut stimuli = Vec::new();
        let mut stimulus_offsets = vec![0u32];
        let mut stimulus_gids = Vec::new();
        for (di, d) in self.devices.iter().enumerate() {
            let (lo, hi) = ranges[d.population];
            let info = self.populations[d.population].factory.info();
            let injects_current = d.factory.injects_current();
            let targets: Vec<ChannelTarget> = d
                .targets
                .iter()
                .filter(|&&t| (lo as u64..hi as u64).contains(&t))
                .map(|&t| ChannelTarget {
                    population: d.population,
                    gid: first_gids[d.population] + t,
                    local: (t as usize - lo) as u32,
                    weight: if info.counts_spikes && !injects_current { 1.0 } else { d.weight },
                    delay: device_delays[di],
                    receptor: d.receptor.unwrap_or_else(|| info.receptor_for(d.weight)) as u8,
                    current_lead: Step::from(injects_current && info.current_on_arrival),
                })
                .collect();
            stimulus_gids.push(targets.iter().map(|t| t.gid).collect());
            let stim = d
                .factory
                .build(di as u64, targets, ctx)
                .map_err(|ModelError(message)| BuildError::Device { device: d.name.clone(), message })?;
            stimulus_offsets.push(stimulus_offsets.last().copied().unwrap_or(0) + stim.channels() as u32);
            stimuli.push(stim);
        }

        let recording_parts = self
            .recordings
            .iter()
            .map(|r| {
                let (lo, hi) = ranges[r.population];
                let start = r.nodes.partition_point(|&n| n < lo as u64);
                let end = r.nodes.partition_point(|&n| n < hi as u64);
                RecordingPart {
                    shard: shard_of_population[r.population],
                    locals: r.nodes[start..end].iter().map(|&n| (n as usize - lo) as u32).collect(),
                }
            })
            .collect();

        Ok(Partition::new(
            thread,
            self.resolution.h(),
            shards,
            shard_of_population,
            stimuli,
            stimulus_offsets,
            stimulus_gids,
            recording_parts,
        ))
    }
}
