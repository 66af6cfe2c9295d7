//! Incoming connectivity of a shard: compressed sparse rows (CSR) by source gid.
//!
//! Row `g` holds the synapses from source gid `g` onto the shard's neurons, in canonical order
//! (the order construction generated them: by projection, then target), then stably sorted by
//! delay so that delivery fills one ring-buffer slot after the other.
//!
//! A synapse's parameters are stored in the smallest of three layouts that hold them exactly:
//!
//! - **per row**, when every row's synapses share one weight, delay and receptor (below);
//! - **per run**: a weight per synapse (target and weight, 12 bytes) and, per row, the runs of
//!   synapses with equal delay and receptor (8 bytes a run). Rows are sorted by delay, so a row
//!   of a projection with distributed delays (PD14) holds a few dozen runs for thousands of
//!   synapses; delivery then adds a run's weights into one slot and receptor of the buffer in
//!   a tight loop;
//! - **per synapse** (target, weight, delay, receptor: 15 bytes) otherwise.
//!
//! Per row applies unless every row's synapses share one weight, delay and receptor. That is the common case of
//! projections with constant weights and delays (CUBA, COBA): a source's synapses onto one
//! population then come from one projection. The parameters are then stored once per row, next
//! to nothing else, and a synapse is just its target (4 bytes): a quarter of the memory, and a
//! spike's delivery reads one cache line of parameters instead of a stream per parameter.
//! Either way every synapse delivers the same weight into the same cell in the same order, so
//! results are the same bit for bit.

use crate::buffer::InputBuffer;
use crate::time::Step;

mod bucket;

pub(crate) use bucket::{Record, SourceBuckets, StoredWeight};

/// Where each source's row starts in a CSR: `u32` offsets while the shard's synapses fit in
/// them (every spike looks one up at a random place, and half the bytes keep more of the index
/// in cache), `u64` beyond.
#[derive(Debug)]
enum RowIndex {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for RowIndex {
    fn default() -> Self {
        RowIndex::Narrow(Vec::new())
    }
}

impl RowIndex {
    fn new(starts: Vec<u64>) -> Self {
        if starts.last().is_none_or(|&n| n <= u64::from(u32::MAX)) {
            RowIndex::Narrow(starts.iter().map(|&s| s as u32).collect())
        } else {
            RowIndex::Wide(starts)
        }
    }

    #[inline]
    fn range(&self, row: usize) -> std::ops::Range<usize> {
        match self {
            RowIndex::Narrow(v) => v[row] as usize..v[row + 1] as usize,
            RowIndex::Wide(v) => v[row] as usize..v[row + 1] as usize,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            RowIndex::Narrow(v) => v.len() * 4,
            RowIndex::Wide(v) => v.len() * 8,
        }
    }

    #[inline]
    fn prefetch(&self, row: usize) {
        match self {
            RowIndex::Narrow(v) => crate::prefetch::slice(&v[row..row + 2]),
            RowIndex::Wide(v) => crate::prefetch::slice(&v[row..row + 2]),
        }
    }
}

/// Bytes of a synapse's own delay (u16) and receptor (u8), beside its weight.
const DELAY_RECEPTOR_BYTES: usize = 2 + 1;

/// The weight, delay (steps) and receptor that all synapses of a row share.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct SharedParams {
    weight: f64,
    delay: u16,
    receptor: u8,
}

/// Synapses `len` of a row that share a delay (steps) and receptor, after the row's earlier runs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    len: u32,
    delay: u16,
    receptor: u8,
}

/// Per-synapse weights: in single precision when every weight is exactly a single-precision
/// number (a model with `weight_precision = "single"` rounds its drawn weights so), else double.
/// Delivery converts to double, exactly, and sums in double either way.
#[derive(Debug)]
enum Weights {
    Double(Vec<f64>),
    Single(Vec<f32>),
}

/// Whether `w` is exactly a single-precision number.
pub(crate) fn is_single(w: f64) -> bool {
    f64::from(w as f32).to_bits() == w.to_bits()
}

