//! The circuit export (`nodes.h5` + `node_types.csv`, `edges.h5` + `edge_types.csv`): read back
//! with the hdf5 crate (layout, types, values), then with h5py and libsonata through
//! `tests/python/circuit_readback.py`, and with bmtk when it is importable.
//!
//! The Python tests fail, saying how to install them, when h5py, libsonata or numpy are missing
//! (as `python_readback.rs` does); the bmtk test is skipped, saying so, when bmtk is not
//! importable. Set `LAMINAR_RECORD_KEEP_DIR=/some/dir` to keep the written files.

mod common;

use std::path::Path;
use std::process::Output;

use common::{OutputDir, serial};
use hdf5::types::{TypeDescriptor, VarLenUnicode};
use laminar_record::readback::{BMTK_MISSING, run_circuit};
use laminar_record::{
    EdgePopulationSpec, EdgeWriter, NodeAttribute, NodePopulation, NodeValues, RecordError, write_nodes,
};
use serde_json::{Value, json};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn node_populations() -> Vec<NodePopulation> {
    let n = 10;
    vec![
        NodePopulation {
            name: "L23E".to_owned(),
            node_type_id: 100,
            model_type: "point_neuron".to_owned(),
            model_template: "nest:iaf_psc_exp".to_owned(),
            size: n,
            // A value with a space and one with a quote exercise the CSV quoting.
            type_attributes: pairs(&[
                ("layer", "L2/3"),
                ("cell_type", "E"),
                ("area", "V1 left"),
                ("note", "say \"hi\""),
            ]),
            attributes: vec![
                NodeAttribute {
                    name: "x".to_owned(),
                    values: NodeValues::F64((0..n).map(|i| 10.5 * i as f64).collect()),
                },
                NodeAttribute {
                    name: "y".to_owned(),
                    values: NodeValues::F64((0..n).map(|i| -3.25 * i as f64).collect()),
                },
                NodeAttribute { name: "z".to_owned(), values: NodeValues::F64(vec![150.0; n as usize]) },
                NodeAttribute { name: "column".to_owned(), values: NodeValues::U64((0..n).map(|i| i % 3).collect()) },
                NodeAttribute {
                    name: "depth_rank".to_owned(),
                    values: NodeValues::I64((0..n).map(|i| 5 - i as i64).collect()),
                },
                NodeAttribute {
                    name: "tau_m".to_owned(),
                    values: NodeValues::F32((0..n).map(|i| 10.0 + 0.5 * i as f32).collect()),
                },
                NodeAttribute {
                    name: "layer".to_owned(),
                    values: NodeValues::Str(
                        (0..n).map(|i| if i < 5 { "L2/3" } else { "L2/3 deep ü" }.to_owned()).collect(),
                    ),
                },
            ],
        },
        NodePopulation {
            name: "L23I".to_owned(),
            node_type_id: 101,
            model_type: "point_neuron".to_owned(),
            model_template: "nest:iaf_psc_exp".to_owned(),
            size: 5,
            type_attributes: pairs(&[("layer", "L2/3"), ("cell_type", "I")]),
            attributes: vec![NodeAttribute {
                name: "x".to_owned(),
                values: NodeValues::F64(vec![1.0, 2.0, 3.0, 4.0, 5.0]),
            }],
        },
        NodePopulation {
            name: "thalamus".to_owned(),
            node_type_id: 7,
            model_type: "virtual".to_owned(),
            model_template: String::new(),
            size: 4,
            type_attributes: pairs(&[("area", "TC")]),
            attributes: Vec::new(),
        },
    ]
}

fn edge_specs() -> Vec<EdgePopulationSpec> {
    vec![
        EdgePopulationSpec {
            name: "L23E_to_L23I".to_owned(),
            source_population: "L23E".to_owned(),
            target_population: "L23I".to_owned(),
            source_size: 10,
            target_size: 5,
            edge_type_id: 1,
            weight_units: "pA".to_owned(),
            type_attributes: pairs(&[("model_template", "nest:static_synapse")]),
        },
        EdgePopulationSpec {
            name: "L23I_to_L23E".to_owned(),
            source_population: "L23I".to_owned(),
            target_population: "L23E".to_owned(),
            source_size: 5,
            target_size: 10,
            edge_type_id: 2,
            weight_units: "pA".to_owned(),
            type_attributes: pairs(&[("model_template", "nest:static_synapse"), ("synapse", "GABA A")]),
        },
        // A projection without edges.
        EdgePopulationSpec {
            name: "thalamus_to_L23E".to_owned(),
            source_population: "thalamus".to_owned(),
            target_population: "L23E".to_owned(),
            source_size: 4,
            target_size: 10,
            edge_type_id: 3,
            weight_units: "nS".to_owned(),
            type_attributes: Vec::new(),
        },
    ]
}

