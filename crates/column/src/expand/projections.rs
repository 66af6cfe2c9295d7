//! The projections of an expansion: the column template's table in every column, tangential
//! connections between the columns of an area (their probability falling with distance, their
//! delay growing with it), interareal projections and the thalamus's connections, each rule
//! scaled by `k_scaling` (and `n_scaling`) and each weight by 1/√k_scaling.

use std::collections::BTreeMap;

use laminar_engine::{Dist, Rule};

use crate::description::*;
use crate::{ColumnError, err};

use super::areas::{Area, area_index};
use super::populations::{Unit, unit};
use super::{
    Expanded, Instances, ProjectionOut, Slot, Stream, receptor_name, resolve, round_count, total_from_probability,
};

/// One (source type, target type) entry of a connection table, at full scale.
#[derive(Debug, Clone)]
struct Pair {
    source: String,
    target: String,
    /// `probability`, `indegree`, `total_number` or `connection_probability_total`.
    kind: &'static str,
    /// The rule's value at full scale.
    value: f64,
    weight: Dist,
    delay: Dist,
    receptor: Option<String>,
    autapses: bool,
    multapses: bool,
    field: String,
    /// The entry the pair comes from (its index in its list).
    entry: usize,
}

/// A connection-table entry, whatever list it comes from.
struct Block<'a> {
    source: &'a TypeSet,
    target: &'a TypeSet,
    rule: Option<(&'static str, &'a Table)>,
    weight: Option<&'a DistSpec>,
    weight_factor: Option<f64>,
    delay: Option<&'a DistSpec>,
    receptor: Option<String>,
    autapses: Option<bool>,
    multapses: Option<bool>,
}

/// The pairs of a list of blocks; a block without a rule refines the pairs defined before it.
fn pairs(blocks: &[Block], names: &[&str], base: &str, what: &str) -> Result<Vec<Pair>, ColumnError> {
    let mut out: Vec<Pair> = Vec::new();
    for (i, c) in blocks.iter().enumerate() {
        let base = format!("{base}.{i}");
        let sources = resolve(c.source, names, &format!("{base}.source"), what)?;
        let targets = resolve(c.target, names, &format!("{base}.target"), what)?;
        let factor = match c.weight_factor {
            Some(f) if !f.is_finite() => return Err(err(format!("{base}.weight_factor"), "must be a finite number")),
            Some(f) => f,
            None => 1.0,
        };
        let weight = c.weight.map(|w| w.to_dist(&format!("{base}.weight"))).transpose()?;
        let delay = c.delay.map(|w| w.to_dist(&format!("{base}.delay_ms"))).transpose()?;
        if let Some(d) = delay
            && d.mean() <= 0.0
        {
            return Err(err(format!("{base}.delay_ms"), "must be > 0 ms"));
        }
        let Some((kind, table)) = c.rule else {
            let mut hit = false;
            for p in out.iter_mut().filter(|p| sources.contains(&p.source) && targets.contains(&p.target)) {
                hit = true;
                if let Some(w) = weight {
                    p.weight = w;
                }
                p.weight = scale_dist(p.weight, factor);
                if let Some(dl) = delay {
                    p.delay = dl;
                }
                if c.receptor.is_some() {
                    p.receptor = c.receptor.clone();
                }
                p.autapses = c.autapses.unwrap_or(p.autapses);
                p.multapses = c.multapses.unwrap_or(p.multapses);
            }
            if !hit {
                return Err(err(
                    &base,
                    "has no `rule` (so it refines earlier entries), but no earlier entry connects these types",
                ));
            }
            continue;
        };
        let weight = weight.ok_or_else(|| err(format!("{base}.weight"), "missing: the weight of the synapses"))?;
        let weight = scale_dist(weight, factor);
        let delay = delay.unwrap_or(Dist::Constant(1.0));
        let rfield = if kind == "tangential" { format!("{base}.probability") } else { format!("{base}.rule.{kind}") };
        let kind = if kind == "tangential" { "probability" } else { kind };
        if let Table::Matrix(rows) = table {
            if rows.len() != targets.len() {
                return Err(err(
                    &rfield,
                    format!("has {} rows: give one row per target ({})", rows.len(), targets.len()),
                ));
            }
            if let Some((r, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != sources.len()) {
                return Err(err(
                    format!("{rfield}.{r}"),
                    format!("has {} values: give one per source ({})", row.len(), sources.len()),
                ));
            }
        }
        for (ti, target) in targets.iter().enumerate() {
            for (si, source) in sources.iter().enumerate() {
                let (value, vfield) = match table {
                    Table::Scalar(v) => (*v, rfield.clone()),
                    Table::Matrix(rows) => (rows[ti][si], format!("{rfield}.{ti}.{si}")),
                };
                let ok = match kind {
                    "probability" => (0.0..=1.0).contains(&value),
                    "connection_probability_total" => (0.0..1.0).contains(&value),
                    _ => value.is_finite() && value >= 0.0 && value.fract() == 0.0,
                };
                if !ok {
                    let allowed = match kind {
                        "probability" => "a probability in [0, 1]",
                        "connection_probability_total" => "a connection probability in [0, 1)",
                        _ => "an integer >= 0",
                    };
                    return Err(err(vfield, format!("= {value}: must be {allowed} ({source} -> {target})")));
                }
                if value == 0.0 {
                    continue;
                }
                out.push(Pair {
                    source: source.clone(),
                    target: target.clone(),
                    kind,
                    value,
                    weight,
                    delay,
                    receptor: c.receptor.clone(),
                    autapses: c.autapses.unwrap_or(true),
                    multapses: c.multapses.unwrap_or(true),
                    field: vfield,
                    entry: i,
                });
            }
        }
    }
    Ok(out)
}

/// The blocks of an interareal or thalamic list (every entry has a rule).
fn circuit_blocks(entries: &[CircuitEntry]) -> Vec<Block<'_>> {
    entries
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: Some(c.rule.parts()),
            weight: Some(&c.weight),
            weight_factor: None,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: c.autapses,
            multapses: c.multapses,
        })
        .collect()
}

