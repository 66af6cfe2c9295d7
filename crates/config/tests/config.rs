//! The model-file language: every class of error names the file, the line (or the `--set`
//! argument), the dotted field and what is allowed; overrides reach nested keys and arrays of
//! tables; and every shipped model file loads, builds and runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use laminar_config::{self as config, ConfigError, ModelFile};
use laminar_engine::{NullObserver, Observer, SpikeRecord, Step};

/// A fresh directory per call, so tests running in parallel never share files.
fn temp_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("laminar-config-{}-{label}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn write_model(label: &str, text: &str) -> PathBuf {
    let path = temp_dir(label).join("model.toml");
    std::fs::write(&path, text).expect("write model");
    path
}

fn load_text(label: &str, text: &str, overrides: &[&str]) -> Result<ModelFile, Box<ConfigError>> {
    let path = write_model(label, text);
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let result = config::load(&path, &overrides).map_err(Box::new);
    // Everything is read at load time; the file is no longer needed.
    if let Some(dir) = path.parent() {
        std::fs::remove_dir_all(dir).ok();
    }
    result
}

fn load_err(label: &str, text: &str, overrides: &[&str]) -> ConfigError {
    match load_text(label, text, overrides) {
        Ok(_) => panic!("{label}: accepted"),
        Err(e) => *e,
    }
}

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("no '{needle}' in the model"))
}

/// A small valid model that the error cases edit.
const BASE: &str = r#"[simulation]
resolution_ms = 0.1
duration_ms = 100.0
seed = 7

[populations.exc]
model = "iaf_psc_exp"
size = 40
params = { E_L = -49.0, V_th = -50.0, V_reset = -60.0, tau_m = 20.0 }
initial = { V_m = { uniform = [-60.0, -50.0] } }

[populations.inh]
model = "iaf_psc_exp"
size = 10

[[projections]]
name = "exc_to_all"
source = "exc"
target = "inh"
rule = { pairwise_bernoulli = { p = 0.1 } }
weight = 20.0
delay_ms = 0.1

[[projections]]
source = "inh"
target = "exc"
rule = { fixed_indegree = { k = 5 } }
weight = { normal = { mean = -50.0, std = 5.0 } }
delay_ms = { uniform = { low = 0.1, high = 1.0 } }

[[stimuli]]
name = "drive"
model = "poisson_generator"
params = { rate = 5000.0 }
target = "exc"
weight = 20.0
delay_ms = 0.1

[recording]
spikes = ["exc"]

[[recording.variables]]
population = "exc"
variable = "V_m"
interval_ms = 1.0
nodes = [0, 1, 2]
"#;

fn base_with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "BASE has no '{old}'");
    BASE.replacen(old, new, 1)
}

/// Checks the error's line, field and message, and that its display names the file.
#[track_caller]
fn check(e: &ConfigError, line: usize, field: &str, message_parts: &[&str]) {
    assert_eq!(e.line, Some(line), "line of: {e}");
    assert_eq!(e.field, field, "field of: {e}");
    for part in message_parts {
        assert!(e.message.contains(part), "expected '{part}' in the message of: {e}");
    }
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("{}:{line}: ", e.file.display())), "display: {shown}");
    assert!(e.file.ends_with("model.toml"));
}

#[test]
fn the_base_model_loads_builds_and_runs() {
    let file = load_text("base", BASE, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.simulation().duration_ms, 100.0);
    assert_eq!(file.simulation().duration_steps(), 1000);
    assert_eq!(file.simulation().seed, 7);
    assert_eq!(file.simulation().threads, 1);
    assert!(file.describe().contains("50 neurons"), "{}", file.describe());
    let mut built = file.build(7, 2).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = built.simulation.populations().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["exc", "inh"]);
    assert_eq!(built.simulation.projection_names(), ["exc_to_all", "inh->exc"]);
    assert_eq!(built.record_spikes, [true, false]);
    assert_eq!(built.recordings.len(), 1);
    let plan = &built.recordings[0];
    assert_eq!((plan.population.as_str(), plan.variable.as_str(), plan.units.as_str()), ("exc", "V_m", "mV"));
    assert_eq!((plan.interval_ms, plan.nodes.as_slice()), (1.0, [0, 1, 2].as_slice()));
    let steps = file.simulation().duration_steps();
    built.simulation.run(steps, &mut NullObserver, &AtomicBool::new(false)).expect("run");
    assert!(built.simulation.spike_counts()[0] > 0, "E_L above threshold: the exc population fires");
}

/// `load_str` is `load` from text in memory: the same file, the same errors, named by the path
/// it is given.
#[test]
fn text_in_memory_loads_like_a_file() {
    let path = Path::new("generated/model.toml");
    let overrides = vec!["simulation.duration_ms=50".to_string()];
    let from_text = config::load_str(BASE, path, &overrides).unwrap_or_else(|e| panic!("{e}"));
    let from_file = load_text("load_str", BASE, &["simulation.duration_ms=50"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_text.path, path);
    assert_eq!(from_text.text, BASE);
    assert_eq!(from_text.overrides, overrides);
    assert_eq!(from_text.describe(), from_file.describe());
    assert_eq!(from_text.simulation(), from_file.simulation());

    let text = base_with("tau_m = 20.0", "tau_m = -5.0");
    let e = config::load_str(&text, path, &[]).expect_err("tau_m < 0");
    assert_eq!(e.file, path);
    let from_file = load_err("load_str_error", &text, &[]);
    assert_eq!(
        (e.line, &e.field, &e.value, &e.message),
        (from_file.line, &from_file.field, &from_file.value, &from_file.message)
    );
    assert!(e.to_string().starts_with(&format!("generated/model.toml:{}: ", line_of(&text, "tau_m"))), "{e}");
}

#[test]
fn populations_keep_file_order() {
    let text = r#"
[simulation]
duration_ms = 1.0
[populations.zeta]
model = "parrot_neuron"
size = 2
[populations.alpha]
model = "iaf_psc_delta"
size = 3
[populations.middle]
model = "spike_generator"
size = 1
params = { spike_times = [0.5] }
"#;
    let file = load_text("order", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let built = file.build(1, 1).unwrap_or_else(|e| panic!("{e}"));
    let pops = built.simulation.populations();
    let names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "middle"]);
    assert_eq!(pops.iter().map(|p| p.first_gid).collect::<Vec<_>>(), [0, 2, 5]);
    // Defaults: resolution 0.1 ms, seed 1, every population's spikes recorded.
    assert_eq!(file.simulation().resolution_ms, 0.1);
    assert_eq!(file.simulation().seed, 1);
    assert_eq!(built.record_spikes, [true, true, true]);
}

