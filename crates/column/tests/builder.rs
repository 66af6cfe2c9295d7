//! Builder statistics: realised synapse counts and in-degrees against the description, the
//! distance profile of tangential connections, the mapping of interareal and thalamic streams,
//! where targets land (compartment and receptor), and per-column inputs.

use laminar_column::{Expanded, Stream, add_to_builder, expand, from_toml_document};
use laminar_engine::{NetworkBuilder, Resolution, Rule};

fn expanded(text: &str) -> Expanded {
    let (d, n, k) = from_toml_document(text).expect("parses");
    expand(&d, n, k).expect("expands")
}

fn builder(e: &Expanded, seed: u64) -> NetworkBuilder {
    let mut b = NetworkBuilder::new(Resolution::new(0.1).expect("h"), seed);
    add_to_builder(e, &mut b).expect("adds");
    b
}

/// Realised synapses per projection (in projection order).
fn realised(b: &NetworkBuilder) -> Vec<u64> {
    b.build(2).expect("builds").projection_synapses().to_vec()
}

const SHEET: &str = r#"
[column]
[[column.layers]]
name = "L23"
depth_um = [100.0, 400.0]
[column.cell_defaults]
model = "iaf_psc_exp"
[column.cell_types.E]
layer = "L23"
count = 300
[[column.areas]]
name = "A"
columns = 6
spacing_um = 200.0
[[column.tangential]]
source = "E"
target = "E"
probability = 0.3
profile = { gaussian = { sigma_um = 300.0 } }
weight = 10.0
delay_ms = 1.0
velocity_um_per_ms = 100.0
"#;

#[test]
fn tangential_connections_follow_the_distance_profile() {
    let e = expanded(SHEET);
    assert_eq!(e.populations.len(), 6);
    // Every ordered pair of distinct columns: 30 projections, each pairwise Bernoulli with
    // p0 · exp(−d²/2σ²), and a delay of 1 ms + d / velocity.
    assert_eq!(e.projections.len(), 30);
    let counts = realised(&builder(&e, 11));
    let n = 300.0 * 300.0;
    let mut by_distance: std::collections::BTreeMap<u64, (f64, f64)> = Default::default();
    for (p, &c) in e.projections.iter().zip(&counts) {
        assert_eq!(p.stream, Stream::Tangential);
        let d = p.distance_um.expect("distance");
        let expected_p = 0.3 * (-d * d / (2.0 * 300.0 * 300.0)).exp();
        assert_eq!(p.rule, Rule::PairwiseBernoulli { p: expected_p });
        assert_eq!(p.delay, laminar_engine::Dist::Constant(1.0 + d / 100.0));
        // The realised count is binomial(n, p): within 4.5 standard deviations.
        let sd = (n * expected_p * (1.0 - expected_p)).sqrt();
        assert!((c as f64 - n * expected_p).abs() < 4.5 * sd, "{}: {c} synapses, expected {}", p.name, n * expected_p);
        let slot = by_distance.entry(d.round() as u64).or_default();
        slot.0 += c as f64;
        slot.1 += n;
    }
    // The profile pooled by distance: realised probability against p0·exp(−d²/2σ²), 3 % relative.
    assert_eq!(by_distance.len(), 5, "distances 200 … 1000 µm");
    for (d, (c, pairs)) in by_distance {
        let d = d as f64;
        let want = 0.3 * (-d * d / (2.0 * 300.0 * 300.0)).exp();
        let got = c / pairs;
        let sd = (want * (1.0 - want) / pairs).sqrt();
        assert!((got - want).abs() < 4.5 * sd, "d = {d} µm: realised p {got:.5}, profile {want:.5}");
    }
}

