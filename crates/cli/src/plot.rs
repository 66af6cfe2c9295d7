//! `laminar plot`: the spike raster and the mean firing rate per population of a recording,
//! drawn as PNG figures.
//!
//! The raster shows neurons top to bottom in population order, which for circuits built by the
//! column builder is layer order (superficial first); populations are coloured and labelled on
//! the y axis, and consecutive populations of one layer (manifest `placement`) are bracketed
//! under the layer's name. Large networks are subsampled deterministically: evenly spaced node
//! ids, allotted to populations in proportion to their sizes, at least a few per population.
//! Text is drawn with the bundled DejaVu Sans (`data/fonts`), so no system font library is used.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use laminar_record::{MANIFEST_FILE_NAME, Manifest, Placement, SpikePopulation};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Pixel size of `raster.png`.
pub const RASTER_SIZE: (u32, u32) = (1400, 900);
/// Neurons shown in the raster when `--max-neurons` is not given.
pub const DEFAULT_MAX_NEURONS: usize = 2000;
/// Neurons every population keeps in a subsampled raster (all of them if it has fewer).
const MIN_PER_POPULATION: u64 = 10;

/// Pixel size of `rates.png` for `populations` bars.
pub fn rates_size(populations: usize) -> (u32, u32) {
    (1000, (200 + 44 * populations as u32).clamp(440, 2400))
}

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
pub struct PlotArgs {
    /// Recording directory written by `laminar run --out`.
    pub dir: PathBuf,
    /// Where to write: a prefix such as `figs/pd` gives figs/pd_raster.png and figs/pd_rates.png;
    /// a directory (or a prefix ending in `/`, `_`, `-` or `.`) is used as is. Default: DIR/.
    #[arg(long, value_name = "FILE_PREFIX")]
    pub out: Option<PathBuf>,
    /// Start of the window (ms); default 0.
    #[arg(long, value_name = "MS")]
    pub from: Option<f64>,
    /// End of the window (ms), excluded unless it is the end of the run; default: the simulated time.
    #[arg(long, value_name = "MS")]
    pub to: Option<f64>,
    /// Neurons shown in the raster at most (evenly spaced, spread over populations by size).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_NEURONS)]
    pub max_neurons: usize,
}

/// `laminar plot`: draws both figures and prints the paths and the rate table.
pub fn main(args: &PlotArgs) -> Result<()> {
    let summary = plot(args)?;
    print!("{summary}");
    Ok(())
}

/// The time window of the rates and of the raster.
#[derive(Debug, Clone, Copy)]
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
}

/// One population as plotted.
struct Pop {
    name: String,
    size: u64,
    placement: Option<Placement>,
    colour: RGBColor,
    /// Spikes in the window.
    spikes: u64,
    rate_hz: f64,
    /// Neurons shown in the raster (evenly spaced node ids, see `shown_row`).
    shown: u64,
    /// First raster row (from the top) of this population.
    first_row: usize,
    /// Spikes of shown neurons in the window: (time, row from the top).
    raster: Vec<(f64, usize)>,
}

/// What `laminar plot` wrote and measured.
pub struct Summary {
    dir: PathBuf,
    model: String,
    window: Window,
    raster: PathBuf,
    rates: PathBuf,
    shown: usize,
    total: u64,
    rows: Vec<(String, u64, u64, f64)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} (model {}), window {}", self.dir.display(), self.model, self.window.describe())?;
        let neurons = if self.shown as u64 == self.total {
            format!("all {} neurons", self.total)
        } else {
            format!("{} of {} neurons", self.shown, self.total)
        };
        writeln!(f, "wrote {} ({neurons})", self.raster.display())?;
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
    let window = Window::new(manifest.simulated_ms, args.from, args.to)?;
    let spikes = laminar_record::read_spikes(&spikes_path)
        .with_context(|| format!("cannot read the spikes of {}", dir.display()))?;

    let mut entries = manifest.populations.clone();
    entries.sort_by_key(|p| p.first_gid);
    if entries.is_empty() {
        bail!("{}: the manifest lists no populations", dir.display());
    }
    let allotted = allot(&entries.iter().map(|p| p.size).collect::<Vec<_>>(), args.max_neurons);
    let mut pops = Vec::with_capacity(entries.len());
    let mut row = 0;
    for (i, (entry, n)) in entries.iter().zip(allotted).enumerate() {
        let recorded = spikes.iter().find(|s| s.name == entry.name);
        let mut pop = Pop {
            name: entry.name.clone(),
            size: entry.size,
            placement: entry.placement.clone(),
            colour: {
                let (r, g, b) = PALETTE[i % PALETTE.len()];
                RGBColor(r, g, b)
            },
            spikes: 0,
            rate_hz: 0.0,
            shown: n,
            first_row: row,
            raster: Vec::new(),
        };
        if let Some(recorded) = recorded {
            count(&mut pop, recorded, &window);
        }
        row += pop.shown as usize;
        pops.push(pop);
    }
    for s in &spikes {
        if !entries.iter().any(|p| p.name == s.name) {
            bail!("{}: spikes of population '{}', which the manifest does not list", spikes_path.display(), s.name);
        }
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
    draw_raster(&raster_path, &pops, &window, &model, shown, total)
        .with_context(|| format!("cannot draw {}", raster_path.display()))?;
    draw_rates(&rates_path, &pops, &window, &model).with_context(|| format!("cannot draw {}", rates_path.display()))?;

    Ok(Summary {
        dir: dir.clone(),
        model: manifest.model_path.clone(),
        window,
        raster: raster_path,
        rates: rates_path,
        shown,
        total,
        rows: pops.iter().map(|p| (p.name.clone(), p.size, p.spikes, p.rate_hz)).collect(),
    })
}

