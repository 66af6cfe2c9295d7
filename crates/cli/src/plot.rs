//! `laminar plot`: the spike raster and the mean firing rate per population of a recording,
//! drawn as PNG figures.
//!
//! The raster shows neurons top to bottom in population order, which for circuits built by the
//! column builder is area, column, then layer order (superficial first). Large networks are
//! subsampled deterministically: evenly spaced node ids, allotted to populations in proportion
//! to their sizes, at least a few per population.
//!
//! Two things keep the figures readable whatever the run:
//! - *Time*: a raster of a long run squeezes seconds of spikes into 1,200 pixels and becomes a
//!   moiré texture, so runs longer than [`LONG_RUN_MS`] are shown over their last
//!   [`DEFAULT_RASTER_MS`] by default (past the onset transient, in the state the run settled
//!   into); the rates still cover the whole run. `--from`/`--to` choose one window for both.
//! - *Populations*: a circuit of hundreds of populations cannot carry one label per population,
//!   so the y axis is labelled by the groups the manifest's placements give (area, column,
//!   layer), as deep as the labels fit ([`layout`]); the spikes are then coloured by layer with
//!   a legend, and the rates figure pools the columns of each cell type ([`rates`]).
//!
//! Text is drawn with the bundled DejaVu Sans (`data/fonts`), so no system font library is used.
//!
//! [`attention`] draws the pictures of `laminar attention` (`attention.png`, `scaling.png`) with
//! the same font and palette.

pub(crate) mod attention;
mod layout;
mod raster;
mod rates;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use laminar_record::{MANIFEST_FILE_NAME, Manifest, SpikePopulation};
use plotters::prelude::*;

use layout::Tags;

/// Pixel size of `raster.png`.
pub const RASTER_SIZE: (u32, u32) = (1400, 900);
/// Neurons shown in the raster when `--max-neurons` is not given.
pub const DEFAULT_MAX_NEURONS: usize = 2000;
/// Neurons every population keeps in a subsampled raster (all of them if it has fewer).
const MIN_PER_POPULATION: u64 = 10;
/// Runs longer than this (ms) are not drawn whole in the raster by default: at 1,200 pixels
/// for the time axis, 2 s is 1.7 ms per pixel, about the refractory period, the coarsest scale
/// at which a neuron's spikes stay separate dots.
pub const LONG_RUN_MS: f64 = 2000.0;
/// The raster window of long runs by default (ms): their last second, 0.8 ms per pixel, long
/// enough to show rhythms of a few Hz and population bursts, short enough for single spikes.
pub const DEFAULT_RASTER_MS: f64 = 1000.0;

static FONT: &[u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// matplotlib's `tab10`, the qualitative palette most analysis figures use.
const PALETTE: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];

/// Options of `laminar plot`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Default windows: runs of up to 2 s are drawn whole. Longer runs: the raster shows \
the last 1 s (a 10-s raster at 1,400 pixels merges spikes into a texture; the last second is past the \
onset transient), the rates figure the whole run; each figure's subtitle says its window. \
--from/--to set one window for both figures.\n\nCircuits with many populations are labelled by \
area, column and layer (as deep as the labels fit) and coloured by layer, with a legend; with more \
than 48 populations the rates figure pools the columns of each cell type (bar: pooled rate, \
whisker: lowest to highest column).")]
pub struct PlotArgs {
    /// Recording directory written by `laminar run --out`.
    pub dir: PathBuf,
    /// Where to write: a prefix such as `figs/pd` gives figs/pd_raster.png and figs/pd_rates.png;
    /// a directory (or a prefix ending in `/`, `_`, `-` or `.`) is used as is. Default: DIR/.
    #[arg(long, value_name = "FILE_PREFIX")]
    pub out: Option<PathBuf>,
    /// Start of the window of both figures (ms); default 0 (raster of runs over 2 s: the end
    /// minus 1000).
    #[arg(long, value_name = "MS")]
    pub from: Option<f64>,
    /// End of the window of both figures (ms), excluded unless it is the end of the run;
    /// default: the simulated time.
    #[arg(long, value_name = "MS")]
    pub to: Option<f64>,
    /// Neurons shown in the raster at most (evenly spaced, spread over populations by size).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_NEURONS)]
    pub max_neurons: usize,
}