impl Weights {
    /// Appends weights given as an iterator of doubles (`all_single`: whether each is exactly a
    /// single-precision number, checked by the caller once for the slice).
    #[inline]
    fn extend_doubles(&mut self, weights: impl Iterator<Item = f64> + Clone, all_single: impl FnOnce() -> bool) {
        if let Weights::Single(v) = self {
            if all_single() {
                v.extend(weights.map(|w| w as f32));
                return;
            }
            let mut double = Vec::with_capacity(v.capacity());
            double.extend(v.iter().map(|&x| f64::from(x)));
            *self = Weights::Double(double);
        }
        if let Weights::Double(v) = self {
            v.extend(weights);
        }
    }

    fn bytes_each(&self) -> usize {
        match self {
            Weights::Double(_) => 8,
            Weights::Single(_) => 4,
        }
    }

    fn len(&self) -> usize {
        match self {
            Weights::Double(w) => w.len(),
            Weights::Single(w) => w.len(),
        }
    }

    #[inline]
    fn get(&self, j: usize) -> f64 {
        match self {
            Weights::Double(w) => w[j],
            Weights::Single(w) => f64::from(w[j]),
        }
    }

    fn prefetch(&self, range: std::ops::Range<usize>) {
        match self {
            Weights::Double(w) => crate::prefetch::slice(&w[range]),
            Weights::Single(w) => crate::prefetch::slice(&w[range]),
        }
    }
}

/// Where a CSR keeps its synapses' weights, delays and receptors.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // each layout is named by what has one set of parameters
enum Params {
    /// One of each per synapse, indexed like `target`.
    PerSynapse { weight: Weights, delay: Vec<u16>, receptor: Vec<u8> },
    /// A weight per synapse; the row's runs of equal delay and receptor are
    /// `runs[run_start[row]..run_start[row + 1]]`, in row order.
    PerRun { weight: Weights, runs: Vec<Run>, run_start: Vec<u32> },
    /// One per row: every synapse of a row has the same ones.
    PerRow(Vec<SharedParams>),
}

impl Default for Params {
    fn default() -> Self {
        Params::PerRow(Vec::new())
    }
}

/// One synapse of a row being written.
#[derive(Debug, Clone, Copy, Default)]
struct Placed {
    weight: f64,
    target: u32,
    delay: u16,
    receptor: u8,
}

impl Placed {
    /// The synapse of an edge `(source gid, target, weight, delay steps, receptor)`; delays
    /// beyond `u16` saturate (the builder refuses them before packing).
    #[inline]
    fn of((_, target, weight, delay, receptor): (u64, u32, f64, Step, u8)) -> Self {
        Self { weight, target, delay: delay.min(u64::from(u16::MAX)) as u16, receptor }
    }
}

/// Where each source's row starts and where its next edge goes: the placing half of a counting
/// sort by source, which keeps each row's edges in the order they come (a stable sort).
struct RowCursors {
    row_start: Vec<u64>,
    cursor: Vec<u64>,
}

impl RowCursors {
    /// From `row_counts[g + 1]` = edges of source `g` (`row_counts[0]` = 0).
    fn new(mut row_counts: Vec<u64>) -> Self {
        counts_to_starts(&mut row_counts);
        let cursor = row_counts[..row_counts.len() - 1].to_vec();
        Self { row_start: row_counts, cursor }
    }

    /// The number of edges counted.
    fn synapses(&self) -> usize {
        *self.row_start.last().expect("a row start") as usize
    }

    /// Where the next edge from `source` goes.
    #[inline]
    fn next(&self, source: u64) -> usize {
        self.cursor[source as usize] as usize
    }

    /// Places `edge` at its source's cursor in `placed`.
    #[inline]
    fn place(&mut self, placed: &mut [Placed], edge: (u64, u32, f64, Step, u8)) {
        let cursor = &mut self.cursor[edge.0 as usize];
        placed[*cursor as usize] = Placed::of(edge);
        *cursor += 1;
    }

    /// Whether every row received exactly the edges counted for it.
    fn all_placed(&self) -> bool {
        self.cursor.iter().zip(&self.row_start[1..]).all(|(c, s)| c == s)
    }
}

/// Buffers a thread reuses from one packing to the next: synapses placed in their rows
/// (16 bytes each) and the space to sort a row. Allocations this large are fresh mappings, so
/// without reuse every packing would fault in (and the kernel zero) its pages again.
#[derive(Debug, Default)]
pub(crate) struct PackScratch {
    placed: Vec<Placed>,
    sort: SortScratch<Placed>,
}

