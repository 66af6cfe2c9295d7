//! Parameters of a `cm_default` population: the compartment tree, the receptors and `V_th`,
//! parsed from a JSON object and validated (see the parent module for the schema).

use serde_json::{Map, Value};

use crate::params::{ParamError, Validate, finite, non_negative, positive};
use crate::registry::closest;

/// NEST's default spike threshold of `cm_default` (mV).
pub const DEFAULT_V_TH: f64 = -55.0;

/// NEST's initial compartment voltage when `v_comp` is not given (mV). NEST's documentation says
/// −75 mV, but `Compartment`'s constructor initialises `v_comp` from the *default* leak reversal
/// (−70 mV, before a given `e_L` is applied), and that is what NEST 3.10 simulates.
pub const DEFAULT_V_COMP: f64 = -70.0;

/// One compartment: its place in the tree, passive parameters, initial voltage and the optional
/// Na and K channels (NEST's names: `C_m`, `g_C`, `g_L`, `e_L`, `v_comp`, `gbar_Na`, `e_Na`,
/// `gbar_K`, `e_K`).
#[derive(Debug, Clone, PartialEq)]
pub struct Compartment {
    /// Name used in messages and for default receptor names (`soma` for the root, `comp<i>`
    /// otherwise, unless given).
    pub name: String,
    /// Index of the parent compartment (earlier in the list); `None` for the root.
    pub parent: Option<usize>,
    /// Capacitance (nF).
    pub c_m: f64,
    /// Coupling conductance to the parent (uS); unused for the root.
    pub g_c: f64,
    /// Leak conductance (uS).
    pub g_l: f64,
    /// Leak reversal potential (mV).
    pub e_l: f64,
    /// Initial voltage (mV).
    pub v_comp: f64,
    /// Maximal Na conductance (uS); the channel is inactive when ≤ 1e-9 uS, as in NEST.
    pub gbar_na: f64,
    /// Na reversal potential (mV).
    pub e_na: f64,
    /// Maximal K conductance (uS); the channel is inactive when ≤ 1e-9 uS, as in NEST.
    pub gbar_k: f64,
    /// K reversal potential (mV).
    pub e_k: f64,
}

impl Compartment {
    /// A compartment with NEST's defaults (`C_m` 1 nF, `g_C` 0.01 uS, `g_L` 0.1 uS, `e_L` −70 mV,
    /// `v_comp` −70 mV, passive: `gbar_Na` = `gbar_K` = 0, `e_Na` 50 mV, `e_K` −85 mV) and the
    /// default name for compartment `index`.
    pub fn new(index: usize, parent: Option<usize>) -> Self {
        Self {
            name: default_compartment_name(index, parent),
            parent,
            c_m: 1.0,
            g_c: 0.01,
            g_l: 0.1,
            e_l: -70.0,
            v_comp: DEFAULT_V_COMP,
            gbar_na: 0.0,
            e_na: 50.0,
            gbar_k: 0.0,
            e_k: -85.0,
        }
    }
}

/// `soma` for the root, `comp<i>` otherwise.
pub fn default_compartment_name(index: usize, parent: Option<usize>) -> String {
    if parent.is_none() { "soma".to_string() } else { format!("comp{index}") }
}

/// The receptor types of `cm_default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceptorType {
    Ampa,
    Gaba,
    Nmda,
    AmpaNmda,
}

impl ReceptorType {
    /// In NEST's order (which is also the order in which a compartment sums its receptors).
    pub const ALL: [ReceptorType; 4] =
        [ReceptorType::Ampa, ReceptorType::Gaba, ReceptorType::Nmda, ReceptorType::AmpaNmda];

    /// NEST's name (`AMPA`, `GABA`, `NMDA`, `AMPA_NMDA`).
    pub fn name(self) -> &'static str {
        match self {
            ReceptorType::Ampa => "AMPA",
            ReceptorType::Gaba => "GABA",
            ReceptorType::Nmda => "NMDA",
            ReceptorType::AmpaNmda => "AMPA_NMDA",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The parameter names this type accepts, NEST's spelling.
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            ReceptorType::Ampa => &["e_AMPA", "tau_r_AMPA", "tau_d_AMPA"],
            ReceptorType::Gaba => &["e_GABA", "tau_r_GABA", "tau_d_GABA"],
            ReceptorType::Nmda => &["e_NMDA", "tau_r_NMDA", "tau_d_NMDA"],
            ReceptorType::AmpaNmda => {
                &["e_AMPA_NMDA", "tau_r_AMPA", "tau_d_AMPA", "tau_r_NMDA", "tau_d_NMDA", "NMDA_ratio"]
            }
        }
    }
}