/// `laminar plot`: draws both figures and prints the paths and the rate table.
pub fn main(args: &PlotArgs) -> Result<()> {
    use std::io::Write as _;
    let summary = plot(args)?;
    let mut out = std::io::stdout().lock();
    match write!(out, "{summary}").and_then(|()| out.flush()) {
        // A closed pipe (`laminar plot DIR | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot print the summary"),
    }
}

/// A time window of the figures.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    from: f64,
    to: f64,
    /// Whether a spike at exactly `to` counts: yes when `to` is the end of the run, since a spike
    /// of the last step is stamped with the end time.
    closed: bool,
}

impl Window {
    fn new(simulated_ms: f64, from: Option<f64>, to: Option<f64>) -> Result<Self> {
        if simulated_ms.is_nan() || simulated_ms <= 0.0 {
            bail!("the recording covers no time (simulated {simulated_ms} ms): nothing to plot");
        }
        let from = from.unwrap_or(0.0);
        let to = to.unwrap_or(simulated_ms);
        if !from.is_finite() || !to.is_finite() {
            bail!("bad window: --from and --to must be finite numbers of ms");
        }
        if from < 0.0 {
            bail!("bad window: --from {from} ms is negative");
        }
        if to > simulated_ms * (1.0 + 1e-12) {
            bail!("bad window: --to {to} ms is past the end of the recording ({simulated_ms} ms simulated)");
        }
        if from >= to {
            bail!("bad window: --from {from} ms must be less than --to {to} ms");
        }
        Ok(Self { from, to, closed: to >= simulated_ms * (1.0 - 1e-12) })
    }

    fn contains(&self, t: f64) -> bool {
        t >= self.from && (t < self.to || (self.closed && t <= self.to))
    }

    fn seconds(&self) -> f64 {
        (self.to - self.from) / 1000.0
    }

    fn describe(&self) -> String {
        format!("[{}, {}{} ms", self.from, self.to, if self.closed { "]" } else { ")" })
    }

    /// `0–500 ms`, as in titles.
    fn span(&self) -> String {
        format!("{}–{} ms", number(self.from), number(self.to))
    }
}

/// The windows of the two figures and why they were chosen, for the subtitles.
#[derive(Debug, Clone, PartialEq)]
struct Windows {
    rates: Window,
    raster: Window,
    /// How the rates window came about (`whole run`, `--from/--to`).
    rates_why: String,
    /// How the raster window came about.
    raster_why: String,
}

/// Both figures over `--from`/`--to` when either is given; otherwise the rates over the whole
/// run and the raster over the whole run too, unless the run is longer than [`LONG_RUN_MS`]:
/// then over its last [`DEFAULT_RASTER_MS`].
fn choose_windows(simulated_ms: f64, from: Option<f64>, to: Option<f64>) -> Result<Windows> {
    if from.is_some() || to.is_some() {
        let window = Window::new(simulated_ms, from, to)?;
        let why = "window set by --from/--to".to_owned();
        return Ok(Windows { rates: window, raster: window, rates_why: why.clone(), raster_why: why });
    }
    let whole = Window::new(simulated_ms, None, None)?;
    let rates_why = "whole run".to_owned();
    if simulated_ms <= LONG_RUN_MS {
        return Ok(Windows { rates: whole, raster: whole, rates_why, raster_why: "whole run".to_owned() });
    }
    let raster = Window::new(simulated_ms, Some(simulated_ms - DEFAULT_RASTER_MS), None)?;
    let raster_why = format!(
        "last {} s of the {}-s run (default for runs over {} s; --from/--to to choose)",
        number(DEFAULT_RASTER_MS / 1000.0),
        number(simulated_ms / 1000.0),
        number(LONG_RUN_MS / 1000.0)
    );
    Ok(Windows { rates: whole, raster, rates_why, raster_why })
}

