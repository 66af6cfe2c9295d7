//! The pictures of `laminar attention`: `attention.png` of every run and `scaling.png` of a
//! sweep (`laminar attention scaling`). The numbers come from `laminar_attention` (the run's
//! result, [`centred_scatter`], [`Scaling::summary`]); only the drawing is here.
//!
//! `attention.png` shows the two things a run is judged by, side by side:
//! - *left*, heat maps of attention weights, queries (rows, first at the top) × tokens
//!   (columns), on one colour scale: the weights the circuit implies (read by the one-hot probe
//!   channels; only with `--probe-weights`, otherwise the first panel's title says so), the
//!   weights of the circuit's primary reference (`kernel` for `astro`: what a circuit with its
//!   feature map and an exact normaliser computes) and the softmax weights (a transformer's).
//!   The colour scale is set by the circuit's own panels (implied and primary); the softmax
//!   panel shares it and its title says when its sharper weights are clipped.
//!   Whether the circuit attends to the right tokens shows before any decoding question does;
//! - *right*, the decoded output ŷ against the primary reference, each output dimension centred
//!   over queries as r_c is computed (a constant readout would be a horizontal line at 0), with
//!   the least-squares line, the identity and r_c in the title: how much of the
//!   query-dependent signal survives, and whether the decoder's gain is right (slope 1).
//!
//! `scaling.png` shows r_c (primary reference and softmax, mean ± standard deviation over the
//! seeds, each seed a dot) against the number of tokens on a log₂ axis, and the wall time of the
//! runs against the same axis: where the approximation degrades and what a run costs.

use std::path::Path;

use anyhow::{Context, Result};
use laminar_attention::AttentionRun;
use laminar_attention::compare::Comparison;
use laminar_attention::matrix::Matrix;
use laminar_attention::metrics::centred_scatter;
use laminar_attention::output::target_r_c;
use laminar_attention::scaling::Scaling;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{AXIS_DESC_SIZE, TICK_SIZE, draw_titles};
use super::{FAMILY, drawing, palette, register_font, tick_format};

/// Pixel size of `attention.png`.
pub const ATTENTION_SIZE: (u32, u32) = (1800, 760);
/// Pixel size of `scaling.png`.
pub const SCALING_SIZE: (u32, u32) = (1500, 640);
/// Size of `compare.png`.
pub const COMPARE_SIZE: (u32, u32) = (1500, 700);
/// Width of the scatter panel of `attention.png`.
const SCATTER_WIDTH: u32 = 640;
/// Width of the colour bar beside the heat maps.
const COLOUR_BAR_WIDTH: u32 = 110;
const CAPTION_SIZE: f64 = 19.0;

/// matplotlib's viridis at nine stops (perceptually uniform, readable in grey).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The colour of `t` in [0, 1] (clamped; NaN is grey).
fn viridis(t: f64) -> RGBColor {
    if t.is_nan() {
        return RGBColor(200, 200, 200);
    }
    let x = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Tick labels only at whole numbers (matrix indices); `sign` -1 for the inverted query axis.
fn index_label(sign: f64) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        let v = sign * v;
        if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { String::new() }
    }
}

/// One heat map of the left half: its title and the matrix.
struct Panel<'a> {
    title: String,
    weights: &'a Matrix,
    /// A reference shown for comparison (softmax beside a kernel circuit): it does not set the
    /// colour scale, and its weights above the scale are drawn in the top colour.
    secondary: bool,
}

/// The heat maps of a run: implied (when measured), the primary reference's weights, softmax.
fn panels(run: &AttentionRun) -> Vec<Panel<'_>> {
    let mut panels = Vec::new();
    let measured = run.implied_measured();
    if measured && let Some(w) = run.implied_weights.first() {
        panels.push(Panel { title: "implied by the circuit (probes)".into(), weights: w, secondary: false });
    }
    let mut names = vec![run.primary];
    for name in ["kernel", "softmax"] {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        let Some(w) = run.reference_weights(name).and_then(|w| w.first()) else { continue };
        let mut title = match name {
            "softmax" => format!("softmax reference (β {})", short(run.inputs.beta)),
            _ => format!("{name} reference"),
        };
        if !measured && panels.is_empty() {
            title = format!("{title} — implied weights: run with --probe-weights");
        }
        panels.push(Panel { title, weights: w, secondary: name != run.primary });
    }
    panels
}