#[test]
fn toml_syntax_errors_give_the_line() {
    let text = "[simulation]\nresolution_ms = 0.1\nduration_ms = \n";
    let e = load_err("syntax", text, &[]);
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("TOML syntax error"), "{e}");
    let e = load_err("syntax2", "[simulation\nduration_ms = 1.0\n", &[]);
    assert_eq!(e.line, Some(1), "{e}");
    let e = load_err("duplicate", "[simulation]\nduration_ms = 1.0\nduration_ms = 2.0\n", &[]);
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
}

#[test]
fn unknown_fields_suggest_the_closest_name() {
    let text = base_with("seed = 7", "seed = 7\nresolutoin_ms = 0.1");
    let e = load_err("sim-typo", &text, &[]);
    check(&e, 5, "simulation.resolutoin_ms", &["unknown field `resolutoin_ms`", "did you mean `resolution_ms`?"]);

    let text = base_with("tau_m = 20.0 }", "tau_mm = 20.0 }");
    let e = load_err("param-typo", &text, &[]);
    check(
        &e,
        line_of(&text, "tau_mm"),
        "populations.exc.params.tau_mm",
        &["unknown field `tau_mm` in populations.exc.params", "(did you mean `tau_m`?)", "C_m", "tau_syn_ex"],
    );

    let text = base_with("weight = 20.0\ndelay_ms = 0.1\n\n[[proj", "wieght = 20.0\ndelay_ms = 0.1\n\n[[proj");
    let e = load_err("projection-typo", &text, &[]);
    check(&e, line_of(&text, "wieght"), "projections.exc_to_all.wieght", &["did you mean `weight`?"]);

    let text = format!("{BASE}\n[extras]\nfoo = 1\n");
    let e = load_err("top-typo", &text, &[]);
    check(&e, line_of(&text, "[extras]"), "extras", &["unknown field `extras` in the model file", "allowed:"]);

    // Device parameters, and a device that takes none of the given names.
    let text = base_with("rate = 5000.0", "rat = 5000.0");
    let e = load_err("device-param", &text, &[]);
    check(&e, line_of(&text, "rat = "), "stimuli.drive.params.rat", &["did you mean `rate`?", "start", "stop"]);

    // A model with state next to its parameters accepts its state variables too.
    let text = base_with(
        "model = \"iaf_psc_exp\"\nsize = 10",
        "model = \"iaf_psc_exp_ps\"\nsize = 10\nparams = { V_mm = -60.0 }",
    );
    let e = load_err("ps-state", &text, &[]);
    assert!(e.message.contains("did you mean `V_m`?"), "{e}");
}

#[test]
fn bad_parameter_values_name_the_field_and_range() {
    let text = base_with("tau_m = 20.0", "tau_m = -5");
    let e = load_err("neg-tau", &text, &[]);
    let line = line_of(&text, "tau_m = -5");
    check(&e, line, "populations.exc.params.tau_m", &["must be a finite number > 0 ms"]);
    assert_eq!(e.value.as_deref(), Some("-5"));
    assert_eq!(
        e.to_string(),
        format!("{}:{line}: populations.exc.params.tau_m = -5: must be a finite number > 0 ms", e.file.display())
    );

    // A set value that conflicts with a default points at the params table and says so.
    let text = base_with("V_reset = -60.0, ", "");
    let text = text.replacen("V_th = -50.0", "V_th = -80.0", 1);
    let e = load_err("default-conflict", &text, &[]);
    check(&e, line_of(&text, "V_th = -80.0"), "populations.exc.params.V_reset", &["must be < V_th (-80)", "default"]);

    // Wrong types in parameters are traced to the parameter.
    let text = base_with("tau_m = 20.0", "tau_m = \"twenty\"");
    let e = load_err("param-type", &text, &[]);
    check(&e, line_of(&text, "twenty"), "populations.exc.params.tau_m", &["must be a number"]);
}

/// A parrot repeats every arrival as a spike that is delivered and recorded: a generator's rate
/// into one is bounded by what a run can record, not by what a channel can count.
#[test]
fn rates_into_parrots_are_bounded_by_the_spikes_they_repeat() {
    let text = "[simulation]\nresolution_ms = 0.1\nduration_ms = 10.0\n\n[populations.p]\nmodel = \"parrot_neuron\"\nsize = 2\n\n\
                [[stimuli]]\nmodel = \"poisson_generator\"\nparams = { rate = 4294967295 }\ntarget = \"p\"\nweight = 1.0\n\n\
                [recording]\nspikes = \"all\"\n";
    let e = load_err("parrot-rate", text, &[]);
    let field = "stimuli.poisson_generator->p.params.rate";
    check(&e, line_of(text, "rate = 4294967295"), field, &["repeats every arrival", "rate <= 1000000 spikes/s"]);
    let ok = text.replace("4294967295", "900000");
    load_text("parrot-rate-ok", &ok, &[]).unwrap_or_else(|e| panic!("{e}"));
    let inhomogeneous = text.replace(
        "model = \"poisson_generator\"\nparams = { rate = 4294967295 }",
        "model = \"inhomogeneous_poisson_generator\"\nparams = { rate_times = [1.0, 2.0], rate_values = [10.0, 2e6] }",
    );
    let e = load_err("parrot-rate-inh", &inhomogeneous, &[]);
    assert_eq!(e.field, "stimuli.inhomogeneous_poisson_generator->p.params.rate_values.1", "{e}");
}

#[test]
fn non_finite_numbers() {
    // -inf is the "no lower bound" of iaf_psc_delta's V_min; it travels as JSON null.
    let ok = base_with(
        "model = \"iaf_psc_exp\"\nsize = 10",
        "model = \"iaf_psc_delta\"\nsize = 10\nparams = { V_min = -inf }",
    );
    load_text("v-min", &ok, &[]).unwrap_or_else(|e| panic!("{e}"));
    let text = base_with("tau_m = 20.0", "tau_m = -inf");
    let e = load_err("tau-neg-inf", &text, &[]);
    check(&e, line_of(&text, "-inf"), "populations.exc.params.tau_m", &["-inf is allowed only for lower bounds"]);
    let text = base_with("rate = 5000.0", "rate = 5000.0, stop = inf");
    let e = load_err("stop-inf", &text, &[]);
    check(&e, line_of(&text, "stop = inf"), "stimuli.drive.params.stop", &["must be a finite number"]);
    let text = base_with("duration_ms = 100.0", "duration_ms = nan");
    let e = load_err("nan", &text, &[]);
    check(&e, 3, "simulation.duration_ms", &["finite"]);
}

