//! `laminar build`: what a model file builds — populations with their place in the circuit,
//! projections with realised synapse counts, in-degrees and memory — and the circuit's export
//! as SONATA nodes and edges.
//!
//! The table is computed from a real build of the network (the same one `laminar run` would
//! simulate with that seed), so the counts are the realised ones, not expectations; the
//! expectation of each rule is printed next to them.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use laminar_engine::Rule;

use laminar_config::ModelFile;

/// The manifest placements of a column-built circuit, by population name.
pub fn manifest_placements(e: &laminar_column::Expanded) -> Vec<(String, laminar_record::Placement)> {
    e.populations
        .iter()
        .map(|p| {
            let pl = &p.placement;
            (
                p.name.clone(),
                laminar_record::Placement {
                    layer: pl.layer.clone(),
                    cell_type: Some(pl.cell_type.clone()),
                    area: pl.area.clone(),
                    column: pl.column.clone(),
                    column_index: pl.column_index,
                },
            )
        })
        .collect()
}

/// The expected number of synapses of a rule between populations of `ns` and `nt` neurons.
fn expected_synapses(rule: &Rule, ns: usize, nt: usize, same: bool, autapses: bool) -> Option<f64> {
    let (ns, nt) = (ns as f64, nt as f64);
    let pairs = ns * nt - if same && !autapses { nt } else { 0.0 };
    Some(match rule {
        Rule::AllToAll => pairs,
        Rule::OneToOne => nt,
        Rule::PairwiseBernoulli { p } => p * pairs,
        Rule::FixedIndegree { k } => *k as f64 * nt,
        Rule::FixedOutdegree { k } => *k as f64 * ns,
        Rule::FixedTotalNumber { n } => *n as f64,
        Rule::Explicit(list) => list.len() as f64,
    })
}

fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} {}", UNITS[u]) } else { format!("{v:.1} {}", UNITS[u]) }
}

/// What `laminar build` measured.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub text: String,
    pub synapses: u64,
    pub bytes: usize,
    pub build_seconds: f64,
}

/// Builds `file` with `seed` on `threads` threads and tabulates it.
pub fn build_table(file: &ModelFile, seed: u64, threads: usize) -> Result<BuildSummary> {
    let started = Instant::now();
    let built = file.build(seed, threads)?;
    let build_seconds = started.elapsed().as_secs_f64();
    let sim = &built.simulation;
    let (synapses, bytes) = sim.memory();
    let per_synapse = if synapses > 0 { bytes as f64 / synapses as f64 } else { 0.0 };
    let circuit = file.circuit();
    let placement = |name: &str| circuit.and_then(|c| c.populations.iter().find(|p| p.name == name));
    let stream = |name: &str| circuit.and_then(|c| c.projections.iter().find(|p| p.name == name));
    let mut t = String::new();
    let pops = sim.populations();
    writeln!(t, "{}", file.describe())?;
    writeln!(t, "\npopulations")?;
    writeln!(
        t,
        "  {:<24} {:<6} {:<10} {:<8} {:<8} {:<18} {:>9}",
        "name", "layer", "type", "area", "column", "model", "size"
    )?;
    for p in pops {
        let pl = placement(&p.name).map(|q| &q.placement);
        let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
        writeln!(
            t,
            "  {:<24} {:<6} {:<10} {:<8} {:<8} {:<18} {:>9}",
            p.name,
            dash(pl.and_then(|q| q.layer.as_deref())),
            dash(pl.map(|q| q.cell_type.as_str())),
            dash(pl.and_then(|q| q.area.as_deref())),
            dash(pl.and_then(|q| q.column.as_deref())),
            p.model,
            p.size
        )?;
    }
    writeln!(
        t,
        "\nprojections (memory at the network's all-in {per_synapse:.1} bytes per synapse: connectivity, \
         synaptic state and input buffers)"
    )?;
    writeln!(
        t,
        "  {:<36} {:<16} {:>12} {:>12} {:>10} {:>10}",
        "name", "stream", "synapses", "expected", "in-degree", "memory"
    )?;
    let counts = sim.projection_synapses();
    for (i, name) in sim.projection_names().iter().enumerate() {
        let spec = file.projection(i);
        let (ns, nt) = (pops[spec.source].size, pops[spec.target].size);
        let expected = expected_synapses(&spec.rule, ns, nt, spec.source == spec.target, spec.autapses);
        let kind = stream(name)
            .map(|s| match &s.label {
                Some(l) => format!("{}/{l}", s.stream.as_str()),
                None => s.stream.as_str().to_string(),
            })
            .unwrap_or_else(|| "declared".into());
        writeln!(
            t,
            "  {:<36} {:<16} {:>12} {:>12} {:>10.2} {:>10}",
            name,
            kind,
            counts[i],
            expected.map_or("-".into(), |e| format!("{e:.0}")),
            counts[i] as f64 / nt.max(1) as f64,
            human_bytes(counts[i] as f64 * per_synapse)
        )?;
    }
    let neurons: usize = pops.iter().map(|p| p.size).sum();
    writeln!(
        t,
        "\ntotal: {neurons} neurons, {synapses} synapses, {} ({per_synapse:.1} bytes per synapse); \
         built in {build_seconds:.2} s on {threads} threads ({:.3e} synapses/s)",
        human_bytes(bytes as f64),
        synapses as f64 / build_seconds.max(1e-9)
    )?;
    Ok(BuildSummary { text: t, synapses: synapses as u64, bytes, build_seconds })
}