/// The top of the colour scale: the largest weight of the circuit's panels (implied and
/// primary reference), so that their patterns stay visible when a secondary reference is much
/// sharper (softmax with many tokens); the titles of secondary panels above it say so.
fn colour_scale(panels: &mut [Panel]) -> f64 {
    let largest = |p: &Panel| p.weights.data().iter().copied().filter(|x| x.is_finite()).fold(0.0, f64::max);
    let own = panels.iter().filter(|p| !p.secondary).map(largest).fold(0.0, f64::max);
    let vmax = if own > 0.0 { own } else { panels.iter().map(largest).fold(0.0, f64::max) };
    let vmax = if vmax > 0.0 { vmax } else { 1.0 };
    for p in panels.iter_mut().filter(|p| p.secondary && largest(p) > vmax) {
        p.title = format!("{}, clipped at {}", p.title, short(vmax));
    }
    vmax
}

/// A number for titles: three significant decimals, no trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

/// Writes `attention.png` of `run` to `path`.
pub fn draw_attention(path: &Path, run: &AttentionRun) -> Result<()> {
    register_font()?;
    draw_attention_figure(path, run).with_context(|| format!("cannot draw {}", path.display()))
}

fn draw_attention_figure(path: &Path, run: &AttentionRun) -> Result<()> {
    let root = BitMapBackend::new(path, ATTENTION_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let inputs = &run.inputs;
    let baseline = if run.baseline.name_or_empty().is_empty() {
        String::new()
    } else {
        format!(", baseline {}", run.baseline.name())
    };
    let heads = if inputs.heads.len() > 1 {
        format!(", H = {} (weights of head 1)", inputs.heads.len())
    } else {
        String::new()
    };
    let r_c = |name: &str| run.metric(name).map_or(f64::NAN, |m| m.r_c);
    let target = target_r_c(run.circuit);
    let target = if target.is_finite() { format!(" (target {target:.2})") } else { String::new() };
    let subtitles = [
        format!(
            "n = {} tokens, n_q = {} queries, d = {}, d_v = {}{heads}; seed {}; {:.0} ms simulated in {:.1} s",
            inputs.n_tokens(),
            inputs.n_queries(),
            inputs.dim(),
            inputs.dim_v(),
            run.seed,
            run.simulated_ms,
            run.wall_s
        ),
        format!(
            "r_c against {}: {:.3}{target}; against softmax: {:.3}; against softmax at β_eff = {:.2}: {:.3}",
            run.primary,
            run.primary_r_c(),
            r_c("softmax"),
            run.beta_eff,
            r_c("softmax_beta_eff")
        ),
    ];
    let top = draw_titles(&root, &format!("Attention — {} circuit{baseline}", run.circuit), &subtitles)?;
    let body = root.margin(top + 4, 8, 8, 8);
    let (width, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(width.saturating_sub(SCATTER_WIDTH));
    let (left_width, _) = left.dim_in_pixel();
    let (maps, bar) = left.split_horizontally(left_width.saturating_sub(COLOUR_BAR_WIDTH));

    let mut panels = panels(run);
    let vmax = colour_scale(&mut panels);
    let areas = maps.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(&areas) {
        draw_heat_map(area, panel, vmax)?;
    }
    draw_colour_bar(&bar, vmax)?;
    draw_scatter(&right, run)?;
    root.present().map_err(drawing)?;
    Ok(())
}

/// A heat map of `panel.weights` (queries × tokens), colours from 0 to `vmax`.
fn draw_heat_map<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel, vmax: f64) -> Result<()> {
    let w = panel.weights;
    let (n_q, n) = (w.rows() as f64, w.cols() as f64);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, CAPTION_SIZE))
        .margin(8)
        .x_label_area_size(56)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5..n - 0.5, -(n_q - 0.5)..0.5)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(w.cols().clamp(1, 8))
        .y_labels(w.rows().clamp(1, 8))
        .x_label_formatter(&index_label(1.0))
        .y_label_formatter(&index_label(-1.0))
        .x_desc("token")
        .y_desc("query")
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .draw()
        .map_err(drawing)?;
    let cells = (0..w.rows()).flat_map(|q| (0..w.cols()).map(move |t| (q, t))).map(|(q, t)| {
        let (x, y) = (t as f64, -(q as f64));
        Rectangle::new([(x - 0.5, y + 0.5), (x + 0.5, y - 0.5)], viridis(w.get(q, t) / vmax).filled())
    });
    chart.draw_series(cells).map_err(drawing)?;
    Ok(())
}

