//! Text layout shared by the figures: titles, the colour legend and the labels of the y axis.
//!
//! The y axis of both figures is a list of rows (neurons, or bars) in population order. It is
//! labelled in *tiers*, one text column per grouping level of the manifest's placements: area,
//! column and layer when they are given, then the populations themselves. A circuit of 260
//! populations cannot show a label per population in 700 pixels, so only the outer levels whose
//! groups are tall enough for a line of text are labelled (the outermost with brackets, the
//! innermost with plain labels). Every label is centred on its group and is dropped, never
//! moved, when it would overlap a label already placed; sizes are measured with the bundled font.

use anyhow::Result;
use laminar_record::Placement;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FAMILY, drawing};

pub const TITLE_SIZE: f64 = 28.0;
pub const SUBTITLE_SIZE: f64 = 19.0;
pub const AXIS_DESC_SIZE: f64 = 22.0;
pub const TICK_SIZE: f64 = 19.0;
/// Labels of the innermost tier and of the legend.
pub const LABEL_SIZE: f64 = 19.0;
/// Labels of the outer (bracketed) tiers.
pub const GROUP_SIZE: f64 = 21.0;
/// Pixels kept free between two labels of one tier.
const LABEL_GAP: f64 = 3.0;
/// First baseline of the title block, and the line pitch of the subtitles.
const TITLE_TOP: i32 = 14;
const SUBTITLE_PITCH: i32 = 24;

/// What a population (or a bar of pooled populations) is, as far as labels and colours go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    pub name: String,
    pub area: Option<String>,
    pub column: Option<String>,
    pub layer: Option<String>,
    pub cell_type: Option<String>,
}

impl Tags {
    pub fn new(name: &str, placement: Option<&Placement>) -> Self {
        let p = placement.cloned().unwrap_or_default();
        Self {
            name: name.to_owned(),
            area: p.area,
            column: p.column.or_else(|| p.column_index.map(|c| format!("c{c}"))),
            layer: p.layer,
            cell_type: p.cell_type,
        }
    }

    /// The layer, or for populations outside the layers (thalamic nuclei) their cell type:
    /// what the layer level groups by, and what colours stand for in large circuits.
    pub fn stratum(&self) -> Option<&str> {
        self.layer.as_deref().or(self.cell_type.as_deref())
    }
}

/// A level of the y axis's grouping, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Area,
    Column,
    Layer,
    Population,
}

impl Level {
    fn field(self, t: &Tags) -> Option<&str> {
        match self {
            Level::Area => t.area.as_deref(),
            Level::Column => t.column.as_deref(),
            Level::Layer => t.stratum(),
            Level::Population => Some(&t.name),
        }
    }
}

/// The levels `items` can be grouped by, outermost first: area and column when they differ
/// between items, layer when any item has one, and the items themselves.
pub fn levels(items: &[Tags]) -> Vec<Level> {
    let differs = |level: Level| items.iter().any(|t| level.field(t) != level.field(&items[0]));
    let mut levels = Vec::new();
    if differs(Level::Area) {
        levels.push(Level::Area);
    }
    if differs(Level::Column) {
        levels.push(Level::Column);
    }
    if items.iter().any(|t| t.layer.is_some()) {
        levels.push(Level::Layer);
    }
    levels.push(Level::Population);
    levels
}

/// A run of consecutive items that share their fields down to one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: String,
    pub first: usize,
    pub end: usize,
}

/// The groups at `levels[depth]`: runs of items equal in the fields of that level and of all
/// levels outside it (so that column c0 of V1 and c0 of V2 are two groups). Items without the
/// level's field (a per-area nucleus has no column) belong to no group at that level. Items are
/// labelled by their cell type when outer levels already say where they are.
pub fn groups(items: &[Tags], levels: &[Level], depth: usize) -> Vec<Group> {
    let level = levels[depth];
    let mut out: Vec<Group> = Vec::new();
    let mut last_key: Option<Vec<Option<&str>>> = None;
    for (i, t) in items.iter().enumerate() {
        let Some(own) = level.field(t) else {
            last_key = None;
            continue;
        };
        let key: Vec<Option<&str>> = levels[..=depth].iter().map(|l| l.field(t)).collect();
        match out.last_mut() {
            Some(g) if last_key.as_ref() == Some(&key) && g.end == i => g.end = i + 1,
            _ => {
                let label = match (level, &t.cell_type) {
                    (Level::Population, Some(cell_type)) if depth > 0 => cell_type.clone(),
                    _ => own.to_owned(),
                };
                out.push(Group { label, first: i, end: i + 1 });
            }
        }
        last_key = Some(key);
    }
    out
}