/// Reused space of [`sort_by_delay`]: a copy of the items and the counts per delay.
#[derive(Debug)]
struct SortScratch<T> {
    items: Vec<T>,
    counts: Vec<usize>,
}

impl<T> Default for SortScratch<T> {
    fn default() -> Self {
        Self { items: Vec::new(), counts: Vec::new() }
    }
}

/// Writes a CSR row by row (each row sorted by delay): targets, weights (single precision while
/// every weight so far is exactly one) and runs as they come, noting whether every row shares
/// its parameters; [`RowWriter::finish`] picks the layout.
///
/// A row is written as runs of equal delay and receptor ([`RowWriter::push_run`], then its
/// targets and weights) and closed with [`RowWriter::end_row`].
struct RowWriter {
    row_start: Vec<u64>,
    target: Vec<u32>,
    weight: Weights,
    runs: Vec<Run>,
    run_start: Vec<u32>,
    runs_fit: bool,
    /// Whether the caller knows every weight to be exactly a single-precision number (so the
    /// rows need not be checked).
    known_single: bool,
    shared: Option<Vec<SharedParams>>,
    /// Where the row being written starts in `target` and in `runs`.
    row_begin: usize,
    row_runs_begin: usize,
}

impl RowWriter {
    fn new(rows: usize, synapses: usize) -> Self {
        let mut row_start = Vec::with_capacity(rows + 1);
        row_start.push(0);
        let mut run_start = Vec::with_capacity(rows + 1);
        run_start.push(0);
        Self {
            row_start,
            target: Vec::with_capacity(synapses),
            weight: Weights::Single(Vec::with_capacity(synapses)),
            runs: Vec::new(),
            run_start,
            runs_fit: true,
            known_single: false,
            shared: Some(Vec::with_capacity(rows)),
            row_begin: 0,
            row_runs_begin: 0,
        }
    }

    /// Writes a whole row of synapses, already sorted by delay.
    fn push_row(&mut self, row: &[Placed]) {
        for run in row.chunk_by(|a, b| (a.delay, a.receptor) == (b.delay, b.receptor)) {
            self.push_run(run[0].delay, run[0].receptor, run.len());
        }
        self.target.extend(row.iter().map(|p| p.target));
        let known_single = self.known_single;
        self.weight
            .extend_doubles(row.iter().map(|p| p.weight), || known_single || row.iter().all(|p| is_single(p.weight)));
        self.end_row();
    }

    /// Notes `len` more synapses of the current row with this delay and receptor (their targets
    /// and weights are appended by the caller): they extend the row's last run when it has the
    /// same delay and receptor. A run longer than `u32` is split: two runs with one delay and
    /// receptor deliver the same.
    fn push_run(&mut self, delay: u16, receptor: u8, mut len: usize) {
        if self.runs.len() > self.row_runs_begin {
            let last = self.runs.last_mut().expect("the row has a run");
            if (last.delay, last.receptor) == (delay, receptor) {
                let add = len.min((u32::MAX - last.len) as usize);
                last.len += add as u32;
                len -= add;
            }
        }
        while len > 0 {
            let part = len.min(u32::MAX as usize);
            self.runs.push(Run { len: part as u32, delay, receptor });
            len -= part;
        }
    }

    /// Closes the current row: notes where it ends and whether it shares one weight, delay and
    /// receptor.
    fn end_row(&mut self) {
        let runs = &self.runs[self.row_runs_begin..];
        if let Some(list) = &mut self.shared {
            let (weight, synapses) = (&self.weight, self.row_begin..self.target.len());
            match runs.first() {
                None => list.push(SharedParams::default()),
                Some(f)
                    if runs.iter().all(|r| (r.delay, r.receptor) == (f.delay, f.receptor))
                        && synapses
                            .clone()
                            .all(|j| weight.get(j).to_bits() == weight.get(synapses.start).to_bits()) =>
                {
                    list.push(SharedParams { weight: weight.get(synapses.start), delay: f.delay, receptor: f.receptor })
                }
                Some(_) => self.shared = None,
            }
        }
        self.runs_fit &= u32::try_from(self.runs.len()).is_ok();
        self.run_start.push(self.runs.len() as u32);
        self.row_start.push(self.target.len() as u64);
        self.row_begin = self.target.len();
        self.row_runs_begin = self.runs.len();
    }