/// One population as plotted.
struct Pop {
    name: String,
    size: u64,
    /// Where the population sits (area, column, layer, cell type), for labels and colours.
    tags: Tags,
    colour: RGBColor,
    /// Spikes in the rates window.
    spikes: u64,
    rate_hz: f64,
    /// Neurons shown in the raster (evenly spaced node ids, see `shown_row`).
    shown: u64,
    /// First raster row (from the top) of this population.
    first_row: usize,
    /// Spikes of shown neurons in the raster window: (time, row from the top).
    raster: Vec<(f64, usize)>,
}

/// What `laminar plot` wrote and measured.
pub struct Summary {
    dir: PathBuf,
    model: String,
    windows: Windows,
    raster: PathBuf,
    rates: PathBuf,
    shown: usize,
    total: u64,
    rows: Vec<(String, u64, u64, f64)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rates, raster) = (&self.windows.rates, &self.windows.raster);
        writeln!(f, "{} (model {}), window {}", self.dir.display(), self.model, rates.describe())?;
        let neurons = if self.shown as u64 == self.total {
            format!("all {} neurons", self.total)
        } else {
            format!("{} of {} neurons", self.shown, self.total)
        };
        let raster_window = if raster == rates {
            String::new()
        } else {
            format!(", {} ({})", raster.describe(), self.windows.raster_why)
        };
        writeln!(f, "wrote {} ({neurons}{raster_window})", self.raster.display())?;
        writeln!(f, "wrote {}", self.rates.display())?;
        writeln!(f, "{:<16} {:>10} {:>10} {:>12}", "population", "neurons", "spikes", "rate (Hz)")?;
        for (name, size, spikes, rate) in &self.rows {
            writeln!(f, "{name:<16} {size:>10} {spikes:>10} {rate:>12.4}")?;
        }
        Ok(())
    }
}

/// Reads the recording, writes `raster.png` and `rates.png`, and returns what to print.
pub fn plot(args: &PlotArgs) -> Result<Summary> {
    let dir = &args.dir;
    if !dir.exists() {
        bail!("{}: no such directory (expected a recording written by `laminar run --out`)", dir.display());
    }
    if !dir.is_dir() {
        bail!("{}: not a directory (expected a recording written by `laminar run --out`)", dir.display());
    }
    if !dir.join(MANIFEST_FILE_NAME).is_file() {
        bail!("{}: no {MANIFEST_FILE_NAME}, so not a recording written by `laminar run`", dir.display());
    }
    let manifest = Manifest::read(dir).with_context(|| format!("{}: cannot read the manifest", dir.display()))?;
    let Some(spikes_file) = &manifest.files.spikes else {
        bail!("{}: the run recorded no spikes (the manifest names no spike file)", dir.display());
    };
    let spikes_path = dir.join(spikes_file);
    if !spikes_path.is_file() {
        bail!("{}: {spikes_file} is missing (the manifest says the spikes are there)", dir.display());
    }
    if args.max_neurons == 0 {
        bail!("--max-neurons must be at least 1");
    }
    let windows = choose_windows(manifest.simulated_ms, args.from, args.to)?;
    let spikes = laminar_record::read_spikes(&spikes_path)
        .with_context(|| format!("cannot read the spikes of {}", dir.display()))?;

    let mut entries = manifest.populations.clone();
    entries.sort_by_key(|p| p.first_gid);
    if entries.is_empty() {
        bail!("{}: the manifest lists no populations", dir.display());
    }
    for s in &spikes {
        if !entries.iter().any(|p| p.name == s.name) {
            bail!("{}: spikes of population '{}', which the manifest does not list", spikes_path.display(), s.name);
        }
    }
    let tags: Vec<Tags> = entries.iter().map(|e| Tags::new(&e.name, e.placement.as_ref())).collect();
    let colouring = Colouring::new(&tags);
    let allotted = allot(&entries.iter().map(|p| p.size).collect::<Vec<_>>(), args.max_neurons);
    let mut pops = Vec::with_capacity(entries.len());
    let mut row = 0;
    for (i, ((entry, n), tags)) in entries.iter().zip(allotted).zip(tags).enumerate() {
        let mut pop = Pop {
            name: entry.name.clone(),
            size: entry.size,
            tags,
            colour: colouring.colour(i),
            spikes: 0,
            rate_hz: 0.0,
            shown: n,
            first_row: row,
            raster: Vec::new(),
        };
        if let Some(recorded) = spikes.iter().find(|s| s.name == entry.name) {
            count(&mut pop, recorded, &windows);
        }
        row += pop.shown as usize;
        pops.push(pop);
    }

    let (raster_path, rates_path) = output_paths(dir, args.out.as_deref());
    for path in [&raster_path, &rates_path] {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    register_font()?;
    let model = Path::new(&manifest.model_path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| manifest.model_path.clone());
    let total: u64 = pops.iter().map(|p| p.size).sum();
    let shown = row;
    let figure = Figure { model: &model, windows: &windows, legend: colouring.legend() };
    raster::draw(&raster_path, &pops, &figure, shown, total)
        .with_context(|| format!("cannot draw {}", raster_path.display()))?;
    rates::draw(&rates_path, &pops, &figure).with_context(|| format!("cannot draw {}", rates_path.display()))?;

    Ok(Summary {
        dir: dir.clone(),
        model: manifest.model_path.clone(),
        windows,
        raster: raster_path,
        rates: rates_path,
        shown,
        total,
        rows: pops.iter().map(|p| (p.name.clone(), p.size, p.spikes, p.rate_hz)).collect(),
    })
}

/// What both figures share: the model's name, the windows and the colour legend.
struct Figure<'a> {
    model: &'a str,
    windows: &'a Windows,
    /// `(key, colour)` when colours stand for groups (layers) rather than single populations.
    legend: Option<Vec<(String, RGBColor)>>,
}