#[test]
fn a_cut_off_and_an_exponential_profile() {
    let text = SHEET
        .replace("profile = { gaussian = { sigma_um = 300.0 } }", "profile = { exponential = { lambda_um = 250.0 } }")
        .replace("velocity_um_per_ms = 100.0", "max_distance_um = 450.0");
    let e = expanded(&text);
    // Distances 200 and 400 µm only: 2·(5 + 4) ordered pairs.
    assert_eq!(e.projections.len(), 18);
    for p in &e.projections {
        let d = p.distance_um.expect("distance");
        assert!(d <= 450.0);
        assert_eq!(p.rule, Rule::PairwiseBernoulli { p: 0.3 * (-d / 250.0).exp() });
    }
}

const TWO_AREAS: &str = r#"
[column]
[[column.layers]]
name = "L23"
[[column.layers]]
name = "L5"
[column.cell_defaults]
model = "iaf_psc_exp"
[column.cell_types.E23]
layer = "L23"
count = 40
[column.cell_types.P5]
layer = "L5"
count = 30
model = "pyramidal_bac"
[[column.connections]]
source = "E23"
target = "E23"
rule = { indegree = 12 }
weight = 20.0
[[column.connections]]
source = "E23"
target = "P5"
rule = { indegree = 7 }
weight = 50.0
compartment = "basal"
[[column.areas]]
name = "V1"
columns = 3
[[column.areas]]
name = "V2"
columns = ["a", "b", "c"]
[[column.interareal]]
kind = "feedback"
source_area = "V2"
target_area = "V1"
source = "P5"
target = "P5"
rule = { indegree = 5 }
weight = 40.0
compartment = "apical"
[column.thalamus.nuclei.core]
per = "column"
count = 10
[column.thalamus.nuclei.ho]
per = "area"
count = 15
[[column.thalamus.connections]]
source = "core"
target = "E23"
rule = { probability = 0.5 }
weight = 30.0
[[column.thalamus.connections]]
source = "P5"
target = "ho"
rule = { indegree = 6 }
weight = 30.0
[[column.thalamus.connections]]
source = "ho"
source_area = "V1"
target = "E23"
target_area = "V2"
rule = { indegree = 4 }
weight = 30.0
[[column.inputs]]
name = "value"
target = "core"
areas = ["V1"]
columns = [0, 2]
poisson = { rate_hz = [100.0, 300.0] }
weight = 25.0
[[column.inputs]]
name = "query"
target = "P5"
spikes = { times_ms = [[5.0, 9.0], [7.0], [1.0]] }
areas = ["V2"]
weight = 60.0
compartment = "apical"
"#;

