//! A shard's static synapses gathered by source in buckets of rows, then packed into its CSR in
//! one pass, front to back.
//!
//! Synapses are drawn per target (see [`crate::connect`]) and stored by source, so building a
//! shard's CSR is a transposition. Placing each synapse straight into its row (a counting sort
//! over all rows) writes to a random one of ~10⁵ rows per synapse: a cache miss each, since the
//! rows' write positions alone are more lines than the caches hold. Here the transposition takes
//! two cache-friendly steps instead, as a most-significant-digit radix sort does:
//!
//! 1. **Into buckets.** With every row's length counted beforehand (the builder draws the
//!    sources once just to count them), each bucket of `2^shift` consecutive rows has its place
//!    in one array (`records`, reused from shard to shard), and each drawn synapse is appended
//!    to its bucket as one [`Record`] (12 bytes with single-precision weights, 16 with double).
//!    A bucket holds 64 to 256 rows, about 2¹⁶ records where the rows are that dense, so the
//!    writes are a few thousand sequential streams at most.
//! 2. **Into rows, bucket by bucket.** A bucket's records are placed into its rows (a counting
//!    sort whose 1 MB of output stays in the L2 cache), each row is sorted by delay and written
//!    out in the smallest layout ([`RowWriter`]), in row order.
//!
//! Records are appended in the order drawn, and both sorts are stable, so every row holds its
//! synapses in canonical order (projection, target, draw order) sorted stably by delay: the
//! same CSR as placing them directly, bit for bit (tested), written once with no join of parts.

use super::{IncomingCsr, PackScratch, Placed, RowCursors, RowWriter, is_single, sort_by_delay};

/// How a bucket's records keep their weight: `f32` when every weight of the shard is exactly a
/// single-precision number (known before drawing: see the builder), else `f64`.
pub(crate) trait StoredWeight: Copy + Default {
    /// Whether every stored weight is a single-precision number.
    const SINGLE: bool;
    /// `w` as stored (exactly: single precision is chosen only for weights that are singles).
    fn store(w: f64) -> Self;
    fn load(self) -> f64;
}

impl StoredWeight for f32 {
    const SINGLE: bool = true;

    #[inline]
    fn store(w: f64) -> Self {
        debug_assert!(is_single(w), "a weight stored in single precision must be a single: {w:e}");
        w as f32
    }

    #[inline]
    fn load(self) -> f64 {
        f64::from(self)
    }
}

impl StoredWeight for f64 {
    const SINGLE: bool = false;

    #[inline]
    fn store(w: f64) -> Self {
        w
    }

    #[inline]
    fn load(self) -> f64 {
        self
    }
}

/// One synapse in its source's bucket: `row` is the source's row within the bucket.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Record<W> {
    weight: W,
    target: u32,
    delay: u16,
    row: u8,
    receptor: u8,
}

/// Rows per bucket, as a power of two: about [`BUCKET_RECORDS`] records per bucket on average
/// (`synapses` over `rows` rows), from 64 rows (at most a few thousand buckets, each appended to
/// as a sequential stream) to 256 (a record's row is one byte).
fn bucket_shift(rows: usize, synapses: usize) -> u32 {
    let rows_per_bucket = (rows as f64 * BUCKET_RECORDS as f64 / synapses.max(1) as f64) as usize;
    rows_per_bucket.clamp(64, 256).next_power_of_two().trailing_zeros()
}

/// Records a bucket holds on average: its placed synapses (16 bytes each, 1 MB) then stay in
/// the L2 cache while they are placed into rows, sorted and written out.
const BUCKET_RECORDS: usize = 1 << 16;

/// A shard's static synapses being gathered by source (see the module documentation).
pub(crate) struct SourceBuckets<'a, W> {
    shift: u32,
    records: &'a mut Vec<Record<W>>,
    /// Where each bucket starts in `records` (one more entry than buckets).
    start: Vec<usize>,
    /// Where each bucket's next record goes.
    cursor: Vec<usize>,
}

impl<'a, W: StoredWeight> SourceBuckets<'a, W> {
    /// Buckets for the rows `row_counts[g + 1]` = synapses from source `g` (`row_counts[0]` =
    /// 0), their records in `records` (resized to the count; space beyond it is returned, so
    /// that a thread keeps no more than the shard it is building).
    pub(crate) fn new(row_counts: &[u64], records: &'a mut Vec<Record<W>>) -> Self {
        let rows = row_counts.len() - 1;
        let shift = bucket_shift(rows, row_counts.iter().sum::<u64>() as usize);
        let buckets = rows.div_ceil(1 << shift).max(1);
        let mut start = Vec::with_capacity(buckets + 1);
        start.push(0);
        for bucket in row_counts[1..].chunks(1 << shift) {
            let last = *start.last().expect("a start");
            start.push(last + bucket.iter().sum::<u64>() as usize);
        }
        start.resize(buckets + 1, *start.last().expect("a start"));
        let total = start[buckets];
        // `resize` writes only the records beyond the current length: the rest are overwritten.
        if records.len() > total {
            records.truncate(total);
            records.shrink_to(total);
        } else {
            records.resize(total, Record::default());
        }
        let cursor = start[..buckets].to_vec();
        Self { shift, records, start, cursor }
    }