    fn finish(self) -> IncomingCsr {
        let Self { row_start, target, weight, mut runs, run_start, runs_fit, shared, .. } = self;
        let rows = RowIndex::new(row_start);
        let synapses = target.len();
        let per_synapse = synapses * (weight.bytes_each() + DELAY_RECEPTOR_BYTES);
        if let Some(shared) = shared.filter(|s| s.len() * std::mem::size_of::<SharedParams>() < per_synapse) {
            return IncomingCsr { rows, target, params: Params::PerRow(shared) };
        }
        let runs_bytes = runs.len() * std::mem::size_of::<Run>() + run_start.len() * 4;
        let params = if runs_fit && runs_bytes < synapses * DELAY_RECEPTOR_BYTES {
            runs.shrink_to_fit();
            Params::PerRun { weight, runs, run_start }
        } else {
            let (mut delay, mut receptor) = (Vec::with_capacity(synapses), Vec::with_capacity(synapses));
            for run in &runs {
                delay.extend(std::iter::repeat_n(run.delay, run.len as usize));
                receptor.extend(std::iter::repeat_n(run.receptor, run.len as usize));
            }
            Params::PerSynapse { weight, delay, receptor }
        };
        IncomingCsr { rows, target, params }
    }
}

/// Incoming synapses of one shard, by source gid (compressed sparse rows).
#[derive(Debug, Default)]
pub struct IncomingCsr {
    rows: RowIndex,
    target: Vec<u32>,
    params: Params,
}

impl IncomingCsr {
    /// Packs edges `(source gid, target, weight, delay steps, receptor)` sorted by source gid.
    /// (Construction uses [`IncomingCsr::from_edges`]; kept for callers with sorted edges.)
    pub fn from_sorted(n_sources: u64, edges: impl ExactSizeIterator<Item = (u64, u32, f64, Step, u8)>) -> Self {
        let mut row_start = vec![0u64; n_sources as usize + 1];
        let mut placed = Vec::with_capacity(edges.len());
        for edge in edges {
            row_start[edge.0 as usize + 1] += 1;
            placed.push(Placed::of(edge));
        }
        counts_to_starts(&mut row_start);
        Self::packed(&row_start, &mut placed, &mut SortScratch::default())
    }

    /// Packs edges `(source gid, target, weight, delay steps, receptor)` into rows by source gid,
    /// each row keeping the edges in the order the iterator yields them (the canonical order).
    ///
    /// A counting sort: one pass counts the rows, a second places each edge at its row's cursor.
    /// That is the order a stable sort by source gives, in O(edges + sources) and without a copy
    /// of the edge list (sorting was half of the construction time).
    pub fn from_edges<I>(n_sources: u64, edges: I) -> Self
    where
        I: Iterator<Item = (u64, u32, f64, Step, u8)> + Clone,
    {
        let mut row_counts = vec![0u64; n_sources as usize + 1];
        for (source, ..) in edges.clone() {
            row_counts[source as usize + 1] += 1;
        }
        let mut rows = RowCursors::new(row_counts);
        let mut placed = vec![Placed::default(); rows.synapses()];
        for edge in edges {
            rows.place(&mut placed, edge);
        }
        debug_assert!(rows.all_placed(), "row counts did not match the edges");
        Self::packed(&rows.row_start, &mut placed, &mut SortScratch::default())
    }