/// Rise and decay time constants of one double-exponential conductance (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiseDecay {
    pub tau_r: f64,
    pub tau_d: f64,
}

/// NEST's AMPA kinetics: rise 0.2 ms, decay 3 ms.
pub const AMPA_KINETICS: RiseDecay = RiseDecay { tau_r: 0.2, tau_d: 3.0 };
/// NEST's GABA kinetics: rise 0.2 ms, decay 10 ms.
pub const GABA_KINETICS: RiseDecay = RiseDecay { tau_r: 0.2, tau_d: 10.0 };
/// NEST's NMDA kinetics: rise 0.2 ms, decay 43 ms.
pub const NMDA_KINETICS: RiseDecay = RiseDecay { tau_r: 0.2, tau_d: 43.0 };

/// A receptor type with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReceptorKind {
    /// `e_AMPA` (default 0 mV), `tau_r_AMPA`, `tau_d_AMPA`.
    Ampa { e_rev: f64, kinetics: RiseDecay },
    /// `e_GABA` (default −80 mV), `tau_r_GABA`, `tau_d_GABA`.
    Gaba { e_rev: f64, kinetics: RiseDecay },
    /// `e_NMDA` (default 0 mV), `tau_r_NMDA`, `tau_d_NMDA`; Mg block.
    Nmda { e_rev: f64, kinetics: RiseDecay },
    /// `e_AMPA_NMDA` (default 0 mV), AMPA and NMDA kinetics, `NMDA_ratio` (default 2).
    AmpaNmda { e_rev: f64, ampa: RiseDecay, nmda: RiseDecay, nmda_ratio: f64 },
}

impl ReceptorKind {
    /// NEST's defaults for `kind`.
    pub fn default_for(kind: ReceptorType) -> Self {
        match kind {
            ReceptorType::Ampa => ReceptorKind::Ampa { e_rev: 0.0, kinetics: AMPA_KINETICS },
            ReceptorType::Gaba => ReceptorKind::Gaba { e_rev: -80.0, kinetics: GABA_KINETICS },
            ReceptorType::Nmda => ReceptorKind::Nmda { e_rev: 0.0, kinetics: NMDA_KINETICS },
            ReceptorType::AmpaNmda => {
                ReceptorKind::AmpaNmda { e_rev: 0.0, ampa: AMPA_KINETICS, nmda: NMDA_KINETICS, nmda_ratio: 2.0 }
            }
        }
    }

    pub fn receptor_type(&self) -> ReceptorType {
        match self {
            ReceptorKind::Ampa { .. } => ReceptorType::Ampa,
            ReceptorKind::Gaba { .. } => ReceptorType::Gaba,
            ReceptorKind::Nmda { .. } => ReceptorType::Nmda,
            ReceptorKind::AmpaNmda { .. } => ReceptorType::AmpaNmda,
        }
    }

    /// The parameter values in [`ReceptorType::param_names`] order.
    fn values(&self) -> Vec<f64> {
        match *self {
            ReceptorKind::Ampa { e_rev, kinetics }
            | ReceptorKind::Gaba { e_rev, kinetics }
            | ReceptorKind::Nmda { e_rev, kinetics } => vec![e_rev, kinetics.tau_r, kinetics.tau_d],
            ReceptorKind::AmpaNmda { e_rev, ampa, nmda, nmda_ratio } => {
                vec![e_rev, ampa.tau_r, ampa.tau_d, nmda.tau_r, nmda.tau_d, nmda_ratio]
            }
        }
    }

    /// The kind of `kind` with the values in [`ReceptorType::param_names`] order.
    fn from_values(kind: ReceptorType, v: &[f64]) -> Self {
        let rd = |r: f64, d: f64| RiseDecay { tau_r: r, tau_d: d };
        match kind {
            ReceptorType::Ampa => ReceptorKind::Ampa { e_rev: v[0], kinetics: rd(v[1], v[2]) },
            ReceptorType::Gaba => ReceptorKind::Gaba { e_rev: v[0], kinetics: rd(v[1], v[2]) },
            ReceptorType::Nmda => ReceptorKind::Nmda { e_rev: v[0], kinetics: rd(v[1], v[2]) },
            ReceptorType::AmpaNmda => {
                ReceptorKind::AmpaNmda { e_rev: v[0], ampa: rd(v[1], v[2]), nmda: rd(v[3], v[4]), nmda_ratio: v[5] }
            }
        }
    }
}