/// The colour scale of the heat maps, 0 to `vmax`.
fn draw_colour_bar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, vmax: f64) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption("weight", (FAMILY, CAPTION_SIZE))
        .margin_top(8)
        .margin_bottom(8 + 56)
        .margin_left(8)
        .margin_right(4)
        .set_label_area_size(LabelAreaPosition::Right, 60)
        .build_cartesian_2d(0.0..1.0, 0.0..vmax)
        .map_err(drawing)?;
    let format = tick_format(0.0..vmax, 6);
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&format)
        .label_style((FAMILY, TICK_SIZE))
        .draw()
        .map_err(drawing)?;
    const STRIPS: usize = 128;
    let strips = (0..STRIPS).map(|i| {
        let (a, b) = (i as f64 / STRIPS as f64, (i + 1) as f64 / STRIPS as f64);
        Rectangle::new([(0.0, a * vmax), (1.0, b * vmax)], viridis((a + b) / 2.0).filled())
    });
    chart.draw_series(strips).map_err(drawing)?;
    Ok(())
}

/// ŷ against the primary reference, both centred per output dimension, with the least-squares
/// line and the identity.
fn draw_scatter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, run: &AttentionRun) -> Result<()> {
    let scatter = run.reference_output(run.primary).and_then(|reference| centred_scatter(&run.y_hat, reference));
    let points: Vec<(f64, f64, usize)> = scatter
        .iter()
        .flat_map(|s| s.reference.iter().zip(&s.output).zip(&s.dimension).map(|((&x, &y), &d)| (x, y, d)))
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    let extent = points.iter().map(|&(x, y, _)| x.abs().max(y.abs())).fold(0.0, f64::max);
    let lim = if extent > 0.0 { extent * 1.1 } else { 1.0 };
    let r_c = scatter.as_ref().map_or(f64::NAN, |s| s.r_c);
    let caption = format!("ŷ against the {} reference: r_c = {r_c:.3}", run.primary);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, CAPTION_SIZE + 2.0))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(-lim..lim, -lim..lim)
        .map_err(drawing)?;
    let format = tick_format(-lim..lim, 7);
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&format)
        .y_label_formatter(&format)
        .bold_line_style(RGBColor(230, 230, 230).stroke_width(1))
        .light_line_style(WHITE)
        .x_desc(format!("{} reference, centred per dimension", run.primary))
        .y_desc("ŷ, centred per dimension")
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .draw()
        .map_err(drawing)?;
    let grey = RGBColor(150, 150, 150).stroke_width(1);
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(-lim, -lim), (lim, lim)], grey)))
        .map_err(drawing)?
        .label("identity")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey));
    let dims = run.y_hat.cols();
    let circles = points.iter().map(|&(x, y, d)| Circle::new((x, y), 4, palette(d).mix(0.8).filled()));
    chart.draw_series(circles).map_err(drawing)?;
    if let Some(s) = scatter.as_ref().filter(|s| s.slope.is_finite() && s.intercept.is_finite()) {
        let line = BLACK.stroke_width(2);
        let ends = vec![(-lim, s.intercept - s.slope * lim), (lim, s.intercept + s.slope * lim)];
        chart
            .draw_series(std::iter::once(PathElement::new(ends, line)))
            .map_err(drawing)?
            .label(format!("least squares: slope {}", short(s.slope)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font((FAMILY, CAPTION_SIZE - 2.0))
        .draw()
        .map_err(drawing)?;
    let note = if points.is_empty() {
        "no decoded output: the anchors gave no decoder".to_owned()
    } else {
        format!("{} points: queries × {dims} output dimensions (colour: dimension)", points.len())
    };
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let style =
        (FAMILY, CAPTION_SIZE - 3.0).into_font().color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Right, VPos::Bottom));
    area.draw(&Text::new(
        note,
        (x_px.end - 6 - area.get_base_pixel().0, y_px.end - 6 - area.get_base_pixel().1),
        style,
    ))
    .map_err(drawing)?;
    Ok(())
}

