//! `laminar attention` end to end on a small configuration: the contract of attention.h5 checked
//! from outside by `tests/python/attention_contract.py` (references recomputed with numpy, the
//! counts recounted from spikes.h5, the decoder and the primary metric recomputed), the inputs
//! stored verbatim, bit-identical results for 1 and 2 threads, the full circuit against both
//! baselines, and bad inputs refused naming the file, dataset and what is allowed.
//!
//! The configurations are small so that CI runs them in seconds (astro: 6 tokens and queries,
//! d = 6, d_v = 3, 128 features; column: 4 tokens, d = 4, d_v = 2; multihead: 6 tokens, d = 4,
//! d_v = 2, H = 2, d_out = 3, smaller pools); the targets of the attention issues are measured by
//! `benches/attention.sh` and written in the README.

mod common;

use std::path::Path;

use common::{laminar, root, temp_dir};
use laminar_record::ArrayFileReader;

/// The small configuration of `astro`: fewer features and shorter phases than the shipped circuit.
const SMALL: [&str; 8] = [
    "--set",
    "attention.features=128",
    "--set",
    "populations.F.size=512",
    "--set",
    "attention.settle_ms=600",
    "--set",
    "attention.count_ms=300",
];

/// The small configuration of `column`: its own windows (the readout is count-limited), fewer
/// tokens and dimensions (4 tokens, 4 queries, d = 4, d_v = 2).
const SMALL_COLUMN: [&str; 0] = [];

/// The small configuration of `multihead`: smaller pools of query cells and shorter windows
/// (6 tokens and queries, d = 4, d_v = 2, H = 2, d_out = 3).
const SMALL_MULTIHEAD: [&str; 6] =
    ["--set", "attention.query_pool=6", "--set", "attention.count_ms=800", "--set", "attention.settle_ms=150"];

fn run(qkv: &Path, out: &Path, threads: &str, extra: &[&str]) -> String {
    run_circuit("astro", &SMALL, qkv, out, threads, extra)
}

fn run_circuit(circuit: &str, small: &[&str], qkv: &Path, out: &Path, threads: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "attention",
        circuit,
        "--inputs",
        qkv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
        "--threads",
        threads,
    ];
    args.extend(small);
    args.extend(extra);
    let (code, text) = laminar(&args);
    assert_eq!(code, 0, "laminar attention failed:\n{text}");
    text
}

fn r_c(dir: &Path, reference: &str) -> f64 {
    let f = ArrayFileReader::open(&dir.join("attention.h5")).unwrap();
    f.attr_f64(&format!("metrics/{reference}"), "r_c").unwrap().expect("r_c")
}

fn python_contract(dir: &Path, extra: &[&str]) {
    let python = laminar_record::readback::python();
    let script = root().join("tests/python/attention_contract.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(dir)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run scripts/setup.sh --python)"));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the contract check failed:\n{text}");
    assert!(text.contains("PASS counts = spikes.h5 recount"), "{text}");
}

/// `laminar attention inputs` into `dir/qkv.h5` (n = n_q = `n`, d, d_v, seed 3).
fn draw_inputs(dir: &Path, n: &str, d: &str, d_v: &str) -> std::path::PathBuf {
    draw_heads(dir, n, d, d_v, &[])
}

/// As [`draw_inputs`], with more arguments (`--heads`, `--dim-out`).
fn draw_heads(dir: &Path, n: &str, d: &str, d_v: &str, extra: &[&str]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let qkv = dir.join("qkv.h5");
    let path = qkv.to_str().unwrap();
    let mut args = vec![
        "attention",
        "inputs",
        "--tokens",
        n,
        "--queries",
        n,
        "--dim",
        d,
        "--dim-v",
        d_v,
        "--seed",
        "3",
        "--out",
        path,
    ];
    args.extend(extra);
    let (code, text) = laminar(&args);
    assert_eq!(code, 0, "{text}");
    qkv
}

