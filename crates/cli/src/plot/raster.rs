//! `raster.png`: spike times against neurons, populations top to bottom in recording order.
//!
//! The y axis is labelled by [`super::layout`]; boundaries between groups are drawn as lines,
//! darker for outer groups, and only where groups are tall enough for a line not to grey the
//! spikes out. Spike markers are sized by the spike density, so that spikes stay separate dots
//! (see [`marker`]).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::layout::{AXIS_DESC_SIZE, TICK_SIZE, Tags, draw_legend, draw_tiers, draw_titles, layout_tiers, tiers_width};
use super::{FAMILY, Figure, Pop, RASTER_SIZE, drawing, ink, thousands, tick_format};

const MARGIN_BOTTOM: u32 = 12;
const X_LABEL_AREA: u32 = 72;
/// At most this fraction of the plot area is inked by spike markers: beyond it the markers of
/// neighbouring spikes touch and the raster turns into a texture.
const MAX_INK: f64 = 0.06;
/// Groups shorter than this (pixels) get no boundary lines: they would grey out the spikes.
const MIN_BOUNDED_PX: f64 = 6.0;

/// Marker of a spike, `(width, height)` in pixels, for `spikes` markers in a plot area of
/// `area` square pixels whose rows are `row_px` tall. Rows of 3 pixels or more get a vertical
/// tick of most of the row (at most 12 px); thinner rows a square dot. Width (and the dot's
/// side) is the largest of 3, 2, 1 pixels (2 for ticks) that inks at most [`MAX_INK`] of the
/// area, so sparse rasters have visible dots and dense ones do not merge into a texture.
pub(super) fn marker(spikes: usize, area: f64, row_px: f64) -> (i32, i32) {
    let fits = |w: i32, h: i32| spikes as f64 * (w * h) as f64 <= MAX_INK * area;
    if row_px >= 3.0 {
        let h = (row_px * 0.8).clamp(2.0, 12.0).round() as i32;
        let w = [2, 1].into_iter().find(|&w| fits(w, h)).unwrap_or(1);
        (w, h)
    } else {
        let s = [3, 2, 1].into_iter().find(|&s| fits(s, s)).unwrap_or(1);
        (s, s)
    }
}

/// Draws the raster of `pops` (`shown` of `total` neurons) over the figure's raster window.
pub(super) fn draw(path: &Path, pops: &[Pop], figure: &Figure, shown: usize, total: u64) -> Result<()> {
    let window = figure.windows.raster;
    let root = BitMapBackend::new(path, RASTER_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let neurons = if shown as u64 == total {
        format!("all {} neurons", thousands(total))
    } else {
        format!("{} of {} neurons (evenly spaced within each population)", thousands(shown as u64), thousands(total))
    };
    let subtitles = [format!("{neurons}; {}, {}", window.span(), figure.windows.raster_why)];
    let mut top = draw_titles(&root, &format!("Spike raster — {}", figure.model), &subtitles)?;
    if let Some(legend) = &figure.legend {
        top += draw_legend(&root, legend, top)?;
    }
    let plot_top = top + 8;

    // Rows, top to bottom: the plot area spans plot_top..plot_bottom (ChartBuilder's layout).
    let rows = shown.max(1) as f64;
    let plot_bottom = (RASTER_SIZE.1 - MARGIN_BOTTOM - X_LABEL_AREA) as f64;
    let row_px = (plot_bottom - plot_top as f64) / rows;
    let px_of_row = |r: f64| plot_top as f64 + r * row_px;
    let spans: Vec<(f64, f64)> = pops
        .iter()
        .map(|p| (px_of_row(p.first_row as f64), px_of_row((p.first_row + p.shown as usize) as f64)))
        .collect();
    let items: Vec<Tags> = pops.iter().map(|p| p.tags.clone()).collect();
    let (tiers, all_groups) = layout_tiers(&items, &spans, plot_top as f64 - 6.0, plot_bottom + 6.0)?;

    let mut chart = ChartBuilder::on(&root)
        .margin_top(plot_top)
        .margin_right(40)
        .margin_left(16)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(tiers_width(&tiers).max(24))
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
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    debug_assert!((y_px.start - plot_top as i32).abs() <= 1 && (y_px.end as f64 - plot_bottom).abs() <= 1.0);

    // Boundaries, innermost first so that the darker outer ones end on top.
    let y_of_row = |r: f64| rows - r;
    for (depth, groups) in all_groups.iter().enumerate().rev() {
        let labelled = depth < tiers.len();
        let mut heights: Vec<f64> = groups.iter().map(|g| spans[g.end - 1].1 - spans[g.first].0).collect();
        heights.sort_by(f64::total_cmp);
        let median = heights.get(heights.len() / 2).copied().unwrap_or(0.0);
        let grey = match (labelled, depth) {
            (true, 0) if tiers.len() > 1 => 90,
            (true, _) => 150,
            (false, _) if median >= MIN_BOUNDED_PX => 220,
            _ => continue,
        };
        let lines = groups.iter().map(|g| pops[g.first].first_row).filter(|&r| r > 0).map(|r| {
            let y = y_of_row(r as f64);
            PathElement::new(vec![(window.from, y), (window.to, y)], RGBColor(grey, grey, grey).stroke_width(1))
        });
        chart.draw_series(lines).map_err(drawing)?;
    }

    let spikes: usize = pops.iter().map(|p| p.raster.len()).sum();
    let area = ((x_px.end - x_px.start) * (y_px.end - y_px.start)) as f64;
    let (w, h) = marker(spikes, area, row_px);
    for p in pops {
        let style = p.colour.filled();
        chart
            .draw_series(p.raster.iter().map(|&(t, r)| {
                EmptyElement::at((t, y_of_row(r as f64 + 0.5)))
                    // The bitmap fills [x0, x1) × [y0, y1): w × h pixels around the spike.
                    + Rectangle::new([(-w / 2, -h / 2), (w - w / 2, h - h / 2)], style)
            }))
            .map_err(drawing)?;
    }

    // Labels of single populations are coloured like their spikes: they are the legend.
    let colour_of = |i: usize| if figure.legend.is_none() { ink(pops[i].colour) } else { BLACK };
    draw_tiers(&root, &tiers, x_px.start, &colour_of)?;
    root.present().map_err(drawing)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_shrink_with_density() {
        let area = 1260.0 * 700.0;
        // CUBA, 2000 of 4000 neurons at about 5.5 Hz: 1 s gives 11,000 spikes, 10 s 110,000.
        assert_eq!(marker(11_000, area, 0.35), (2, 2));
        assert_eq!(marker(110_000, area, 0.35), (1, 1));
        // A sparse raster: large dots.
        assert_eq!(marker(2_000, area, 0.35), (3, 3));
        // Few neurons, tall rows: ticks of most of a row, at most 12 px.
        assert_eq!(marker(500, area, 70.0), (2, 12));
        assert_eq!(marker(500, area, 5.0), (2, 4));
        // Even when every pixel would be inked the marker stays a pixel.
        assert_eq!(marker(10_000_000, area, 0.35), (1, 1));
    }
}