/// Counts a population's spikes in the window and collects those of its shown neurons.
fn count(pop: &mut Pop, recorded: &SpikePopulation, window: &Window) {
    for (&id, &t) in recorded.node_ids.iter().zip(&recorded.timestamps) {
        if !window.contains(t) {
            continue;
        }
        pop.spikes += 1;
        if let Some(r) = shown_row(id, pop.size, pop.shown) {
            pop.raster.push((t, pop.first_row + r as usize));
        }
    }
    pop.rate_hz = if pop.size > 0 { pop.spikes as f64 / (pop.size as f64 * window.seconds()) } else { 0.0 };
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

/// Label positions (pixel y, top to bottom) near `desired`, at least `gap` apart within
/// `lo..=hi`; `None` for labels that do not fit (every other one is dropped until they do).
fn place_labels(desired: &[f64], gap: f64, lo: f64, hi: f64) -> Vec<Option<f64>> {
    let n = desired.len();
    let fit = (((hi - lo) / gap).floor() as usize + 1).max(1);
    let stride = n.div_ceil(fit).max(1);
    let kept: Vec<usize> = (0..n).filter(|i| i.is_multiple_of(stride)).collect();
    let mut y: Vec<f64> = kept.iter().map(|&i| desired[i]).collect();
    for i in 1..y.len() {
        y[i] = y[i].max(y[i - 1] + gap);
    }
    if let Some(last) = y.last_mut()
        && *last > hi
    {
        *last = hi;
        for i in (0..y.len() - 1).rev() {
            y[i] = y[i].min(y[i + 1] - gap);
        }
    }
    let mut out = vec![None; n];
    for (k, &i) in kept.iter().enumerate() {
        out[i] = Some(y[k]);
    }
    out
}

/// Groups of consecutive populations in one layer (of one column and area): (label, first, end).
/// The label names the area and the column only when the circuit has several.
fn layer_groups(pops: &[Pop]) -> Vec<(String, usize, usize)> {
    let area = |p: &Pop| p.placement.as_ref().and_then(|pl| pl.area.clone());
    let column = |p: &Pop| {
        p.placement.as_ref().and_then(|pl| pl.column.clone().or_else(|| pl.column_index.map(|c| format!("c{c}"))))
    };
    let varies = |f: &dyn Fn(&Pop) -> Option<String>| pops.iter().any(|p| f(p) != f(&pops[0]));
    let (areas, columns) = (varies(&area), varies(&column));
    let key = |p: &Pop| -> Option<String> {
        let layer = p.placement.as_ref()?.layer.clone()?;
        let mut parts = Vec::new();
        if areas {
            parts.extend(area(p));
        }
        if columns {
            parts.extend(column(p));
        }
        parts.push(layer);
        Some(parts.join(" "))
    };
    let mut groups: Vec<(String, usize, usize)> = Vec::new();
    for (i, p) in pops.iter().enumerate() {
        let Some(k) = key(p) else { continue };
        match groups.last_mut() {
            Some((label, _, end)) if *label == k && *end == i => *end = i + 1,
            _ => groups.push((k, i, i + 1)),
        }
    }
    groups
}

const TITLE_SIZE: f64 = 28.0;
const SUBTITLE_SIZE: f64 = 19.0;
const AXIS_DESC_SIZE: f64 = 22.0;
const TICK_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 19.0;
const GROUP_SIZE: f64 = 21.0;

fn draw_titles<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    subtitle: &str,
) -> Result<()> {
    let (w, _) = root.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    root.draw(&Text::new(title, (w as i32 / 2, 14), (FAMILY, TITLE_SIZE).into_font().color(&BLACK).pos(centre)))
        .map_err(drawing)?;
    root.draw(&Text::new(
        subtitle,
        (w as i32 / 2, 52),
        (FAMILY, SUBTITLE_SIZE).into_font().color(&RGBColor(80, 80, 80)).pos(centre),
    ))
    .map_err(drawing)?;
    Ok(())
}