/// The pixel span `(top, bottom)` of a group, from the spans of its items.
fn group_span(spans: &[(f64, f64)], g: &Group) -> (f64, f64) {
    (spans[g.first].0, spans[g.end - 1].1)
}

/// Vertical centres for labels of `heights` centred on the groups of `spans`, or `None` for a
/// label that is dropped: larger groups are placed first, and a label is kept only if it stays
/// within `lo..=hi` and at least `gap` away from every label kept before it.
pub fn place_centred(spans: &[(f64, f64)], heights: &[f64], gap: f64, lo: f64, hi: f64) -> Vec<Option<f64>> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    let size = |i: usize| spans[i].1 - spans[i].0;
    order.sort_by(|&a, &b| size(b).total_cmp(&size(a)).then(a.cmp(&b)));
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut out = vec![None; spans.len()];
    for i in order {
        let centre = (spans[i].0 + spans[i].1) / 2.0;
        let (top, bottom) = (centre - heights[i] / 2.0, centre + heights[i] / 2.0);
        let clear = kept.iter().all(|&(t, b)| bottom + gap <= t || top >= b + gap);
        if top >= lo && bottom <= hi && clear {
            kept.push((top, bottom));
            out[i] = Some(centre);
        }
    }
    out
}

/// One labelled level of the y axis.
#[derive(Debug, Clone)]
pub struct Tier {
    pub groups: Vec<Group>,
    /// Pixel span of each group.
    pub spans: Vec<(f64, f64)>,
    /// Label centre of each group, `None` where the label did not fit.
    pub placed: Vec<Option<f64>>,
    /// Widest label kept, pixels.
    pub width: u32,
    /// Font size of the labels.
    pub size: f64,
}

/// The y axis's tiers for `items` whose rows span `spans` (pixels, top to bottom), labels kept
/// within `lo..=hi`. Labelled are the levels from the outermost down to the deepest one whose
/// median group is at least a line of text tall: deeper, most labels would be dropped, and the
/// remaining ones would look like the whole story. Also returns all levels and their groups,
/// labelled or not, for the boundary lines.
pub fn layout_tiers(items: &[Tags], spans: &[(f64, f64)], lo: f64, hi: f64) -> Result<(Vec<Tier>, Vec<Vec<Group>>)> {
    let levels = levels(items);
    let all: Vec<Vec<Group>> = (0..levels.len()).map(|d| groups(items, &levels, d)).collect();
    let line = measure("Lg", LABEL_SIZE)?.1 as f64;
    let median_height = |gs: &[Group]| {
        let mut h: Vec<f64> = gs.iter().map(|g| group_span(spans, g)).map(|(t, b)| b - t).collect();
        h.sort_by(f64::total_cmp);
        h.get(h.len() / 2).copied().unwrap_or(0.0)
    };
    let depth = all.iter().rposition(|gs| median_height(gs) >= line + LABEL_GAP).map_or(0, |d| d + 1);
    let mut tiers = Vec::new();
    for (d, gs) in all.iter().enumerate().take(depth) {
        let size = if d + 1 == depth { LABEL_SIZE } else { GROUP_SIZE };
        // A bracket round a single item that only repeats the item's own label (the thalamic
        // "core" at the layer level over the "core" population) says nothing: left out.
        let inner = &all[depth - 1];
        let repeats = |g: &Group| d + 1 < depth && g.end - g.first == 1 && inner.contains(g);
        let gs: Vec<Group> = gs.iter().filter(|g| !repeats(g)).cloned().collect();
        let boxes = gs.iter().map(|g| measure(&g.label, size)).collect::<Result<Vec<_>>>()?;
        let group_spans: Vec<(f64, f64)> = gs.iter().map(|g| group_span(spans, g)).collect();
        let heights: Vec<f64> = boxes.iter().map(|b| b.1 as f64).collect();
        let placed = place_centred(&group_spans, &heights, LABEL_GAP, lo, hi);
        let width = boxes.iter().zip(&placed).filter(|(_, p)| p.is_some()).map(|(b, _)| b.0).max().unwrap_or(0);
        tiers.push(Tier { groups: gs, spans: group_spans, placed, width, size });
    }
    Ok((tiers, all))
}