/// The edges pushed, per population: (source, target, weight, delay, receptor) in push order.
type Edges = Vec<Vec<(u64, u64, f64, f64, u32)>>;

/// Writes the whole circuit into `dir`, pushing edges the way the engine produces them (by
/// target shard, then source), interleaved across the two populations, with a chunk of 7 and
/// an index band of 5 rows so that both take several rounds.
fn write_circuit(dir: &Path) -> Edges {
    let populations = node_populations();
    write_nodes(&dir.join("nodes.h5"), &dir.join("node_types.csv"), &populations).unwrap();

    let specs = edge_specs();
    let mut writer = EdgeWriter::create(&dir.join("edges.h5"), &dir.join("edge_types.csv"), &specs, 7).unwrap();
    writer.set_index_memory(5 * 16);
    let mut pushed: Edges = vec![Vec::new(); specs.len()];
    let mut push = |writer: &mut EdgeWriter, p: usize, edge: (u64, u64, f64, f64, u32)| {
        writer.push(p, edge.0, edge.1, edge.2, edge.3, edge.4).unwrap();
        pushed[p].push(edge);
    };
    // Two target shards per population; within a shard, source by source.
    for shard in 0..2_u64 {
        for source in 0..10_u64 {
            for target in (shard * 3..(shard * 3 + 3).min(5)).filter(|t| (source + t) % 3 != 0) {
                let w = 0.25 * (source * 10 + target) as f64;
                push(&mut writer, 0, (source, target, w, 1.5, 0));
                // Multapses: every third pair twice.
                if (source + target) % 4 == 0 {
                    push(&mut writer, 0, (source, target, -w, 0.1, 1));
                }
            }
            if source < 5 {
                for target in (shard * 5..shard * 5 + 5).filter(|t| (source * t) % 2 == 0) {
                    push(&mut writer, 1, (source, target, -4.0 * (target + 1) as f64, 0.8, 2));
                }
            }
        }
    }
    assert_eq!(writer.len(0), pushed[0].len() as u64);
    assert!(pushed[0].len() > 3 * 7 && pushed[1].len() > 3 * 7, "several chunks per population");
    writer.finish().unwrap();

    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected(&populations, &specs, &pushed)).unwrap(),
    )
    .unwrap();
    pushed
}

/// What `circuit_readback.py` compares the files with.
fn expected(populations: &[NodePopulation], specs: &[EdgePopulationSpec], edges: &Edges) -> Value {
    let nodes: Vec<Value> = populations
        .iter()
        .map(|p| {
            let attributes: Vec<Value> = p
                .attributes
                .iter()
                .map(|a| {
                    let (dtype, values) = match &a.values {
                        NodeValues::F64(v) => ("float64", json!(v)),
                        NodeValues::F32(v) => ("float32", json!(v)),
                        NodeValues::I64(v) => ("int64", json!(v)),
                        NodeValues::U64(v) => ("uint64", json!(v)),
                        NodeValues::Str(v) => ("str", json!(v)),
                    };
                    json!({"name": a.name, "dtype": dtype, "values": values})
                })
                .collect();
            json!({"name": p.name, "node_type_id": p.node_type_id, "model_type": p.model_type,
                   "model_template": p.model_template, "size": p.size,
                   "type_attributes": p.type_attributes, "attributes": attributes})
        })
        .collect();
    let edge_pops: Vec<Value> = specs
        .iter()
        .zip(edges)
        .map(|(s, e)| {
            json!({"name": s.name, "source_population": s.source_population, "target_population": s.target_population,
                   "source_size": s.source_size, "target_size": s.target_size, "edge_type_id": s.edge_type_id,
                   "weight_units": s.weight_units, "type_attributes": s.type_attributes,
                   "source": e.iter().map(|x| x.0).collect::<Vec<_>>(),
                   "target": e.iter().map(|x| x.1).collect::<Vec<_>>(),
                   "weight": e.iter().map(|x| x.2).collect::<Vec<_>>(),
                   "delay": e.iter().map(|x| x.3).collect::<Vec<_>>(),
                   "receptor": e.iter().map(|x| x.4).collect::<Vec<_>>()})
        })
        .collect();
    json!({"nodes": nodes, "edges": edge_pops})
}

