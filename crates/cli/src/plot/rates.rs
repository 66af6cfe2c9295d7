//! `rates.png`: the mean firing rate of each population, as horizontal bars in population order.
//!
//! Circuits of more than [`MAX_BARS`] populations repeated over columns (the reference column
//! has 260: 16 columns of 16) get one bar per cell type and area instead: the pooled rate of
//! that cell type over all columns (spikes / (neurons × window)), with a whisker from the lowest
//! to the highest column's rate, so the spread across columns stays visible. Bars are labelled
//! on the y axis by [`super::layout`], each label centred on its bar.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{
    AXIS_DESC_SIZE, LABEL_SIZE, TICK_SIZE, Tags, draw_legend, draw_tiers, draw_titles, layout_tiers, legend_height,
    tiers_width, titles_height,
};
use super::{FAMILY, Figure, Pop, drawing, ink, tick_format};

/// Most bars drawn one per population; more are pooled over columns.
pub const MAX_BARS: usize = 48;
/// Pixels per bar, and the figure's size limits.
const BAR_PITCH: u32 = 40;
const WIDTH: u32 = 1000;
const MIN_HEIGHT: u32 = 440;
const MAX_HEIGHT: u32 = 2400;
const MARGIN_BOTTOM: u32 = 12;
const X_LABEL_AREA: u32 = 72;

/// One bar: a population, or a cell type of an area pooled over its columns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bar {
    pub tags: Tags,
    /// Spikes / (neurons × window) of all members together.
    pub rate_hz: f64,
    /// Lowest and highest member rate, when the bar pools several populations.
    pub spread: Option<(f64, f64)>,
    /// Index of the first member population (for its colour).
    pub first: usize,
}

/// One bar per population, or, with `pool_columns`, one per (area, layer, cell type): the
/// populations of one cell type in the columns of an area, their rate pooled over a window of
/// `seconds`. Populations without a cell type keep a bar of their own. Bars are in the order
/// their first member appears.
pub(super) fn bars(pops: &[Pop], pool_columns: bool, seconds: f64) -> Vec<Bar> {
    struct Pooled {
        key: Option<(Option<String>, Option<String>, String)>,
        bar: Bar,
        neurons: u64,
        spikes: u64,
        rates: Vec<f64>,
    }
    let mut pooled: Vec<Pooled> = Vec::new();
    for (i, p) in pops.iter().enumerate() {
        let key = if pool_columns {
            p.tags.cell_type.clone().map(|c| (p.tags.area.clone(), p.tags.layer.clone(), c))
        } else {
            None
        };
        if let Some(entry) = pooled.iter_mut().find(|e| key.is_some() && e.key == key) {
            entry.neurons += p.size;
            entry.spikes += p.spikes;
            entry.rates.push(p.rate_hz);
            continue;
        }
        let tags = match &key {
            Some((area, layer, cell_type)) => Tags {
                name: cell_type.clone(),
                area: area.clone(),
                column: None,
                layer: layer.clone(),
                cell_type: Some(cell_type.clone()),
            },
            None => p.tags.clone(),
        };
        let bar = Bar { tags, rate_hz: p.rate_hz, spread: None, first: i };
        pooled.push(Pooled { key, bar, neurons: p.size, spikes: p.spikes, rates: vec![p.rate_hz] });
    }
    pooled
        .into_iter()
        .map(|Pooled { mut bar, neurons, spikes, rates, .. }| {
            if rates.len() > 1 {
                bar.rate_hz = if neurons > 0 { spikes as f64 / (neurons as f64 * seconds) } else { 0.0 };
                let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                bar.spread = Some((lo, hi));
            }
            bar
        })
        .collect()
}

/// Columns per area (the most any area has), for the pooled figure's subtitle.
fn columns_per_area(pops: &[Pop]) -> usize {
    let mut pairs: Vec<(&str, &str)> =
        pops.iter().filter_map(|p| Some((p.tags.area.as_deref().unwrap_or(""), p.tags.column.as_deref()?))).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut most = 0;
    for (i, &(area, _)) in pairs.iter().enumerate() {
        if i == 0 || pairs[i - 1].0 != area {
            most = most.max(pairs.iter().filter(|p| p.0 == area).count());
        }
    }
    most
}

/// Whether to pool: more populations than [`MAX_BARS`] and the placements name columns.
pub(super) fn pool_columns(pops: &[Pop]) -> bool {
    pops.len() > MAX_BARS && pops.iter().any(|p| p.tags.column.is_some())
}