/// Appends projections to an expansion: scales each pair's rule and weight, gives it a unique
/// name, and keeps per projection what the DC compensation needs.
pub(super) struct ProjectionWriter<'u, 'a> {
    units: &'u [Unit<'a>],
    n_scaling: f64,
    k_scaling: f64,
    /// How often each `source->target` name was used (repeats get `#2`, `#3` …).
    used_names: BTreeMap<String, usize>,
    /// Per projection, in order: the full-scale mean weight and the source's unit.
    pub(super) full_weight_means: Vec<f64>,
    pub(super) source_units: Vec<String>,
}

impl<'u, 'a> ProjectionWriter<'u, 'a> {
    pub(super) fn new(units: &'u [Unit<'a>], n_scaling: f64, k_scaling: f64) -> Self {
        ProjectionWriter {
            units,
            n_scaling,
            k_scaling,
            used_names: BTreeMap::new(),
            full_weight_means: Vec::new(),
            source_units: Vec::new(),
        }
    }

    /// Appends the projection of `p` from population `src` to `tgt` with the rule's full-scale
    /// `value` (a tangential pair's is its distance-scaled probability) and `extra_delay` ms.
    fn push(
        &mut self,
        out: &mut Expanded,
        p: &Pair,
        (src, tgt): (usize, usize),
        value: f64,
        extra_delay: f64,
        stream: Stream,
        label: Option<String>,
        distance: Option<f64>,
    ) {
        let (n_scaling, k_scaling) = (self.n_scaling, self.k_scaling);
        let (npre, npost) = (unit(self.units, &p.source).count, unit(self.units, &p.target).count);
        let full_total = match p.kind {
            "probability" => value * npre * npost,
            "indegree" => value * npost,
            "total_number" => value,
            _ => total_from_probability(value, npre, npost),
        };
        let rule = match p.kind {
            "probability" => Rule::PairwiseBernoulli { p: (value * k_scaling / n_scaling).min(1.0) },
            "indegree" => Rule::FixedIndegree { k: round_count(value * k_scaling) },
            _ => Rule::FixedTotalNumber { n: round_count(full_total * n_scaling * k_scaling) },
        };
        let (source, target) = (out.populations[src].name.clone(), out.populations[tgt].name.clone());
        let base = format!("{source}->{target}");
        let repeats = self.used_names.entry(base.clone()).or_insert(0);
        *repeats += 1;
        let name = if *repeats == 1 { base } else { format!("{base}#{repeats}") };
        self.full_weight_means.push(p.weight.mean());
        self.source_units.push(p.source.clone());
        out.projections.push(ProjectionOut {
            name,
            source,
            target,
            rule,
            weight: scale_dist(p.weight, 1.0 / k_scaling.sqrt()),
            delay: shift_dist(p.delay, extra_delay),
            receptor: p.receptor.clone(),
            autapses: p.autapses,
            multapses: p.multapses,
            full_synapses: full_total,
            stream,
            label,
            distance_um: distance,
            field: p.field.clone(),
        });
    }
}

