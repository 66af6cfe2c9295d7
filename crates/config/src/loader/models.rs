//! Model parameters: a `params` table becomes a model's or device's factory through the
//! registry, and the registry's messages become errors that point at the parameter.

use std::sync::Arc;

use laminar_engine::{ModelInfo, PopulationFactory, StimulusFactory};
use laminar_models::{Scheduling, registry};
use serde_json::{Map, Value as Json};

use super::Loader;
use crate::document::{Origin, TableRef};
use crate::error::{ConfigError, Res, suggestion};

/// Which registry a model comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ModelKind {
    Neuron,
    Device,
}

pub(crate) enum Factory {
    Neuron(Arc<dyn PopulationFactory>),
    Device(Arc<dyn StimulusFactory>),
}

pub(crate) fn make_factory(
    kind: ModelKind,
    model: &str,
    params: &Map<String, Json>,
    size: usize,
    scheduling: Option<Scheduling>,
) -> Result<Factory, String> {
    match kind {
        ModelKind::Neuron => {
            registry::population_factory_scheduled(model, params, size, scheduling).map(Factory::Neuron)
        }
        ModelKind::Device => registry::stimulus_factory(model, params).map(Factory::Device),
    }
}

/// The name in serde's "unknown field `x`, expected …" message.
pub(crate) fn unknown_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// The parameter names a model accepts. Serde lists them when it meets an unknown field, so a
/// probe with a name no model has reveals them; models that take initial state next to their
/// parameters (`iaf_psc_exp_ps`) accept their recordables as well, which a second probe checks.
pub(crate) fn allowed_params(kind: ModelKind, model: &str, info: Option<&ModelInfo>) -> Vec<String> {
    let probe = |key: &str| {
        let mut m = Map::new();
        m.insert(key.to_string(), Json::from(0.0));
        make_factory(kind, model, &m, 1, None).err()
    };
    let mut names: Vec<String> = match probe("\u{1}") {
        Some(message) if unknown_field_name(&message).is_some() => {
            // "unknown field `\u{1}`, expected one of `a`, `b`": the names are every other
            // backtick-delimited piece after the probe's own.
            message.split('`').skip(3).step_by(2).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    for r in info.map(|i| &i.recordables[..]).unwrap_or_default() {
        if !names.iter().any(|n| *n == r.name) && probe(&r.name).is_none_or(|m| unknown_field_name(&m).is_none()) {
            names.push(r.name.to_string());
        }
    }
    names
}

/// `"tau_m = -5: must be > 0 ms"` (a model's `ParamError`) as (field, value, allowed).
pub(crate) fn split_param_error(message: &str) -> Option<(&str, &str, &str)> {
    let (field, rest) = message.split_once(" = ")?;
    let (value, allowed) = rest.split_once(": ")?;
    (!field.contains(' ')).then_some((field, value, allowed))
}

/// Serde's "invalid type: string \"a\", expected f64" in the words of a model file.
pub(crate) fn friendly_serde(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let expected = match expected {
        "f64" | "f32" => "a number",
        "u64" | "usize" | "u32" => "a non-negative integer",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        other => other,
    };
    format!("must be {expected} (found {found})")
}

impl Loader<'_> {
    /// Builds a model's factory from its `params`, pointing any error at the parameter.
    pub(crate) fn factory(
        &self,
        kind: ModelKind,
        model: &str,
        info: Option<&ModelInfo>,
        size: usize,
        params: Option<&TableRef>,
        params_path: &str,
        owner_origin: &Origin,
        scheduling: Option<Scheduling>,
    ) -> Res<Factory> {
        let json = self.params_json(params)?;
        let message = match make_factory(kind, model, &json, size, scheduling) {
            Ok(f) => return Ok(f),
            Err(m) => m,
        };
        let params_origin = params.map(|p| p.origin).unwrap_or(owner_origin);
        let entry = |name: &str| params.and_then(|p| p.get(name));
        let allowed = allowed_params(kind, model, info);
        let allowed_refs: Vec<&str> = allowed.iter().map(String::as_str).collect();

        if let Some(name) = unknown_field_name(&message) {
            let origin = entry(name).map(|e| &e.key_origin).unwrap_or(params_origin);
            let takes = if allowed.is_empty() {
                format!("{model} takes no parameters")
            } else {
                format!("{model} takes: {}", allowed.join(", "))
            };
            return Err(self.error(
                origin,
                format!("{params_path}.{name}"),
                format!("unknown field `{name}` in {params_path}{}; {takes}", suggestion(name, &allowed_refs)),
            ));
        }
        if let Some((name, value, what)) = split_param_error(&message)
            && (allowed.iter().any(|a| a == name) || json.contains_key(name))
        {
            return Err(match entry(name) {
                    Some(e) => self.error(&e.item.origin, format!("{params_path}.{name}"), what).with_value(value).into(),
                    None => self
                        .error(
                            params_origin,
                            format!("{params_path}.{name}"),
                            format!("{what} ({name} is not set here: this is {model}'s default, which the values set conflict with)"),
                        )
                        .with_value(value)
                        .into(),
                });
        }
        // A type error names no field: find the parameter that fails on its own.
        for (key, value) in &json {
            let mut one = Map::new();
            one.insert(key.clone(), value.clone());
            if make_factory(kind, model, &one, size, None).err().as_deref() == Some(message.as_str())
                && let Some(e) = entry(key)
            {
                let what = if value.is_null() {
                    format!("-inf is allowed only for lower bounds (such as V_min); {key} must be a finite number")
                } else {
                    friendly_serde(&message)
                };
                return Err(self.bad_value(&e.item, &format!("{params_path}.{key}"), what));
            }
        }
        Err(self.error(params_origin, params_path, message))
    }

    /// Points a model's build-time error (e.g. a time off the grid) at the parameter it names.
    pub(crate) fn model_build_error(
        &self,
        message: &str,
        params: Option<&TableRef>,
        params_path: &str,
        owner: &Origin,
    ) -> Box<ConfigError> {
        let params_origin = params.map(|p| p.origin).unwrap_or(owner);
        if let Some((name, value, what)) = split_param_error(message)
            && let Some(e) = params.and_then(|p| p.get(name))
        {
            return self.error(&e.item.origin, format!("{params_path}.{name}"), what).with_value(value).into();
        }
        // Device messages start with the parameter: "start: 0.15 ms is not a multiple …".
        let lead: String = message.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if let Some(e) = params.and_then(|p| p.get(&lead)) {
            return self.error(&e.item.origin, format!("{params_path}.{lead}"), message);
        }
        self.error(params_origin, params_path, message)
    }
}