/// Models that are laminar's own (not NEST's): their SONATA `model_template` says so.
const LAMINAR_MODELS: &[&str] = &["pyramidal_bac"];

/// The SONATA node populations of a model: every population, with the per-type attributes
/// (model, layer, cell type, area, column, role) in `node_types.csv` and, per node, the same
/// strings plus the position (x, y and, where the layer has a depth range, z; µm) in `nodes.h5`
/// so that libsonata, which reads only the HDF5 file, sees them too.
pub fn node_populations(file: &ModelFile, seed: u64) -> Vec<laminar_record::NodePopulation> {
    use laminar_record::{NodeAttribute, NodePopulation, NodeValues};
    let circuit = file.circuit();
    let mut out = Vec::new();
    for (index, (name, size, info)) in file.populations().enumerate() {
        let name = name.to_string();
        let model = info.name.to_string();
        let namespace = if LAMINAR_MODELS.contains(&info.name) { "laminar" } else { "nest" };
        let mut type_attributes = vec![("model".to_string(), model.clone())];
        let mut attributes = Vec::new();
        let strings = |v: &str| NodeValues::Str(vec![v.to_string(); size]);
        if let Some(p) = circuit.and_then(|c| c.populations.iter().find(|p| p.name == name)) {
            let pl = &p.placement;
            let mut texts: Vec<(&str, Option<String>)> = vec![
                ("layer", pl.layer.clone()),
                ("cell_type", Some(pl.cell_type.clone())),
                ("area", pl.area.clone()),
                ("column", pl.column.clone()),
                ("role", Some(pl.role.to_string())),
            ];
            texts.retain(|(_, v)| v.is_some());
            for (key, value) in texts {
                let value = value.expect("kept");
                type_attributes.push((key.to_string(), value.clone()));
                attributes.push(NodeAttribute { name: key.to_string(), values: strings(&value) });
            }
            if let Some(c) = pl.column_index {
                attributes
                    .push(NodeAttribute { name: "column_index".into(), values: NodeValues::I64(vec![c as i64; size]) });
            }
            let pos = laminar_column::positions(p, seed);
            attributes.push(NodeAttribute { name: "x".into(), values: NodeValues::F64(pos.x) });
            attributes.push(NodeAttribute { name: "y".into(), values: NodeValues::F64(pos.y) });
            if let Some(z) = pos.z {
                attributes.push(NodeAttribute { name: "z".into(), values: NodeValues::F64(z) });
            }
        }
        out.push(NodePopulation {
            name,
            node_type_id: 100 + index as i64,
            model_type: if info.source_only { "virtual".into() } else { "point_neuron".into() },
            model_template: if info.source_only { String::new() } else { format!("{namespace}:{model}") },
            size: size as u64,
            type_attributes,
            attributes,
        });
    }
    out
}

/// Writes `dir/nodes.h5` and `dir/node_types.csv` for `file` built with `seed`.
pub fn write_nodes(file: &ModelFile, seed: u64, dir: &Path) -> Result<()> {
    let populations = node_populations(file, seed);
    laminar_record::write_nodes(&dir.join("nodes.h5"), &dir.join("node_types.csv"), &populations)
        .with_context(|| format!("writing {}", dir.join("nodes.h5").display()))?;
    Ok(())
}

/// Writes the synapses of `file` (built with `seed`, the same network `laminar run` simulates)
/// as SONATA edges, one edge population per projection: `dir/edges.h5` and `dir/edge_types.csv`.
/// The synapses are generated block by block, so memory stays bounded for any circuit size.
/// Returns the number of edges written.
pub fn write_edges(file: &ModelFile, seed: u64, dir: &Path) -> Result<u64> {
    use laminar_record::{EdgePopulationSpec, EdgeWriter};
    let builder = file.network_builder(seed)?;
    let h = file.simulation().resolution().h();
    let specs: Vec<EdgePopulationSpec> = (0..builder.projection_count())
        .map(|i| {
            let p = file.projection(i);
            let stream = file.circuit().and_then(|c| c.projections.iter().find(|q| q.name == p.name));
            let mut type_attributes = Vec::new();
            if let Some(s) = stream {
                type_attributes.push(("stream".to_string(), s.stream.as_str().to_string()));
                if let Some(l) = &s.label {
                    type_attributes.push(("kind".to_string(), l.clone()));
                }
            }
            EdgePopulationSpec {
                name: p.name.clone(),
                source_population: builder.population_name(p.source).to_string(),
                target_population: builder.population_name(p.target).to_string(),
                source_size: builder.population_size(p.source) as u64,
                target_size: builder.population_size(p.target) as u64,
                edge_type_id: 100 + i as i64,
                weight_units: builder.population_factory(p.target).info().weight_units.to_string(),
                type_attributes,
            }
        })
        .collect();
    let mut writer = EdgeWriter::create(&dir.join("edges.h5"), &dir.join("edge_types.csv"), &specs, 1 << 13)
        .with_context(|| format!("creating {}", dir.join("edges.h5").display()))?;
    let mut failure = None;
    let mut count = 0u64;
    builder.for_each_synapse(50_000, |s| {
        if failure.is_none() {
            match writer.push(
                s.projection,
                s.source,
                s.target,
                s.weight,
                f64::from(s.delay_steps) * h,
                u32::from(s.receptor),
            ) {
                Ok(()) => count += 1,
                Err(e) => failure = Some(e),
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e).context("writing edges.h5");
    }
    writer.finish().context("closing edges.h5")?;
    Ok(count)
}