fn open(path: &Path) -> hdf5::File {
    hdf5::File::with_options().with_fapl(|p| p.file_locking(false)).open(path).unwrap()
}

fn descriptor(dataset: &hdf5::Dataset) -> TypeDescriptor {
    dataset.dtype().unwrap().to_descriptor().unwrap()
}

fn is_unlimited_chunked(dataset: &hdf5::Dataset) -> bool {
    dataset.chunk().is_some() && dataset.is_resizable() && dataset.filters().is_empty()
}

#[test]
fn node_types_csv_is_sonata_space_separated_with_quoting() {
    let dir = OutputDir::new("circuit-csv");
    write_circuit(&dir.path);
    let nodes = std::fs::read_to_string(dir.path.join("node_types.csv")).unwrap();
    assert_eq!(
        nodes,
        "node_type_id model_type model_template population pop_name layer cell_type area note\n\
         100 point_neuron nest:iaf_psc_exp L23E L23E L2/3 E \"V1 left\" \"say \"\"hi\"\"\"\n\
         101 point_neuron nest:iaf_psc_exp L23I L23I L2/3 I NULL NULL\n\
         7 virtual NULL thalamus thalamus NULL NULL TC NULL\n"
    );
    let edges = std::fs::read_to_string(dir.path.join("edge_types.csv")).unwrap();
    assert_eq!(
        edges,
        "edge_type_id population source_population target_population weight_units model_template synapse\n\
         1 L23E_to_L23I L23E L23I pA nest:static_synapse NULL\n\
         2 L23I_to_L23E L23I L23E pA nest:static_synapse \"GABA A\"\n\
         3 thalamus_to_L23E thalamus L23E nS NULL NULL\n"
    );
}

#[test]
fn nodes_h5_round_trip_with_the_hdf5_crate() {
    let dir = OutputDir::new("circuit-nodes");
    write_circuit(&dir.path);
    let file = open(&dir.path.join("nodes.h5"));
    assert_eq!(file.attr("magic").unwrap().read_scalar::<u32>().unwrap(), laminar_record::MAGIC);
    assert_eq!(file.attr("version").unwrap().read_raw::<u32>().unwrap(), laminar_record::VERSION);
    assert_eq!(file.group("nodes").unwrap().member_names().unwrap(), ["L23E", "L23I", "thalamus"]);

    for population in node_populations() {
        let group = file.group(&format!("nodes/{}", population.name)).unwrap();
        let n = population.size as usize;
        let ids: Vec<u64> = (0..population.size).collect();
        let column = |name: &str| group.dataset(name).unwrap();
        assert_eq!(descriptor(&column("node_type_id")), TypeDescriptor::Integer(hdf5::types::IntSize::U8));
        assert_eq!(column("node_type_id").read_raw::<i64>().unwrap(), vec![population.node_type_id; n]);
        assert_eq!(column("node_id").read_raw::<u64>().unwrap(), ids);
        assert_eq!(column("node_group_id").read_raw::<i64>().unwrap(), vec![0; n]);
        assert_eq!(column("node_group_index").read_raw::<u64>().unwrap(), ids);
        for name in ["node_type_id", "node_id", "node_group_id", "node_group_index"] {
            assert_eq!(column(name).shape(), [n]);
            assert!(is_unlimited_chunked(&column(name)), "{name}");
        }
        let attributes = group.group("0").unwrap();
        let mut names: Vec<String> = population.attributes.iter().map(|a| a.name.clone()).collect();
        names.sort();
        assert_eq!(attributes.member_names().unwrap(), names);
        for attribute in &population.attributes {
            let dataset = attributes.dataset(&attribute.name).unwrap();
            assert_eq!(dataset.shape(), [n]);
            assert!(is_unlimited_chunked(&dataset));
            match &attribute.values {
                NodeValues::F64(v) => {
                    assert_eq!(descriptor(&dataset), TypeDescriptor::Float(hdf5::types::FloatSize::U8));
                    assert_eq!(&dataset.read_raw::<f64>().unwrap(), v);
                }
                NodeValues::F32(v) => {
                    assert_eq!(descriptor(&dataset), TypeDescriptor::Float(hdf5::types::FloatSize::U4));
                    assert_eq!(&dataset.read_raw::<f32>().unwrap(), v);
                }
                NodeValues::I64(v) => {
                    assert_eq!(descriptor(&dataset), TypeDescriptor::Integer(hdf5::types::IntSize::U8));
                    assert_eq!(&dataset.read_raw::<i64>().unwrap(), v);
                }
                NodeValues::U64(v) => {
                    assert_eq!(descriptor(&dataset), TypeDescriptor::Unsigned(hdf5::types::IntSize::U8));
                    assert_eq!(&dataset.read_raw::<u64>().unwrap(), v);
                }
                NodeValues::Str(v) => {
                    assert_eq!(descriptor(&dataset), TypeDescriptor::VarLenUnicode);
                    let read: Vec<String> =
                        dataset.read_raw::<VarLenUnicode>().unwrap().iter().map(|s| s.as_str().to_owned()).collect();
                    assert_eq!(&read, v);
                }
            }
        }
    }
}