    /// As [`IncomingCsr::from_edges`], with the rows' lengths already counted:
    /// `row_counts[g + 1]` edges from source `g` (`row_counts[0]` = 0), so that a caller that
    /// passes over the edges anyway saves the counting pass.
    ///
    /// Each edge is placed at its row's cursor as one 16-byte record (target, weight, delay,
    /// receptor together): a shard's edges are far larger than the caches, and one scattered
    /// write per edge, then one sequential read per row, is the fewest passes over them.
    pub(crate) fn from_counted_edges<E>(
        row_counts: Vec<u64>,
        edges: &[E],
        unpack: impl Fn(&E) -> (u64, u32, f64, Step, u8),
        scratch: &mut PackScratch,
    ) -> Self {
        /// Edges looked ahead: where they go is asked for (a prefetch) this many edges before
        /// they are placed, so that the scattered writes' cache misses overlap.
        const AHEAD: usize = 16;
        let mut rows = RowCursors::new(row_counts);
        let PackScratch { placed, sort } = scratch;
        placed.clear();
        placed.resize(rows.synapses(), Placed::default());
        for (i, e) in edges.iter().enumerate() {
            if let Some(ahead) = edges.get(i + AHEAD) {
                let j = rows.next(unpack(ahead).0);
                crate::prefetch::slice(placed.get(j..j + 1).unwrap_or_default());
            }
            rows.place(placed, unpack(e));
        }
        debug_assert!(rows.all_placed(), "row counts did not match the edges");
        Self::packed(&rows.row_start, placed, sort)
    }

    /// The CSR of the rows `placed[row_start[g]..row_start[g + 1]]`: each row sorted by delay
    /// (in place) and written out in the smallest layout that holds it (see [`RowWriter`]).
    fn packed(row_start: &[u64], placed: &mut [Placed], scratch: &mut SortScratch<Placed>) -> Self {
        let rows = row_start.len() - 1;
        let mut writer = RowWriter::new(rows, placed.len());
        for r in 0..rows {
            let row = &mut placed[row_start[r] as usize..row_start[r + 1] as usize];
            sort_by_delay(row, |p| p.delay, scratch);
            writer.push_row(row);
        }
        writer.finish()
    }

    pub fn synapses(&self) -> usize {
        self.target.len()
    }

    /// Whether every row's synapses share their weight, delay and receptor, stored once per row.
    pub fn shares_row_parameters(&self) -> bool {
        matches!(self.params, Params::PerRow(_))
    }

    /// Whether delays and receptors are stored per run of equal ones within each row.
    pub fn stores_runs(&self) -> bool {
        matches!(self.params, Params::PerRun { .. })
    }

    pub fn bytes(&self) -> usize {
        let params = match &self.params {
            Params::PerSynapse { weight, .. } => weight.len() * (weight.bytes_each() + DELAY_RECEPTOR_BYTES),
            Params::PerRun { weight, runs, run_start } => {
                weight.len() * weight.bytes_each() + runs.len() * std::mem::size_of::<Run>() + run_start.len() * 4
            }
            Params::PerRow(shared) => shared.len() * std::mem::size_of::<SharedParams>(),
        };
        self.rows.bytes() + self.target.len() * 4 + params
    }

    /// The synapses of source `gid`: indices into the CSR's arrays.
    #[inline]
    pub(crate) fn row(&self, gid: u64) -> std::ops::Range<usize> {
        self.rows.range(gid as usize)
    }

    /// Calls `f(target, weight, delay steps, receptor)` for each synapse of source `gid`, in row
    /// order; returns the number of synapses.
    #[inline]
    pub(crate) fn for_each_in_row(&self, gid: u64, mut f: impl FnMut(u32, f64, u16, u8)) -> usize {
        let range = self.row(gid);
        let synapses = range.len();
        match &self.params {
            Params::PerSynapse { weight, delay, receptor } => {
                for j in range {
                    f(self.target[j], weight.get(j), delay[j], receptor[j]);
                }
            }
            Params::PerRun { weight, runs, run_start } => {
                let mut j = range.start;
                for run in &runs[run_start[gid as usize] as usize..run_start[gid as usize + 1] as usize] {
                    for k in j..j + run.len as usize {
                        f(self.target[k], weight.get(k), run.delay, run.receptor);
                    }
                    j += run.len as usize;
                }
            }
            Params::PerRow(shared) => {
                let p = shared[gid as usize];
                for &t in &self.target[range] {
                    f(t, p.weight, p.delay, p.receptor);
                }
            }
        }
        synapses
    }