fn text_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    size: f64,
) -> Result<u32> {
    Ok(root.estimate_text_size(text, &TextStyle::from((FAMILY, size).into_font())).map_err(drawing)?.0)
}

fn draw_raster(path: &Path, pops: &[Pop], window: &Window, model: &str, shown: usize, total: u64) -> Result<()> {
    let root = BitMapBackend::new(path, RASTER_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let rows = shown.max(1) as f64;
    let neurons = if shown as u64 == total {
        format!("all {} neurons", thousands(total))
    } else {
        format!(
            "{} of {} neurons shown (evenly spaced within each population)",
            thousands(shown as u64),
            thousands(total)
        )
    };
    draw_titles(
        &root,
        &format!("Spike raster — {model}"),
        &format!("{neurons}, {}–{} ms", number(window.from), number(window.to)),
    )?;

    let groups = layer_groups(pops);
    let label_w = pops.iter().map(|p| text_width(&root, &p.name, LABEL_SIZE)).collect::<Result<Vec<_>>>()?;
    let label_w = label_w.into_iter().max().unwrap_or(0);
    let group_w = groups.iter().map(|g| text_width(&root, &g.0, GROUP_SIZE)).collect::<Result<Vec<_>>>()?;
    let group_w = group_w.into_iter().max().map_or(0, |w| w + 24);
    let y_area = label_w + group_w + 24;

    let mut chart = ChartBuilder::on(&root)
        .margin_top(96)
        .margin_right(40)
        .margin_left(16)
        .margin_bottom(12)
        .x_label_area_size(72)
        .y_label_area_size(y_area)
        .build_cartesian_2d(window.from..window.to, 0.0..rows)
        .map_err(drawing)?;
    let format_x = tick_format(window.from..window.to, 10);
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(0)
        .x_labels(10)
        .x_label_formatter(&format_x)
        .x_desc("time (ms)")
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(drawing)?;

    // Row r (from the top) spans y in [rows - r - 1, rows - r).
    let y_of_row = |r: f64| rows - r;
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let row_px = (y_px.end - y_px.start) as f64 / rows;

    // Boundaries: light between populations, darker between layers.
    let group_starts: Vec<usize> = groups.iter().map(|g| g.1).collect();
    for (i, p) in pops.iter().enumerate().skip(1) {
        let y = y_of_row(p.first_row as f64);
        let colour = if group_starts.contains(&i) { RGBColor(150, 150, 150) } else { RGBColor(215, 215, 215) };
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(window.from, y), (window.to, y)],
                colour.stroke_width(1),
            )))
            .map_err(drawing)?;
    }

    // Spikes: dots of 2 × 2 pixels when rows are thinner than that, otherwise short vertical
    // ticks of most of a row's height (at most 12 pixels).
    let half_h = ((row_px * 0.8).clamp(2.0, 12.0) / 2.0).round() as i32;
    let (top, bottom) = if row_px < 3.0 { (-1, 0) } else { (-half_h, half_h - 1) };
    let width = if row_px < 3.0 { 2 } else { 3 };
    for p in pops {
        let style = p.colour.filled();
        chart
            .draw_series(p.raster.iter().map(|&(t, r)| {
                EmptyElement::at((t, y_of_row(r as f64 + 0.5))) + Rectangle::new([(0, top), (width - 1, bottom)], style)
            }))
            .map_err(drawing)?;
    }

    // Population labels, coloured like their spikes (they are the legend), right of the layer brackets.
    let px_of_row = |r: f64| y_px.start as f64 + r * row_px;
    let label_x = x_px.start - 10;
    let centres: Vec<f64> = pops.iter().map(|p| px_of_row(p.first_row as f64 + p.shown as f64 / 2.0)).collect();
    let placed = place_labels(&centres, LABEL_SIZE * 1.05, y_px.start as f64 + 6.0, y_px.end as f64 - 6.0);
    for ((p, &want), at) in pops.iter().zip(&centres).zip(placed) {
        let Some(y) = at else { continue };
        let style = (FAMILY, LABEL_SIZE).into_font().color(&ink(p.colour)).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(p.name.as_str(), (label_x, y.round() as i32), style)).map_err(drawing)?;
        if (y - want).abs() > 2.0 {
            root.draw(&PathElement::new(
                vec![(label_x + 2, y.round() as i32), (x_px.start - 2, want.round() as i32)],
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(drawing)?;
        }
    }

    // Layer brackets and names.
    let bracket_x = label_x - label_w as i32 - 10;
    for (label, first, end) in &groups {
        let top = px_of_row(pops[*first].first_row as f64) + 3.0;
        let last = &pops[end - 1];
        let bottom = px_of_row((last.first_row + last.shown as usize) as f64) - 3.0;
        let (top, bottom) = (top.round() as i32, bottom.round().max(top + 1.0) as i32);
        let ink = BLACK.stroke_width(2);
        root.draw(&PathElement::new(
            vec![(bracket_x + 5, top), (bracket_x, top), (bracket_x, bottom), (bracket_x + 5, bottom)],
            ink,
        ))
        .map_err(drawing)?;
        let style = (FAMILY, GROUP_SIZE).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(label.as_str(), (bracket_x - 8, (top + bottom) / 2), style)).map_err(drawing)?;
    }
    root.present().map_err(drawing)?;
    Ok(())
}

