//! The column builder: cortical layers, cell types and laminar connection tables, expanded into
//! populations, projections and devices of the engine.
//!
//! A *column description* (the `[column]` table of a model file) names layers, cell types (a
//! neuron model, parameters, a layer and a count per column) and an intra-column connection
//! table by (source type, target type). [`expand()`] turns it, together with the model file's
//! top-level `n_scaling` and `k_scaling`, into plain [`Expanded`] specifications (populations,
//! projections, devices) that [`add_to_builder`] (or the `laminar` model-file loader) adds to a
//! [`NetworkBuilder`]. The Potjans & Diesmann (2014) microcircuit, `models/potjans_diesmann.toml`,
//! is written in this language.
//!
//! # The language
//!
//! ```toml
//! n_scaling = 1.0                 # top level: scales neuron counts (default 1.0)
//! k_scaling = 1.0                 # top level: scales in-degrees (default 1.0)
//!
//! [column]
//! columns = ["c0"]                # optional instance names (default: one unnamed column)
//! dc_compensation = true          # default true: see "Scaling" below
//!
//! [[column.layers]]               # layers, superficial first; populations follow this order
//! name = "L23"
//! depth_um = [0.0, 500.0]         # optional [top, bottom] in µm below the pia
//!
//! [column.cell_defaults]          # optional: model and params every cell type starts from
//! model = "iaf_psc_exp"
//! update = "clock-driven"         # optional: the update scheme, as a population's `update`
//! params = { C_m = 250.0, tau_m = 10.0 }
//!
//! [column.cell_types.L23E]        # one table per cell type; the key is its name
//! layer = "L23"                   # required: a layer name
//! count = 20683                   # required: neurons per column at full scale, >= 1
//! model = "iaf_psc_exp"           # default: cell_defaults.model
//! update = "event-driven"         # default: cell_defaults.update (for its model), else the model's
//! params = { V_th = -50.0 }       # merged over cell_defaults.params
//! initial = { V_m = { normal = { mean = -68.28, std = 5.36 } } }
//! k_ext = 1600                    # background in-degree (needs [column.background])
//! full_rate_hz = 0.943            # full-scale rate, for the DC compensation
//!
//! [column.background]             # external drive of every cell type with k_ext
//! rate_hz = 8.0                   # rate per external synapse
//! weight = 87.81                  # full-scale weight (pA for iaf_psc_*)
//! delay_ms = 1.5
//! mode = "poisson"                # or "dc": a constant current instead of spikes
//!
//! [[column.connections]]          # a block of the connection table
//! source = ["L23E", "L23I"]       # one type, a list, or "all"
//! target = "all"
//! rule = { connection_probability_total = [[0.1009, 0.1689], ...] }  # [target][source]
//! weight = { normal = { mean = 87.81, rel_std = 0.1 } }
//! delay_ms = { normal = { mean = 1.5, rel_std = 0.5 } }
//! receptor = "ex"                 # optional; default: by the weight's sign
//! autapses = true                 # defaults true (NEST's)
//! multapses = true
//!
//! [[column.connections]]          # an entry without `rule` refines the pairs defined so far
//! source = "L4E"
//! target = "L23E"
//! weight_factor = 2.0             # multiplies mean and std of the weight
//! ```
//!
//! **Rules.** Each rule's value is one number for every (target, source) pair of the block, or
//! a matrix with one row per target and one column per source (the order of `target` and
//! `source`; `"all"` is every cell type in population order). Pairs whose value is 0 get no
//! projection.
//! - `probability = p`: pairwise Bernoulli with probability p.
//! - `indegree = K`: fixed in-degree K.
//! - `total_number = N`: fixed total number N (synapses of the pair at full scale).
//! - `connection_probability_total = C`: fixed total number
//!   `K = ln(1 − C) / ln((N_pre·N_post − 1) / (N_pre·N_post))` (Potjans & Diesmann 2014, eq. 1;
//!   NEST's `helpers.num_synapses_from_conn_probs`): the number of synapses that, drawn
//!   independently with replacement among the N_pre·N_post pairs, leaves a pair connected with
//!   probability C. N are the full-scale counts.
//!
//! **Values** (`weight`, `delay_ms`, `initial`) are a number or `{ normal = { mean, std } }`
//! (or `rel_std`, a fraction of |mean|), `{ uniform = { low, high } }`,
//! `{ lognormal = { mu, sigma } }`. Normal weights are redrawn until they keep the mean's sign,
//! normal delays until they are at least one step (NEST's `redraw`).
//!
//! **Targets.** `receptor` names a receptor of the target model (`ex`, `in`, `SIC`, …);
//! `compartment` a compartment (`soma`, `basal`, `apical` of `pyramidal_bac`); with both, the
//! receptor `<compartment>_<receptor>` (cm_default's naming, e.g. `apical_AMPA`). Without either,
//! the receptor follows the weight's sign (NEST's convention).
//!
//! **Cell defaults** (`[column.cell_defaults]`): `params` and `update` apply to the cell types
//! that use the default `model`; a type with another model starts from that model's own
//! defaults.
//!
//! # Columns, areas, tangential and interareal streams, thalamus, inputs
//!
//! ```toml
//! [[column.areas]]                # instances of the column template (default: one column)
//! name = "V1"
//! columns = 8                     # a count (columns c0 … c7) or a list of names
//! spacing_um = 300.0              # default: columns on a line along x, 300 µm apart
//! positions_um = [[0, 0], …]      # or explicit column centres (µm), one per column
//! origin_um = [0.0, 0.0]          # default [0, 5000 · area index]
//! column_radius_um = 150.0        # default spacing / 2: cells sit in a disc of this radius
//!
//! [[column.tangential]]           # between the distinct columns of an area
//! source = "L23E"
//! target = ["L23E", "L23PV"]
//! probability = 0.05              # pair probability at distance 0 (or a [target][source] matrix)
//! profile = { gaussian = { sigma_um = 300.0 } }   # or { exponential = { lambda_um = 250.0 } }
//! max_distance_um = 1000.0        # optional cut-off
//! weight = 50.0
//! delay_ms = 1.5
//! velocity_um_per_ms = 300.0      # optional: the delay grows by distance / velocity
//! compartment = "basal"
//! areas = ["V1"]                  # optional: default every area
//!
//! [[column.interareal]]           # between areas; both areas required
//! kind = "feedback"               # a label for tables and exports
//! source_area = "V2"
//! target_area = "V1"
//! source = "L5E"
//! target = ["L23E", "L5E"]
//! mapping = "topographic"         # column i -> column i (default), or "all" (every pair)
//! rule = { probability = 0.05 }   # any rule of the connection table
//! weight = 50.0
//! compartment = "apical"          # feedback into the L1 tufts
//!
//! [column.thalamus]
//! enabled = true                  # false leaves out the nuclei, their connections and inputs
//!
//! [column.thalamus.nuclei.core]   # a relay population per column (or per = "area")
//! per = "column"
//! count = 20
//! model = "iaf_psc_exp"           # default: cell_defaults.model; params, initial, full_rate_hz
//!
//! [[column.thalamus.connections]] # sources and targets: cell types or nuclei
//! source = "core"
//! target = "L4E"
//! rule = { probability = 0.3 }
//! weight = 2.0
//! source_area = "V1"              # optional, as target_area: default within each area
//!
//! [[column.inputs]]               # per-column inputs
//! name = "value"
//! target = "core"                 # a cell type or a nucleus
//! areas = ["V1"]                  # default every area
//! columns = [0, 3]                # column indices; default every column
//! poisson = { rate_hz = [20.0, 80.0], start_ms = 0.0, stop_ms = 500.0 }   # one rate per column
//! # or dc = { amplitude_pA = [...] }, or spikes = { times_ms = [[...], [...]] } (one train per
//! # column, sent to every cell by a one-node spike_generator population)
//! weight = 87.81
//! delay_ms = 1.5
//! ```
//!
//! **Instances.** A connection between a per-column unit (cell type or per-column nucleus) and a
//! per-area unit joins every column of the area to the area's population; two per-column units
//! join column i to column i (`mapping = "topographic"`, needing equal column counts) or every
//! pair (`"all"`). Tangential connections join every ordered pair of *distinct* columns of an
//! area with probability `p0 · f(d)`, `d` the distance between the column centres,
//! `f(d) = exp(−d²/2σ²)` (Gaussian) or `exp(−d/λ)` (exponential); each column pair is one
//! pairwise-Bernoulli projection.
//!
//! **Names.** With one column (no areas, no `columns`, or a single one) the populations are
//! named after the cell types (`L23E`, …). With `columns = [...]`, `<column>_<type>`
//! (`c0_L23E`); with areas, `<area>_<column>_<type>` (`V1_c3_L23E`), per-area nuclei
//! `<area>_<nucleus>`, spike-train inputs `<area>_<column>_input_<name>`. Projections are named
//! `<source>-><target>` (`#2`, `#3` for repeated pairs), background devices
//! `background-><population>`, input devices `input:<name>-><population>`. Populations are
//! ordered area by area, column by column (cell types by layer, then by name; then per-column
//! nuclei), then the area's nuclei; spike-train inputs last.
//!
//! **Placement and positions.** Every population carries its [`Placement`] (layer, cell type,
//! area, column, centre, radius, depth range), which `laminar` writes into recordings; [`positions`]
//! places the cells: uniformly in the column's disc and, when the layer declares `depth_um`, in its
//! depth range (deterministic per seed).
//!
//! # Scaling
//!
//! As the PyNEST `Potjans_2014` example (`network.py`, `helpers.py`), with `n = n_scaling`,
//! `k = k_scaling`:
//! - neurons: `N = round(N_full · n)` (round half to even, as numpy);
//! - total numbers (`total_number`, `connection_probability_total`):
//!   `round(K_full · n · k)`, i.e. the full-scale in-degree `K_full / N_post,full` scaled by `k`,
//!   times the scaled number of targets; `indegree`: `round(K · k)`; `probability`:
//!   `min(1, p · k / n)` (keeps in-degree ∝ k);
//! - background in-degrees `round(k_ext · k)`;
//! - weights (recurrent and background): mean and std divided by `sqrt(k)`;
//! - the same rules for tangential, interareal and thalamic streams (their probability, in-degree
//!   or total number is scaled as in the connection table), and nuclei scale with `n` like cell
//!   types. Here laminar departs from the example on purpose: its thalamic pulse keeps 902 relay
//!   cells and `K_full · k` synapses (truncated) at any `n`, so at `n < 1` every target receives
//!   `1/n` times its full-scale thalamic in-degree; laminar keeps the in-degree at `k` times the
//!   full-scale one, as for every other stream. At full scale the two are the same network;
//! - DC compensation (when `k ≠ 1` and `dc_compensation`): every population gets, summed over
//!   every stream onto it (intra-column, tangential, interareal, thalamic; not inputs),
//!   `I_e += 0.001 · tau_syn · (1 − sqrt(k)) · (Σ_s w_full(s→t) · K_full(s→t)/N_t,full · ν_s`
//!   `+ w_ext · k_ext · ν_bg)` pA (the last term with a Poisson background only), with the
//!   full-scale rates ν_s
//!   (`full_rate_hz`), the full-scale mean weights and in-degrees, and `tau_syn` the target's
//!   `tau_syn_ex` (ms). This keeps the mean input of the scaled network at the full-scale
//!   value while the weights grow by `1/sqrt(k)` to keep its variance (van Albada, Helias &
//!   Diesmann 2015, PLoS Comput Biol 11:e1004490).
//! - `mode = "dc"` background: `I_e += 0.001 · tau_syn · w_ext · k_ext · ν_bg` (full-scale
//!   values: the DC replaces the mean of the Poisson input).
//!
//! # References
//! - Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit. Cereb Cortex
//!   24(3):785–806, doi:10.1093/cercor/bhs358.
//! - NEST's PyNEST example `Potjans_2014` (network_params.py, stimulus_params.py, helpers.py).
//! - van Albada SJ, Helias M, Diesmann M (2015) Scalability of asynchronous networks is limited
//!   by one-to-one mapping between effective connectivity and correlations.