    /// Appends a synapse from `source_gid` to its bucket.
    #[inline]
    pub(crate) fn place(&mut self, source_gid: u64, target: u32, weight: f64, delay: u16, receptor: u8) {
        let bucket = (source_gid >> self.shift) as usize;
        let row = (source_gid & ((1 << self.shift) - 1)) as u8;
        let at = &mut self.cursor[bucket];
        self.records[*at] = Record { weight: W::store(weight), target, row, delay, receptor };
        // A bucket is appended to once in about as many placements as there are buckets, so the
        // line its next records go to is long gone from the caches by then, and ~10³ streams
        // are more than the hardware prefetcher follows: fetch the line two ahead now, so the
        // stores find it (once per record: cheap when the line is already there).
        let two_lines = 128 / std::mem::size_of::<Record<W>>();
        crate::prefetch::for_write(self.records.as_ptr().wrapping_add(*at + two_lines));
        *at += 1;
    }

    /// Packs the buckets into the shard's CSR, bucket by bucket in row order (`row_counts` as
    /// given to [`SourceBuckets::new`], `delays`: the least and greatest delay placed, in
    /// steps). Every bucket must have received exactly its rows' counts.
    pub(crate) fn pack(self, row_counts: &[u64], delays: (u16, u16), scratch: &mut PackScratch) -> IncomingCsr {
        debug_assert!(self.cursor.iter().zip(&self.start[1..]).all(|(c, s)| c == s), "bucket counts did not match");
        let rows = row_counts.len() - 1;
        let mut writer = RowWriter::new(rows, self.records.len());
        writer.known_single = W::SINGLE;
        let span = usize::from(delays.1.saturating_sub(delays.0)) + 1;
        for (b, window) in self.start.windows(2).enumerate() {
            let first_row = b << self.shift;
            let bucket_rows = (first_row + (1 << self.shift)).min(rows) - first_row;
            let records = &self.records[window[0]..window[1]];
            if bucket_rows * span <= KEYED_COUNTERS {
                keyed_rows(records, bucket_rows, (delays.0, span), scratch, &mut writer);
            } else {
                sort_rows(records, &row_counts[first_row + 1..first_row + bucket_rows + 1], scratch, &mut writer);
            }
        }
        writer.finish()
    }
}

/// The most (row, delay) counters a bucket is sorted with in one counting sort (256 KB): PD14's
/// 64-row buckets with delays over about 50 steps need 3,200; beyond the limit (delays spanning
/// more than 128 steps), rows are placed first and each is sorted by delay ([`sort_rows`]).
const KEYED_COUNTERS: usize = 1 << 15;

/// Writes the `rows` rows of a bucket's `records` (delays from `first_delay`, spanning `span`
/// steps) sorted by (row, delay) in one counting sort, so that every row comes out sorted
/// stably by delay.
fn keyed_rows<W: StoredWeight>(
    records: &[Record<W>],
    rows: usize,
    (first_delay, span): (u16, usize),
    scratch: &mut PackScratch,
    writer: &mut RowWriter,
) {
    let PackScratch { placed, sort } = scratch;
    let cursor = &mut sort.counts;
    let key = |r: &Record<W>| usize::from(r.row) * span + usize::from(r.delay - first_delay);
    cursor.clear();
    cursor.resize(rows * span + 1, 0);
    for r in records {
        cursor[key(r) + 1] += 1;
    }
    for k in 1..cursor.len() {
        cursor[k] += cursor[k - 1];
    }
    let row_start: Vec<usize> = cursor.iter().step_by(span).copied().collect();
    // Only the synapses beyond the current length are written here: every one is overwritten.
    placed.resize(records.len(), Placed::default());
    for r in records {
        let at = &mut cursor[key(r)];
        placed[*at] = r.placed();
        *at += 1;
    }
    for k in 0..rows {
        writer.push_row(&placed[row_start[k]..row_start[k + 1]]);
    }
}

/// Writes the rows of a bucket's `records` (`row_counts`: its rows' lengths) by placing them into
/// rows, then sorting each by delay: for delays spanning too many steps for [`keyed_rows`].
fn sort_rows<W: StoredWeight>(
    records: &[Record<W>],
    row_counts: &[u64],
    scratch: &mut PackScratch,
    writer: &mut RowWriter,
) {
    let PackScratch { placed, sort } = scratch;
    let mut rows = RowCursors::new([&[0], row_counts].concat());
    // Only the synapses beyond the current length are written here: every one is overwritten.
    placed.resize(records.len(), Placed::default());
    for r in records {
        let at = &mut rows.cursor[usize::from(r.row)];
        placed[*at as usize] = r.placed();
        *at += 1;
    }
    debug_assert!(rows.all_placed(), "row counts did not match the bucket");
    for k in 0..row_counts.len() {
        let row = &mut placed[rows.row_start[k] as usize..rows.row_start[k + 1] as usize];
        sort_by_delay(row, |p| p.delay, sort);
        writer.push_row(row);
    }
}