/// The column template's table (`[[column.connections]]`), in every column.
pub(super) fn intra(
    d: &Description,
    types: &[&str],
    areas: &[Area],
    instances: &Instances,
    writer: &mut ProjectionWriter,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let blocks: Vec<Block> = d
        .connections
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: c.rule.as_ref().map(RuleSpec::parts),
            weight: c.weight.as_ref(),
            weight_factor: c.weight_factor,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: c.autapses,
            multapses: c.multapses,
        })
        .collect();
    let intra = pairs(&blocks, types, "column.connections", "cell type")?;
    for (ai, area) in areas.iter().enumerate() {
        for ci in 0..area.columns.len() {
            let slot = Slot { area: ai, column: Some(ci) };
            for p in &intra {
                let pops = (instances.get(&p.source, slot), instances.get(&p.target, slot));
                writer.push(out, p, pops, p.value, 0.0, Stream::Intra, None, None);
            }
        }
    }
    Ok(())
}

/// Tangential connections (`[[column.tangential]]`): every ordered pair of distinct columns of
/// an area, the probability scaled by the profile at the columns' distance, the delay extended
/// by distance / velocity.
pub(super) fn tangential(
    d: &Description,
    types: &[&str],
    areas: &[Area],
    instances: &Instances,
    writer: &mut ProjectionWriter,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let blocks: Vec<Block> = d
        .tangential
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: Some(("tangential", &c.probability)),
            weight: Some(&c.weight),
            weight_factor: None,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: None,
            multapses: None,
        })
        .collect();
    let tangential = pairs(&blocks, types, "column.tangential", "cell type")?;
    check_tangential(d, areas)?;
    for (ai, area) in areas.iter().enumerate() {
        for (si, sc) in area.columns.iter().enumerate() {
            for (ti, tc) in area.columns.iter().enumerate() {
                if si == ti {
                    continue;
                }
                let distance = (sc.centre[0] - tc.centre[0]).hypot(sc.centre[1] - tc.centre[1]);
                for p in &tangential {
                    let entry = &d.tangential[p.entry];
                    if let Some(list) = &entry.areas
                        && !list.iter().any(|a| area.name.as_deref() == Some(a.as_str()))
                    {
                        continue;
                    }
                    if entry.max_distance_um.is_some_and(|m| distance > m) {
                        continue;
                    }
                    let prob = p.value * entry.profile.factor(distance);
                    if prob <= 0.0 {
                        continue;
                    }
                    let extra = entry.velocity_um_per_ms.map_or(0.0, |v| distance / v);
                    let pops = (
                        instances.get(&p.source, Slot { area: ai, column: Some(si) }),
                        instances.get(&p.target, Slot { area: ai, column: Some(ti) }),
                    );
                    writer.push(out, p, pops, prob, extra, Stream::Tangential, None, Some(distance));
                }
            }
        }
    }
    Ok(())
}

/// The tangential entries' geometry: profiles, distance limits, velocities, areas.
fn check_tangential(d: &Description, areas: &[Area]) -> Result<(), ColumnError> {
    for (i, t) in d.tangential.iter().enumerate() {
        let f = format!("column.tangential.{i}");
        match t.profile {
            Profile::Gaussian { sigma_um: l } | Profile::Exponential { lambda_um: l }
                if !(l.is_finite() && l > 0.0) =>
            {
                return Err(err(format!("{f}.profile"), "the length constant must be a finite number > 0 µm"));
            }
            _ => {}
        }
        if let Some(m) = t.max_distance_um
            && (m.is_nan() || m < 0.0)
        {
            return Err(err(format!("{f}.max_distance_um"), "must be a number >= 0 µm"));
        }
        if let Some(v) = t.velocity_um_per_ms
            && !(v.is_finite() && v > 0.0)
        {
            return Err(err(format!("{f}.velocity_um_per_ms"), "must be a finite number > 0 µm/ms"));
        }
        if let Some(list) = &t.areas {
            for (j, a) in list.iter().enumerate() {
                area_index(areas, a, &format!("{f}.areas.{j}"))?;
            }
        }
    }
    Ok(())
}

/// Interareal projections (`[[column.interareal]]`) and, when the thalamus is enabled, its
/// connections: each entry's pairs between the instances its areas and mapping address.
pub(super) fn circuits(
    d: &Description,
    types: &[&str],
    areas: &[Area],
    instances: &Instances,
    writer: &mut ProjectionWriter,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let units = writer.units;
    for (p, s, t, label) in links(&d.interareal, "column.interareal", types, "cell type", true, areas, units)? {
        let pops = (instances.get(&p.source, s), instances.get(&p.target, t));
        writer.push(out, &p, pops, p.value, 0.0, Stream::Interareal, label, None);
    }
    if let Some(th) = d.thalamus.as_ref().filter(|t| t.enabled) {
        let all: Vec<&str> = units.iter().map(|u| u.name).collect();
        let base = "column.thalamus.connections";
        for (p, s, t, label) in links(&th.connections, base, &all, "cell type or nucleus", false, areas, units)? {
            let pops = (instances.get(&p.source, s), instances.get(&p.target, t));
            writer.push(out, &p, pops, p.value, 0.0, Stream::Thalamic, label, None);
        }
    }
    Ok(())
}