mod description;
mod expand;
mod layout;

use std::sync::Arc;

use laminar_engine::{BuildError, DeviceEntry, Initial, NetworkBuilder, Projection};
use laminar_models::registry;

pub use description::*;
pub use expand::{
    DeviceOut, Expanded, Placement, PopulationOut, ProjectionOut, Stream, expand, total_from_probability,
};
pub use layout::{Positions, positions};

// ---------------------------------------------------------------- errors

/// A problem with a column description: the dotted path of the field and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ColumnError {
    /// Dotted path from the document root, e.g. `column.cell_types.L23E.count`.
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ColumnError {
    ColumnError { field: field.into(), message: message.into() }
}

/// Adds an expansion to `builder` (populations first, in order; then projections and devices).
/// Returns the index of the first population added.
pub fn add_to_builder(e: &Expanded, builder: &mut NetworkBuilder) -> Result<usize, ColumnError> {
    let mut first = None;
    for p in &e.populations {
        let factory = registry::population_factory(&p.model, &p.params, p.size)
            .map_err(|m| err(format!("{}.params", p.field), m))?;
        let index = builder.add_population(&p.name, p.size, factory);
        first.get_or_insert(index);
        for (var, dist) in &p.initial {
            builder
                .set_initial(index, var, Initial::Dist(*dist))
                .map_err(|e| err(format!("{}.initial.{var}", p.field), build_message(e)))?;
        }
    }
    let index = |name: &str, field: &str| {
        builder.population_index(name).ok_or_else(|| err(field, format!("no population `{name}`")))
    };
    let mut projections = Vec::new();
    for p in &e.projections {
        let (source, target) = (index(&p.source, &p.field)?, index(&p.target, &p.field)?);
        let mut proj = Projection::new(&p.name, source, target, p.rule.clone(), p.weight, p.delay);
        proj.autapses = p.autapses;
        proj.multapses = p.multapses;
        proj.receptor = receptor_index(builder, target, p.receptor.as_deref(), &p.field)?;
        projections.push(proj);
    }
    let mut devices = Vec::new();
    for dv in &e.devices {
        let population = index(&dv.target, &dv.field)?;
        let factory = registry::stimulus_factory(&dv.model, &dv.params).map_err(|m| err(&dv.field, m))?;
        let receptor = receptor_index(builder, population, dv.receptor.as_deref(), &dv.field)?;
        devices.push(DeviceEntry {
            name: dv.name.clone(),
            factory: Arc::clone(&factory),
            population,
            targets: (0..builder.population_size(population) as u64).collect(),
            weight: dv.weight,
            delay_ms: dv.delay_ms,
            receptor,
        });
    }
    for p in projections {
        builder.add_projection(p);
    }
    for d in devices {
        builder.add_device(d);
    }
    first.ok_or_else(|| err("column.cell_types", "defines no cell type"))
}

/// The index of the receptor `name` on `population`'s model, if a name is given.
fn receptor_index(
    builder: &NetworkBuilder,
    population: usize,
    name: Option<&str>,
    field: &str,
) -> Result<Option<usize>, ColumnError> {
    let Some(r) = name else { return Ok(None) };
    let info = builder.population_factory(population).info();
    info.receptor_index(r).map(Some).ok_or_else(|| err(field, format!("{} has no receptor `{r}`", info.name)))
}

fn build_message(e: BuildError) -> String {
    e.to_string()
}