#[test]
fn wrong_types_and_missing_keys() {
    let text = base_with("size = 40", "size = \"forty\"");
    let e = load_err("size-type", &text, &[]);
    check(&e, line_of(&text, "forty"), "populations.exc.size", &["must be an integer, not a string"]);

    let text = base_with("size = 40", "size = 40.0");
    let e = load_err("size-float", &text, &[]);
    check(&e, line_of(&text, "size = 40.0"), "populations.exc.size", &["must be an integer"]);

    let text = base_with("size = 40\n", "");
    let e = load_err("size-missing", &text, &[]);
    check(&e, line_of(&text, "[populations.exc]"), "populations.exc.size", &["missing"]);

    let text = base_with("source = \"inh\"\n", "");
    let e = load_err("source-missing", &text, &[]);
    assert_eq!(e.field, "projections.1.source", "{e}");
    assert!(e.message.contains("missing"), "{e}");

    let text = base_with("spikes = [\"exc\"]", "spikes = 3");
    let e = load_err("spikes-type", &text, &[]);
    check(&e, line_of(&text, "spikes = 3"), "recording.spikes", &["\"all\" or a list of population names"]);

    // An empty node list records nothing: refused at load, not at the start of the run.
    let text = base_with("nodes = [0, 1, 2]", "nodes = []");
    let e = load_err("nodes-empty", &text, &[]);
    check(&e, line_of(&text, "nodes = []"), "recording.variables.0.nodes", &["at least one node"]);

    // A whole missing table is named at the file's last line: where a truncated file ends.
    let e = load_err("no-sim", "[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n", &[]);
    assert_eq!((e.line, e.field.as_str()), (Some(3), "simulation"), "{e}");
    assert!(e.message.contains("missing [simulation] table"), "{e}");
}

#[test]
fn unknown_models_populations_variables_and_receptors() {
    let text = base_with("model = \"iaf_psc_exp\"\nsize = 40", "model = \"iaf_psc_exq\"\nsize = 40");
    let e = load_err("model", &text, &[]);
    check(&e, line_of(&text, "iaf_psc_exq"), "populations.exc.model", &["(did you mean `iaf_psc_exp`?)", "known:"]);

    let text = base_with("model = \"iaf_psc_exp\"\nsize = 40", "model = \"poisson_generator\"\nsize = 40");
    let e = load_err("device-as-population", &text, &[]);
    assert!(e.message.contains("[[stimuli]]"), "{e}");

    let text = base_with("model = \"poisson_generator\"", "model = \"spike_generator\"");
    let e = load_err("spike-generator-as-device", &text, &[]);
    check(&e, line_of(&text, "\"spike_generator\""), "stimuli.drive.model", &["is a population"]);

    let text = base_with("target = \"inh\"", "target = \"ihn\"");
    let e = load_err("projection-target", &text, &[]);
    check(
        &e,
        line_of(&text, "ihn"),
        "projections.exc_to_all.target",
        &["no population named `ihn`", "(did you mean `inh`?)"],
    );

    let text = base_with("target = \"exc\"\nweight = 20.0", "target = \"exx\"\nweight = 20.0");
    let e = load_err("stimulus-target", &text, &[]);
    check(&e, line_of(&text, "exx"), "stimuli.drive.target", &["(did you mean `exc`?)"]);

    let text = base_with("spikes = [\"exc\"]", "spikes = [\"exc\", \"inhh\"]");
    let e = load_err("recording-spikes", &text, &[]);
    check(&e, line_of(&text, "inhh"), "recording.spikes.1", &["(did you mean `inh`?)"]);

    let text = base_with("variable = \"V_m\"", "variable = \"V\"");
    let e = load_err("variable", &text, &[]);
    check(&e, line_of(&text, "variable = \"V\""), "recording.variables.0.variable", &["V_m, I_syn_ex, I_syn_in"]);

    let text = base_with("initial = { V_m", "initial = { U_m");
    let e = load_err("initial-variable", &text, &[]);
    check(
        &e,
        line_of(&text, "U_m"),
        "populations.exc.initial.U_m",
        &["(did you mean `V_m`?)", "V_m, I_syn_ex, I_syn_in"],
    );

    let text = base_with(
        "weight = 20.0\ndelay_ms = 0.1\n\n[[proj",
        "weight = 20.0\ndelay_ms = 0.1\nreceptor = \"exc\"\n\n[[proj",
    );
    let e = load_err("receptor", &text, &[]);
    check(
        &e,
        line_of(&text, "receptor = "),
        "projections.exc_to_all.receptor",
        &["(did you mean `ex`?)", "receptors: ex, in"],
    );

    let text =
        base_with("weight = 20.0\ndelay_ms = 0.1\n\n[[proj", "weight = 20.0\ndelay_ms = 0.1\nreceptor = 2\n\n[[proj");
    let e = load_err("receptor-index", &text, &[]);
    assert!(e.message.contains("indices 0..1"), "{e}");
}

#[test]
fn times_must_fit_the_resolution() {
    let text = base_with("delay_ms = 0.1\n\n[[proj", "delay_ms = 0.05\n\n[[proj");
    let e = load_err("delay-short", &text, &[]);
    check(&e, line_of(&text, "0.05"), "projections.exc_to_all.delay_ms", &["must be >= the resolution (0.1 ms)"]);

    let text = base_with("delay_ms = 0.1\n\n[[proj", "delay_ms = 0.15\n\n[[proj");
    let e = load_err("delay-off-grid", &text, &[]);
    check(&e, line_of(&text, "0.15"), "projections.exc_to_all.delay_ms", &["multiple of the resolution"]);

    let text = base_with("low = 0.1, high = 1.0", "low = 0.0, high = 1.0");
    let e = load_err("delay-dist", &text, &[]);
    check(&e, line_of(&text, "low = 0.0"), "projections.inh->exc.delay_ms", &["low must be >= the resolution"]);

    let text = base_with("duration_ms = 100.0", "duration_ms = 100.05");
    let e = load_err("duration", &text, &[]);
    check(&e, 3, "simulation.duration_ms", &["multiple of the resolution (0.1 ms)"]);

    let text = base_with("resolution_ms = 0.1", "resolution_ms = 0");
    let e = load_err("resolution", &text, &[]);
    check(&e, 2, "simulation.resolution_ms", &["> 0 ms"]);

    let text = base_with("interval_ms = 1.0", "interval_ms = 0.25");
    let e = load_err("interval", &text, &[]);
    check(&e, line_of(&text, "0.25"), "recording.variables.0.interval_ms", &["multiple of the resolution"]);

    // A device's own times are checked at load, not when the network is built.
    let text = base_with(
        "model = \"poisson_generator\"\nparams = { rate = 5000.0 }",
        "model = \"dc_generator\"\nparams = { amplitude = 100.0, start = 0.15 }",
    );
    let e = load_err("device-start", &text, &[]);
    check(&e, line_of(&text, "start = 0.15"), "stimuli.drive.params.start", &["not a multiple of the resolution"]);
}