    /// Adds the weights of source `gid`'s synapses, for a spike emitted in step `step`, to
    /// `buffer` (a summed buffer, not a precise one); returns the number of synapses. The hot
    /// path of spike delivery.
    #[inline]
    pub(crate) fn add_row_to(&self, gid: u64, step: Step, buffer: &mut InputBuffer) -> usize {
        let range = self.row(gid);
        let synapses = range.len();
        if synapses == 0 {
            return 0;
        }
        match &self.params {
            Params::PerSynapse { weight, delay, receptor } => {
                let (targets, delays, receptors) =
                    (&self.target[range.clone()], &delay[range.clone()], &receptor[range.clone()]);
                match weight {
                    Weights::Double(w) => buffer.add_row(step, targets, &w[range], delays, receptors),
                    Weights::Single(w) => buffer.add_row(step, targets, &w[range], delays, receptors),
                }
            }
            Params::PerRun { weight, runs, run_start } => {
                let mut j = range.start;
                for run in &runs[run_start[gid as usize] as usize..run_start[gid as usize + 1] as usize] {
                    let end = j + run.len as usize;
                    let (at, channel, targets) =
                        (step + u64::from(run.delay), usize::from(run.receptor), &self.target[j..end]);
                    match weight {
                        Weights::Double(w) => buffer.add_run(at, channel, targets, &w[j..end]),
                        Weights::Single(w) => buffer.add_run(at, channel, targets, &w[j..end]),
                    }
                    j = end;
                }
            }
            Params::PerRow(shared) => {
                let p = shared[gid as usize];
                buffer.add_shared_row(
                    step + u64::from(p.delay),
                    usize::from(p.receptor),
                    &self.target[range],
                    p.weight,
                );
            }
        }
        synapses
    }

    /// Prefetches where the row of `gid` starts (the first of the two dependent loads).
    #[inline]
    pub(crate) fn prefetch_row_start(&self, gid: u64) {
        self.rows.prefetch(gid as usize);
    }

    /// Asks the CPU to start loading the row of `gid`, which a spike will read soon. Rows start
    /// at random places in connectivity that is usually far larger than the caches, and are too
    /// short for the hardware prefetcher to catch on (CUBA 40k: the first loads of each row were
    /// a third of the run).
    #[inline]
    pub(crate) fn prefetch_row(&self, gid: u64) {
        let range = self.row(gid);
        if range.is_empty() {
            return;
        }
        crate::prefetch::slice(&self.target[range.clone()]);
        match &self.params {
            Params::PerSynapse { weight, delay, receptor } => {
                weight.prefetch(range.clone());
                crate::prefetch::slice(&delay[range.clone()]);
                crate::prefetch::slice(&receptor[range]);
            }
            Params::PerRun { weight, runs, run_start } => {
                weight.prefetch(range);
                let first = run_start[gid as usize] as usize;
                crate::prefetch::slice(&runs[first..first + 1]);
            }
            Params::PerRow(shared) => crate::prefetch::slice(&shared[gid as usize..=gid as usize]),
        }
    }
}

/// Turns `[0, count of row 0, count of row 1, …]` into row starts (a running sum in place).
fn counts_to_starts(row_start: &mut [u64]) {
    for i in 1..row_start.len() {
        row_start[i] += row_start[i - 1];
    }
}

