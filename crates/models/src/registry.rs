//! Models by NEST name: turns a model name and a parameter object into a factory.
//!
//! Parameters arrive as a JSON object (model files are TOML and converted; parity cases are
//! JSON). Unknown parameter names are errors that list the known ones; values are validated
//! before anything is built.

use std::sync::Arc;

use laminar_engine::{InputKind, ModelInfo, PopulationFactory, StimulusFactory, SynapseFactory};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Scheduling;
use crate::params::Validate;
use crate::{
    adapters, cm_default, contrastive_synapse, devices, glia_synapses, iaf_psc_delta, iaf_psc_exp,
    inhomogeneous_poisson, parrot_neuron, pyramidal_bac, spike_generator, synapses,
};

/// Neuron (and source) models laminar implements.
pub const NEURON_MODELS: &[&str] = &[
    "iaf_psc_exp",
    "iaf_psc_delta",
    "iaf_cond_exp",
    "aeif_cond_alpha",
    "aeif_cond_alpha_astro",
    "astrocyte_lr_1994",
    "iaf_psc_exp_ps",
    "cm_default",
    "pyramidal_bac",
    "parrot_neuron",
    "spike_generator",
];

/// Device models laminar implements.
pub const DEVICE_MODELS: &[&str] =
    &["poisson_generator", "inhomogeneous_poisson_generator", "dc_generator", "step_current_generator"];

/// Synapse models laminar implements (`static_synapse` is the default and needs no factory).
pub const SYNAPSE_MODELS: &[&str] = &[
    "static_synapse",
    "tsodyks_synapse",
    "stdp_synapse",
    "astro_normalized_synapse",
    "tsodyks_astro_synapse",
    "hebbian_synapse",
    "hebbian_astro_synapse",
    "contrastive_hebbian_synapse",
];

/// The factory of a synapse model, or `None` for `static_synapse` (which takes no parameters).
pub fn synapse_factory(model: &str, params: &Map<String, Value>) -> Result<Option<Arc<dyn SynapseFactory>>, String> {
    Ok(match model {
        "static_synapse" => {
            if let Some(key) = params.keys().next() {
                return Err(format!(
                    "unknown field `{key}`: static_synapse has no parameters besides weight and delay"
                ));
            }
            None
        }
        "tsodyks_synapse" => Some(Arc::new(synapses::TsodyksFactory { params: parse_valid(params)? })),
        "stdp_synapse" => Some(Arc::new(synapses::StdpFactory { params: parse_valid(params)? })),
        "astro_normalized_synapse" => {
            Some(Arc::new(glia_synapses::AstroNormalizedFactory { params: parse_valid(params)? }))
        }
        "tsodyks_astro_synapse" => Some(Arc::new(glia_synapses::TsodyksAstroFactory::from_json(params)?)),
        "hebbian_synapse" => Some(Arc::new(glia_synapses::HebbianFactory { params: parse_valid(params)? })),
        "hebbian_astro_synapse" => Some(Arc::new(glia_synapses::HebbianAstroFactory { params: parse_valid(params)? })),
        "contrastive_hebbian_synapse" => {
            Some(Arc::new(contrastive_synapse::ContrastiveFactory { params: parse_valid(params)? }))
        }
        other => return Err(unknown(other, SYNAPSE_MODELS)),
    })
}

/// The static description of a neuron model.
pub fn model_info(model: &str) -> Option<&'static ModelInfo> {
    Some(match model {
        "iaf_psc_exp" => &iaf_psc_exp::INFO,
        "iaf_psc_delta" => &iaf_psc_delta::INFO,
        "iaf_cond_exp" => &adapters::IAF_COND_EXP,
        "aeif_cond_alpha" => &adapters::AEIF_COND_ALPHA,
        "aeif_cond_alpha_astro" => &adapters::AEIF_COND_ALPHA_ASTRO,
        "astrocyte_lr_1994" => &adapters::ASTROCYTE_LR_1994,
        "iaf_psc_exp_ps" => &adapters::IAF_PSC_EXP_PS,
        // A template without receptors and recordables: they depend on the parameters, and the
        // factory's `info()` describes them.
        "cm_default" => &cm_default::INFO,
        "pyramidal_bac" => &pyramidal_bac::INFO,
        "parrot_neuron" => &parrot_neuron::INFO,
        "spike_generator" => &spike_generator::INFO,
        _ => return None,
    })
}

fn parse<T: DeserializeOwned>(params: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(params.clone())).map_err(|e| e.to_string())
}