#[test]
fn edges_h5_round_trip_with_the_hdf5_crate() {
    let dir = OutputDir::new("circuit-edges");
    let pushed = write_circuit(&dir.path);
    let file = open(&dir.path.join("edges.h5"));
    assert_eq!(file.attr("magic").unwrap().read_scalar::<u32>().unwrap(), laminar_record::MAGIC);
    for (spec, edges) in edge_specs().iter().zip(&pushed) {
        let group = file.group(&format!("edges/{}", spec.name)).unwrap();
        let n = edges.len();
        let column = |name: &str| group.dataset(name).unwrap();
        for name in ["source_node_id", "target_node_id", "edge_type_id", "edge_group_id", "edge_group_index"] {
            assert_eq!(column(name).shape(), [n], "{name}");
            assert!(is_unlimited_chunked(&column(name)), "{name}");
        }
        // Push order is file order.
        assert_eq!(column("source_node_id").read_raw::<u64>().unwrap(), edges.iter().map(|e| e.0).collect::<Vec<_>>());
        assert_eq!(column("target_node_id").read_raw::<u64>().unwrap(), edges.iter().map(|e| e.1).collect::<Vec<_>>());
        for (name, population) in
            [("source_node_id", &spec.source_population), ("target_node_id", &spec.target_population)]
        {
            let attr = column(name).attr("node_population").unwrap();
            assert_eq!(attr.dtype().unwrap().to_descriptor().unwrap(), TypeDescriptor::VarLenUnicode);
            assert_eq!(attr.read_scalar::<VarLenUnicode>().unwrap().as_str(), population);
        }
        // The constant columns are fill values, never written, yet read as the constant.
        assert_eq!(column("edge_type_id").read_raw::<i64>().unwrap(), vec![spec.edge_type_id; n]);
        assert_eq!(column("edge_group_id").read_raw::<i64>().unwrap(), vec![0; n]);
        assert_eq!(column("edge_group_index").read_raw::<u64>().unwrap(), (0..n as u64).collect::<Vec<_>>());
        assert_eq!(column("0/syn_weight").read_raw::<f64>().unwrap(), edges.iter().map(|e| e.2).collect::<Vec<_>>());
        assert_eq!(column("0/delay").read_raw::<f64>().unwrap(), edges.iter().map(|e| e.3).collect::<Vec<_>>());
        assert_eq!(descriptor(&column("0/receptor")), TypeDescriptor::Unsigned(hdf5::types::IntSize::U4));
        assert_eq!(column("0/receptor").read_raw::<u32>().unwrap(), edges.iter().map(|e| e.4).collect::<Vec<_>>());
        let units = column("0/syn_weight").attr("units").unwrap().read_scalar::<VarLenUnicode>().unwrap();
        assert_eq!(units.as_str(), spec.weight_units);

        // Indices: every node's ranges cover exactly its edges, in edge order.
        for (index, nodes, key) in
            [("source_to_target", spec.source_size, 0_usize), ("target_to_source", spec.target_size, 1)]
        {
            let ranges = column(&format!("indices/{index}/node_id_to_ranges"));
            let edge_ranges = column(&format!("indices/{index}/range_to_edge_id"));
            assert_eq!(ranges.shape(), [nodes as usize, 2]);
            assert_eq!(descriptor(&ranges), TypeDescriptor::Unsigned(hdf5::types::IntSize::U8));
            let ranges = ranges.read_raw::<u64>().unwrap();
            let edge_ranges = edge_ranges.read_raw::<u64>().unwrap();
            for node in 0..nodes {
                let (first, end) = (ranges[2 * node as usize] as usize, ranges[2 * node as usize + 1] as usize);
                let mut covered = Vec::new();
                for row in first..end {
                    covered.extend(edge_ranges[2 * row]..edge_ranges[2 * row + 1]);
                }
                let want: Vec<u64> = (0..n as u64)
                    .filter(|&e| if key == 0 { edges[e as usize].0 } else { edges[e as usize].1 } == node)
                    .collect();
                assert_eq!(covered, want, "{} {index} node {node}", spec.name);
            }
        }
    }
}