impl<W: StoredWeight> Record<W> {
    #[inline]
    fn placed(&self) -> Placed {
        Placed { weight: self.weight.load(), target: self.target, delay: self.delay, receptor: self.receptor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Step;

    /// Edges `(source gid, target, weight, delay, receptor)` of every kind of row: empty rows,
    /// rows sharing one weight and delay, rows with a few delays, rows with many; sources over
    /// several buckets (the last one partial).
    fn edges(n_sources: u64, single: bool) -> Vec<(u64, u32, f64, Step, u8)> {
        let mut out = Vec::new();
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for target in 0..300u32 {
            for _ in 0..40 {
                let source = next() % n_sources;
                let (weight, delay) = match source % 4 {
                    0 => continue,
                    1 => (0.5, 3),
                    2 => ((next() % 7) as f64 * 0.25 - 1.0, 1 + next() % 3),
                    _ => ((next() % 1000) as f64 / 7.0, 1 + next() % 200),
                };
                let weight = if single { f64::from(weight as f32) } else { weight };
                out.push((source, target, weight, delay, u8::from(source.is_multiple_of(3))));
            }
        }
        out
    }

    fn bucketed<W: StoredWeight>(n_sources: u64, edges: &[(u64, u32, f64, Step, u8)]) -> IncomingCsr {
        let mut row_counts = vec![0u64; n_sources as usize + 1];
        for e in edges {
            row_counts[e.0 as usize + 1] += 1;
        }
        let mut records = vec![Record::<W>::default(); 7]; // left over from an earlier shard
        let mut buckets = SourceBuckets::new(&row_counts, &mut records);
        for &(s, t, w, d, r) in edges {
            buckets.place(s, t, w, d as u16, r);
        }
        let delays = edges.iter().map(|e| e.3 as u16);
        let delays = (delays.clone().min().unwrap_or(1), delays.max().unwrap_or(1));
        buckets.pack(&row_counts, delays, &mut PackScratch::default())
    }

    #[test]
    fn buckets_pack_the_same_csr_as_placing_into_rows_directly() {
        for n_sources in [1u64, 100, 5000, 9000] {
            for single in [true, false] {
                let edges = edges(n_sources, single);
                let direct = IncomingCsr::from_edges(n_sources, edges.iter().copied());
                let via = if single { bucketed::<f32>(n_sources, &edges) } else { bucketed::<f64>(n_sources, &edges) };
                assert_eq!(format!("{direct:?}"), format!("{via:?}"), "{n_sources} sources, single {single}");
            }
        }
    }

    /// Rows of every layout: sharing their parameters (per row), few delays and receptors (per
    /// run), a different delay for nearly every synapse of sparse rows (per synapse).
    #[test]
    fn buckets_pack_every_layout_as_placing_directly_does() {
        type Generator = fn(u64, u32, u32) -> (u64, u32, f64, Step, u8);
        let kinds: [(&str, Generator); 3] = [
            ("per row", |g, t, _| (g, t, 0.5 + g as f64, 3, 0)),
            ("per run", |g, t, k| {
                (g, t, 0.25 * f64::from(t + k) + 0.1, Step::from(1 + (t + k) % 4), u8::from((t + k).is_multiple_of(4)))
            }),
            ("per synapse", |g, t, k| (g, t, 0.3 * f64::from(k) + 1.0, 1 + g + Step::from(t * 7 + k), 0)),
        ];
        for (name, edge) in kinds {
            let edges: Vec<_> = (0..100u32)
                .flat_map(|t| (0..3u32).map(move |k| (t, k)))
                .map(|(t, k)| edge(u64::from((t * 5 + k * 11) % 6), t, k))
                .collect();
            let direct = IncomingCsr::from_edges(6, edges.iter().copied());
            let via = bucketed::<f64>(6, &edges);
            assert_eq!(format!("{direct:?}"), format!("{via:?}"), "{name}");
            assert_eq!(
                (via.shares_row_parameters(), via.stores_runs()),
                match name {
                    "per row" => (true, false),
                    "per run" => (false, true),
                    _ => (false, false),
                },
                "{name}"
            );
        }
    }

    #[test]
    fn records_shrink_to_the_shard() {
        let mut records = vec![Record::<f32>::default(); 1 << 16];
        let buckets = SourceBuckets::new(&[0, 3, 0, 2], &mut records);
        assert_eq!(buckets.records.len(), 5);
        assert!(buckets.records.capacity() < 1 << 16);
    }
}