/// Orders `items` (a row's synapses, or the runs of a row being joined) by `delay`, stably: a
/// counting sort when the delays' range is small against the number of items (delays span a few
/// hundred steps at most), else the standard library's stable sort; `scratch` is reused space.
///
/// Why rows are sorted by delay: they are generated in target order (per projection), so
/// delivery then writes one ring-buffer slot after the other, each in ascending neuron order,
/// instead of jumping between slots (with many distinct delays, as in PD14, most adds missed
/// the cache), and equal delays form the runs of the per-run layout.
///
/// Results do not change: a spike's synapses with different delays write different slots,
/// and synapses with equal delay keep their order, so every buffer cell receives its weights
/// in the same order as before. Only the order in which a step's touched neurons are listed
/// changes, and the neurons of a step are updated independently of each other.
fn sort_by_delay<T: Copy>(items: &mut [T], delay: impl Fn(&T) -> u16, scratch: &mut SortScratch<T>) {
    if items.windows(2).all(|w| delay(&w[0]) <= delay(&w[1])) {
        return;
    }
    let lo = items.iter().map(&delay).min().unwrap_or(0);
    let hi = items.iter().map(&delay).max().unwrap_or(0);
    if usize::from(hi - lo) > 4 * items.len() + 64 {
        items.sort_by_key(delay);
        return;
    }
    // A counting sort over the delays' range (small against the number of items here).
    let counts = &mut scratch.counts;
    counts.clear();
    counts.resize(usize::from(hi - lo) + 2, 0);
    for p in items.iter() {
        counts[usize::from(delay(p) - lo) + 1] += 1;
    }
    for k in 1..counts.len() {
        counts[k] += counts[k - 1];
    }
    scratch.items.clear();
    scratch.items.extend_from_slice(items);
    for p in scratch.items.iter() {
        let slot = &mut counts[usize::from(delay(p) - lo)];
        items[*slot] = *p;
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::InputKind;

    /// Every synapse of `csr`, row by row: (source, target, weight, delay, receptor).
    fn synapses(csr: &IncomingCsr, sources: u64) -> Vec<(u64, u32, f64, u16, u8)> {
        let mut all = Vec::new();
        for g in 0..sources {
            csr.for_each_in_row(g, |t, w, d, r| all.push((g, t, w, d, r)));
        }
        all
    }

    #[test]
    fn rows_sharing_their_parameters_store_them_once() {
        // Source 0 excitatory onto 4 of 8 targets, source 2 inhibitory onto all 8; source 1 has
        // no synapses here.
        let mut edges: Vec<(u64, u32, f64, Step, u8)> = Vec::new();
        edges.extend((0..8).map(|t| (2, t, -112.5, 1, 1)));
        edges.extend([7, 0, 5, 2].map(|t| (0, t, 20.25, 1, 0)));
        let csr = IncomingCsr::from_edges(3, edges.iter().copied());
        assert!(csr.shares_row_parameters());
        assert_eq!(csr.bytes(), 4 * 4 + 12 * 4 + 3 * 16);
        let mut expected: Vec<_> = [7, 0, 5, 2].map(|t| (0, t, 20.25, 1, 0)).to_vec();
        expected.extend((0..8).map(|t| (2, t, -112.5, 1, 1)));
        assert_eq!(synapses(&csr, 3), expected);
    }

    #[test]
    fn rows_with_mixed_parameters_keep_them_per_synapse_sorted_by_delay() {
        let edges = [(0, 3, 20.0, 2, 0), (0, 0, 20.0, 1, 0), (1, 1, 5.0, 1, 0), (1, 2, 6.0, 1, 0)];
        let csr = IncomingCsr::from_edges(2, edges.iter().copied());
        assert!(!csr.shares_row_parameters());
        // Weights that are single-precision numbers take 4 bytes each.
        assert_eq!(csr.bytes(), 3 * 4 + 4 * (4 + 4 + 2 + 1));
        assert_eq!(
            synapses(&csr, 2),
            vec![(0, 0, 20.0, 1, 0), (0, 3, 20.0, 2, 0), (1, 1, 5.0, 1, 0), (1, 2, 6.0, 1, 0)]
        );
    }

    /// Shared parameters are kept per synapse where per row would take more memory: a shard
    /// reached by few of many sources.
    #[test]
    fn sparse_rows_keep_their_parameters_per_synapse() {
        let edges = [(5, 0, 1.0, 1, 0), (9, 1, 1.0, 1, 0)];
        let csr = IncomingCsr::from_edges(10, edges.iter().copied());
        assert!(!csr.shares_row_parameters());
        assert_eq!(synapses(&csr, 10), vec![(5, 0, 1.0, 1, 0), (9, 1, 1.0, 1, 0)]);
    }

    /// Rows with per-synapse weights but few delays (PD14's projections) store their delays and
    /// receptors per run, and deliver exactly what adding synapse by synapse in row order does.
    #[test]
    fn rows_with_few_delays_store_runs_and_deliver_the_same_input() {
        let mut edges: Vec<(u64, u32, f64, Step, u8)> = Vec::new();
        for source in 0..3u64 {
            for t in 0..200u32 {
                let weight = 1.0 + f64::from(t) * 0.37 + source as f64;
                let delay = 1 + Step::from((t * 7 + source as u32) % 4);
                edges.push((source, (t * 13) % 50, weight, delay, u8::from(source == 2)));
            }
        }
        let csr = IncomingCsr::from_edges(3, edges.iter().copied());
        assert!(csr.stores_runs() && !csr.shares_row_parameters());
        // 600 synapses × 12 bytes, 12 runs × 8, 4 run starts and 4 row starts × 4.
        assert_eq!(csr.bytes(), 600 * 12 + 12 * 8 + 4 * 4 + 4 * 4);
        // The same weights rounded to single precision are stored in 4 bytes, and deliver the
        // rounded values exactly.
        let single: Vec<_> = edges.iter().map(|&(g, t, w, d, r)| (g, t, f64::from(w as f32), d, r)).collect();
        let csr32 = IncomingCsr::from_edges(3, single.iter().copied());
        assert_eq!(csr32.bytes(), 600 * 8 + 12 * 8 + 4 * 4 + 4 * 4);
        let mut stable32 = single.clone();
        stable32.sort_by_key(|&(source, _, _, delay, _)| (source, delay));
        let expected32: Vec<_> = stable32.iter().map(|&(g, t, w, d, r)| (g, t, w, d as u16, r)).collect();
        assert_eq!(synapses(&csr32, 3), expected32);
        let mut stable = edges.clone();
        stable.sort_by_key(|&(source, _, _, delay, _)| (source, delay));
        let expected: Vec<_> = stable.iter().map(|&(g, t, w, d, r)| (g, t, w, d as u16, r)).collect();
        assert_eq!(synapses(&csr, 3), expected);
        let (mut runs, mut one_by_one) = (
            InputBuffer::new(50, 2, 8, InputKind::SummedTouched),
            InputBuffer::new(50, 2, 8, InputKind::SummedTouched),
        );
        for gid in [0, 2, 1, 0] {
            csr.add_row_to(gid, 3, &mut runs);
            csr.for_each_in_row(gid, |t, w, d, r| one_by_one.add(3 + u64::from(d), usize::from(r), t as usize, w));
        }
        for step in 4..8 {
            let (a, b) = (runs.take_step(step), one_by_one.take_step(step));
            for r in 0..2 {
                let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(a.receptor(r)), bits(b.receptor(r)), "step {step} receptor {r}");
            }
            assert_eq!(a.touched(), b.touched());
        }
    }

    /// Both layouts deliver the same sums into the same buffer cells.
    #[test]
    fn both_layouts_deliver_the_same_input() {
        let shared = [(0, 2, 1.5, 1, 0), (0, 0, 1.5, 1, 0), (0, 2, 1.5, 1, 0), (1, 2, -3.0, 2, 1), (1, 0, -3.0, 2, 1)];
        let mut mixed = shared.to_vec();
        mixed.push((1, 1, -4.0, 2, 1)); // a second inhibitory weight: no longer shared
        let delivered = |edges: &[(u64, u32, f64, Step, u8)]| {
            let csr = IncomingCsr::from_edges(2, edges.iter().copied());
            let mut buffer = InputBuffer::new(3, 2, 4, InputKind::SummedTouched);
            for gid in [0, 1, 0] {
                csr.add_row_to(gid, 10, &mut buffer);
            }
            let mut cells = Vec::new();
            for step in [11, 12] {
                let input = buffer.take_step(step);
                cells.push((input.receptor(0).to_vec(), input.receptor(1).to_vec(), input.touched().to_vec()));
            }
            (csr.shares_row_parameters(), cells)
        };
        let (is_shared, a) = delivered(&shared);
        let (is_mixed_shared, b) = delivered(&mixed);
        assert!(is_shared && !is_mixed_shared);
        // Source 0 fires twice: 2 × (1.5 + 1.5) into neuron 2, 2 × 1.5 into neuron 0.
        assert_eq!(a[0], (vec![3.0, 0.0, 6.0], vec![0.0; 3], vec![2, 0]));
        assert_eq!(a[0], b[0]);
        assert_eq!(a[1].1, vec![-3.0, 0.0, -3.0]);
        assert_eq!(b[1].1, vec![-3.0, -4.0, -3.0]);
    }
}