/// Pixels between the y axis and the innermost labels, and around each bracket.
const AXIS_PAD: i32 = 10;
const BRACKET_PAD: i32 = 8;
const TIER_PAD: i32 = 14;

/// Width the tiers need left of the y axis, pixels.
pub fn tiers_width(tiers: &[Tier]) -> u32 {
    let Some((inner, outer)) = tiers.split_last() else { return 0 };
    let outer: u32 = outer.iter().map(|t| t.width + (BRACKET_PAD + TIER_PAD) as u32).sum();
    AXIS_PAD as u32 + inner.width + outer + TIER_PAD as u32
}

/// Draws the tiers left of the y axis at `axis_x`: the innermost as plain labels right-aligned
/// at the axis (coloured by `colour_of(first item)`), the outer ones as brackets over their
/// groups with their labels left of them.
pub fn draw_tiers<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    tiers: &[Tier],
    axis_x: i32,
    colour_of: &dyn Fn(usize) -> RGBColor,
) -> Result<()> {
    let Some((inner, outer)) = tiers.split_last() else { return Ok(()) };
    let right = Pos::new(HPos::Right, VPos::Center);
    for (g, y) in inner.groups.iter().zip(&inner.placed) {
        let Some(y) = y else { continue };
        let style = (FAMILY, inner.size).into_font().color(&colour_of(g.first)).pos(right);
        root.draw(&Text::new(g.label.as_str(), (axis_x - AXIS_PAD, y.round() as i32), style)).map_err(drawing)?;
    }
    let mut x = axis_x - AXIS_PAD - inner.width as i32 - TIER_PAD;
    for tier in outer.iter().rev() {
        for ((g, &(top, bottom)), y) in tier.groups.iter().zip(&tier.spans).zip(&tier.placed) {
            let (top, bottom) = ((top + 2.0).round() as i32, (bottom - 2.0).round().max(top + 1.0) as i32);
            root.draw(&PathElement::new(
                vec![(x + 5, top), (x, top), (x, bottom), (x + 5, bottom)],
                BLACK.stroke_width(2),
            ))
            .map_err(drawing)?;
            if let Some(y) = y {
                let style = (FAMILY, tier.size).into_font().color(&BLACK).pos(right);
                root.draw(&Text::new(g.label.as_str(), (x - BRACKET_PAD, y.round() as i32), style)).map_err(drawing)?;
            }
        }
        x -= BRACKET_PAD + tier.width as i32 + TIER_PAD;
    }
    Ok(())
}

/// Width and height of `text` in the bundled font at `size` pixels.
pub fn measure(text: &str, size: f64) -> Result<(u32, u32)> {
    (FAMILY, size).into_font().box_size(text).map_err(drawing)
}

/// Height of the title block with `subtitles` lines, pixels.
pub fn titles_height(subtitles: usize) -> u32 {
    (TITLE_TOP + 38 + SUBTITLE_PITCH * subtitles as i32) as u32 + 8
}

/// Draws the title and the subtitle lines, centred; returns the height they take.
pub fn draw_titles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitles: &[String],
) -> Result<u32> {
    let (w, _) = root.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    root.draw(&Text::new(title, (w as i32 / 2, TITLE_TOP), (FAMILY, TITLE_SIZE).into_font().color(&BLACK).pos(centre)))
        .map_err(drawing)?;
    for (i, line) in subtitles.iter().enumerate() {
        let y = TITLE_TOP + 38 + SUBTITLE_PITCH * i as i32;
        let style = (FAMILY, SUBTITLE_SIZE).into_font().color(&RGBColor(80, 80, 80)).pos(centre);
        root.draw(&Text::new(line.as_str(), (w as i32 / 2, y), style)).map_err(drawing)?;
    }
    Ok(titles_height(subtitles.len()))
}

