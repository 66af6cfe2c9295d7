//! `laminar normalization`: the command prints one row per rate vector and the predictions'
//! R², and refuses too few vectors. The criterion itself is tested with the experiment, in
//! `crates/attention/tests/normalization.rs`.

use std::process::Command;

#[test]
fn the_command_prints_the_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["normalization", "--seed", "2", "--vectors", "50", "--inputs", "8"])
        .output()
        .expect("laminar");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("derived (no free parameter)") && text.contains("unnormalised prediction"), "{text}");
    assert_eq!(text.lines().filter(|l| l.trim_end().ends_with('%')).count(), 50, "one row per vector:\n{text}");
    let bad = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["normalization", "--vectors", "2"])
        .output()
        .expect("laminar");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at least 3 vectors"));
}
