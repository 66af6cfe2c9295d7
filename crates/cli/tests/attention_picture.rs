//! The pictures of `laminar attention` through the binary, on the small configuration of
//! `tests/attention.rs` (128 features, short phases; a run takes about a second):
//! - every run writes `attention.png` (a complete PNG of the documented size), with and without
//!   `--probe-weights`;
//! - `laminar attention scaling` writes one run directory per (n, seed) with its attention.h5
//!   and attention.png, `scaling.csv` whose r_c values are exactly those of the runs'
//!   attention.h5, and `scaling.png`; a second sweep into the same directory is refused
//!   without `--force`, and bad lists are refused before anything runs.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::png_size;

use laminar_record::ArrayFileReader;

/// Pixel sizes documented in `crates/cli/src/plot/attention.rs`.
const ATTENTION_SIZE: (u32, u32) = (1800, 760);
const SCALING_SIZE: (u32, u32) = (1500, 640);

/// The small configuration: fewer features and shorter phases than the shipped circuit.
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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("laminar-attention-picture-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `laminar ARGS`; returns whether it succeeded and stdout + stderr. A panic fails the test.
fn laminar(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_laminar")).args(args).current_dir(root()).output().expect("laminar");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "laminar {args:?} panicked:\n{text}");
    (out.status.success(), text)
}

fn ok(args: &[&str]) -> String {
    let (success, text) = laminar(args);
    assert!(success, "laminar {args:?} failed:\n{text}");
    text
}

fn r_c(attention_h5: &Path, reference: &str) -> f64 {
    let f = ArrayFileReader::open(attention_h5).unwrap_or_else(|e| panic!("{}: {e}", attention_h5.display()));
    f.attr_f64(&format!("metrics/{reference}"), "r_c").unwrap().expect("r_c")
}

fn primary(attention_h5: &Path) -> String {
    let f = ArrayFileReader::open(attention_h5).unwrap();
    f.attr_string("", "primary").unwrap().expect("primary")
}

#[test]
fn every_run_draws_its_picture() {
    let dir = temp_dir("run");
    std::fs::create_dir_all(&dir).unwrap();
    let qkv = dir.join("qkv.h5");
    let q = qkv.to_str().unwrap();
    ok(&["attention", "inputs", "--tokens", "6", "--queries", "6", "--dim", "6", "--dim-v", "3", "--out", q]);
    for (name, extra) in [("plain", None), ("probes", Some("--probe-weights"))] {
        let out = dir.join(name);
        let mut args = vec!["attention", "astro", "--inputs", q, "--out", out.to_str().unwrap(), "--seed", "3"];
        args.extend(SMALL);
        args.extend(extra);
        let text = ok(&args);
        let picture = out.join("attention.png");
        assert!(text.contains(picture.to_str().unwrap()), "the picture is not named in:\n{text}");
        assert_eq!(png_size(&picture), ATTENTION_SIZE, "{name}");
    }
    // --force replaces the picture with the rest of the recording.
    let out = dir.join("plain");
    let mut args = vec!["attention", "astro", "--inputs", q, "--out", out.to_str().unwrap(), "--force"];
    args.extend(SMALL);
    ok(&args);
    assert_eq!(png_size(&out.join("attention.png")), ATTENTION_SIZE);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_sweep_writes_its_table_and_pictures() {
    let dir = temp_dir("scaling");
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "attention",
        "scaling",
        "astro",
        "--tokens",
        "4,8",
        "--queries",
        "6",
        "--dim",
        "6",
        "--dim-v",
        "3",
        "--seeds",
        "1",
        "--threads",
        "2",
        "--out",
        out,
    ];
    args.extend(SMALL);
    let text = ok(&args);
    assert!(text.contains("[1/2] n = 4, seed 1") && text.contains("[2/2] n = 8, seed 1"), "progress:\n{text}");
    assert!(text.contains("attention scaling, astro circuit"), "no final table in:\n{text}");

    let csv = std::fs::read_to_string(dir.join("scaling.csv")).expect("scaling.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("n,seed,r_c,r_c_softmax,r_raw,wall_s,simulated_ms"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for (row, n) in rows.iter().zip(["4", "8"]) {
        assert_eq!(row.len(), 7, "{csv}");
        assert_eq!((row[0], row[1]), (n, "1"));
        let run = dir.join(format!("n{n}_seed1"));
        let h5 = run.join("attention.h5");
        let value = |i: usize| row[i].parse::<f64>().unwrap_or_else(|e| panic!("column {i} of {row:?}: {e}"));
        assert_eq!(value(2), r_c(&h5, &primary(&h5)), "r_c of n = {n}");
        assert_eq!(value(3), r_c(&h5, "softmax"), "r_c softmax of n = {n}");
        assert!(value(2) > 0.5, "n = {n}: r_c {}", value(2));
        assert!(value(5) > 0.0 && value(6) > 0.0, "{row:?}");
        assert_eq!(png_size(&run.join("attention.png")), ATTENTION_SIZE, "n = {n}");
        assert!(dir.join(format!("inputs/n{n}_seed1.h5")).is_file());
    }
    assert_eq!(png_size(&dir.join("scaling.png")), SCALING_SIZE);

    // The same sweep again: refused without --force, before anything runs.
    let (success, text) = laminar(&args);
    assert!(!success && text.contains("scaling.csv exists") && text.contains("--force"), "{text}");
    let (success, text) =
        laminar(&["attention", "scaling", "astro", "--tokens", "4,4", "--queries", "6", "--dim", "6"]);
    assert!(!success && text.contains("--dim-v"), "a missing --dim-v must be named:\n{text}");
    let bad = dir.join("bad");
    let bad_args = |tokens: &'static str| {
        let mut a = vec!["attention", "scaling", "astro", "--tokens", tokens, "--queries", "6", "--dim", "6"];
        a.extend(["--dim-v", "3", "--out", bad.to_str().unwrap()]);
        a
    };
    for (tokens, needle) in [("4,4", "--tokens: 4 is given twice"), ("300", "--tokens 300: must be 1 to 256")] {
        let (success, text) = laminar(&bad_args(tokens));
        assert!(!success && text.contains(needle), "--tokens {tokens}: expected '{needle}' in:\n{text}");
        assert!(!bad.exists(), "nothing is written for bad settings");
    }
    std::fs::remove_dir_all(&dir).ok();
}