/// One receptor: the compartment it sits on, its name (the engine's receptor name) and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Receptor {
    pub name: String,
    /// Index of the compartment.
    pub compartment: usize,
    pub kind: ReceptorKind,
}

/// The parameters of a `cm_default` population: one tree and one receptor set shared by all
/// neurons.
#[derive(Debug, Clone, PartialEq)]
pub struct CmDefaultParams {
    /// Spike threshold of the root compartment (mV).
    pub v_th: f64,
    /// Compartments in index order; 0 is the root and every parent precedes its children.
    pub compartments: Vec<Compartment>,
    /// Receptors in receptor-index order (the engine's receptor channels).
    pub receptors: Vec<Receptor>,
}

impl Default for CmDefaultParams {
    /// A single passive soma with NEST's compartment defaults and no receptors.
    fn default() -> Self {
        Self { v_th: DEFAULT_V_TH, compartments: vec![Compartment::new(0, None)], receptors: Vec::new() }
    }
}

const TOP_KEYS: &[&str] = &["V_th", "compartments", "receptors"];
const COMPARTMENT_KEYS: &[&str] = &["parent", "parent_idx", "name", "params"];
const COMPARTMENT_PARAMS: &[&str] = &["C_m", "g_C", "g_L", "e_L", "v_comp", "gbar_Na", "e_Na", "gbar_K", "e_K"];
const RECEPTOR_KEYS: &[&str] = &["compartment", "comp_idx", "type", "receptor_type", "name", "params"];

fn err(field: &str, value: impl std::fmt::Display, allowed: impl AsRef<str>) -> ParamError {
    ParamError::new(field, value, allowed.as_ref())
}

/// Rejects keys of `obj` not in `known`, suggesting the closest known one.
fn check_keys(obj: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), ParamError> {
    for (key, value) in obj {
        if !known.contains(&key.as_str()) {
            let suggestion =
                known.iter().find(|k| k.eq_ignore_ascii_case(key)).copied().or_else(|| closest(key, known));
            let hint = suggestion.map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            return Err(err(&join(path, key), value, format!("unknown key{hint}; known: {}", known.join(", "))));
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn number(value: &Value, field: &str, unit: &str) -> Result<f64, ParamError> {
    value.as_f64().ok_or_else(|| err(field, value, format!("must be a number ({unit})")))
}

/// The value of `key`, or of its alias `alias`; both at once is an error.
fn either<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
    alias: &str,
) -> Result<Option<(&'a Value, String)>, ParamError> {
    match (obj.get(key), obj.get(alias)) {
        (Some(_), Some(v)) => Err(err(&join(path, alias), v, format!("give either '{key}' or '{alias}', not both"))),
        (Some(v), None) => Ok(Some((v, join(path, key)))),
        (None, Some(v)) => Ok(Some((v, join(path, alias)))),
        (None, None) => Ok(None),
    }
}

/// A list given as an array of objects or as a single object (NEST accepts both).
fn objects<'a>(value: &'a Value, field: &str) -> Result<Vec<&'a Map<String, Value>>, ParamError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        other => return Err(err(field, other, "must be a list of objects (or a single object)")),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(k, item)| item.as_object().ok_or_else(|| err(&format!("{field}[{k}]"), item, "must be an object")))
        .collect()
}

fn name_field(obj: &Map<String, Value>, path: &str) -> Result<Option<String>, ParamError> {
    match obj.get("name") {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(v) => Err(err(&join(path, "name"), v, "must be a non-empty string")),
    }
}

/// A reference to an earlier compartment: its index or its name.
fn compartment_ref(
    value: &Value,
    field: &str,
    earlier: &[Compartment],
    allow_root_marker: bool,
) -> Result<Option<usize>, ParamError> {
    let describe = || {
        let names: Vec<String> = earlier.iter().enumerate().map(|(i, c)| format!("{i} ({})", c.name)).collect();
        if names.is_empty() { "none defined before".to_string() } else { names.join(", ") }
    };
    if let Some(s) = value.as_str() {
        return earlier
            .iter()
            .position(|c| c.name == s)
            .map(Some)
            .ok_or_else(|| err(field, value, format!("no compartment of that name; known: {}", describe())));
    }
    match value.as_i64() {
        Some(-1) if allow_root_marker => Ok(None),
        Some(k) if k >= 0 && (k as usize) < earlier.len() => Ok(Some(k as usize)),
        Some(_) => {
            let what = if allow_root_marker {
                "must be -1 (the root) or the index or name of an earlier compartment"
            } else {
                "must be the index or name of a compartment"
            };
            Err(err(field, value, format!("{what}; defined: {}", describe())))
        }
        None => Err(err(field, value, "must be an integer index or a compartment name")),
    }
}