/// One pair of a circuit list between two instances, with the entry's `kind` label.
type Link = (Pair, Slot, Slot, Option<String>);

/// The links of an interareal or thalamic list: each pair between the areas its entry names
/// (both for an interareal entry; a thalamic one without areas connects within every area),
/// and between the instances the entry's `mapping` pairs up.
fn links(
    entries: &[CircuitEntry],
    base: &str,
    names: &[&str],
    what: &str,
    interareal: bool,
    areas: &[Area],
    units: &[Unit],
) -> Result<Vec<Link>, ColumnError> {
    let blocks = circuit_blocks(entries);
    let mut links = Vec::new();
    for p in &pairs(&blocks, names, base, what)? {
        let e = &entries[p.entry];
        let f = format!("{base}.{}", p.entry);
        let area_of =
            |a: &Option<String>, key: &str| a.as_ref().map(|a| area_index(areas, a, &format!("{f}.{key}"))).transpose();
        let (sa, ta) = (area_of(&e.source_area, "source_area")?, area_of(&e.target_area, "target_area")?);
        if interareal && (sa.is_none() || ta.is_none()) {
            let key = if sa.is_none() { "source_area" } else { "target_area" };
            return Err(err(format!("{f}.{key}"), "missing: an interareal projection names both areas"));
        }
        let area_pairs: Vec<(usize, usize)> = match (sa, ta) {
            (Some(s), Some(t)) => vec![(s, t)],
            (Some(s), None) => vec![(s, s)],
            (None, Some(t)) => vec![(t, t)],
            (None, None) => (0..areas.len()).map(|a| (a, a)).collect(),
        };
        let pers = (unit(units, &p.source).per, unit(units, &p.target).per);
        for (sa, ta) in area_pairs {
            let counts = (areas[sa].columns.len(), areas[ta].columns.len());
            for (s, t) in slot_pairs(pers, (sa, ta), counts, e.mapping, &f)? {
                links.push((p.clone(), s, t, e.kind.clone()));
            }
        }
    }
    Ok(links)
}

/// The (source, target) instance slots a link connects between areas `sa` and `ta`, which have
/// `ns` and `nt` columns: column to column by `mapping` (`topographic`: the same index; `all`:
/// every pair), a per-area unit with every column or with the other per-area unit.
fn slot_pairs(
    (sper, tper): (Per, Per),
    (sa, ta): (usize, usize),
    (ns, nt): (usize, usize),
    mapping: Mapping,
    f: &str,
) -> Result<Vec<(Slot, Slot)>, ColumnError> {
    let source = |c: Option<usize>| Slot { area: sa, column: c };
    let target = |c: Option<usize>| Slot { area: ta, column: c };
    Ok(match (sper, tper) {
        (Per::Column, Per::Column) => match mapping {
            Mapping::Topographic => {
                if ns != nt {
                    return Err(err(
                        format!("{f}.mapping"),
                        format!(
                            "topographic mapping needs as many source as target columns ({ns} vs {nt}); \
                             use mapping = \"all\""
                        ),
                    ));
                }
                (0..ns).map(|c| (source(Some(c)), target(Some(c)))).collect()
            }
            Mapping::All => (0..ns).flat_map(|s| (0..nt).map(move |t| (source(Some(s)), target(Some(t))))).collect(),
        },
        (Per::Column, Per::Area) => (0..ns).map(|c| (source(Some(c)), target(None))).collect(),
        (Per::Area, Per::Column) => (0..nt).map(|c| (source(None), target(Some(c)))).collect(),
        (Per::Area, Per::Area) => vec![(source(None), target(None))],
    })
}

/// A delay distribution moved later by `by` ms (a conduction delay over a distance).
fn shift_dist(d: Dist, by: f64) -> Dist {
    if by == 0.0 {
        return d;
    }
    match d {
        Dist::Constant(v) => Dist::Constant(v + by),
        Dist::Normal { mean, std } => Dist::Normal { mean: mean + by, std },
        Dist::Uniform { low, high } => Dist::Uniform { low: low + by, high: high + by },
        // A lognormal has no location parameter: shift its median instead (exp(mu) + by).
        Dist::LogNormal { mu, sigma } => Dist::LogNormal { mu: (mu.exp() + by).ln(), sigma },
    }
}