/// How populations are coloured: one colour each when the palette has enough colours (their
/// labels are then the legend), otherwise one per layer (or, outside the layers, per cell type
/// or population), which needs a legend.
struct Colouring {
    /// Index into `keys` of each population.
    key_of: Vec<usize>,
    keys: Vec<String>,
    by_group: bool,
}

impl Colouring {
    fn new(tags: &[Tags]) -> Self {
        let by_group = tags.len() > PALETTE.len();
        let mut keys: Vec<String> = Vec::new();
        let key_of = tags
            .iter()
            .map(|t| {
                let key = if by_group { t.stratum().unwrap_or(&t.name) } else { &t.name };
                keys.iter().position(|k| k == key).unwrap_or_else(|| {
                    keys.push(key.to_owned());
                    keys.len() - 1
                })
            })
            .collect();
        Self { key_of, keys, by_group }
    }

    fn colour(&self, population: usize) -> RGBColor {
        palette(self.key_of[population])
    }

    fn legend(&self) -> Option<Vec<(String, RGBColor)>> {
        self.by_group.then(|| self.keys.iter().enumerate().map(|(i, k)| (k.clone(), palette(i))).collect())
    }
}

fn palette(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Counts a population's spikes in the rates window and collects those of its shown neurons
/// in the raster window.
fn count(pop: &mut Pop, recorded: &SpikePopulation, windows: &Windows) {
    for (&id, &t) in recorded.node_ids.iter().zip(&recorded.timestamps) {
        if windows.rates.contains(t) {
            pop.spikes += 1;
        }
        if windows.raster.contains(t)
            && let Some(r) = shown_row(id, pop.size, pop.shown)
        {
            pop.raster.push((t, pop.first_row + r as usize));
        }
    }
    let seconds = windows.rates.seconds();
    pop.rate_hz = if pop.size > 0 { pop.spikes as f64 / (pop.size as f64 * seconds) } else { 0.0 };
}

/// Neurons shown per population: all when the network has at most `max`, otherwise `max` split
/// in proportion to the sizes (largest remainders), at least `MIN_PER_POPULATION` each.
fn allot(sizes: &[u64], max: usize) -> Vec<u64> {
    let total: u64 = sizes.iter().sum();
    if total <= max as u64 {
        return sizes.to_vec();
    }
    let quotas: Vec<f64> = sizes.iter().map(|&s| s as f64 * max as f64 / total as f64).collect();
    let mut n: Vec<u64> = quotas.iter().map(|q| q.floor() as u64).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())).then(a.cmp(&b)));
    let mut left = max as u64 - n.iter().sum::<u64>();
    for &i in order.iter().cycle().take(sizes.len() * 2) {
        if left == 0 {
            break;
        }
        if n[i] < sizes[i] {
            n[i] += 1;
            left -= 1;
        }
    }
    for (n, &s) in n.iter_mut().zip(sizes) {
        *n = (*n).max(s.min(MIN_PER_POPULATION));
    }
    n
}