/// Pixel layout of a legend entry: swatch, gap, text, space before the next entry.
const SWATCH: i32 = 14;
const SWATCH_GAP: i32 = 6;
const ENTRY_GAP: i32 = 22;
const LEGEND_PITCH: i32 = 26;

/// The legend's entries split into lines no wider than `max_width`: (entry indices, line width).
fn legend_lines(widths: &[u32], max_width: u32) -> Vec<(Vec<usize>, i32)> {
    let mut lines: Vec<(Vec<usize>, i32)> = Vec::new();
    for (i, &w) in widths.iter().enumerate() {
        let entry = SWATCH + SWATCH_GAP + w as i32;
        match lines.last_mut() {
            Some((line, width)) if *width + ENTRY_GAP + entry <= max_width as i32 => {
                line.push(i);
                *width += ENTRY_GAP + entry;
            }
            _ => lines.push((vec![i], entry)),
        }
    }
    lines
}

/// Height of the legend of `entries` in a figure `width` pixels wide.
pub fn legend_height(entries: &[(String, RGBColor)], width: u32) -> Result<u32> {
    let widths = entries.iter().map(|e| measure(&e.0, LABEL_SIZE).map(|b| b.0)).collect::<Result<Vec<_>>>()?;
    Ok((legend_lines(&widths, width.saturating_sub(80)).len() as i32 * LEGEND_PITCH) as u32)
}

