//! The `[[projections]]`: sources and targets, connection rules (including explicit edges from
//! a CSV file), weights, delays, receptors and synapse models.

use std::path::Path;

use laminar_engine::{Dist, ExplicitEdge, ModelInfo, Projection, Resolution, Rule, SynapseModel};
use laminar_models::registry;
use serde_json::Map;

use super::models::unknown_field_name;
use super::values::{default_delay_item, delay_beyond_limit};
use super::{Loader, PopulationSpec, ProjectionSpec};
use crate::SimulationSection;
use crate::document::{Item, Node, TableRef, default_name_keys, element_names};
use crate::error::{Res, suggestion};

/// The most synapses a `blocks` rule lists (they are held in memory while the network is built).
const MAX_BLOCK_EDGES: u64 = 10_000_000;

/// What makes a projection plastic: its synapse model, whether its transmitted weights are
/// recorded, and the windows in which it learns.
struct Plasticity {
    synapse: Option<SynapseModel>,
    record_weights: bool,
    learning_windows: Vec<(f64, f64)>,
}

impl Loader<'_> {
    /// The receptor index a projection or device names, checked against the target model.
    pub(crate) fn receptor(&self, item: &Item, field: &str, info: &ModelInfo) -> Res<usize> {
        let list = if info.receptors.is_empty() { "none".to_string() } else { info.receptors.join(", ") };
        match &item.node {
            Node::Str(name) => info.receptor_index(name).ok_or_else(|| {
                self.bad_value(
                    item,
                    field,
                    format!(
                        "{} has no receptor `{name}`{}; receptors: {list}",
                        info.name,
                        suggestion(name, &info.receptors.iter().map(|r| r.as_ref()).collect::<Vec<_>>())
                    ),
                )
            }),
            Node::Int(i) => match usize::try_from(*i) {
                Ok(r) if r < info.receptors.len() => Ok(r),
                _ => Err(self.bad_value(
                    item,
                    field,
                    format!(
                        "{} has {} receptors ({list}): indices 0..{}",
                        info.name,
                        info.receptors.len(),
                        info.receptors.len().saturating_sub(1)
                    ),
                )),
            },
            _ => Err(self.wrong_type(item, field, "a receptor name or index")),
        }
    }

    /// Conductance models add an excitatory weight and subtract an inhibitory one (NEST): an
    /// explicit receptor with a weight of the wrong sign would make a negative conductance.
    pub(crate) fn check_conductance_sign(
        &self,
        item: &Item,
        field: &str,
        info: &ModelInfo,
        receptor: Option<usize>,
        weight: &Dist,
    ) -> Res<()> {
        if info.weight_units != "nS" {
            return Ok(());
        }
        let (low, high) = match *weight {
            Dist::Constant(v) => (v, v),
            Dist::Normal { mean, .. } if mean > 0.0 => (0.0, f64::INFINITY),
            Dist::Normal { mean, .. } if mean < 0.0 => (f64::NEG_INFINITY, 0.0),
            Dist::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Dist::Uniform { low, high } => (low, high),
            Dist::LogNormal { .. } => (0.0, f64::INFINITY),
        };
        match receptor.and_then(|r| info.receptors.get(r)).map(|r| r.as_ref()) {
            Some("ex") if low < 0.0 => Err(self.bad_value(
                item,
                field,
                "weights onto the excitatory receptor of a conductance model must be >= 0 nS",
            )),
            Some("in") if high > 0.0 => Err(self.bad_value(
                item,
                field,
                "weights onto the inhibitory receptor of a conductance model must be <= 0 nS \
                 (NEST's convention: -67 is a 67-nS inhibitory conductance)",
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn projections(
        &self,
        top: &TableRef,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<Vec<ProjectionSpec>> {
        let Some(entry) = top.get("projections") else {
            return Ok(Vec::new());
        };
        let items = self.as_array(&entry.item, "projections", "an array of tables ([[projections]])")?;
        let names = element_names(items, default_name_keys("projections"));
        let mut out: Vec<ProjectionSpec> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("projections.{}", names[index].clone().unwrap_or_else(|| index.to_string()));
            let t = self.as_table(item, &path)?;
            self.check_keys(
                &t,
                &[
                    "name",
                    "source",
                    "target",
                    "rule",
                    "autapses",
                    "multapses",
                    "weight",
                    "delay_ms",
                    "receptor",
                    "synapse",
                    "record_weights",
                    "learning_windows_ms",
                ],
            )?;
            let get = |key: &str, what: &str| t.get(key).ok_or_else(|| self.missing(&t, key, what));
            let source_e = get("source", "the source population")?;
            let target_e = get("target", "the target population")?;
            let source = self.population_index(&source_e.item, &t.field("source"), pops)?;
            let target = self.population_index(&target_e.item, &t.field("target"), pops)?;
            let name = self.element_name(&t, &names[index], out.iter().map(|p| p.projection.name.as_str()))?;
            let info = pops[target].factory.info();
            if info.source_only {
                return Err(self.bad_value(
                    &target_e.item,
                    &t.field("target"),
                    format!("{} accepts no connections ({}); it can only be a source", pops[target].name, info.name),
                ));
            }
            let flag = |key: &str| -> Res<bool> {
                match t.get(key) {
                    Some(e) => self.as_bool(&e.item, &t.field(key)),
                    None => Ok(true),
                }
            };
            let autapses = flag("autapses")?;
            let multapses = flag("multapses")?;
            let rule_e = get("rule", "a connection rule, e.g. { pairwise_bernoulli = { p = 0.1 } }")?;
            let (rule, rule_field) =
                self.rule(&rule_e.item, &t.field("rule"), sim.resolution, &pops[source], &pops[target])?;
            let explicit = matches!(rule, Rule::Explicit(_));
            let receptor = match t.get("receptor") {
                Some(e) => Some(self.receptor(&e.item, &t.field("receptor"), info)?),
                None => None,
            };
            let mut rule = rule;
            let (weight, delay) = if explicit {
                self.explicit_defaults(&t, &mut rule, &rule_e.item, &rule_field, sim.resolution)?;
                (Dist::Constant(0.0), Dist::Constant(sim.resolution.h()))
            } else {
                let w = get(
                    "weight",
                    &format!("the synaptic weight in {} (a number or a distribution)", info.weight_units),
                )?;
                let weight = self.dist(&w.item, &t.field("weight"))?;
                self.check_conductance_sign(&w.item, &t.field("weight"), info, receptor, &weight)?;
                let delay = match t.get("delay_ms") {
                    Some(e) => self.delay(&e.item, &t.field("delay_ms"), sim.resolution)?,
                    None => self.delay(&default_delay_item(t.origin), &t.field("delay_ms"), sim.resolution)?,
                };
                (weight, delay)
            };
            if let Rule::Explicit(edges) = &rule
                && receptor.is_some()
            {
                // The weights' range decides whether any has the wrong sign for the receptor.
                let low = edges.iter().map(|e| e.weight).fold(f64::INFINITY, f64::min);
                let high = edges.iter().map(|e| e.weight).fold(f64::NEG_INFINITY, f64::max);
                if low <= high {
                    let range = Dist::Uniform { low, high };
                    self.check_conductance_sign(&rule_e.item, &rule_field, info, receptor, &range)?;
                }
            }
            self.check_rule(
                &rule,
                &rule_e.item,
                &rule_field,
                &pops[source],
                &pops[target],
                source == target,
                autapses,
                multapses,
            )?;
            let Plasticity { synapse, record_weights, learning_windows } =
                self.plasticity(&t, &rule, &weight, &rule_e.item, &rule_field)?;
            out.push(ProjectionSpec {
                projection: Projection {
                    name,
                    source,
                    target,
                    rule,
                    weight,
                    delay,
                    receptor,
                    autapses,
                    multapses,
                    synapse,
                    record_weights,
                    learning_windows,
                },
                origin: item.origin.clone(),
                field: path,
            });
        }
        Ok(out)
    }

    /// An explicit rule's edges take their weight and delay from the edge file; node-range
    /// blocks (`rule_field` ends in `.blocks`) may leave them to the projection's `weight` and
    /// `delay_ms`, which fill every block that gives none. Anywhere else those keys are refused.
    fn explicit_defaults(
        &self,
        t: &TableRef,
        rule: &mut Rule,
        rule_item: &Item,
        rule_field: &str,
        resolution: Resolution,
    ) -> Res<()> {
        let blocks = rule_field.ends_with(".blocks");
        for key in ["weight", "delay_ms"] {
            let Some(e) = t.get(key) else { continue };
            if !blocks {
                return Err(self.bad_value(&e.item, &t.field(key), "comes from the edge file: remove it here"));
            }
            let value = if key == "delay_ms" {
                self.step_delay(&e.item, &t.field(key), resolution)?
            } else {
                self.as_number(&e.item, &t.field(key))?
            };
            if let Rule::Explicit(edges) = rule {
                for edge in edges.iter_mut() {
                    let slot = if key == "weight" { &mut edge.weight } else { &mut edge.delay_ms };
                    if slot.is_nan() {
                        *slot = value;
                    }
                }
            }
        }
        if let Rule::Explicit(edges) = rule
            && edges.iter().any(|e| e.weight.is_nan() || e.delay_ms.is_nan())
        {
            return Err(self.bad_value(
                rule_item,
                rule_field,
                "a block without its own weight or delay_ms takes the projection's: give them",
            ));
        }
        Ok(())
    }

    /// A projection's synapse model (checked on the ends of its weights' range), whether its
    /// transmitted weights are recorded, and the windows in which it learns.
    fn plasticity(
        &self,
        t: &TableRef,
        rule: &Rule,
        weight: &Dist,
        rule_item: &Item,
        rule_field: &str,
    ) -> Res<Plasticity> {
        let synapse = match t.get("synapse") {
            Some(e) => self.synapse(&e.item, &t.field("synapse"))?,
            None => None,
        };
        if let Some(model) = &synapse {
            // The synapse model's own checks of its initial weights (stdp_synapse: between 0
            // and Wmax) on the ends of the weight's range, now rather than mid-build.
            let weights = match (rule, weight) {
                (Rule::Explicit(edges), _) => edges.iter().map(|e| e.weight).collect(),
                (_, Dist::Uniform { low, high }) => vec![*low, *high],
                (_, d) => vec![d.mean()],
            };
            let n = weights.len();
            if let Err(message) = model.0.build(weights, &vec![0; n], 1) {
                let (item, field) = match t.get("weight") {
                    Some(e) => (&e.item, t.field("weight")),
                    None => (rule_item, rule_field.to_string()),
                };
                return Err(self.bad_value(item, &field, message));
            }
        }
        let record_weights = match t.get("record_weights") {
            Some(e) => {
                let on = self.as_bool(&e.item, &t.field("record_weights"))?;
                if on && synapse.is_none() {
                    return Err(self.bad_value(
                        &e.item,
                        &t.field("record_weights"),
                        "static synapses do not change: record weights of a projection with a synapse model",
                    ));
                }
                on
            }
            None => false,
        };
        let learning_windows = match t.get("learning_windows_ms") {
            Some(e) => self.windows(&e.item, &t.field("learning_windows_ms"))?,
            None => Vec::new(),
        };
        Ok(Plasticity { synapse, record_weights, learning_windows })
    }

    /// `synapse = { model = "stdp_synapse", tau_plus = 20.0, … }`: a synapse model and its
    /// parameters (`static_synapse`, the default, has none).
    pub(crate) fn synapse(&self, item: &Item, field: &str) -> Res<Option<SynapseModel>> {
        let t = self.as_table(item, field)?;
        let model_e = t.get("model").ok_or_else(|| {
            self.missing(&t, "model", &format!("a synapse model: {}", registry::SYNAPSE_MODELS.join(", ")))
        })?;
        let model = self.as_str(&model_e.item, &t.field("model"))?;
        if !registry::SYNAPSE_MODELS.contains(&model) {
            return Err(self.bad_value(
                &model_e.item,
                &t.field("model"),
                format!(
                    "unknown synapse model{}; known: {}",
                    suggestion(model, registry::SYNAPSE_MODELS),
                    registry::SYNAPSE_MODELS.join(", ")
                ),
            ));
        }
        let mut params = Map::new();
        for e in t.entries.iter().filter(|e| e.key != "model") {
            params.insert(e.key.clone(), self.to_json(&e.item, &t.field(&e.key))?);
        }
        match registry::synapse_factory(model, &params) {
            Ok(f) => Ok(f.map(SynapseModel)),
            Err(message) => {
                if let Some(name) = unknown_field_name(&message)
                    && let Some(e) = t.get(name)
                {
                    let known: Vec<String> = message.split('`').skip(3).step_by(2).map(str::to_string).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    return Err(self.error(
                        &e.key_origin,
                        t.field(name),
                        format!(
                            "unknown parameter of {model}{}; known: model, {}",
                            suggestion(name, &known),
                            known.join(", ")
                        ),
                    ));
                }
                Err(self.model_build_error(&message, Some(&t), field, t.origin))
            }
        }
    }

    /// `[[start, stop], …]` in ms: half-open time windows, non-overlapping and in order.
    pub(crate) fn windows(&self, item: &Item, field: &str) -> Res<Vec<(f64, f64)>> {
        let items = self.as_array(item, field, "a list of [start, stop] pairs in ms, e.g. [[0, 500]]")?;
        let mut out: Vec<(f64, f64)> = Vec::new();
        for (k, w) in items.iter().enumerate() {
            let f = format!("{field}.{k}");
            let pair = self.as_array(w, &f, "a [start, stop] pair in ms")?;
            if pair.len() != 2 {
                return Err(self.bad_value(w, &f, "a window is a [start, stop] pair in ms"));
            }
            let (start, stop) = (self.as_number(&pair[0], &f)?, self.as_number(&pair[1], &f)?);
            if !(start.is_finite() && stop.is_finite() && start >= 0.0 && start < stop) {
                return Err(self.bad_value(w, &f, "needs 0 <= start < stop (ms)"));
            }
            if out.last().is_some_and(|&(_, prev_stop)| start < prev_stop) {
                return Err(self.bad_value(w, &f, "windows must be in time order and must not overlap"));
            }
            out.push((start, stop));
        }
        Ok(out)
    }

    /// The rule and the dotted path of the part that carries its parameter.
    pub(crate) fn rule(
        &self,
        item: &Item,
        field: &str,
        resolution: Resolution,
        source: &PopulationSpec,
        target: &PopulationSpec,
    ) -> Res<(Rule, String)> {
        const RULES: &[&str] = &[
            "all_to_all",
            "one_to_one",
            "pairwise_bernoulli",
            "fixed_indegree",
            "fixed_outdegree",
            "fixed_total_number",
            "file",
            "blocks",
        ];
        let forms = "\"all_to_all\", \"one_to_one\", { pairwise_bernoulli = { p } }, { fixed_indegree = { k } }, \
                     { fixed_outdegree = { k } }, { fixed_total_number = { n } }, { file = \"edges.csv\" } or \
                     { blocks = [{ source = [first, count], target = [first, count], weight, delay_ms }, ..] }";
        let (kind, arg, key_origin) = match &item.node {
            Node::Str(s) => (s.as_str(), None, &item.origin),
            Node::Table(entries) => match entries.as_slice() {
                [e] => (e.key.as_str(), Some(&e.item), &e.key_origin),
                _ => return Err(self.bad_value(item, field, format!("must be one of {forms}"))),
            },
            _ => return Err(self.wrong_type(item, field, forms)),
        };
        let sub = format!("{field}.{kind}");
        // The single numeric parameter of a rule, e.g. `{ p = 0.1 }`.
        let param = |name: &str| -> Res<(&Item, String)> {
            let Some(arg) = arg else {
                return Err(self.bad_value(
                    item,
                    field,
                    format!("{kind} needs a parameter: {{ {kind} = {{ {name} = .. }} }}"),
                ));
            };
            let t = self.as_table(arg, &sub)?;
            self.check_keys(&t, &[name])?;
            let e = t.get(name).ok_or_else(|| self.missing(&t, name, "a number"))?;
            Ok((&e.item, t.field(name)))
        };
        let count = |name: &str| -> Res<(u64, String)> {
            let (i, f) = param(name)?;
            Ok((self.as_count(i, &f, 0, u64::MAX)?, f))
        };
        let rule = match kind {
            "all_to_all" | "one_to_one" => {
                if let Some(a) = arg
                    && !matches!(&a.node, Node::Table(e) if e.is_empty())
                {
                    return Err(self.bad_value(
                        a,
                        &sub,
                        format!("{kind} takes no parameters: write rule = \"{kind}\""),
                    ));
                }
                (if kind == "all_to_all" { Rule::AllToAll } else { Rule::OneToOne }, field.to_string())
            }
            "pairwise_bernoulli" => {
                let (i, f) = param("p")?;
                let p = self.as_number(i, &f)?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(self.bad_value(i, &f, "a probability: must be in [0, 1]"));
                }
                (Rule::PairwiseBernoulli { p }, f)
            }
            "fixed_indegree" => {
                let (k, f) = count("k")?;
                (Rule::FixedIndegree { k }, f)
            }
            "fixed_outdegree" => {
                let (k, f) = count("k")?;
                (Rule::FixedOutdegree { k }, f)
            }
            "fixed_total_number" => {
                let (n, f) = count("n")?;
                (Rule::FixedTotalNumber { n }, f)
            }
            "file" => {
                let Some(arg) = arg else {
                    return Err(self.bad_value(item, field, "a file rule is written { file = \"edges.csv\" }"));
                };
                let rel = self.as_str(arg, &sub)?;
                (Rule::Explicit(self.edges_file(rel, arg, &sub, resolution, source, target)?), sub)
            }
            "blocks" => {
                let Some(arg) = arg else {
                    return Err(self.bad_value(item, field, "a block rule is written { blocks = [{ .. }, ..] }"));
                };
                (Rule::Explicit(self.blocks(arg, &sub, resolution, source, target)?), sub)
            }
            other => {
                return Err(self.error(
                    key_origin,
                    field,
                    format!("unknown rule `{other}`{}; allowed: {forms}", suggestion(other, RULES)),
                ));
            }
        };
        Ok(rule)
    }

    /// Checks that a rule can be satisfied by the populations (NEST's rules and errors).
    pub(crate) fn check_rule(
        &self,
        rule: &Rule,
        item: &Item,
        field: &str,
        source: &PopulationSpec,
        target: &PopulationSpec,
        same: bool,
        autapses: bool,
        multapses: bool,
    ) -> Res<()> {
        let ns = source.size as u64;
        let nt = target.size as u64;
        let no_self = u64::from(same && !autapses);
        let how = if same && !autapses { " without multapses or autapses" } else { " without multapses" };
        let fail = |m: String| Err(self.error(&item.origin, field, m));
        match *rule {
            Rule::OneToOne if ns != nt => fail(format!(
                "one_to_one needs populations of equal size ({} has {ns}, {} has {nt})",
                source.name, target.name
            )),
            Rule::FixedIndegree { k } if !multapses && k > ns - no_self => fail(format!(
                "k = {k} is more than the {} distinct sources available{how} (allow multapses or lower k)",
                ns - no_self
            )),
            Rule::FixedOutdegree { k } if !multapses && k > nt - no_self => fail(format!(
                "k = {k} is more than the {} distinct targets available{how} (allow multapses or lower k)",
                nt - no_self
            )),
            Rule::FixedTotalNumber { n } if !multapses && u128::from(n) > u128::from(ns - no_self) * u128::from(nt) => {
                fail(format!(
                    "n = {n} is more than the {} distinct pairs available{how} (allow multapses or lower n)",
                    u128::from(ns - no_self) * u128::from(nt)
                ))
            }
            _ => Ok(()),
        }
    }

    /// Reads explicit synapses from a CSV file next to the model file.
    /// `{ blocks = [{ source = [first, count], target = [first, count], weight, delay_ms }, ..] }`:
    /// every source node of each block's range connects to every target node of its range, with
    /// the block's weight and delay (or the projection's `weight` and `delay_ms`, numbers) (NEST's `all_to_all` between sliced node collections). It
    /// wires structured circuits (a pool per channel and feature) without one population per pool.
    pub(crate) fn blocks(
        &self,
        item: &Item,
        field: &str,
        resolution: Resolution,
        source: &PopulationSpec,
        target: &PopulationSpec,
    ) -> Res<Vec<ExplicitEdge>> {
        let list = self.as_array(item, field, "an array of blocks [{ source, target, weight, delay_ms }, ..]")?;
        let mut edges = Vec::new();
        for (i, block) in list.iter().enumerate() {
            let bfield = format!("{field}.{i}");
            let t = self.as_table(block, &bfield)?;
            self.check_keys(&t, &["source", "target", "weight", "delay_ms"])?;
            let range = |key: &str, pop: &PopulationSpec| -> Res<(u64, u64)> {
                let e = t.get(key).ok_or_else(|| self.missing(&t, key, "a node range [first, count]"))?;
                let f = t.field(key);
                let parts = self.as_array(&e.item, &f, "a node range [first, count]")?;
                let [first, count] = parts else {
                    return Err(self.bad_value(&e.item, &f, "a node range is two integers [first, count]"));
                };
                let first = self.as_count(first, &format!("{f}.0"), 0, u64::MAX)?;
                let count = self.as_count(count, &format!("{f}.1"), 1, u64::MAX)?;
                let size = pop.size as u64;
                if first.checked_add(count).is_none_or(|end| end > size) {
                    return Err(self.bad_value(
                        &e.item,
                        &f,
                        format!(
                            "nodes {first}..{} lie outside {} (size {size})",
                            first.saturating_add(count),
                            pop.name
                        ),
                    ));
                }
                Ok((first, count))
            };
            let (s0, ns) = range("source", source)?;
            let (t0, nt) = range("target", target)?;
            // A missing weight or delay is NaN here: the projection's own fills it (checked there).
            let weight = match t.get("weight") {
                Some(e) => self.as_number(&e.item, &t.field("weight"))?,
                None => f64::NAN,
            };
            let delay_ms = match t.get("delay_ms") {
                Some(e) => self.step_delay(&e.item, &t.field("delay_ms"), resolution)?,
                None => f64::NAN,
            };
            if ns.saturating_mul(nt).saturating_add(edges.len() as u64) > MAX_BLOCK_EDGES {
                return Err(self.bad_value(
                    block,
                    &bfield,
                    format!("the blocks make more than {MAX_BLOCK_EDGES} synapses: use a rule drawn per target"),
                ));
            }
            for t in t0..t0 + nt {
                for s in s0..s0 + ns {
                    edges.push(ExplicitEdge { source: s, target: t, weight, delay_ms });
                }
            }
        }
        Ok(edges)
    }

    /// A constant delay (ms): a number, a whole number of steps ≥ 1 within the engine's limit.
    fn step_delay(&self, item: &Item, field: &str, resolution: Resolution) -> Res<f64> {
        let delay_ms = self.as_number(item, field)?;
        match resolution.exact_steps(delay_ms) {
            Ok(s) if s >= 1 && delay_beyond_limit(&Dist::Constant(delay_ms), resolution).is_none() => Ok(delay_ms),
            _ => Err(self.bad_value(
                item,
                field,
                format!("must be a multiple of the resolution ({} ms), at least one step", resolution.h()),
            )),
        }
    }

    pub(crate) fn edges_file(
        &self,
        rel: &str,
        item: &Item,
        field: &str,
        resolution: Resolution,
        source: &PopulationSpec,
        target: &PopulationSpec,
    ) -> Res<Vec<ExplicitEdge>> {
        let path = self.file.parent().unwrap_or(Path::new("")).join(rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.bad_value(item, field, format!("cannot read {}: {e}", path.display())))?;
        let at = |line: usize, m: String| self.bad_value(item, field, format!("{} line {line}: {m}", path.display()));
        let mut rows = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let Some((header_line, header)) = rows.next() else {
            return Err(self.bad_value(
                item,
                field,
                format!("{} is empty: it needs the header source,target,weight,delay_ms", path.display()),
            ));
        };
        let columns: Vec<&str> = header.split(',').map(str::trim).collect();
        let wanted = ["source", "target", "weight", "delay_ms"];
        let mut index = [0usize; 4];
        for (slot, name) in index.iter_mut().zip(wanted) {
            *slot = columns.iter().position(|c| *c == name).ok_or_else(|| {
                at(
                    header_line,
                    format!("the header must name the columns source,target,weight,delay_ms (found: {header})"),
                )
            })?;
        }
        if columns.len() != wanted.len() {
            return Err(at(
                header_line,
                format!("expected exactly the columns source,target,weight,delay_ms (found: {header})"),
            ));
        }
        let (ns, nt) = (source.size as u64, target.size as u64);
        let mut edges = Vec::new();
        for (line, row) in rows {
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != columns.len() {
                return Err(at(
                    line,
                    format!("expected {} comma-separated values, found {}", columns.len(), cells.len()),
                ));
            }
            let index_in = |col: usize, n: u64, pop: &str| -> Res<u64> {
                let cell = cells[index[col]];
                match cell.parse::<u64>() {
                    Ok(v) if v < n => Ok(v),
                    _ => {
                        Err(at(line, format!("{} = {cell}: must be a node index of {pop} (0..{})", wanted[col], n - 1)))
                    }
                }
            };
            let number = |col: usize| -> Res<f64> {
                let cell = cells[index[col]];
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(at(line, format!("{} = {cell}: must be a finite number", wanted[col]))),
                }
            };
            let edge = ExplicitEdge {
                source: index_in(0, ns, &source.name)?,
                target: index_in(1, nt, &target.name)?,
                weight: number(2)?,
                delay_ms: number(3)?,
            };
            if let Some(message) = delay_beyond_limit(&Dist::Constant(edge.delay_ms), resolution) {
                return Err(at(line, format!("delay_ms: {message}")));
            }
            match resolution.exact_steps(edge.delay_ms) {
                Ok(s) if s >= 1 => {}
                _ => {
                    return Err(at(
                        line,
                        format!(
                            "delay_ms = {}: must be a multiple of the resolution ({} ms), at least one step",
                            edge.delay_ms,
                            resolution.h()
                        ),
                    ));
                }
            }
            edges.push(edge);
        }
        Ok(edges)
    }
}