/// The raster shows the `n` node ids ⌊i·size/n⌋ (i < n), evenly spaced over `0..size`: the
/// row of `id` among them (i), or `None` when it is not shown.
fn shown_row(id: u64, size: u64, n: u64) -> Option<u64> {
    if n == 0 || id >= size {
        return None;
    }
    let i = (id as u128 * n as u128).div_ceil(size as u128);
    (i < n as u128 && i * size as u128 / n as u128 == id as u128).then_some(i as u64)
}

/// `raster.png` and `rates.png` for `--out`.
fn output_paths(dir: &Path, out: Option<&Path>) -> (PathBuf, PathBuf) {
    let Some(out) = out else {
        return (dir.join("raster.png"), dir.join("rates.png"));
    };
    let text = out.as_os_str().to_string_lossy();
    if out.is_dir() || text.ends_with('/') {
        return (out.join("raster.png"), out.join("rates.png"));
    }
    let separator = if text.ends_with(['_', '-', '.']) { "" } else { "_" };
    let with = |name: &str| {
        let mut s = OsString::from(out.as_os_str());
        s.push(separator);
        s.push(name);
        PathBuf::from(s)
    };
    (with("raster.png"), with("rates.png"))
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(anyhow!("the bundled font (data/fonts/DejaVuSans.ttf) is not a valid font"))
    }
}

/// Plotters' drawing errors, whatever the backend, as anyhow errors.
fn drawing<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(c);
    }
    s
}

/// A number of ms or Hz as written in titles: no trailing zeros.
fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Tick label format for at most `labels` ticks over `range`: as many decimals as the ticks
/// plotters will choose need, the same for all of them (0, 1, 2 or 0.5, 1.0, 1.5).
fn tick_format(range: std::ops::Range<f64>, labels: usize) -> impl Fn(&f64) -> String {
    use plotters::coord::ranged1d::Ranged;
    let ticks = plotters::coord::types::RangedCoordf64::from(range).key_points(labels);
    let decimals = (0..=6)
        .find(|&d| {
            let scale = 10f64.powi(d);
            ticks.iter().all(|t| ((t * scale).round() - t * scale).abs() < 1e-6)
        })
        .unwrap_or(6) as usize;
    move |v: &f64| {
        let v = if v.abs() < 1e-12 { 0.0 } else { *v };
        format!("{v:.decimals$}")
    }
}