/// Draws the legend centred under the titles, its top at `top`; returns its height.
pub fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
    top: u32,
) -> Result<u32> {
    let (w, _) = root.dim_in_pixel();
    let widths = entries.iter().map(|e| measure(&e.0, LABEL_SIZE).map(|b| b.0)).collect::<Result<Vec<_>>>()?;
    let lines = legend_lines(&widths, w.saturating_sub(80));
    for (n, (line, width)) in lines.iter().enumerate() {
        let y = top as i32 + n as i32 * LEGEND_PITCH + LEGEND_PITCH / 2;
        let mut x = (w as i32 - width) / 2;
        for &i in line {
            let (label, colour) = &entries[i];
            root.draw(&Rectangle::new([(x, y - SWATCH / 2), (x + SWATCH, y + SWATCH / 2)], colour.filled()))
                .map_err(drawing)?;
            let style = (FAMILY, LABEL_SIZE).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(label.as_str(), (x + SWATCH + SWATCH_GAP, y), style)).map_err(drawing)?;
            x += SWATCH + SWATCH_GAP + widths[i] as i32 + ENTRY_GAP;
        }
    }
    Ok((lines.len() as i32 * LEGEND_PITCH) as u32)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The reference column's 260 populations: 2 areas × 8 columns × (NGC in L1, 4 in L23,
    /// 4 in L4, 3 in L5, 3 in L6, a thalamic core relay), then the area's higher-order and
    /// matrix nuclei, with their sizes.
    pub fn column_circuit() -> Vec<(Tags, u64)> {
        let per_column: [(&str, Option<&str>, u64); 16] = [
            ("NGC", Some("L1"), 6),
            ("L23E", Some("L23"), 103),
            ("L23PV", Some("L23"), 12),
            ("L23SST", Some("L23"), 9),
            ("L23VIP", Some("L23"), 9),
            ("L4E", Some("L4"), 110),
            ("L4PV", Some("L4"), 16),
            ("L4SST", Some("L4"), 11),
            ("L4astro", Some("L4"), 10),
            ("L5E", Some("L5"), 25),
            ("L5PV", Some("L5"), 3),
            ("L5SST", Some("L5"), 3),
            ("L6E", Some("L6"), 72),
            ("L6PV", Some("L6"), 9),
            ("L6SST", Some("L6"), 6),
            ("core", None, 20),
        ];
        let mut out = Vec::new();
        for area in ["V1", "V2"] {
            for c in 0..8 {
                for (cell, layer, size) in per_column {
                    let tags = Tags {
                        name: format!("{area}_c{c}_{cell}"),
                        area: Some(area.into()),
                        column: Some(format!("c{c}")),
                        layer: layer.map(Into::into),
                        cell_type: Some(cell.into()),
                    };
                    out.push((tags, size));
                }
            }
            for nucleus in ["higher", "matrix"] {
                let tags = Tags {
                    name: format!("{area}_{nucleus}"),
                    area: Some(area.into()),
                    cell_type: Some(nucleus.into()),
                    ..Tags::default()
                };
                out.push((tags, 20));
            }
        }
        out
    }

    /// Pixel spans of items of `rows` rows each over `top..bottom`.
    pub fn spans_of(rows: &[u64], top: f64, bottom: f64) -> Vec<(f64, f64)> {
        let total: u64 = rows.iter().sum();
        let px = (bottom - top) / total as f64;
        let mut at = 0;
        rows.iter()
            .map(|&r| {
                let span = (top + at as f64 * px, top + (at + r) as f64 * px);
                at += r;
                span
            })
            .collect()
    }

    #[test]
    fn the_column_groups_by_area_column_and_layer() {
        let items: Vec<Tags> = column_circuit().into_iter().map(|(t, _)| t).collect();
        assert_eq!(items.len(), 260);
        let levels = levels(&items);
        assert_eq!(levels, vec![Level::Area, Level::Column, Level::Layer, Level::Population]);
        let areas = groups(&items, &levels, 0);
        assert_eq!(
            areas.iter().map(|g| (g.label.as_str(), g.end - g.first)).collect::<Vec<_>>(),
            [("V1", 130), ("V2", 130)]
        );
        let columns = groups(&items, &levels, 1);
        // The per-area nuclei have no column: 8 columns per area, of 16 populations each.
        assert_eq!(columns.len(), 16);
        assert!(columns.iter().all(|g| g.end - g.first == 16));
        assert_eq!((columns[8].label.as_str(), columns[8].first), ("c0", 130));
        let layers = groups(&items, &levels, 2);
        // L1, L23, L4, L5, L6 and the core relay per column, then two nuclei per area.
        assert_eq!(layers.len(), 16 * 6 + 4);
        assert_eq!(layers[1].label, "L23");
        assert_eq!(layers[1].end - layers[1].first, 4);
        let pops = groups(&items, &levels, 3);
        assert_eq!(pops.len(), 260);
        assert_eq!(pops[1].label, "L23E", "labelled by cell type under the outer tiers");
    }

    #[test]
    fn a_single_column_circuit_groups_by_layer_only() {
        let layer = |name: &str, l: &str| Tags {
            name: name.into(),
            layer: Some(l.into()),
            cell_type: Some(name.into()),
            ..Tags::default()
        };
        let items = vec![layer("L23E", "L23"), layer("L23I", "L23"), layer("L4E", "L4"), layer("L4I", "L4")];
        let levels = levels(&items);
        assert_eq!(levels, vec![Level::Layer, Level::Population]);
        let g = groups(&items, &levels, 0);
        assert_eq!(
            g,
            vec![Group { label: "L23".into(), first: 0, end: 2 }, Group { label: "L4".into(), first: 2, end: 4 }]
        );
        let plain =
            vec![Tags { name: "exc".into(), ..Tags::default() }, Tags { name: "inh".into(), ..Tags::default() }];
        assert_eq!(super::levels(&plain), vec![Level::Population]);
    }

    #[test]
    fn centred_labels_are_dropped_rather_than_moved() {
        // Three groups of 10 px with 8-px labels: the middle one would touch both neighbours
        // with a gap of 3, so only the larger or earlier groups keep theirs.
        let spans = [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 100.0)];
        let placed = place_centred(&spans, &[8.0; 4], 3.0, 0.0, 100.0);
        assert_eq!(placed, vec![Some(5.0), None, Some(25.0), Some(65.0)]);
        // Outside the allowed range: dropped.
        assert_eq!(place_centred(&[(0.0, 4.0)], &[8.0], 0.0, 0.0, 100.0), vec![None]);
    }

    /// The column's 260 populations in the raster's 900-px figure (plot area about 700 px):
    /// no two labels of a tier overlap, every label is centred on its group, and the tiers
    /// are the ones that fit (area and column; the layers are 3–15 px, less than a line).
    #[test]
    fn the_column_is_labelled_without_overlaps_in_900_px() {
        super::super::register_font().unwrap();
        let circuit = column_circuit();
        let sizes: Vec<u64> = circuit.iter().map(|c| c.1).collect();
        let rows = super::super::allot(&sizes, 2000);
        let (top, bottom) = (100.0, 800.0);
        let spans = spans_of(&rows, top, bottom);
        let items: Vec<Tags> = circuit.into_iter().map(|c| c.0).collect();
        let (tiers, all) = layout_tiers(&items, &spans, top - 8.0, bottom + 8.0).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(tiers.len(), 2);
        assert_eq!((tiers[0].groups[1].label.as_str(), tiers[1].groups[1].label.as_str()), ("V2", "c1"));
        for tier in &tiers {
            let mut boxes = Vec::new();
            for ((g, &(t, b)), y) in tier.groups.iter().zip(&tier.spans).zip(&tier.placed) {
                let Some(y) = *y else { continue };
                assert!((y - (t + b) / 2.0).abs() < 1e-9, "{} not centred", g.label);
                let h = measure(&g.label, tier.size).unwrap().1 as f64;
                boxes.push((y - h / 2.0, y + h / 2.0, &g.label));
            }
            boxes.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in boxes.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "{} overlaps {}", pair[0].2, pair[1].2);
            }
            // Every area and every column keeps its label at this size.
            assert_eq!(boxes.len(), tier.groups.len());
        }
        assert!(tiers_width(&tiers) < 200);
    }

    /// With one population per label, in a tall figure, all of them are labelled; in a short
    /// one they would overlap, so that tier is not labelled at all.
    #[test]
    fn populations_are_labelled_only_when_they_fit() {
        super::super::register_font().unwrap();
        let items: Vec<Tags> = column_circuit().into_iter().map(|c| c.0).take(16).collect();
        let spans = spans_of(&[1; 16], 0.0, 800.0);
        let (tiers, _) = layout_tiers(&items, &spans, 0.0, 800.0).unwrap();
        assert_eq!(tiers.len(), 2);
        assert_eq!(tiers[1].groups.len(), 16);
        assert!(tiers[1].placed.iter().all(Option::is_some));
        let spans = spans_of(&[1; 16], 0.0, 200.0);
        let (tiers, _) = layout_tiers(&items, &spans, 0.0, 200.0).unwrap();
        assert_eq!(tiers.len(), 1);
        assert_eq!(tiers[0].groups[1].label, "L23");
    }

    /// Pooled bars of the column (area, layer, cell type): the nuclei outside the layers get no
    /// bracket of their own at the layer level, which would only repeat their label.
    #[test]
    fn single_items_get_no_bracket_repeating_their_label() {
        super::super::register_font().unwrap();
        let bar = |area: &str, layer: Option<&str>, cell: &str| Tags {
            name: cell.into(),
            area: Some(area.into()),
            layer: layer.map(Into::into),
            cell_type: Some(cell.into()),
            ..Tags::default()
        };
        let items = vec![
            bar("V1", Some("L23"), "L23E"),
            bar("V1", Some("L23"), "L23PV"),
            bar("V1", None, "core"),
            bar("V2", Some("L23"), "L23E"),
            bar("V2", None, "core"),
        ];
        let spans = spans_of(&[1; 5], 0.0, 400.0);
        let (tiers, _) = layout_tiers(&items, &spans, 0.0, 400.0).unwrap();
        assert_eq!(tiers.len(), 3);
        let labels = |t: &Tier| t.groups.iter().map(|g| g.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&tiers[0]), ["V1", "V2"]);
        // V2's L23 has one item too, but its label (L23) differs from the item's (L23E): kept.
        assert_eq!(labels(&tiers[1]), ["L23", "L23"]);
        assert_eq!(labels(&tiers[2]), ["L23E", "L23PV", "core", "L23E", "core"]);
    }

    #[test]
    fn legend_lines_wrap() {
        let per_entry = (SWATCH + SWATCH_GAP + 50) as u32;
        let lines = legend_lines(&[50; 5], per_entry * 2 + ENTRY_GAP as u32);
        assert_eq!(lines.iter().map(|l| l.0.clone()).collect::<Vec<_>>(), vec![vec![0, 1], vec![2, 3], vec![4]]);
    }
}