#[test]
fn areas_thalamus_and_inputs_expand_as_described_and_land_on_their_receptors() {
    let e = expanded(TWO_AREAS);
    let names: Vec<&str> = e.populations.iter().map(|p| p.name.as_str()).collect();
    // Column by column (types by layer, then per-column nuclei), then the area's nuclei; the
    // spike-train inputs last.
    assert_eq!(
        &names[..11],
        [
            "V1_c0_E23",
            "V1_c0_P5",
            "V1_c0_core",
            "V1_c1_E23",
            "V1_c1_P5",
            "V1_c1_core",
            "V1_c2_E23",
            "V1_c2_P5",
            "V1_c2_core",
            "V1_ho",
            "V2_a_E23"
        ]
    );
    assert_eq!(&names[names.len() - 3..], ["V2_a_input_query", "V2_b_input_query", "V2_c_input_query"]);
    let pl = &e.populations.iter().find(|p| p.name == "V2_b_P5").expect("V2_b_P5").placement;
    assert_eq!((pl.layer.as_deref(), pl.area.as_deref(), pl.column.as_deref()), (Some("L5"), Some("V2"), Some("b")));
    assert_eq!(pl.column_index, Some(1));
    let count = |stream: Stream| e.projections.iter().filter(|p| p.stream == stream).count();
    assert_eq!(count(Stream::Intra), 2 * 6);
    assert_eq!(count(Stream::Interareal), 3, "topographic: V2 column i -> V1 column i");
    // core -> E23 in each of 6 columns; P5 -> ho: 3 columns in each of 2 areas; V1's ho -> V2.
    assert_eq!(count(Stream::Thalamic), 6 + 6 + 3);
    assert_eq!(count(Stream::Input), 3);
    let fb: Vec<(&str, &str)> = e
        .projections
        .iter()
        .filter(|p| p.stream == Stream::Interareal)
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    assert_eq!(fb, [("V2_a_P5", "V1_c0_P5"), ("V2_b_P5", "V1_c1_P5"), ("V2_c_P5", "V1_c2_P5")]);
    assert!(e.projections.iter().any(|p| p.source == "V1_ho" && p.target == "V2_c_E23"));
    // Per-column inputs: only the addressed columns, with their own rates.
    let value: Vec<(&str, f64)> = e
        .devices
        .iter()
        .filter(|d| d.name.starts_with("input:value"))
        .map(|d| (d.target.as_str(), d.params["rate"].as_f64().expect("rate")))
        .collect();
    assert_eq!(value, [("V1_c0_core", 100.0), ("V1_c2_core", 300.0)]);

    // Realised in-degrees: fixed in-degree rules give exactly K per target neuron.
    let b = builder(&e, 5);
    let counts = realised(&b);
    for (p, &c) in e.projections.iter().zip(&counts) {
        let target = e.populations.iter().find(|q| q.name == p.target).expect("target").size as u64;
        match p.rule {
            Rule::FixedIndegree { k } => assert_eq!(c, k * target, "{}", p.name),
            Rule::AllToAll => assert_eq!(c, target, "{}", p.name),
            Rule::PairwiseBernoulli { p: prob } => {
                let n = 10.0 * 40.0;
                let sd = (n * prob * (1.0 - prob)).sqrt();
                assert!((c as f64 - n * prob).abs() < 4.5 * sd, "{}: {c}", p.name);
            }
            _ => panic!("unexpected rule for {}", p.name),
        }
    }

    // Targets land on the declared compartment: basal for the local E23 -> P5 stream, apical for
    // the feedback and the query input (pyramidal_bac receptors: soma 0, basal 1, apical 2).
    let info = laminar_models::registry::model_info("pyramidal_bac").expect("model");
    let (basal, apical) = (info.receptor_index("basal").expect("basal"), info.receptor_index("apical").expect("a"));
    let mut seen = std::collections::BTreeMap::new();
    b.for_each_synapse(1000, |s| {
        let p = &e.projections[s.projection];
        if p.target.ends_with("_P5") {
            *seen.entry((p.stream, usize::from(s.receptor))).or_insert(0u64) += 1;
        }
    })
    .expect("synapses");
    let kinds: Vec<(Stream, usize)> = seen.keys().copied().collect();
    assert_eq!(kinds, [(Stream::Intra, basal), (Stream::Interareal, apical), (Stream::Input, apical)]);
}

#[test]
fn description_errors_name_the_field() {
    let bad = |from: &str, to: &str| {
        let text = TWO_AREAS.replace(from, to);
        let (d, n, k) = from_toml_document(&text).expect("parses");
        expand(&d, n, k).expect_err("must fail")
    };
    let e = bad("source_area = \"V2\"", "source_area = \"V3\"");
    assert_eq!(e.field, "column.interareal.0.source_area");
    assert!(e.message.contains("no area `V3`"), "{}", e.message);
    let e = bad("columns = [0, 2]", "columns = [0, 3]");
    assert_eq!(e.field, "column.inputs.0.columns.1");
    let e = bad("rate_hz = [100.0, 300.0]", "rate_hz = [100.0]");
    assert_eq!(e.field, "column.inputs.0.poisson.rate_hz");
    let e = bad("columns = [\"a\", \"b\", \"c\"]", "columns = [\"a\", \"b\"]");
    assert_eq!(e.field, "column.interareal.0.mapping");
}