fn draw_rates(path: &Path, pops: &[Pop], window: &Window, model: &str) -> Result<()> {
    let size = rates_size(pops.len());
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let mut subtitle = String::new();
    let _ = write!(subtitle, "{model}, {}–{} ms: spikes / (neurons × window)", number(window.from), number(window.to));
    draw_titles(&root, "Mean firing rate per population", &subtitle)?;

    let n = pops.len() as f64;
    let max_rate = pops.iter().map(|p| p.rate_hz).fold(0.0, f64::max);
    let x_max = if max_rate > 0.0 { max_rate * 1.2 } else { 1.0 };
    let label_w = pops.iter().map(|p| text_width(&root, &p.name, LABEL_SIZE)).collect::<Result<Vec<_>>>()?;
    let label_w = label_w.into_iter().max().unwrap_or(0);
    let mut chart = ChartBuilder::on(&root)
        .margin_top(96)
        .margin_right(40)
        .margin_left(16)
        .margin_bottom(12)
        .x_label_area_size(72)
        .y_label_area_size(label_w + 24)
        .build_cartesian_2d(0.0..x_max, 0.0..n)
        .map_err(drawing)?;
    let format_x = tick_format(0.0..x_max, 8);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_max_light_lines(0)
        .bold_line_style(RGBColor(230, 230, 230).stroke_width(1))
        .y_labels(0)
        .x_labels(8)
        .x_label_formatter(&format_x)
        .x_desc("firing rate (spikes/s)")
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(drawing)?;

    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let bar_px = (y_px.end - y_px.start) as f64 / n;
    let value_size = (bar_px * 0.6).clamp(10.0, LABEL_SIZE);
    let mut centres = Vec::new();
    for (i, p) in pops.iter().enumerate() {
        let y = n - i as f64 - 0.5;
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.35), (p.rate_hz, y + 0.35)], p.colour.filled())))
            .map_err(drawing)?;
        let (bx, by) = chart.backend_coord(&(p.rate_hz, y));
        centres.push(by as f64);
        if bar_px >= 10.0 {
            let style =
                (FAMILY, value_size).into_font().color(&RGBColor(40, 40, 40)).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(format!("{:.2}", p.rate_hz), (bx + 6, by), style)).map_err(drawing)?;
        }
    }
    let placed = place_labels(&centres, LABEL_SIZE * 1.05, y_px.start as f64 + 4.0, y_px.end as f64 - 4.0);
    for (p, at) in pops.iter().zip(placed) {
        let Some(y) = at else { continue };
        let style = (FAMILY, LABEL_SIZE).into_font().color(&ink(p.colour)).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(p.name.as_str(), (x_px.start - 10, y.round() as i32), style)).map_err(drawing)?;
    }
    root.present().map_err(drawing)?;
    Ok(())
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
    fn labels_keep_their_distance() {
        let y = place_labels(&[10.0, 12.0, 14.0, 100.0], 10.0, 0.0, 200.0);
        assert_eq!(y, vec![Some(10.0), Some(20.0), Some(30.0), Some(100.0)]);
        let y = place_labels(&[190.0, 195.0], 10.0, 0.0, 195.0);
        assert_eq!(y, vec![Some(185.0), Some(195.0)]);
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