#[test]
fn invalid_circuits_are_refused_before_writing() {
    let dir = OutputDir::new("circuit-invalid");
    let (h5, csv) = (dir.path.join("nodes.h5"), dir.path.join("node_types.csv"));
    let mut populations = node_populations();
    populations[1].node_type_id = 100;
    let error = write_nodes(&h5, &csv, &populations).unwrap_err();
    assert!(
        matches!(error, RecordError::InvalidInput { .. }) && error.to_string().contains("share node_type_id"),
        "{error}"
    );
    let mut populations = node_populations();
    populations[0].attributes[0].values = NodeValues::F64(vec![1.0]);
    assert!(write_nodes(&h5, &csv, &populations).unwrap_err().to_string().contains("1 values for 10 nodes"));
    let mut populations = node_populations();
    populations[0].type_attributes.push(("bad name".to_owned(), "x".to_owned()));
    assert!(write_nodes(&h5, &csv, &populations).is_err());
    assert!(!h5.exists() && !csv.exists());

    let (h5, csv) = (dir.path.join("edges.h5"), dir.path.join("edge_types.csv"));
    let mut writer = EdgeWriter::create(&h5, &csv, &edge_specs(), 4).unwrap();
    assert!(writer.push(0, 10, 0, 1.0, 1.0, 0).unwrap_err().to_string().contains("outside its populations"));
    assert!(writer.push(0, 0, 5, 1.0, 1.0, 0).is_err());
    assert!(writer.push(0, 0, 0, f64::NAN, 1.0, 0).is_err());
    assert!(writer.push(0, 0, 0, 1.0, -1.0, 0).is_err());
    assert!(writer.push(3, 0, 0, 1.0, 1.0, 0).is_err());
    writer.push(0, 0, 0, 1.0, 1.0, 0).unwrap();
    writer.finish().unwrap();
}

fn describe(output: &Output) -> String {
    format!(
        "exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn h5py_and_libsonata_read_the_circuit() {
    let _serial = serial();
    let dir = OutputDir::new("circuit-libsonata");
    write_circuit(&dir.path);
    let output = run_circuit(&dir.path, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "circuit_readback.py rejected the circuit:\n{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("circuit readback OK"), "{}", describe(&output));
}

/// bmtk is optional: skipped, saying so, when it is not importable.
#[test]
fn bmtk_reads_the_circuit() {
    let _serial = serial();
    let dir = OutputDir::new("circuit-bmtk");
    write_circuit(&dir.path);
    let output = run_circuit(&dir.path, true).unwrap_or_else(|e| panic!("{e}"));
    if output.status.code() == Some(BMTK_MISSING) {
        eprintln!("skipped: bmtk is not importable (pip install bmtk)");
        return;
    }
    assert!(output.status.success(), "bmtk (or h5py/libsonata) rejected the circuit:\n{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(", bmtk "), "{}", describe(&output));
}

/// Throughput and memory at scale (run by hand: `cargo test --release -p laminar-record --test
/// circuit -- --ignored --nocapture`): 10⁷ edges in one projection of 20 000 × 20 000 nodes,
/// pushed by target shard then source like the engine, with the default chunk and index memory.
#[test]
#[ignore = "writes a 400 MB file; run by hand"]
fn ten_million_edges() {
    let dir = OutputDir::new("circuit-scale");
    let n = 20_000_u64;
    let spec = EdgePopulationSpec {
        name: "e_to_e".to_owned(),
        source_population: "e".to_owned(),
        target_population: "e".to_owned(),
        source_size: n,
        target_size: n,
        edge_type_id: 0,
        weight_units: "pA".to_owned(),
        type_attributes: Vec::new(),
    };
    let start = std::time::Instant::now();
    let mut writer =
        EdgeWriter::create(&dir.path.join("edges.h5"), &dir.path.join("edge_types.csv"), &[spec], 1 << 16).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut pushed = 0_u64;
    for shard in 0..4 {
        for source in 0..n {
            for _ in 0..125 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let target = shard * n / 4 + state % (n / 4);
                writer.push(0, source, target, 87.8, 1.5, 0).unwrap();
                pushed += 1;
            }
        }
    }
    let pushing = start.elapsed();
    writer.finish().unwrap();
    eprintln!("{pushed} edges: pushed in {pushing:?}, finished (indices) in {:?}", start.elapsed() - pushing);
}