impl CmDefaultParams {
    /// Parses and validates the JSON parameter object of a `cm_default` population.
    ///
    /// ```text
    /// { "V_th": -55.0,
    ///   "compartments": [ { "parent": -1, "name": "soma", "params": { "C_m": 10.0, ... } },
    ///                     { "parent": 0, "params": { ... } } ],
    ///   "receptors": [ { "compartment": 0, "type": "AMPA", "name": "soma_AMPA",
    ///                    "params": { "tau_d_AMPA": 3.0 } } ] }
    /// ```
    /// `parent_idx`, `comp_idx` and `receptor_type` (NEST's keys) are accepted as aliases of
    /// `parent`, `compartment` and `type`; parents and compartments may also be named.
    pub fn from_json(obj: &Map<String, Value>) -> Result<Self, ParamError> {
        check_keys(obj, "", TOP_KEYS)?;
        let v_th = match obj.get("V_th") {
            Some(v) => number(v, "V_th", "mV")?,
            None => DEFAULT_V_TH,
        };

        let list = obj.get("compartments").ok_or_else(|| {
            err("compartments", "(missing)", "a list of compartments, the first being the root (parent -1)")
        })?;
        let mut compartments: Vec<Compartment> = Vec::new();
        for (index, c) in objects(list, "compartments")?.into_iter().enumerate() {
            let path = format!("compartments[{index}]");
            check_keys(c, &path, COMPARTMENT_KEYS)?;
            let (parent_value, parent_field) = either(c, &path, "parent", "parent_idx")?.ok_or_else(|| {
                err(&join(&path, "parent"), "(missing)", "-1 for the root, else an earlier compartment")
            })?;
            let parent = compartment_ref(parent_value, &parent_field, &compartments, true)?;
            let mut comp = Compartment::new(index, parent);
            if let Some(name) = name_field(c, &path)? {
                comp.name = name;
            }
            if let Some(p) = c.get("params") {
                let ppath = join(&path, "params");
                let p = p.as_object().ok_or_else(|| err(&ppath, p, "must be an object"))?;
                check_keys(p, &ppath, COMPARTMENT_PARAMS)?;
                for (key, value) in p {
                    let field = join(&ppath, key);
                    let slot = match key.as_str() {
                        "C_m" => &mut comp.c_m,
                        "g_C" => &mut comp.g_c,
                        "g_L" => &mut comp.g_l,
                        "e_L" => &mut comp.e_l,
                        "v_comp" => &mut comp.v_comp,
                        "gbar_Na" => &mut comp.gbar_na,
                        "e_Na" => &mut comp.e_na,
                        "gbar_K" => &mut comp.gbar_k,
                        _ => &mut comp.e_k,
                    };
                    *slot = number(value, &field, "")?;
                }
            }
            compartments.push(comp);
        }

        let mut receptors = Vec::new();
        if let Some(list) = obj.get("receptors") {
            for (index, r) in objects(list, "receptors")?.into_iter().enumerate() {
                let path = format!("receptors[{index}]");
                check_keys(r, &path, RECEPTOR_KEYS)?;
                let (comp_value, comp_field) = either(r, &path, "compartment", "comp_idx")?
                    .ok_or_else(|| err(&join(&path, "compartment"), "(missing)", "the compartment's index or name"))?;
                let compartment = compartment_ref(comp_value, &comp_field, &compartments, false)?
                    .expect("no root marker for receptors");
                let (type_value, type_field) = either(r, &path, "type", "receptor_type")?
                    .ok_or_else(|| err(&join(&path, "type"), "(missing)", "one of AMPA, GABA, NMDA, AMPA_NMDA"))?;
                let kind = type_value.as_str().and_then(ReceptorType::from_name).ok_or_else(|| {
                    let names: Vec<&str> = ReceptorType::ALL.iter().map(|t| t.name()).collect();
                    let hint = type_value
                        .as_str()
                        .and_then(|s| closest(s, &names))
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default();
                    err(&type_field, type_value, format!("unknown receptor type{hint}; known: {}", names.join(", ")))
                })?;
                let mut values = ReceptorKind::default_for(kind).values();
                if let Some(p) = r.get("params") {
                    let ppath = join(&path, "params");
                    let p = p.as_object().ok_or_else(|| err(&ppath, p, "must be an object"))?;
                    let names = kind.param_names();
                    check_keys(p, &ppath, names).map_err(|mut e| {
                        e.allowed = format!("{} (for a {} receptor)", e.allowed, kind.name());
                        e
                    })?;
                    for (key, value) in p {
                        let k = names.iter().position(|n| n == key).expect("checked");
                        values[k] = number(value, &join(&ppath, key), "")?;
                    }
                }
                let name = match name_field(r, &path)? {
                    Some(name) => name,
                    None => format!("{}_{}", compartments[compartment].name, kind.name()),
                };
                receptors.push(Receptor { name, compartment, kind: ReceptorKind::from_values(kind, &values) });
            }
        }

        let params = Self { v_th, compartments, receptors };
        params.validate()?;
        Ok(params)
    }
}