/// Writes `scaling.png` of a finished sweep to `path`.
pub fn draw_scaling(path: &Path, scaling: &Scaling) -> Result<()> {
    register_font()?;
    draw_scaling_figure(path, scaling).with_context(|| format!("cannot draw {}", path.display()))
}

/// The log₂ axis of `scaling.png`: from half a step below the fewest tokens to half above the
/// most.
fn log2_range(tokens: &[usize]) -> std::ops::Range<f64> {
    let logs = tokens.iter().map(|&n| (n.max(1) as f64).log2());
    let lo = logs.clone().fold(f64::INFINITY, f64::min);
    let hi = logs.fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() { lo - 0.5..hi + 0.5 } else { 0.0..1.0 }
}

/// Tokens at whole powers of two on the log₂ axis.
fn power_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 && (0.0..=30.0).contains(v) {
        format!("{}", 1u64 << v.round() as u32)
    } else {
        String::new()
    }
}

fn draw_scaling_figure(path: &Path, scaling: &Scaling) -> Result<()> {
    let root = BitMapBackend::new(path, SCALING_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let seeds = scaling.options.seeds.len();
    let subtitles = [
        scaling.describe(),
        format!(
            "mean ± standard deviation over {seeds} seed{} (dots: single seeds)",
            if seeds == 1 { "" } else { "s" }
        ),
    ];
    let top = draw_titles(&root, &format!("Attention scaling — {} circuit", scaling.circuit), &subtitles)?;
    let body = root.margin(top + 4, 8, 8, 16);
    let halves = body.split_evenly((1, 2));
    draw_scaling_r_c(&halves[0], scaling)?;
    draw_scaling_wall(&halves[1], scaling)?;
    root.present().map_err(drawing)?;
    Ok(())
}

/// A mean line with ± sd whiskers and the single values as dots, on the log₂ axis.
fn draw_sweep_series<DB: DrawingBackend>(
    chart: &mut ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    means: &[(f64, f64, f64)],
    dots: &[(f64, f64)],
    colour: RGBColor,
    label: &str,
) -> Result<()> {
    let line = colour.stroke_width(2);
    chart
        .draw_series(std::iter::once(PathElement::new(means.iter().map(|&(x, m, _)| (x, m)).collect::<Vec<_>>(), line)))
        .map_err(drawing)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
    for &(x, m, sd) in means.iter().filter(|(_, m, sd)| m.is_finite() && sd.is_finite()) {
        let cap = 0.06;
        chart
            .draw_series([
                PathElement::new(vec![(x, m - sd), (x, m + sd)], line),
                PathElement::new(vec![(x - cap, m - sd), (x + cap, m - sd)], line),
                PathElement::new(vec![(x - cap, m + sd), (x + cap, m + sd)], line),
            ])
            .map_err(drawing)?;
        chart.draw_series(std::iter::once(Circle::new((x, m), 5, colour.filled()))).map_err(drawing)?;
    }
    let dots =
        dots.iter().filter(|(_, y)| y.is_finite()).map(|&(x, y)| Circle::new((x, y), 3, colour.mix(0.45).filled()));
    chart.draw_series(dots).map_err(drawing)?;
    Ok(())
}

/// The left panel of `scaling.png`: r_c against n.
fn draw_scaling_r_c<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, scaling: &Scaling) -> Result<()> {
    let summary = scaling.summary();
    let lowest = summary
        .iter()
        .flat_map(|p| [p.r_c_mean - p.r_c_sd, p.r_c_softmax_mean - p.r_c_softmax_sd])
        .chain(scaling.rows.iter().flat_map(|r| [r.r_c, r.r_c_softmax]))
        .filter(|v| v.is_finite())
        .fold(1.0, f64::min);
    // From a tenth below the lowest value (r_c near 1 differs in the second decimal), to 1.
    let y_range = (((lowest - 0.05) * 10.0).floor() / 10.0).max(-1.0)..1.02;
    let mut chart =
        sweep_chart(area, scaling, "accuracy: r_c against the number of tokens", y_range, "r_c (centred correlation)")?;
    let x = |n: usize| (n.max(1) as f64).log2();
    let primary: Vec<(f64, f64, f64)> = summary.iter().map(|p| (x(p.n), p.r_c_mean, p.r_c_sd)).collect();
    let softmax: Vec<(f64, f64, f64)> =
        summary.iter().map(|p| (x(p.n), p.r_c_softmax_mean, p.r_c_softmax_sd)).collect();
    let primary_dots: Vec<(f64, f64)> = scaling.rows.iter().map(|r| (x(r.n), r.r_c)).collect();
    let softmax_dots: Vec<(f64, f64)> = scaling.rows.iter().map(|r| (x(r.n), r.r_c_softmax)).collect();
    draw_sweep_series(
        &mut chart,
        &primary,
        &primary_dots,
        palette(0),
        &format!("{} reference (primary)", scaling.primary),
    )?;
    if scaling.primary != "softmax" {
        draw_sweep_series(&mut chart, &softmax, &softmax_dots, palette(1), "softmax reference")?;
    }
    draw_sweep_legend(&mut chart, SeriesLabelPosition::LowerLeft)
}