fn parse_valid<T: DeserializeOwned + Validate>(params: &Map<String, Value>) -> Result<T, String> {
    let p: T = parse(params)?;
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

/// A population factory for `model` with `params` (NEST names), for a population of `size`,
/// updated with the model's default scheduling.
pub fn population_factory(
    model: &str,
    params: &Map<String, Value>,
    size: usize,
) -> Result<Arc<dyn PopulationFactory>, String> {
    population_factory_scheduled(model, params, size, None)
}

/// The update schemes a neuron model offers, its default first: models fed by the touched-neuron
/// lists update event-driven, `iaf_psc_exp` can also be stepped, and the rest are stepped.
pub fn schedulings(model: &str) -> &'static [Scheduling] {
    match (model, model_info(model).map(|i| i.input)) {
        ("iaf_psc_exp", _) => &[Scheduling::EventDriven, Scheduling::ClockDriven],
        (_, Some(InputKind::SummedTouched)) => &[Scheduling::EventDriven],
        _ => &[Scheduling::ClockDriven],
    }
}

/// As [`population_factory`], with the update scheme `scheduling` (`None`: the model's default);
/// an error if the model does not offer it.
pub fn population_factory_scheduled(
    model: &str,
    params: &Map<String, Value>,
    size: usize,
    scheduling: Option<Scheduling>,
) -> Result<Arc<dyn PopulationFactory>, String> {
    let offered = schedulings(model);
    let scheduling = scheduling.unwrap_or(offered[0]);
    if model_info(model).is_some() && !offered.contains(&scheduling) {
        return Err(format!("{model} is updated {} only", offered[0].name()));
    }
    Ok(match model {
        "iaf_psc_exp" => Arc::new(iaf_psc_exp::IafPscExpFactory { params: parse_valid(params)?, scheduling }),
        "iaf_psc_delta" => Arc::new(iaf_psc_delta::IafPscDeltaFactory { params: parse_valid(params)? }),
        "iaf_cond_exp" => Arc::new(adapters::IafCondExpFactory { params: parse_valid(params)? }),
        "aeif_cond_alpha" => Arc::new(adapters::AeifCondAlphaFactory { params: parse_valid(params)? }),
        "aeif_cond_alpha_astro" => Arc::new(adapters::AeifCondAlphaAstroFactory { params: parse_valid(params)? }),
        "astrocyte_lr_1994" => Arc::new(adapters::AstrocyteLr1994Factory { params: parse_valid(params)? }),
        "iaf_psc_exp_ps" => {
            // NEST's status dictionary mixes parameters and initial state; split them.
            let mut rest = params.clone();
            let mut state = Map::new();
            for key in ["V_m", "I_syn_ex", "I_syn_in"] {
                if let Some(v) = rest.remove(key) {
                    state.insert(key.to_string(), v);
                }
            }
            Arc::new(adapters::IafPscExpPsFactory { params: parse_valid(&rest)?, initial: parse_valid(&state)? })
        }
        "cm_default" => Arc::new(
            cm_default::CmDefaultFactory::new(
                cm_default::CmDefaultParams::from_json(params).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
        ),
        "pyramidal_bac" => Arc::new(pyramidal_bac::PyramidalBacFactory { params: parse_valid(params)? }),
        "parrot_neuron" => {
            let _: parrot_neuron::ParrotParams = parse(params)?;
            Arc::new(parrot_neuron::ParrotFactory)
        }
        "spike_generator" => Arc::new(spike_generator::SpikeGeneratorFactory { params: parse(params)?, size }),
        other => return Err(unknown(other, NEURON_MODELS)),
    })
}

/// A device factory for `model` with `params`.
pub fn stimulus_factory(model: &str, params: &Map<String, Value>) -> Result<Arc<dyn StimulusFactory>, String> {
    Ok(match model {
        "poisson_generator" => Arc::new(devices::PoissonFactory { params: parse_valid(params)? }),
        "inhomogeneous_poisson_generator" => {
            Arc::new(inhomogeneous_poisson::InhomogeneousPoissonFactory { params: parse_valid(params)? })
        }
        "dc_generator" => Arc::new(devices::DcFactory { params: parse(params)? }),
        "step_current_generator" => Arc::new(devices::StepCurrentFactory { params: parse(params)? }),
        other => return Err(unknown(other, DEVICE_MODELS)),
    })
}

fn unknown(name: &str, known: &[&str]) -> String {
    let mut msg = format!("unknown model '{name}'");
    if let Some(s) = closest(name, known) {
        msg.push_str(&format!(" (did you mean '{s}'?)"));
    }
    msg.push_str(&format!("; known: {}", known.join(", ")));
    msg
}

/// The closest of `candidates` to `word` by edit distance, if reasonably close.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