/// The multihead circuit: references with W_O, the relay counts recounted and decoded (block and
/// heads) in Python; 1 and 2 threads bit-identical; both controls below the full circuit.
#[test]
fn a_multihead_run_keeps_the_contract_and_its_controls_do_worse() {
    let dir = temp_dir("attention-multihead");
    let qkv = draw_heads(&dir, "6", "4", "2", &["--heads", "2", "--dim-out", "3"]);
    let full = dir.join("full");
    let table = run_circuit("multihead", &SMALL_MULTIHEAD, &qkv, &full, "2", &[]);
    assert!(table.contains("relay_diff") && table.contains("head 1 vs its own"), "the metrics table:\n{table}");
    python_contract(&full, &[]);
    let one = dir.join("one-thread");
    run_circuit("multihead", &SMALL_MULTIHEAD, &qkv, &one, "1", &[]);
    let (a, b) = (
        ArrayFileReader::open(&full.join("attention.h5")).unwrap(),
        ArrayFileReader::open(&one.join("attention.h5")).unwrap(),
    );
    for name in ["output/counts", "output/y_hat", "output/y_hat_heads"] {
        assert_eq!(a.read_f64(name).unwrap(), b.read_f64(name).unwrap(), "{name} differs with 1 thread");
    }
    let full_r_c = r_c(&full, "linear_unnormalized");
    assert!(full_r_c > 0.7, "full multihead circuit: r_c {full_r_c:.3} against linear_unnormalized");
    // Passive tufts: no dendritic product, nothing that follows q.k. A shuffled memory is one
    // random wiring of intact memory cells to the query cells: a random linear map of the query,
    // whose r_c is itself a random variable (at rate level, over 300 permutations of these
    // inputs: mean -0.01, sd 0.38), so one wiring is only required to fall clearly below the
    // full circuit; the README gives the distribution over seeds.
    for (baseline, margin) in [("passive_apical", 0.3), ("shuffled_memory", 0.1)] {
        let out = dir.join(baseline);
        run_circuit("multihead", &SMALL_MULTIHEAD, &qkv, &out, "2", &["--baseline", baseline]);
        let r = r_c(&out, "linear_unnormalized");
        assert!(r < full_r_c - margin, "{baseline}: r_c {r:.3}, not {margin} below the full circuit's {full_r_c:.3}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The column circuit: bursts recounted from spikes.h5 and decoded by the declared ratio, in
/// Python; 1 and 2 threads bit-identical; both dendritic controls far below the full circuit.
#[test]
fn a_column_run_keeps_the_contract_and_its_gating_comes_from_the_dendrite() {
    let dir = temp_dir("attention-column");
    let qkv = draw_inputs(&dir, "4", "4", "2");
    let full = dir.join("full");
    let table = run_circuit("column", &SMALL_COLUMN, &qkv, &full, "2", &[]);
    assert!(table.contains("burst_ratio") && table.contains("(primary)"), "the metrics table:\n{table}");
    python_contract(&full, &[]);
    let one = dir.join("one-thread");
    run_circuit("column", &SMALL_COLUMN, &qkv, &one, "1", &[]);
    let (a, b) = (
        ArrayFileReader::open(&full.join("attention.h5")).unwrap(),
        ArrayFileReader::open(&one.join("attention.h5")).unwrap(),
    );
    for name in ["output/counts", "output/y_hat", "weights/implied"] {
        assert_eq!(a.read_f64(name).unwrap(), b.read_f64(name).unwrap(), "{name} differs with 1 thread");
    }
    let full_r_c = r_c(&full, "softmax_beta_eff");
    assert!(full_r_c > 0.6, "full column circuit: r_c {full_r_c:.3} against softmax(beta_eff)");
    for baseline in ["passive_apical", "apical_to_basal"] {
        let out = dir.join(baseline);
        run_circuit("column", &SMALL_COLUMN, &qkv, &out, "2", &["--baseline", baseline]);
        let r = r_c(&out, "softmax_beta_eff");
        // A silent control (no bursts at all) decodes nothing: NaN, which is no gating either.
        assert!(
            r.is_nan() || r < full_r_c - 0.3,
            "{baseline}: r_c {r:.3}, not 0.3 below the full circuit's {full_r_c:.3}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_astro_run_keeps_the_contract_and_beats_its_baselines() {
    let dir = temp_dir("attention");
    let qkv = draw_inputs(&dir, "6", "6", "3");

    let full = dir.join("full");
    let table = run(&qkv, &full, "2", &["--probe-weights"]);
    assert!(table.contains("kernel") && table.contains("(primary)"), "the metrics table:\n{table}");
    python_contract(&full, &["--expect-probes"]);

    // The inputs verbatim.
    let inputs = ArrayFileReader::open(&qkv).unwrap();
    let result = ArrayFileReader::open(&full.join("attention.h5")).unwrap();
    for name in ["q", "k", "v"] {
        assert_eq!(inputs.read_f64(name).unwrap(), result.read_f64(&format!("inputs/{name}")).unwrap(), "{name}");
    }

    // One thread gives the same counts and output, bit for bit.
    let one = dir.join("one-thread");
    run(&qkv, &one, "1", &[]);
    let other = ArrayFileReader::open(&one.join("attention.h5")).unwrap();
    for name in ["output/counts", "output/y_hat"] {
        assert_eq!(result.read_f64(name).unwrap(), other.read_f64(name).unwrap(), "{name} differs with 1 thread");
    }

    // The full circuit computes its reference; the controls do worse.
    let full_r_c = r_c(&full, "kernel");
    assert!(full_r_c > 0.9, "full circuit: r_c {full_r_c:.3} against the kernel reference");
    for baseline in ["no_astrocyte", "shuffled_memory"] {
        let out = dir.join(baseline);
        run(&qkv, &out, "2", &["--baseline", baseline]);
        python_contract(&out, &[]);
        let b = r_c(&out, "kernel");
        assert!(b < full_r_c - 0.05, "{baseline}: r_c {b:.3}, not below the full circuit's {full_r_c:.3}");
        let f = ArrayFileReader::open(&out.join("attention.h5")).unwrap();
        assert_eq!(f.attr_string("", "baseline").unwrap().as_deref(), Some(baseline));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_are_refused_naming_the_file_dataset_and_what_is_allowed() {
    let dir = temp_dir("attention-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, q: &[f64], q_shape: &[usize], k_shape: &[usize]| {
        let path = dir.join(name);
        let w = laminar_record::ArrayFileWriter::create(&path).unwrap();
        w.write_f64("q", q_shape, q).unwrap();
        let kn: usize = k_shape.iter().product();
        w.write_f64("k", k_shape, &vec![0.5; kn]).unwrap();
        w.write_f64("v", &[k_shape[0], 2], &vec![0.1; k_shape[0] * 2]).unwrap();
        w.finish().unwrap();
        path
    };
    let cases = [
        (write("range.h5", &[0.5, 2.0, 0.1, 0.1], &[2, 2], &[3, 2]), "dataset q: shape [2, 2]: entry 1 (flat) is 2"),
        (
            write("nan.h5", &[0.5, f64::NAN, 0.1, 0.1], &[2, 2], &[3, 2]),
            "every entry must be a finite number in [-1, 1]",
        ),
        (
            write("dim.h5", &[0.5, 0.1, 0.1, 0.1], &[2, 2], &[3, 3]),
            "dataset k: shape [3, 3]: its last dimension must be d = 2",
        ),
        (write("big.h5", &vec![0.1; 65 * 2], &[65, 2], &[3, 2]), "n_q (queries) = 65: must be 1 to 64"),
    ];
    for (path, needle) in cases {
        let out = dir.join("out");
        let (code, text) =
            laminar(&["attention", "astro", "--inputs", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_ne!(code, 0, "{}: accepted", path.display());
        assert!(text.contains(needle) && text.contains(path.to_str().unwrap()), "expected '{needle}' in:\n{text}");
        assert!(!out.join("attention.h5").exists(), "nothing is written for bad inputs");
    }
    let missing = dir.join("missing.h5");
    let w = laminar_record::ArrayFileWriter::create(&missing).unwrap();
    w.write_f64("q", &[1, 2], &[0.1, 0.2]).unwrap();
    w.finish().unwrap();
    let (code, text) = laminar(&["attention", "astro", "--inputs", missing.to_str().unwrap(), "--out", "x"]);
    assert_ne!(code, 0);
    assert!(text.contains("dataset k: missing"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