/// The right panel of `scaling.png`: wall time against n.
fn draw_scaling_wall<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, scaling: &Scaling) -> Result<()> {
    let summary = scaling.summary();
    let highest = scaling
        .rows
        .iter()
        .map(|r| r.wall_s)
        .chain(summary.iter().map(|p| p.wall_mean + p.wall_sd))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let y_max = if highest > 0.0 { highest * 1.15 } else { 1.0 };
    let mut chart = sweep_chart(area, scaling, "cost: wall time of a run", 0.0..y_max, "wall time (s)")?;
    let x = |n: usize| (n.max(1) as f64).log2();
    let means: Vec<(f64, f64, f64)> = summary.iter().map(|p| (x(p.n), p.wall_mean, p.wall_sd)).collect();
    let dots: Vec<(f64, f64)> = scaling.rows.iter().map(|r| (x(r.n), r.wall_s)).collect();
    let threads = scaling.options.threads.max(1);
    let label = format!("wall time, {threads} thread{}", if threads == 1 { "" } else { "s" });
    draw_sweep_series(&mut chart, &means, &dots, palette(2), &label)?;
    draw_sweep_legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

type SweepChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel of `scaling.png`: n on a log₂ axis (the sweep's token counts), `y_range` up the side,
/// light grid, the shared fonts.
fn sweep_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    scaling: &Scaling,
    caption: &str,
    y_range: std::ops::Range<f64>,
    y_desc: &str,
) -> Result<SweepChart<'a, DB>> {
    let x_range = log2_range(&scaling.options.tokens);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, CAPTION_SIZE + 2.0))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range.clone(), y_range.clone())
        .map_err(drawing)?;
    let format = tick_format(y_range, 8);
    let x_labels = ((x_range.end - x_range.start).ceil() as usize + 1).clamp(2, 12);
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .y_labels(8)
        .x_label_formatter(&power_label)
        .y_label_formatter(&format)
        .bold_line_style(RGBColor(230, 230, 230).stroke_width(1))
        .light_line_style(WHITE)
        .x_desc("tokens n (log₂ axis)")
        .y_desc(y_desc)
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .draw()
        .map_err(drawing)?;
    Ok(chart)
}