#[test]
fn connection_rules_are_checked_against_the_populations() {
    let text = base_with("p = 0.1", "p = 1.5");
    let e = load_err("p", &text, &[]);
    check(&e, line_of(&text, "p = 1.5"), "projections.exc_to_all.rule.pairwise_bernoulli.p", &["must be in [0, 1]"]);

    let text =
        base_with("rule = { fixed_indegree = { k = 5 } }", "rule = { fixed_indegree = { k = 11 } }\nmultapses = false");
    let e = load_err("k", &text, &[]);
    check(
        &e,
        line_of(&text, "k = 11"),
        "projections.inh->exc.rule.fixed_indegree.k",
        &["k = 11", "10 distinct sources"],
    );
    // With multapses the same K is fine.
    let text = base_with("rule = { fixed_indegree = { k = 5 } }", "rule = { fixed_indegree = { k = 11 } }");
    load_text("k-multapses", &text, &[]).unwrap_or_else(|e| panic!("{e}"));

    let text = base_with("rule = { fixed_indegree = { k = 5 } }", "rule = \"one_to_one\"");
    let e = load_err("one-to-one", &text, &[]);
    assert!(e.message.contains("equal size"), "{e}");

    let text = base_with("rule = { fixed_indegree = { k = 5 } }", "rule = { fixed_indgree = { k = 5 } }");
    let e = load_err("rule-name", &text, &[]);
    check(&e, line_of(&text, "fixed_indgree"), "projections.inh->exc.rule", &["(did you mean `fixed_indegree`?)"]);

    let text = base_with("size = 10", "size = 0");
    let e = load_err("size-zero", &text, &[]);
    check(&e, line_of(&text, "size = 0"), "populations.inh.size", &["from 1 to"]);

    let text = base_with(
        "weight = 20.0\ndelay_ms = 0.1\n\n[recording]",
        "weight = 20.0\ndelay_ms = 0.1\nnodes = [0, 40]\n\n[recording]",
    );
    let e = load_err("nodes", &text, &[]);
    check(&e, line_of(&text, "nodes = [0, 40]"), "stimuli.drive.nodes.1", &["out of range", "40 nodes"]);

    let text = base_with("nodes = [0, 1, 2]", "nodes = { first = 38, count = 3 }");
    let e = load_err("nodes-range", &text, &[]);
    check(&e, line_of(&text, "first = 38"), "recording.variables.0.nodes.count", &["from 1 to 2"]);

    let text = base_with("uniform = [-60.0, -50.0]", "uniform = [-50.0, -60.0]");
    let e = load_err("uniform", &text, &[]);
    check(&e, line_of(&text, "uniform"), "populations.exc.initial.V_m.uniform", &["low must be <= high"]);

    let text = base_with("mean = -50.0, std = 5.0", "mean = -50.0, sd = 5.0");
    let e = load_err("normal-key", &text, &[]);
    assert!(e.message.contains("did you mean `std`?"), "{e}");

    let text = base_with("name = \"drive\"", "name = \"exc_to_all\"").replacen(
        "name = \"exc_to_all\"\nsource",
        "name = \"drive\"\nsource",
        1,
    );
    load_text("names-per-kind", &text, &[]).unwrap_or_else(|e| panic!("names are unique per kind: {e}"));
    let text = base_with("source = \"inh\"", "name = \"exc_to_all\"\nsource = \"inh\"");
    let e = load_err("duplicate-name", &text, &[]);
    assert!(e.message.contains("used twice"), "{e}");
}

#[test]
fn conductance_weights_follow_nest_signs() {
    let cond = base_with("model = \"iaf_psc_exp\"\nsize = 10", "model = \"iaf_cond_exp\"\nsize = 10");
    load_text("cond-ok", &cond, &[]).unwrap_or_else(|e| panic!("{e}"));
    let text = cond.replacen(
        "weight = 20.0\ndelay_ms = 0.1\n\n[[proj",
        "weight = 20.0\ndelay_ms = 0.1\nreceptor = \"in\"\n\n[[proj",
        1,
    );
    let e = load_err("cond-in-positive", &text, &[]);
    check(&e, line_of(&text, "weight = 20.0"), "projections.exc_to_all.weight", &["must be <= 0 nS"]);
}