/// Draws the rates figure over the figure's rates window.
pub(super) fn draw(path: &Path, pops: &[Pop], figure: &Figure) -> Result<()> {
    let pooled = pool_columns(pops);
    let window = figure.windows.rates;
    let bars = bars(pops, pooled, window.seconds());
    let mut subtitles = vec![format!(
        "{}, {} ({}): spikes / (neurons × window)",
        figure.model,
        window.span(),
        figure.windows.rates_why
    )];
    let title = if pooled {
        subtitles.push(format!(
            "bar: a cell type in all {} columns of its area pooled; whisker: lowest to highest column",
            columns_per_area(pops)
        ));
        "Mean firing rate per cell type and area"
    } else {
        "Mean firing rate per population"
    };
    let legend = figure.legend.as_deref().unwrap_or(&[]);
    let head = titles_height(subtitles.len()) + legend_height(legend, WIDTH)? + 8;
    let height = (head + MARGIN_BOTTOM + X_LABEL_AREA + BAR_PITCH * bars.len() as u32).clamp(MIN_HEIGHT, MAX_HEIGHT);

    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let mut top = draw_titles(&root, title, &subtitles)?;
    if !legend.is_empty() {
        top += draw_legend(&root, legend, top)?;
    }
    let plot_top = top + 8;
    let plot_bottom = (height - MARGIN_BOTTOM - X_LABEL_AREA) as f64;
    let n = bars.len() as f64;
    let bar_px = (plot_bottom - plot_top as f64) / n;
    let spans: Vec<(f64, f64)> = (0..bars.len())
        .map(|i| (plot_top as f64 + i as f64 * bar_px, plot_top as f64 + (i + 1) as f64 * bar_px))
        .collect();
    let items: Vec<Tags> = bars.iter().map(|b| b.tags.clone()).collect();
    let (tiers, _) = layout_tiers(&items, &spans, plot_top as f64 - 4.0, plot_bottom + 4.0)?;

    let highest = bars.iter().map(|b| b.spread.map_or(b.rate_hz, |s| s.1)).fold(0.0, f64::max);
    let x_max = if highest > 0.0 { highest * 1.2 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .margin_top(plot_top)
        .margin_right(40)
        .margin_left(16)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(tiers_width(&tiers).max(24))
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
    debug_assert!((y_px.start - plot_top as i32).abs() <= 1 && (y_px.end as f64 - plot_bottom).abs() <= 1.0);

    let value_size = (bar_px * 0.6).clamp(10.0, LABEL_SIZE);
    for (i, bar) in bars.iter().enumerate() {
        let y = n - i as f64 - 0.5;
        let colour = pops[bar.first].colour;
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.35), (bar.rate_hz, y + 0.35)], colour.filled())))
            .map_err(drawing)?;
        let mut value_at = bar.rate_hz;
        if let Some((lo, hi)) = bar.spread {
            let whisker = BLACK.stroke_width(2);
            let cap = |x: f64| PathElement::new(vec![(x, y - 0.2), (x, y + 0.2)], whisker);
            chart
                .draw_series([PathElement::new(vec![(lo, y), (hi, y)], whisker), cap(lo), cap(hi)])
                .map_err(drawing)?;
            value_at = value_at.max(hi);
        }
        if bar_px >= 10.0 {
            let (bx, by) = chart.backend_coord(&(value_at, y));
            let style =
                (FAMILY, value_size).into_font().color(&RGBColor(40, 40, 40)).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(format!("{:.2}", bar.rate_hz), (bx + 6, by), style)).map_err(drawing)?;
        }
    }
    let colour_of = |i: usize| if figure.legend.is_none() { ink(pops[bars[i].first].colour) } else { BLACK };
    draw_tiers(&root, &tiers, x_px.start, &colour_of)?;
    root.present().map_err(drawing)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::layout::tests::column_circuit;
    use super::*;

    fn pop(tags: Tags, size: u64, spikes: u64, seconds: f64) -> Pop {
        Pop {
            name: tags.name.clone(),
            size,
            tags,
            colour: BLACK,
            spikes,
            rate_hz: spikes as f64 / (size as f64 * seconds),
            shown: 0,
            first_row: 0,
            raster: Vec::new(),
        }
    }

    /// The column's 260 populations become 36 bars: 16 cell types and 2 nuclei per area, each
    /// pooled over 8 columns (the nuclei stand alone), with the columns' spread.
    #[test]
    fn the_column_pools_over_columns() {
        let pops: Vec<Pop> = column_circuit()
            .into_iter()
            .enumerate()
            .map(|(i, (tags, size))| pop(tags, size, (i as u64 % 7 + 1) * size, 0.5))
            .collect();
        assert!(pool_columns(&pops));
        let bars = bars(&pops, true, 0.5);
        assert_eq!(columns_per_area(&pops), 8);
        assert_eq!(bars.len(), 36);
        assert_eq!(bars[1].tags.name, "L23E");
        assert_eq!(bars[1].tags.area.as_deref(), Some("V1"));
        assert_eq!(bars[17].tags.name, "matrix");
        assert_eq!(bars[17].spread, None);
        assert_eq!(bars[18].tags.area.as_deref(), Some("V2"));
        // L23E of V1: columns 0..8 are populations 1, 17, 33, ...; pooled = total spikes /
        // (neurons × 0.5 s), and the whisker spans the columns' own rates.
        let members: Vec<&Pop> = (0..8).map(|c| &pops[1 + 16 * c]).collect();
        let spikes: u64 = members.iter().map(|p| p.spikes).sum();
        let pooled = spikes as f64 / (8.0 * 103.0 * 0.5);
        assert!((bars[1].rate_hz - pooled).abs() < 1e-9, "{} vs {pooled}", bars[1].rate_hz);
        let lo = members.iter().map(|p| p.rate_hz).fold(f64::INFINITY, f64::min);
        let hi = members.iter().map(|p| p.rate_hz).fold(0.0, f64::max);
        assert_eq!(bars[1].spread, Some((lo, hi)));
        assert!(lo < hi);
    }

    #[test]
    fn few_populations_keep_a_bar_each() {
        let tags = |name: &str| Tags { name: name.into(), ..Tags::default() };
        let pops = vec![pop(tags("exc"), 3200, 16_000, 1.0), pop(tags("inh"), 800, 4_400, 1.0)];
        assert!(!pool_columns(&pops));
        let bars = bars(&pops, false, 1.0);
        assert_eq!(
            bars.iter().map(|b| (b.tags.name.as_str(), b.rate_hz, b.spread)).collect::<Vec<_>>(),
            [("exc", 5.0, None), ("inh", 5.5, None)]
        );
    }
}