/// The legend of a `scaling.png` panel.
fn draw_sweep_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut SweepChart<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font((FAMILY, CAPTION_SIZE - 2.0))
        .draw()
        .map_err(drawing)?;
    Ok(())
}

/// `compare.png`: per circuit, r_c of the full circuit against its own reference beside its
/// baselines' (bars), the reference and the wall time of one run in the labels.
pub fn draw_compare(path: &Path, comparison: &Comparison) -> Result<()> {
    register_font()?;
    draw_compare_figure(path, comparison).with_context(|| format!("cannot draw {}", path.display()))
}

fn draw_compare_figure(path: &Path, comparison: &Comparison) -> Result<()> {
    let summary = comparison.summary();
    let root = BitMapBackend::new(path, COMPARE_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let subtitles = ["bars: r_c of the full circuit against its own reference, then of each baseline (the same \
                      network with one mechanism removed)"
        .to_string()];
    let top = draw_titles(&root, "Three hypotheses of attention in cortex, on one set of inputs", &subtitles)?;
    let body = root.margin(top + 4, 8, 8, 16);
    let lowest = summary
        .iter()
        .flat_map(|s| std::iter::once(s.r_c).chain(s.baselines.iter().map(|b| b.1)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::min);
    let y_range = ((lowest * 10.0).floor() / 10.0).max(-1.0)..1.1;
    let n = summary.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(24)
        .x_label_area_size(70)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5..n - 0.5, y_range.clone())
        .map_err(drawing)?;
    let labels: Vec<String> =
        summary.iter().map(|s| format!("{} vs {} ({:.1} s per run)", s.circuit, s.primary, s.wall_s)).collect();
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(summary.len() * 2 + 1)
        .x_label_formatter(&label)
        .y_labels(8)
        .y_label_formatter(&tick_format(y_range, 8))
        .disable_x_mesh()
        .bold_line_style(RGBColor(230, 230, 230).stroke_width(1))
        .light_line_style(WHITE)
        .y_desc("r_c (centred correlation)")
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .draw()
        .map_err(drawing)?;
    for (i, s) in summary.iter().enumerate() {
        let bars: Vec<(String, f64)> = std::iter::once(("full circuit".to_string(), s.r_c))
            .chain(s.baselines.iter().map(|(b, r)| (b.name().to_string(), *r)))
            .collect();
        let width = 0.8 / bars.len() as f64;
        for (k, (name, value)) in bars.iter().enumerate() {
            let x0 = i as f64 - 0.4 + k as f64 * width;
            let value = if value.is_finite() { *value } else { 0.0 };
            let colour = palette(k);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0 + 0.02, 0.0), (x0 + width - 0.02, value)],
                    colour.filled(),
                )))
                .map_err(drawing)?;
            // Two short lines (name, then value) fit over a bar of three per circuit.
            let top = value.max(0.0);
            for (line, text) in [(0.0, format!("{value:.2}")), (0.045, name.clone())] {
                let style =
                    TextStyle::from((FAMILY, TICK_SIZE - 3.0).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(Text::new(text, (x0 + width / 2.0, top + 0.01 + line), style)))
                    .map_err(drawing)?;
            }
        }
    }
    root.present().map_err(drawing)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_labels() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(-1.0), viridis(0.0));
        assert_eq!(index_label(-1.0)(&-3.0), "3");
        assert_eq!(index_label(1.0)(&2.5), "");
        assert_eq!(power_label(&3.0), "8");
        assert_eq!(power_label(&3.5), "");
        assert_eq!(log2_range(&[4, 64]), 1.5..6.5);
        assert_eq!(short(0.930), "0.93");
    }
}