impl Validate for CmDefaultParams {
    /// The tree (a root first, parents before children), unique names, and the ranges: `C_m > 0`,
    /// conductances ≥ 0, time constants > 0 with `tau_r ≠ tau_d` (NEST's peak normalisation
    /// divides by their difference), everything finite. NEST checks only the tree.
    fn validate(&self) -> Result<(), ParamError> {
        finite("V_th", self.v_th, "mV")?;
        if self.compartments.is_empty() {
            return Err(err("compartments", "[]", "at least one compartment (the root, parent -1) is required"));
        }
        for (i, c) in self.compartments.iter().enumerate() {
            let f = |name: &str| format!("compartments[{i}].params.{name}");
            let parent_field = format!("compartments[{i}].parent");
            match (i, c.parent) {
                (0, None) => {}
                (0, Some(p)) => {
                    return Err(err(&parent_field, p, "the first compartment must be the root (parent -1)"));
                }
                (_, None) => {
                    return Err(err(
                        &parent_field,
                        -1,
                        "only the first compartment can be the root (one root per tree)",
                    ));
                }
                (_, Some(p)) if p >= i => {
                    return Err(err(&parent_field, p, format!("must be an earlier compartment (0..={})", i - 1)));
                }
                _ => {}
            }
            if c.name.trim().is_empty() {
                return Err(err(&format!("compartments[{i}].name"), "\"\"", "must be a non-empty string"));
            }
            if let Some(j) = self.compartments[..i].iter().position(|d| d.name == c.name) {
                return Err(err(
                    &format!("compartments[{i}].name"),
                    &c.name,
                    format!("already used by compartments[{j}]; compartment names must be unique"),
                ));
            }
            positive(&f("C_m"), c.c_m, "nF")?;
            non_negative(&f("g_C"), c.g_c, "uS")?;
            non_negative(&f("g_L"), c.g_l, "uS")?;
            finite(&f("e_L"), c.e_l, "mV")?;
            finite(&f("v_comp"), c.v_comp, "mV")?;
            non_negative(&f("gbar_Na"), c.gbar_na, "uS")?;
            finite(&f("e_Na"), c.e_na, "mV")?;
            non_negative(&f("gbar_K"), c.gbar_k, "uS")?;
            finite(&f("e_K"), c.e_k, "mV")?;
        }
        for (i, r) in self.receptors.iter().enumerate() {
            let path = format!("receptors[{i}]");
            if r.compartment >= self.compartments.len() {
                return Err(err(
                    &format!("{path}.compartment"),
                    r.compartment,
                    format!("must be a compartment index (0..={})", self.compartments.len() - 1),
                ));
            }
            if r.name.trim().is_empty() {
                return Err(err(&format!("{path}.name"), "\"\"", "must be a non-empty string"));
            }
            if let Some(j) = self.receptors[..i].iter().position(|s| s.name == r.name) {
                return Err(err(
                    &format!("{path}.name"),
                    &r.name,
                    format!("already used by receptors[{j}]; receptor names must be unique (give this one a name)"),
                ));
            }
            let kind = r.kind.receptor_type();
            let names = kind.param_names();
            let values = r.kind.values();
            let f = |k: usize| format!("{path}.params.{}", names[k]);
            finite(&f(0), values[0], "mV")?;
            let mut pairs = vec![(1, 2)];
            if kind == ReceptorType::AmpaNmda {
                pairs.push((3, 4));
                non_negative(&f(5), values[5], "")?;
            }
            for (kr, kd) in pairs {
                positive(&f(kr), values[kr], "ms")?;
                positive(&f(kd), values[kd], "ms")?;
                if values[kr] == values[kd] {
                    return Err(err(
                        &f(kr),
                        values[kr],
                        format!("must differ from {} (the peak normalisation divides by their difference)", names[kd]),
                    ));
                }
            }
        }
        Ok(())
    }
}