#[test]
fn explicit_edges_from_a_file() {
    let dir = temp_dir("edges");
    let model = dir.join("model.toml");
    let text = base_with(
        "rule = { pairwise_bernoulli = { p = 0.1 } }\nweight = 20.0\ndelay_ms = 0.1",
        "rule = { file = \"edges.csv\" }",
    );
    std::fs::write(&model, &text).unwrap();
    std::fs::write(dir.join("edges.csv"), "# a comment\ntarget,source,weight,delay_ms\n0,1,20.0,0.2\n9,39,15.5,1.0\n")
        .unwrap();
    let file = config::load(&model, &[]).unwrap_or_else(|e| panic!("{e}"));
    let built = file.build(1, 1).unwrap_or_else(|e| panic!("{e}"));
    let (synapses, _) = built.simulation.memory();
    assert_eq!(synapses, 2 + 40 * 5, "two file edges and the fixed_indegree projection");

    std::fs::write(dir.join("edges.csv"), "source,target,weight,delay_ms\n0,1,20.0,0.2\n0,10,20.0,0.2\n").unwrap();
    let e = config::load(&model, &[]).expect_err("target out of range");
    check(
        &e,
        line_of(&text, "edges.csv"),
        "projections.exc_to_all.rule.file",
        &["edges.csv line 3", "target = 10", "inh (0..9)"],
    );

    std::fs::write(dir.join("edges.csv"), "source,target,weight,delay_ms\n0,1,20.0,0.05\n").unwrap();
    let e = config::load(&model, &[]).expect_err("delay");
    assert!(e.message.contains("line 2") && e.message.contains("delay_ms = 0.05"), "{e}");

    std::fs::remove_file(dir.join("edges.csv")).unwrap();
    let e = config::load(&model, &[]).expect_err("missing file");
    assert!(e.message.contains("cannot read"), "{e}");

    std::fs::write(dir.join("edges.csv"), "source,target,weight,delay_ms\n0,1,20.0,0.2\n").unwrap();
    let with_weight =
        text.replacen("rule = { file = \"edges.csv\" }", "rule = { file = \"edges.csv\" }\nweight = 1.0", 1);
    std::fs::write(&model, &with_weight).unwrap();
    let e = config::load(&model, &[]).expect_err("weight with a file");
    assert_eq!(e.field, "projections.exc_to_all.weight", "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn blocks_connect_node_ranges_all_to_all() {
    let blocks = "rule = { blocks = [{ source = [0, 4], target = [0, 2] }, \
                  { source = [4, 2], target = [5, 5], weight = 5.0, delay_ms = 0.2 }] }";
    let text = base_with("rule = { pairwise_bernoulli = { p = 0.1 } }", blocks);
    let file = load_text("blocks", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let built = file.build(1, 1).unwrap_or_else(|e| panic!("{e}"));
    let (synapses, _) = built.simulation.memory();
    assert_eq!(synapses, 4 * 2 + 2 * 5 + 40 * 5, "the two blocks and the fixed_indegree projection");

    let outside = text.replacen("target = [5, 5]", "target = [8, 5]", 1);
    let e = load_err("blocks-outside", &outside, &[]);
    check(
        &e,
        line_of(&outside, "target = [8, 5]"),
        "projections.exc_to_all.rule.blocks.1.target",
        &["nodes 8..13 lie outside inh (size 10)"],
    );
    // Without the projection's weight, a block without its own has none.
    let no_weight = base_with("rule = { pairwise_bernoulli = { p = 0.1 } }\nweight = 20.0", blocks);
    let e = load_err("blocks-no-weight", &no_weight, &[]);
    assert!(e.message.contains("takes the projection's"), "{e}");
    let bad_range = text.replacen("source = [0, 4]", "source = [0, 4, 1]", 1);
    let e = load_err("blocks-range", &bad_range, &[]);
    assert!(e.message.contains("two integers [first, count]"), "{e}");
}

#[test]
fn overrides_reach_nested_keys_and_arrays_of_tables() {
    let file = load_text("set-sim", BASE, &["simulation.duration_ms=500", "simulation.seed=99"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.simulation().duration_ms, 500.0);
    assert_eq!(file.simulation().seed, 99);
    assert_eq!(file.overrides.len(), 2);

    // Nested parameter, a new parameter, and projections by index, by name and by default name.
    let ok = [
        "populations.exc.params.tau_m=15",
        "populations.inh.params={ I_e = 400.0 }",
        "populations.exc.params.I_e=10.5",
        "projections.0.weight=10",
        "projections.exc_to_all.rule={ fixed_indegree = { k = 3 } }",
        "projections.inh->exc.delay_ms=2.0",
        "stimuli.drive.params.rate=100",
        "recording.variables.0.nodes=\"all\"",
        "recording.spikes.0=inh",
        "populations.exc.model=iaf_psc_delta",
    ];
    let file = load_text("set-ok", BASE, &ok).unwrap_or_else(|e| panic!("{e}"));
    let built = file.build(3, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built.simulation.populations()[0].model, "iaf_psc_delta");
    assert_eq!(built.recordings[0].nodes.len(), 40);
    assert_eq!(built.record_spikes, [false, true]);
    let (synapses, _) = built.simulation.memory();
    assert_eq!(synapses, 10 * 3 + 40 * 5);

    // A params or initial table the file leaves out is created for the key.
    let set = ["populations.inh.params.tau_m=15", "populations.inh.initial.V_m=-65"];
    load_text("set-new-table", BASE, &set).unwrap_or_else(|e| panic!("{e}"));
    let e = load_err("set-new-table-bad", BASE, &["populations.inh.params.tau_m=-15"]);
    assert_eq!(e.field, "populations.inh.params.tau_m", "{e}");
    let e = load_err("set-new-other-table", BASE, &["populations.inh.paramz.tau_m=15"]);
    assert!(e.message.contains("`paramz` does not exist"), "{e}");

    // Overridden values are validated like the file and reported as coming from --set.
    let e = load_err("set-bad", BASE, &["populations.exc.params.tau_m=-1"]);
    assert_eq!((e.line, e.set.as_deref()), (None, Some("populations.exc.params.tau_m=-1")));
    assert_eq!(e.field, "populations.exc.params.tau_m");
    assert!(
        e.to_string().contains("(--set populations.exc.params.tau_m=-1): populations.exc.params.tau_m = -1: must be"),
        "{e}"
    );

    let e = load_err("set-new-typo", BASE, &["populations.exc.params.tau_mm=3"]);
    assert_eq!(e.set.as_deref(), Some("populations.exc.params.tau_mm=3"));
    assert!(e.message.contains("did you mean `tau_m`?"), "{e}");

    let e = load_err("set-delay", BASE, &["projections.1.delay_ms=0.05"]);
    assert_eq!(e.field, "projections.inh->exc.delay_ms", "{e}");

    // Paths that do not exist.
    let e = load_err("set-missing", BASE, &["populations.exd.size=3"]);
    assert_eq!(e.field, "populations.exd", "{e}");
    assert!(e.message.contains("(did you mean `exc`?)"), "{e}");
    let e = load_err("set-index", BASE, &["projections.7.weight=1"]);
    assert!(e.message.contains("out of range"), "{e}");
    let e = load_err("set-name", BASE, &["projections.exc_to_al.weight=1"]);
    assert!(e.message.contains("(did you mean `exc_to_all`?)"), "{e}");
    let e = load_err("set-scalar", BASE, &["simulation.seed.x=1"]);
    assert!(e.message.contains("not a table"), "{e}");
    let e = load_err("set-syntax", BASE, &["simulation.seed"]);
    assert!(e.message.contains("key.path=value"), "{e}");
    let e = load_err("set-value", BASE, &["simulation.seed=[1,"]);
    assert!(e.message.contains("not a TOML value"), "{e}");
}

#[test]
fn no_input_makes_it_panic() {
    // Odd shapes everywhere: each must be an error, never a panic.
    let cases = [
        "",
        "simulation = 3",
        "[simulation]\nduration_ms = 1.0\npopulations = []",
        "[simulation]\nduration_ms = 1.0\n[populations]\n",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = 3\nsize = 1",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = -1",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 99999999999",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\nparams = { tau_m = { x = 1 } }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\nparams = [1]",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\ninitial = { V_m = [1, 2] }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\ninitial = { V_m = { normal = [1] } }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"spike_generator\"\nsize = 2\nparams = { spike_times_per_node = [[1.0]] }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"spike_generator\"\nsize = 1\nparams = { spike_times = [0.05] }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"spike_generator\"\nsize = 1\n[[projections]]\nsource = \"a\"\ntarget = \"a\"\nrule = \"all_to_all\"\nweight = 1.0",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"parrot_neuron\"\nsize = 1\nparams = { x = 1 }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[projections]\nx = 1",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[projections]]\nsource = \"a\"\ntarget = \"a\"\nrule = { pairwise_bernoulli = 0.1 }\nweight = 1.0",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[projections]]\nsource = \"a\"\ntarget = \"a\"\nrule = { all_to_all = {}, one_to_one = {} }\nweight = 1.0",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[projections]]\nsource = \"a\"\ntarget = \"a\"\nrule = \"all_to_all\"\nweight = 1979-05-27",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[stimuli]]\nmodel = \"dc_generator\"\ntarget = \"a\"\nreceptor = \"ex\"",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[stimuli]]\nmodel = \"step_current_generator\"\ntarget = \"a\"\nparams = { amplitude_times = [1.0], amplitude_values = [] }",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[[stimuli]]\nmodel = \"poisson_generator\"\ntarget = \"a\"",
        "[simulation]\nduration_ms = 1.0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1\n[recording]\nvariables = { population = \"a\" }",
        "[simulation]\nduration_ms = 1.0\n[populations.\"a.b\"]\nmodel = \"iaf_psc_exp\"\nsize = 1",
        "[simulation]\nduration_ms = 1.0\nseed = 0x7fffffffffffffff\nthreads = 0\n[populations.a]\nmodel = \"iaf_psc_exp\"\nsize = 1",
    ];
    for (i, text) in cases.iter().enumerate() {
        let e = load_err(&format!("odd-{i}"), text, &[]);
        assert!(!e.message.is_empty(), "case {i}: empty message");
        assert!(e.line.is_some() || e.field == "simulation" || e.field == "populations", "case {i}: no line in: {e}");
    }
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn shipped_models() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .expect("models/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Overrides that shrink a model too big for a test (the full-scale Potjans-Diesmann
/// microcircuit has 3e8 synapses) to a few thousand neurons.
fn small_scale(path: &Path) -> Vec<String> {
    if path.file_stem().is_some_and(|s| s == "potjans_diesmann") {
        vec!["n_scaling=0.05".to_string(), "k_scaling=0.05".to_string()]
    } else {
        Vec::new()
    }
}

#[test]
fn every_shipped_model_loads_builds_and_runs() {
    let files = shipped_models();
    let names: Vec<String> = files.iter().filter_map(|f| f.file_stem()?.to_str().map(String::from)).collect();
    for expected in ["coba", "cuba", "demo"] {
        assert!(names.iter().any(|n| n == expected), "models/{expected}.toml is missing");
    }
    for path in files {
        let mut overrides = vec!["simulation.duration_ms=20".to_string()];
        overrides.extend(small_scale(&path));
        let file = config::load(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert!(file.description().is_some(), "{}: no description", path.display());
        let mut built = file.build(file.simulation().seed, 2).unwrap_or_else(|e| panic!("{e}"));
        let steps = file.simulation().duration_steps();
        built.simulation.run(steps, &mut NullObserver, &AtomicBool::new(false)).expect("run");
        let spikes: u64 = built.simulation.spike_counts().iter().sum();
        assert!(spikes > 0, "{}: no spikes in 20 ms", path.display());
        assert!(!built.recordings.is_empty(), "{}: records no variable", path.display());
    }
}

/// Mean rates of the shipped models over their first second (`cargo test -- --ignored
/// --nocapture` prints them).
#[test]
#[ignore = "runs each shipped model for a simulated second; prints the rates"]
fn rates_of_shipped_models() {
    for path in shipped_models() {
        let mut overrides = vec!["simulation.duration_ms=1000".to_string()];
        overrides.extend(small_scale(&path));
        let file = config::load(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
        let mut built = file.build(file.simulation().seed, 2).unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let steps = file.simulation().duration_steps();
        built.simulation.run(steps, &mut NullObserver, &AtomicBool::new(false)).expect("run");
        let pops = built.simulation.populations();
        let counts = built.simulation.spike_counts();
        let neurons: usize = pops.iter().map(|p| p.size).sum();
        let total: u64 = counts.iter().sum();
        let per_pop: Vec<String> =
            pops.iter().zip(counts).map(|(p, &c)| format!("{} {:.2} Hz", p.name, c as f64 / p.size as f64)).collect();
        println!(
            "{}: mean {:.2} Hz ({}), {:.2} s wall",
            path.display(),
            total as f64 / neurons as f64,
            per_pop.join(", "),
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn synapse_models_are_checked_like_models() {
    let stdp = "weight = 20.0\ndelay_ms = 0.1\nsynapse = { model = \"stdp_synapse\", tau_plus = 15.0, Wmax = 100.0 }\nrecord_weights = true";
    let ok = base_with("weight = 20.0\ndelay_ms = 0.1", stdp);
    let file = load_text("stdp-ok", &ok, &[]).unwrap_or_else(|e| panic!("{e}"));
    file.build(1, 1).unwrap_or_else(|e| panic!("{e}"));

    let text = base_with("weight = 20.0\ndelay_ms = 0.1", &stdp.replace("stdp_synapse", "stdp_synaps"));
    let e = load_err("synapse-model", &text, &[]);
    check(&e, line_of(&text, "stdp_synaps"), "projections.exc_to_all.synapse.model", &["did you mean `stdp_synapse`?"]);

    let text = base_with("weight = 20.0\ndelay_ms = 0.1", &stdp.replace("tau_plus", "tau_pluss"));
    let e = load_err("synapse-param", &text, &[]);
    check(&e, line_of(&text, "tau_pluss"), "projections.exc_to_all.synapse.tau_pluss", &["tau_plus", "lambda"]);

    let text = base_with("weight = 20.0\ndelay_ms = 0.1", &stdp.replace("tau_plus = 15.0", "tau_plus = -15.0"));
    let e = load_err("synapse-range", &text, &[]);
    check(&e, line_of(&text, "tau_plus"), "projections.exc_to_all.synapse.tau_plus", &["> 0 ms"]);

    let text = base_with("weight = 20.0\ndelay_ms = 0.1", "weight = 20.0\ndelay_ms = 0.1\nrecord_weights = true");
    let e = load_err("static-weights", &text, &[]);
    check(&e, line_of(&text, "record_weights"), "projections.exc_to_all.record_weights", &["static synapses"]);

    let windows = format!("{stdp}\nlearning_windows_ms = [[0, 50], [40, 80]]");
    let text = base_with("weight = 20.0\ndelay_ms = 0.1", &windows);
    let e = load_err("windows", &text, &[]);
    check(&e, line_of(&text, "learning_windows_ms"), "projections.exc_to_all.learning_windows_ms.1", &["overlap"]);
}

/// Learning windows freeze weights outside them: a write phase changes STDP weights, a read
/// phase after it leaves them as they were at its start.
#[test]
fn learning_windows_freeze_weights_outside_them() {
    let model = r#"[simulation]
duration_ms = 400.0
seed = 3

[populations.pre]
model = "parrot_neuron"
size = 20

[populations.post]
model = "parrot_neuron"
size = 5

[[stimuli]]
model = "poisson_generator"
params = { rate = 40.0 }
target = "pre"
weight = 1.0

[[stimuli]]
model = "poisson_generator"
params = { rate = 40.0 }
target = "post"
weight = 1.0

[[projections]]
name = "plastic"
source = "pre"
target = "post"
rule = "all_to_all"
weight = 50.0
receptor = "silent"
synapse = { model = "stdp_synapse", lambda = 0.05 }
learning_windows_ms = [[0, 200]]
"#;
    let file = load_text("windows-run", model, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut built = file.build(3, 1).unwrap_or_else(|e| panic!("{e}"));
    let stop = AtomicBool::new(false);
    built.simulation.run(2000, &mut NullObserver, &stop).expect("write phase");
    let after_write = built.simulation.synapse_weights(0);
    assert!(after_write.iter().any(|&(_, _, w)| (w - 50.0).abs() > 1e-6), "the write phase changes weights");
    built.simulation.run(4000, &mut NullObserver, &stop).expect("read phase");
    // Transmissions in the read phase leave every weight as the write phase left it (a weight
    // changed at a pre spike in [200, 400) would differ).
    assert_eq!(built.simulation.synapse_weights(0), after_write);
}

/// A two-type column: the column builder's language inside a model file.
const COLUMN: &str = r#"description = "two cell types"
n_scaling = 1.0
k_scaling = 1.0

[simulation]
duration_ms = 100.0

[column]
[[column.layers]]
name = "L4"

[column.cell_defaults]
model = "iaf_psc_exp"
params = { tau_syn_ex = 0.5, tau_syn_in = 0.5 }

[column.cell_types.E]
layer = "L4"
count = 400
k_ext = 100
full_rate_hz = 5.0

[column.cell_types.I]
layer = "L4"
count = 100
k_ext = 100
full_rate_hz = 5.0

[column.background]
rate_hz = 8.0
weight = 87.81
delay_ms = 1.5

[[column.connections]]
source = ["E", "I"]
target = "all"
rule = { connection_probability_total = [[0.1, 0.2], [0.1, 0.2]] }
weight = { normal = { mean = 87.81, rel_std = 0.1 } }
delay_ms = 1.5

[[column.connections]]
source = "I"
target = "all"
weight_factor = -4.0

[[projections]]
source = "E"
target = "extra"
rule = { fixed_indegree = { k = 10 } }
weight = 10.0

[populations.extra]
model = "iaf_psc_exp"
size = 10
"#;

#[test]
fn a_column_description_builds_next_to_plain_populations() {
    let file = load_text("column-ok", COLUMN, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        file.describe().starts_with("3 populations (510 neurons), 5 projections, 2 stimuli"),
        "{}",
        file.describe()
    );
    let built = file.build(1, 2).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = built.simulation.populations().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["E", "I", "extra"]);
    assert_eq!(built.simulation.projection_names()[..2], ["E->E".to_string(), "I->E".to_string()]);

    // --set reaches the scaling factors and every number of the description.
    let file = load_text("column-set", COLUMN, &["n_scaling=0.5", "k_scaling=0.5", "column.cell_types.E.count=800"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(file.describe().starts_with("3 populations (460 neurons)"), "{}", file.describe());
}

#[test]
fn column_errors_name_the_line_and_field() {
    let text = COLUMN.replace("count = 400", "count = -4");
    let e = load_err("column-count", &text, &[]);
    check(&e, line_of(&text, "count = -4"), "column.cell_types.E.count", &["integer >= 1"]);

    let text = COLUMN.replace("layer = \"L4\"\ncount = 100", "layer = \"L5\"\ncount = 100");
    let e = load_err("column-layer", &text, &[]);
    check(&e, line_of(&text, "\"L5\""), "column.cell_types.I.layer", &["no such layer", "L4"]);

    let text = COLUMN.replace("[[0.1, 0.2], [0.1, 0.2]]", "[[0.1, 0.2], [0.1, 1.2]]");
    let e = load_err("column-prob", &text, &[]);
    check(&e, line_of(&text, "1.2]]"), "column.connections.0.rule.connection_probability_total.1.1", &["[0, 1)"]);

    let text = COLUMN.replace("source = \"I\"", "source = \"J\"");
    let e = load_err("column-type", &text, &[]);
    check(&e, line_of(&text, "\"J\""), "column.connections.1.source", &["no cell type `J`", "E, I"]);

    let e = load_err("column-scale", COLUMN, &["k_scaling=0"]);
    assert_eq!(e.set.as_deref(), Some("k_scaling=0"), "{e}");
    assert!(e.message.contains("> 0"), "{e}");

    let text = COLUMN.replace("full_rate_hz = 5.0\n\n[column.background]", "\n[column.background]");
    let e = load_err("column-rate", &text, &["k_scaling=0.5"]);
    check(&e, line_of(&text, "[column.cell_types.I]"), "column.cell_types.I.full_rate_hz", &["DC compensation"]);
}

#[test]
fn update_scheme_is_checked_against_the_model() {
    let text = base_with("size = 40\n", "size = 40\nupdate = \"clock-drivn\"\n");
    let e = load_err("update_typo", &text, &[]);
    check(
        &e,
        line_of(&text, "update ="),
        "populations.exc.update",
        &["not an update scheme", "did you mean `clock-driven`", "iaf_psc_exp allows: event-driven, clock-driven"],
    );
    let text = BASE.replace(
        "model = \"iaf_psc_exp\"\nsize = 10\n",
        "model = \"iaf_cond_exp\"\nsize = 10\nupdate = \"event-driven\"\n",
    );
    let e = load_err("update_unsupported", &text, &[]);
    check(&e, line_of(&text, "update ="), "populations.inh.update", &["iaf_cond_exp allows: clock-driven"]);
    let e = load_err("update_type", &base_with("size = 40\n", "size = 40\nupdate = 1\n"), &[]);
    assert_eq!(e.field, "populations.exc.update", "{e}");
}

/// A column's `update` (in the cell defaults, for the default model, or per cell type) reaches its
/// populations, is checked like a population's, and errors name the field it was written in.
#[test]
fn column_update_schemes_apply_and_are_checked() {
    let with_defaults = |scheme: &str| {
        COLUMN.replace(
            "[column.cell_defaults]\nmodel = \"iaf_psc_exp\"\n",
            &format!("[column.cell_defaults]\nmodel = \"iaf_psc_exp\"\nupdate = \"{scheme}\"\n"),
        )
    };
    let text = with_defaults("clock-drivn");
    let e = load_err("column-update-typo", &text, &[]);
    check(&e, line_of(&text, "update ="), "column.cell_defaults.update", &["did you mean `clock-driven`"]);
    let text = COLUMN.replace("count = 100\n", "count = 100\nmodel = \"iaf_cond_exp\"\nupdate = \"event-driven\"\n");
    let e = load_err("column-update-model", &text, &[]);
    check(&e, line_of(&text, "update ="), "column.cell_types.I.update", &["iaf_cond_exp allows: clock-driven"]);
    let run = |text: &str| {
        let file = load_text("column-update", text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let mut built = file.build(3, 2).unwrap_or_else(|e| panic!("{e}"));
        let mut collect = Collect::default();
        built.simulation.run(1000, &mut collect, &AtomicBool::new(false)).expect("run");
        collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms)).collect::<Vec<_>>()
    };
    // A stronger background than COLUMN's, so that it fires within the 100 ms.
    let driven = |scheme: &str| {
        with_defaults(scheme).replace("rate_hz = 8.0", "rate_hz = 200.0") + "\n[recording]\nspikes = \"all\"\n"
    };
    let (event, clock) = (run(&driven("event-driven")), run(&driven("clock-driven")));
    assert!(event.len() > 20, "the column fires ({} spikes)", event.len());
    assert_eq!(event, clock);
    // A cell type with another model does not inherit the defaults' scheme (its model may not
    // offer it).
    let text = with_defaults("event-driven").replace("count = 100\n", "count = 100\nmodel = \"iaf_cond_exp\"\n");
    load_text("column-update-other-model", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
}

/// `weight_precision = "single"` rounds drawn static weights to single precision (and only
/// that: the same synapses, each weight the nearest single-precision number of the double
/// draw); a value other than "double" or "single" is refused at its line.
#[test]
fn single_precision_weights_round_the_drawn_weights() {
    let weights = |text: &str| {
        let file = load_text("precision", text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let mut all = Vec::new();
        file.network_builder(7)
            .expect("builder")
            .for_each_synapse(64, |s| all.push((s.source, s.target, s.weight)))
            .expect("synapses");
        all
    };
    let double = weights(BASE);
    let single = weights(&base_with("seed = 7\n", "seed = 7\nweight_precision = \"single\"\n"));
    assert_eq!(double.len(), single.len());
    assert!(
        double.iter().any(|&(_, _, w)| f64::from(w as f32) != w),
        "the normal weights are not single-precision numbers"
    );
    for (d, s) in double.iter().zip(&single) {
        assert_eq!((d.0, d.1), (s.0, s.1));
        assert_eq!(s.2, f64::from(d.2 as f32));
    }
    let text = base_with("seed = 7\n", "seed = 7\nweight_precision = \"half\"\n");
    let e = load_err("precision-bad", &text, &[]);
    check(&e, line_of(&text, "weight_precision"), "simulation.weight_precision", &["\"double\" or \"single\""]);
}

/// A variable of a population is recorded once: a second table for it is refused at its line
/// (both would write the same file; found by the model-file fuzzer).
#[test]
fn a_variable_is_recorded_once() {
    // BASE records V_m of `exc` (nodes 0-2) in recording.variables.0.
    let text = format!("{BASE}\n[[recording.variables]]\npopulation = \"exc\"\nvariable = \"V_m\"\nnodes = [5]\n");
    let e = load_err("twice", &text, &[]);
    assert_eq!(e.line, Some(line_of(&text, "nodes = [5]") - 1), "{e}");
    assert_eq!(e.field, "recording.variables.1.variable", "{e}");
    assert!(e.message.contains("already recorded by recording.variables.0"), "{e}");
}

/// Keeps a run's spikes and, per recording, its frames (step, values).
#[derive(Default)]
struct Collect {
    spikes: Vec<SpikeRecord>,
    frames: Vec<Vec<(Step, Vec<f64>)>>,
}

impl Observer for Collect {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        self.spikes.extend_from_slice(spikes);
        Ok(())
    }

    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
        if self.frames.len() <= recording {
            self.frames.resize_with(recording + 1, Vec::new);
        }
        self.frames[recording].push((step, values.to_vec()));
        Ok(())
    }
}

/// The same network, event-driven and clock-driven: the two schemes integrate the same equations
/// exactly, so the recorded membrane potentials agree to rounding and the neurons fire the same
/// spikes (rounding could in principle flip a threshold decision; here it does not).
#[test]
fn clock_driven_and_event_driven_populations_give_the_same_run() {
    let run = |overrides: &[&str]| {
        let file = load_text("update_same", BASE, overrides).unwrap_or_else(|e| panic!("{e}"));
        let mut built = file.build(7, 2).unwrap_or_else(|e| panic!("{e}"));
        let mut collect = Collect::default();
        built.simulation.run(1000, &mut collect, &AtomicBool::new(false)).expect("run");
        let spikes: Vec<(usize, u64, f64)> = collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms)).collect();
        (spikes, collect.frames)
    };
    let (event_spikes, event_frames) = run(&[]);
    let (clock_spikes, clock_frames) =
        run(&["populations.exc.update=\"clock-driven\"", "populations.inh.update=\"clock-driven\""]);
    assert!(event_spikes.len() > 20, "the network fires ({} spikes)", event_spikes.len());
    assert_eq!(event_spikes, clock_spikes);
    let (a, b) = (&event_frames[0], &clock_frames[0]);
    assert_eq!(a.len(), b.len());
    let max_diff = a
        .iter()
        .zip(b)
        .flat_map(|((sa, va), (sb, vb))| {
            assert_eq!(sa, sb);
            va.iter().zip(vb).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f64::max);
    assert!(max_diff < 1e-9, "V_m differs by {max_diff} mV");
}
