//! Incoming connectivity of a shard: compressed sparse rows (CSR) by source gid.
//!
//! Row `g` holds the synapses from source gid `g` onto the shard's neurons, in canonical order
//! (the order construction generated them: by projection, then target), then stably sorted by
//! delay so that delivery fills one ring-buffer slot after the other.
//!
//! A synapse's parameters are stored per synapse (target, weight, delay, receptor: 15 bytes)
//! unless every row's synapses share one weight, delay and receptor. That is the common case of
//! projections with constant weights and delays (CUBA, COBA): a source's synapses onto one
//! population then come from one projection. The parameters are then stored once per row, next
//! to nothing else, and a synapse is just its target (4 bytes): a quarter of the memory, and a
//! spike's delivery reads one cache line of parameters instead of a stream per parameter.
//! Either way every synapse delivers the same weight into the same cell in the same order, so
//! results are the same bit for bit.

use crate::buffer::InputBuffer;
use crate::time::Step;

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

    /// The number of rows.
    fn rows(&self) -> usize {
        match self {
            RowIndex::Narrow(v) => v.len().saturating_sub(1),
            RowIndex::Wide(v) => v.len().saturating_sub(1),
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

/// Bytes of a synapse's own weight (f64), delay (u16) and receptor (u8).
const PER_SYNAPSE_PARAM_BYTES: usize = 8 + 2 + 1;

/// The weight, delay (steps) and receptor that all synapses of a row share.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct SharedParams {
    weight: f64,
    delay: u16,
    receptor: u8,
}

/// Where a CSR keeps its synapses' weights, delays and receptors.
#[derive(Debug)]
enum Params {
    /// One of each per synapse, indexed like `target`.
    PerSynapse { weight: Vec<f64>, delay: Vec<u16>, receptor: Vec<u8> },
    /// One per row: every synapse of a row has the same ones.
    PerRow(Vec<SharedParams>),
}

impl Default for Params {
    fn default() -> Self {
        Params::PerRow(Vec::new())
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
        let n = edges.len();
        let mut row_start = vec![0u64; n_sources as usize + 1];
        let mut target = Vec::with_capacity(n);
        let (mut weight, mut delay, mut receptor) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for (source, t, w, d, r) in edges {
            row_start[source as usize + 1] += 1;
            target.push(t);
            weight.push(w);
            delay.push(d.min(u64::from(u16::MAX)) as u16);
            receptor.push(r);
        }
        counts_to_starts(&mut row_start);
        Self::packed(RowIndex::new(row_start), target, weight, delay, receptor)
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
        let mut row_start = vec![0u64; n_sources as usize + 1];
        for (source, ..) in edges.clone() {
            row_start[source as usize + 1] += 1;
        }
        counts_to_starts(&mut row_start);
        let n = row_start[n_sources as usize] as usize;
        let mut cursor: Vec<u64> = row_start[..n_sources as usize].to_vec();
        let (mut target, mut weight, mut delay, mut receptor) = (vec![0; n], vec![0.0; n], vec![0; n], vec![0; n]);
        for (source, t, w, d, r) in edges {
            let j = cursor[source as usize] as usize;
            cursor[source as usize] += 1;
            target[j] = t;
            weight[j] = w;
            delay[j] = d.min(u64::from(u16::MAX)) as u16;
            receptor[j] = r;
        }
        Self::packed(RowIndex::new(row_start), target, weight, delay, receptor)
    }

    /// The CSR of rows `rows` over per-synapse arrays: rows sorted by delay, then the parameters
    /// stored per row if every row shares them and that takes less memory.
    fn packed(
        rows: RowIndex,
        mut target: Vec<u32>,
        mut weight: Vec<f64>,
        mut delay: Vec<u16>,
        mut receptor: Vec<u8>,
    ) -> Self {
        sort_rows_by_delay(&rows, &mut target, &mut weight, &mut delay, &mut receptor);
        // Per row only where that is smaller: a row's parameters take 16 bytes, a synapse's 11,
        // and a shard with few synapses from many sources has mostly empty rows.
        let smaller = rows.rows() * std::mem::size_of::<SharedParams>() < weight.len() * PER_SYNAPSE_PARAM_BYTES;
        let params = match shared_per_row(&rows, &weight, &delay, &receptor).filter(|_| smaller) {
            Some(shared) => Params::PerRow(shared),
            None => Params::PerSynapse { weight, delay, receptor },
        };
        Self { rows, target, params }
    }

    pub fn synapses(&self) -> usize {
        self.target.len()
    }

    /// Whether every row's synapses share their weight, delay and receptor, stored once per row.
    pub fn shares_row_parameters(&self) -> bool {
        matches!(self.params, Params::PerRow(_))
    }

    pub fn bytes(&self) -> usize {
        let params = match &self.params {
            Params::PerSynapse { weight, .. } => weight.len() * PER_SYNAPSE_PARAM_BYTES,
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
                    f(self.target[j], weight[j], delay[j], receptor[j]);
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
            Params::PerSynapse { weight, delay, receptor } => buffer.add_row(
                step,
                &self.target[range.clone()],
                &weight[range.clone()],
                &delay[range.clone()],
                &receptor[range],
            ),
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
                crate::prefetch::slice(&weight[range.clone()]);
                crate::prefetch::slice(&delay[range.clone()]);
                crate::prefetch::slice(&receptor[range]);
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

/// The parameters of each row if every row's synapses share them (compared bit for bit), else
/// `None`. Empty rows share anything.
fn shared_per_row(rows: &RowIndex, weight: &[f64], delay: &[u16], receptor: &[u8]) -> Option<Vec<SharedParams>> {
    let mut shared = Vec::with_capacity(rows.rows());
    for r in 0..rows.rows() {
        let range = rows.range(r);
        let Some(first) = range.clone().next() else {
            shared.push(SharedParams::default());
            continue;
        };
        let p = SharedParams { weight: weight[first], delay: delay[first], receptor: receptor[first] };
        let same = range.clone().all(|j| weight[j].to_bits() == p.weight.to_bits())
            && delay[range.clone()].iter().all(|&d| d == p.delay)
            && receptor[range].iter().all(|&rc| rc == p.receptor);
        if !same {
            return None;
        }
        shared.push(p);
    }
    Some(shared)
}

/// Orders each row by delay, stably. Rows are generated in target order (per projection),
/// so delivery then writes one ring-buffer slot after the other, each in ascending neuron
/// order, instead of jumping between slots (with many distinct delays, as in PD14, most adds
/// missed the cache).
///
/// Results do not change: a spike's synapses with different delays write different slots,
/// and synapses with equal delay keep their order, so every buffer cell receives its weights
/// in the same order as before. Only the order in which a step's touched neurons are listed
/// changes, and the neurons of a step are updated independently of each other.
fn sort_rows_by_delay(rows: &RowIndex, target: &mut [u32], weight: &mut [f64], delay: &mut [u16], receptor: &mut [u8]) {
    let mut row: Vec<(u16, u32, f64, u8)> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for r in 0..rows.rows() {
        let range = rows.range(r);
        let delays = &delay[range.clone()];
        if delays.windows(2).all(|w| w[0] <= w[1]) {
            continue;
        }
        let lo = delays.iter().copied().min().unwrap_or(0);
        let hi = delays.iter().copied().max().unwrap_or(0);
        row.clear();
        row.extend(range.clone().map(|j| (delay[j], target[j], weight[j], receptor[j])));
        if usize::from(hi - lo) > 4 * row.len() + 64 {
            // Delays too spread for counting: a stable comparison sort.
            row.sort_by_key(|&(d, ..)| d);
            for (j, &(d, t, w, rc)) in range.zip(&row) {
                (delay[j], target[j], weight[j], receptor[j]) = (d, t, w, rc);
            }
            continue;
        }
        // A stable counting sort by delay (delays span few values), placing straight back.
        counts.clear();
        counts.resize(usize::from(hi - lo) + 2, 0);
        for &(d, ..) in &row {
            counts[usize::from(d - lo) + 1] += 1;
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        for &(d, t, w, rc) in &row {
            let j = range.start + counts[usize::from(d - lo)];
            counts[usize::from(d - lo)] += 1;
            (delay[j], target[j], weight[j], receptor[j]) = (d, t, w, rc);
        }
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
        assert_eq!(csr.bytes(), 3 * 4 + 4 * (4 + 8 + 2 + 1));
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