/// A colour darkened for text on white.
fn ink(c: RGBColor) -> RGBColor {
    let d = |x: u8| (x as f64 * 0.78) as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allotment_is_proportional_with_a_floor() {
        assert_eq!(allot(&[100, 50], 1000), vec![100, 50]);
        let n = allot(&[20_683, 5_834, 21_915, 5_479, 4_850, 1_065, 14_395, 2_948], 2000);
        assert!(n.iter().sum::<u64>() >= 2000 && n.iter().sum::<u64>() <= 2010, "{n:?}");
        assert!(n.iter().all(|&k| k >= MIN_PER_POPULATION));
        assert_eq!(allot(&[100_000, 3], 100), vec![100, 3]);
    }

    #[test]
    fn ids_are_evenly_spread_and_distinct() {
        let shown = |size, n| (0..size).filter_map(|id| shown_row(id, size, n).map(|r| (id, r))).collect::<Vec<_>>();
        assert_eq!(shown(10, 4), vec![(0, 0), (2, 1), (5, 2), (7, 3)]);
        assert_eq!(shown(7, 7), (0..7).map(|i| (i, i)).collect::<Vec<_>>());
        for (size, n) in [(20_683, 537), (1_065, 28), (3, 3), (5, 1)] {
            let rows: Vec<u64> = shown(size, n).into_iter().map(|(_, r)| r).collect();
            assert_eq!(rows, (0..n).collect::<Vec<_>>(), "size {size}, n {n}");
        }
        assert_eq!(shown_row(12, 10, 4), None);
    }

    #[test]
    fn window_checks() {
        assert!(Window::new(100.0, None, None).unwrap().contains(100.0));
        assert!(!Window::new(100.0, None, Some(50.0)).unwrap().contains(50.0));
        assert!(Window::new(100.0, Some(60.0), Some(50.0)).is_err());
        assert!(Window::new(100.0, None, Some(150.0)).is_err());
        assert!(Window::new(100.0, Some(-1.0), None).is_err());
        assert!(Window::new(0.0, None, None).is_err());
    }

    #[test]
    fn long_runs_get_a_one_second_raster() {
        // 10 s: the raster shows the last second, the rates the whole run.
        let w = choose_windows(10_000.0, None, None).unwrap();
        assert_eq!((w.raster.from, w.raster.to, w.raster.closed), (9000.0, 10_000.0, true));
        assert_eq!((w.rates.from, w.rates.to), (0.0, 10_000.0));
        assert!(w.raster_why.starts_with("last 1 s of the 10-s run"), "{}", w.raster_why);
        assert_eq!(w.rates_why, "whole run");
        // Up to 2 s: both whole.
        let w = choose_windows(LONG_RUN_MS, None, None).unwrap();
        assert_eq!(w.raster, w.rates);
        assert_eq!((w.raster.from, w.raster.to), (0.0, LONG_RUN_MS));
        // --from or --to: one window for both, whatever the run's length.
        let w = choose_windows(10_000.0, Some(200.0), None).unwrap();
        assert_eq!(w.raster, w.rates);
        assert_eq!((w.raster.from, w.raster.to), (200.0, 10_000.0));
        assert_eq!(w.raster_why, "window set by --from/--to");
        assert!(choose_windows(10_000.0, None, Some(20_000.0)).is_err());
    }

    #[test]
    fn colours_stand_for_layers_in_large_circuits() {
        let few: Vec<Tags> = ["exc", "inh"].iter().map(|n| Tags { name: (*n).into(), ..Tags::default() }).collect();
        let c = Colouring::new(&few);
        assert!(c.legend().is_none());
        assert_ne!(c.colour(0), c.colour(1));
        let column: Vec<Tags> = layout::tests::column_circuit().into_iter().map(|c| c.0).collect();
        let c = Colouring::new(&column);
        let legend: Vec<String> = c.legend().unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(legend, ["L1", "L23", "L4", "L5", "L6", "core", "higher", "matrix"]);
        // Populations of one layer share a colour across columns and areas.
        assert_eq!(c.colour(1), c.colour(2));
        assert_eq!(c.colour(1), c.colour(130 + 16 * 3 + 1));
        assert_ne!(c.colour(1), c.colour(5));
    }

    #[test]
    fn output_prefixes() {
        let d = Path::new("rec");
        assert_eq!(output_paths(d, None).0, PathBuf::from("rec/raster.png"));
        assert_eq!(output_paths(d, Some(Path::new("figs/pd"))).1, PathBuf::from("figs/pd_rates.png"));
        assert_eq!(output_paths(d, Some(Path::new("figs/pd-"))).0, PathBuf::from("figs/pd-raster.png"));
        assert_eq!(output_paths(d, Some(Path::new("figs/"))).0, PathBuf::from("figs/raster.png"));
        assert_eq!(thousands(77_169), "77,169");
        assert_eq!(number(600.0), "600");
    }
}
