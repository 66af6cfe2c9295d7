//! Fuzzing the model-file language: generated and mutated model files, with the shipped models
//! as the corpus (issue 12).
//!
//! Every case is a model file (and possibly `--set` overrides) derived deterministically from
//! `(seed, case index)`: a shipped model mutated in a TOML-aware way (numbers replaced by extreme
//! ones, strings by other names or garbage, lines deleted, duplicated, swapped or cut, keys
//! inserted, table headers changed), a shipped model with random overrides, or a small model
//! generated from scratch. Each case is loaded in-process with `config::load`; a rejected file
//! must give an error that names `FILE:LINE` or the `--set` argument the value came from; an
//! accepted file is built and run for a few steps (unless it is too big to build in a test) into
//! a scratch directory, under a watchdog that sets the run's stop flag after a time bound.
//!
//! Failures this finds include aborts (a failed allocation) and hangs that no in-process check
//! survives, so the cases run in a *child process* (this same test binary, the ignored test
//! `fuzz_worker`), which appends one result line per case to a file. When the child dies in a
//! case or reports a hang it cannot recover from, the parent records that case as a failure
//! and starts a new child at the next case. A global allocator caps the child's live memory so
//! that a runaway allocation aborts the child instead of exhausting the shared machine.
//!
//! Environment: `LAMINAR_FUZZ_CASES` (default 10,000), `LAMINAR_FUZZ_SEED` (default below),
//! `LAMINAR_FUZZ_REPLAY=path/case-N.toml` (re-runs one saved case and prints its outcome).
//! Each failure class is written as a replayable case (`case-N.toml` with `case-N.toml.set`
//! beside it: the overrides and the models directory it belongs to) under
//! `target/tmp/fuzz-failures/`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use laminar_config::{self as config, ModelFile};
use laminar_engine::Rule;

// ---------------------------------------------------------------- bounds

/// Cases run when `LAMINAR_FUZZ_CASES` is not set (the CI test).
const DEFAULT_CASES: u64 = 10_000;
/// The seed when `LAMINAR_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x1a41_4a52_f022_0012;
/// Wall-clock bound of one case (load, build and a few steps). Normal cases take milliseconds
/// (measured: median 0.3 ms, 99th percentile 100 ms, slowest built case 2.1 s); this is far above them, so a case
/// that exceeds it is hung, not slow.
const CASE_BOUND: Duration = Duration::from_secs(10);
/// After the bound the watchdog sets the stop flag; the run must return within this.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The parent kills a child that has written no result for this long (its own watchdog failed).
const CHILD_SILENCE: Duration = Duration::from_secs(90);
/// Networks built and run in a test: at most this many neurons, expected synapses and threads
/// (a built case costs ~0.1 s on average; bigger ones would dominate the 10,000-case budget).
/// Bigger accepted files are counted as skipped.
const MAX_NEURONS: f64 = 20_000.0;
const MAX_SYNAPSES: f64 = 500_000.0;
const MAX_THREADS: usize = 4;
/// Steps simulated per accepted case (fewer when the file's own duration is shorter).
const RUN_STEPS: [f64; 3] = [10.0, 2.0, 1.0];
/// Live heap of the child: a case that needs more aborts (a failed allocation) and is reported.
const MEMORY_CAP: usize = 4 << 30;

// ---------------------------------------------------------------- a capped allocator

/// The system allocator with a cap on live bytes. An allocation past the cap returns null,
/// which makes Rust abort with "memory allocation of N bytes failed": the parent records the
/// case instead of the machine (shared, with overcommit) running out of memory.
struct CappedAllocator;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

impl CappedAllocator {
    fn reserve(size: usize) -> bool {
        let before = LIVE_BYTES.fetch_add(size, Ordering::Relaxed);
        if before.saturating_add(size) > MEMORY_CAP {
            LIVE_BYTES.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        true
    }
}

// SAFETY: every call is forwarded to `System` with the caller's layout; the counter only decides
// whether to forward an allocation at all (returning null is allowed).
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait; it only forwards to `System`")]
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !Self::reserve(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            if new_size > layout.size() {
                LIVE_BYTES.fetch_sub(new_size - layout.size(), Ordering::Relaxed);
            }
        } else if new_size < layout.size() {
            LIVE_BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

// ---------------------------------------------------------------- deterministic randomness

/// SplitMix64: small, fast and good enough to pick mutations; one stream per case, so a case
/// is reproduced from `(seed, index)` alone.
struct Rng(u64);

impl Rng {
    fn for_case(seed: u64, index: u64) -> Self {
        let mut rng = Rng(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        rng.next();
        rng
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------- the corpus

/// A shipped model file and what mutations and overrides draw from it.
struct SeedFile {
    /// The path relative to `models/` (e.g. `columns/laminar_column.toml`).
    relative: PathBuf,
    lines: Vec<String>,
    /// Dotted paths of every value and table in the file (arrays of tables by index and, where
    /// the element has one, by name): the targets of `--set` overrides.
    paths: Vec<String>,
}

/// The shipped models and the words, keys and table headers found in them and in the registry.
struct Corpus {
    files: Vec<SeedFile>,
    /// Names a string may be replaced by: populations, projections, models, receptors, devices,
    /// recordables, layers and cell types.
    words: Vec<String>,
    /// Keys a `key = value` insertion may use.
    keys: Vec<String>,
    /// Table headers (`[populations.exc]`, `[[projections]]`, …) a header may be replaced by.
    headers: Vec<String>,
}

impl Corpus {
    fn load() -> Self {
        let models = common::root().join("models");
        let mut corpus = Corpus { files: Vec::new(), words: Vec::new(), keys: Vec::new(), headers: Vec::new() };
        for path in common::shipped_models() {
            let text = std::fs::read_to_string(&path).expect("a shipped model");
            let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut paths = Vec::new();
            collect_paths(&toml::Value::Table(table), "", &mut paths, &mut corpus);
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            corpus.headers.extend(lines.iter().filter(|l| l.trim_start().starts_with('[')).map(|l| strip_comment(l)));
            let relative = path.strip_prefix(&models).expect("under models/").to_path_buf();
            corpus.files.push(SeedFile { relative, lines, paths });
        }
        for model in laminar_models::registry::NEURON_MODELS {
            corpus.words.push(model.to_string());
            if let Some(info) = laminar_models::registry::model_info(model) {
                corpus.words.extend(info.receptors.iter().map(|r| r.to_string()));
                corpus.words.extend(info.recordables.iter().map(|r| r.name.to_string()));
            }
        }
        let registry = [laminar_models::registry::DEVICE_MODELS, laminar_models::registry::SYNAPSE_MODELS];
        corpus.words.extend(registry.iter().flat_map(|list| list.iter().map(|m| m.to_string())));
        for list in [&mut corpus.words, &mut corpus.keys, &mut corpus.headers] {
            list.sort();
            list.dedup();
        }
        corpus
    }
}

/// Walks a parsed file: every table and value gets its dotted path; keys and string values
/// feed the corpus's word lists.
fn collect_paths(value: &toml::Value, prefix: &str, paths: &mut Vec<String>, corpus: &mut Corpus) {
    let join = |key: &str| if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                corpus.keys.push(key.clone());
                corpus.words.push(key.clone());
                let path = join(key);
                paths.push(path.clone());
                collect_paths(child, &path, paths, corpus);
            }
        }
        toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
            for (i, item) in items.iter().enumerate() {
                let by_index = join(&i.to_string());
                paths.push(by_index.clone());
                collect_paths(item, &by_index, paths, corpus);
                if let Some(name) = item.get("name").and_then(toml::Value::as_str) {
                    let by_name = join(name);
                    paths.push(by_name.clone());
                    collect_paths(item, &by_name, paths, corpus);
                }
            }
        }
        toml::Value::String(s) if s.len() < 40 => corpus.words.push(s.clone()),
        _ => {}
    }
}

/// A line without its trailing comment (outside strings), trimmed at the end.
fn strip_comment(line: &str) -> String {
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return line[..i].trim_end().to_string(),
            _ => {}
        }
    }
    line.trim_end().to_string()
}

// ---------------------------------------------------------------- cases

/// One fuzz case: a model file, where it lives and the overrides it is loaded with.
#[derive(Debug, Clone)]
struct Case {
    /// The directory under the scratch copy of `models/` the file is written to, so that paths
    /// relative to the file resolve as for the shipped model it came from.
    dir: PathBuf,
    text: String,
    overrides: Vec<String>,
    /// What was done, for the report.
    recipe: String,
}

impl Case {
    /// The size a reproduction is judged by: smaller is a better minimal example.
    fn size(&self) -> usize {
        self.text.len() + self.overrides.iter().map(String::len).sum::<usize>()
    }
}

/// Numbers a mutation writes: zeros, signs, the tiny, the huge, integer limits, non-finite.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-0.0",
    "-1",
    "1e-9",
    "1e-300",
    "1e308",
    "-1e308",
    "4294967295",
    "18446744073709551615",
    "9.2e18",
    "nan",
    "inf",
    "-inf",
    "1e20",
    "3000000",
    "0.5",
    "2",
    "-2.5",
    "0.05",
    "1.0",
    "100",
    "-100.0",
];

/// Strings a mutation writes besides the corpus's words.
const GARBAGE_STRINGS: &[&str] =
    &["", " ", "x", "ünïcödé", "exc->inh", "#2", "all", "none", "../x", "a.b", "\\u0000", "1", "-"];

/// The case of `index`: deterministic in `(seed, index)`.
fn make_case(corpus: &Corpus, seed: u64, index: u64) -> Case {
    let mut rng = Rng::for_case(seed, index);
    let roll = rng.below(100);
    if roll < 8 {
        return generate_model(corpus, &mut rng);
    }
    let file = rng.pick(&corpus.files);
    let mut lines = file.lines.clone();
    let mut recipe = vec![format!("{}", file.relative.display())];
    if lines.iter().any(|l| l.starts_with("n_scaling")) && rng.chance(80) {
        scale_down(&mut lines, &mut rng);
        recipe.push("scaled down".to_string());
    }
    let mut overrides = Vec::new();
    if roll < 25 {
        // The file as shipped with overrides only: values that pass the parser reach deep validation.
        for _ in 0..1 + rng.below(3) {
            overrides.push(random_override(corpus, file, &mut rng));
        }
    } else {
        for _ in 0..1 + rng.below(4) {
            recipe.push(mutate(&mut lines, corpus, &mut rng));
        }
        if rng.chance(20) {
            overrides.push(random_override(corpus, file, &mut rng));
        }
    }
    let mut text = lines.join("\n");
    if !text.is_empty() && !recipe.iter().any(|r| r.starts_with("cut")) {
        text.push('\n');
    }
    let dir = file.relative.parent().map(Path::to_path_buf).unwrap_or_default();
    Case { dir, text, overrides, recipe: recipe.join(", ") }
}

/// A full-scale microcircuit is too big to build in a test: most of its cases get small
/// `n_scaling`/`k_scaling` so that accepted mutants are also built and run.
fn scale_down(lines: &mut [String], rng: &mut Rng) {
    let n = *rng.pick(&["0.002", "0.005", "0.01"]);
    let k = *rng.pick(&["0.01", "0.05", "0.1"]);
    for line in lines.iter_mut() {
        if line.starts_with("n_scaling") {
            *line = format!("n_scaling = {n}");
        } else if line.starts_with("k_scaling") {
            *line = format!("k_scaling = {k}");
        }
    }
}

/// One mutation of the lines; returns what it did.
fn mutate(lines: &mut Vec<String>, corpus: &Corpus, rng: &mut Rng) -> String {
    if lines.is_empty() {
        lines.push(random_assignment(corpus, rng));
        return "insert into empty".to_string();
    }
    let at = rng.below(lines.len());
    match rng.below(100) {
        0..=29 => replace_token(lines, rng, Token::Number, corpus),
        30..=44 => replace_token(lines, rng, Token::Str, corpus),
        45..=52 => {
            lines.remove(at);
            format!("delete line {}", at + 1)
        }
        53..=58 => {
            let copy = lines[at].clone();
            let to = rng.below(lines.len() + 1);
            lines.insert(to, copy);
            format!("duplicate line {} at {}", at + 1, to + 1)
        }
        59..=64 => {
            let other = rng.below(lines.len());
            lines.swap(at, other);
            format!("swap lines {} and {}", at + 1, other + 1)
        }
        65..=69 => cut(lines, at, rng),
        70..=86 => {
            let after = header_or_any(lines, rng);
            lines.insert(after + 1, random_assignment(corpus, rng));
            format!("insert at line {}", after + 2)
        }
        _ => change_header(lines, corpus, rng),
    }
}

/// Cuts the file at line `at`, at its start or in the middle of the line.
fn cut(lines: &mut Vec<String>, at: usize, rng: &mut Rng) -> String {
    lines.truncate(at + 1);
    let line = &mut lines[at];
    let boundaries: Vec<usize> = line.char_indices().map(|(i, _)| i).collect();
    if rng.chance(50) || boundaries.is_empty() {
        lines.truncate(at);
        format!("cut before line {}", at + 1)
    } else {
        let keep = *rng.pick(&boundaries);
        line.truncate(keep);
        format!("cut line {} at byte {keep}", at + 1)
    }
}

/// A header line to insert after (most insertions land in a table), or any line.
fn header_or_any(lines: &[String], rng: &mut Rng) -> usize {
    let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim_start().starts_with('[')).collect();
    if !headers.is_empty() && rng.chance(70) { *rng.pick(&headers) } else { rng.below(lines.len()) }
}

/// Replaces a table header by another (from the corpus, or the same one altered).
fn change_header(lines: &mut [String], corpus: &Corpus, rng: &mut Rng) -> String {
    let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim_start().starts_with('[')).collect();
    let Some(&at) = (!headers.is_empty()).then(|| rng.pick(&headers)) else {
        return "no header to change".to_string();
    };
    let old = strip_comment(&lines[at]);
    let name = old.trim_matches(|c| c == '[' || c == ']').to_string();
    lines[at] = match rng.below(5) {
        0 => rng.pick(&corpus.headers).clone(),
        1 if old.starts_with("[[") => format!("[{name}]"),
        1 => format!("[[{name}]]"),
        2 => format!("[{name}.{}]", rng.pick(&corpus.words)),
        3 => format!("[{}]", name.rsplit_once('.').map_or(name.as_str(), |(head, _)| head)),
        _ => format!("[{name}{}]", rng.pick(&["x", "-", ".", " ", "\"", ""])),
    };
    format!("header line {}: {} -> {}", at + 1, old, lines[at])
}

#[derive(Clone, Copy, PartialEq)]
enum Token {
    Number,
    Str,
}

/// The byte spans of number literals, or of string contents, in `line` (outside comments).
fn token_spans(line: &str, kind: Token) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    let word = |b: u8| b.is_ascii_alphanumeric() || b"_.+-".contains(&b);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => break,
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(bytes.len());
                if kind == Token::Str {
                    spans.push((start, end));
                }
                i = end + 1;
            }
            b if word(b) => {
                let start = i;
                while i < bytes.len() && word(bytes[i]) {
                    i += 1;
                }
                let text = &line[start..i];
                let number = text.parse::<f64>().is_ok() && !text.chars().all(|c| c.is_alphabetic());
                if kind == Token::Number && (number || ["inf", "nan", "-inf", "+inf"].contains(&text)) {
                    spans.push((start, i));
                }
            }
            _ => i += 1,
        }
    }
    spans
}

/// Replaces one number (or string) of a random line that has one.
fn replace_token(lines: &mut [String], rng: &mut Rng, kind: Token, corpus: &Corpus) -> String {
    let candidates: Vec<usize> = (0..lines.len()).filter(|&i| !token_spans(&lines[i], kind).is_empty()).collect();
    if candidates.is_empty() {
        return "no token to replace".to_string();
    }
    let at = *rng.pick(&candidates);
    let spans = token_spans(&lines[at], kind);
    let (start, end) = *rng.pick(&spans);
    let replacement = match kind {
        Token::Number => rng.pick(EXTREME_NUMBERS).to_string(),
        Token::Str if rng.chance(75) => rng.pick(&corpus.words).clone(),
        Token::Str => rng.pick(GARBAGE_STRINGS).to_string(),
    };
    let old = lines[at][start..end].to_string();
    lines[at].replace_range(start..end, &replacement);
    format!("line {}: {old} -> {replacement}", at + 1)
}

/// A TOML value: extreme numbers, names, booleans, arrays, distributions and node selections.
fn random_value(corpus: &Corpus, rng: &mut Rng) -> String {
    let number = |rng: &mut Rng| rng.pick(EXTREME_NUMBERS).to_string();
    match rng.below(12) {
        0..=3 => number(rng),
        4 | 5 => format!("\"{}\"", rng.pick(&corpus.words)),
        6 => rng.pick(&["true", "false"]).to_string(),
        7 => format!("[{}, {}]", number(rng), number(rng)),
        8 => rng.pick(&["[]", "{}", "\"all\"", "[[1.0, 2.0]]"]).to_string(),
        9 => {
            let dist = rng.pick(&["normal", "uniform", "lognormal"]);
            format!("{{ {dist} = [{}, {}] }}", number(rng), number(rng))
        }
        10 => format!("{{ first = {}, count = {} }}", number(rng), number(rng)),
        _ => format!("{{ {} = {} }}", rng.pick(&corpus.keys), number(rng)),
    }
}

/// `key = value` with a key of the corpus (or garbage) and a random value.
fn random_assignment(corpus: &Corpus, rng: &mut Rng) -> String {
    let key =
        if rng.chance(90) { rng.pick(&corpus.keys).clone() } else { rng.pick(&["x", "\"\"", "a.b", "1"]).to_string() };
    format!("{key} = {}", random_value(corpus, rng))
}

/// A `--set` argument: mostly a path of the file with an extreme or foreign value.
fn random_override(corpus: &Corpus, file: &SeedFile, rng: &mut Rng) -> String {
    let path = match rng.below(10) {
        0 => format!("{}.{}", rng.pick(&file.paths), rng.pick(&corpus.keys)),
        1 => {
            rng.pick(&["", "x", "simulation.", ".seed", "populations.nobody.size", "projections.99.weight"]).to_string()
        }
        _ => rng.pick(&file.paths).clone(),
    };
    let value = if rng.chance(5) {
        rng.pick(&["", "bare word", "[1,", "\"unterminated"]).to_string()
    } else {
        random_value(corpus, rng)
    };
    format!("{path}={value}")
}

// ---------------------------------------------------------------- models from scratch

/// A small model written from scratch: random populations of registry models, projections
/// with random rules, stimuli and recordings; mostly plausible values, sometimes extreme ones.
fn generate_model(corpus: &Corpus, rng: &mut Rng) -> Case {
    let plausible = |rng: &mut Rng, normal: &[&str]| -> String {
        if rng.chance(90) { rng.pick(normal).to_string() } else { rng.pick(EXTREME_NUMBERS).to_string() }
    };
    let mut text = String::from("[simulation]\n");
    text += &format!("resolution_ms = {}\n", plausible(rng, &["0.1", "0.1", "0.05", "1.0", "0.25"]));
    text += &format!("duration_ms = {}\n", plausible(rng, &["1.0", "10.0", "100.0"]));
    text += &format!("seed = {}\n", plausible(rng, &["1", "7", "12345"]));
    text += &format!("threads = {}\n", plausible(rng, &["1", "1", "2"]));
    let populations: Vec<(String, &str)> =
        (0..1 + rng.below(3)).map(|i| (format!("p{i}"), *rng.pick(laminar_models::registry::NEURON_MODELS))).collect();
    for (name, model) in &populations {
        text += &format!(
            "\n[populations.{name}]\nmodel = \"{model}\"\nsize = {}\n",
            plausible(rng, &["1", "3", "20", "50"])
        );
        if *model == "spike_generator" && rng.chance(80) {
            text += "params = { spike_times = [1.0, 2.0, 5.5] }\n";
        } else if rng.chance(40) {
            let key = rng.pick(&["V_th", "tau_m", "I_e", "C_m", "t_ref", "E_L", "V_reset", "tau_syn_ex"]);
            text +=
                &format!("params = {{ {key} = {} }}\n", plausible(rng, &["-50.0", "10.0", "376.0", "250.0", "2.0"]));
        }
    }
    for _ in 0..rng.below(4) {
        let (source, _) = rng.pick(&populations);
        let (target, model) = rng.pick(&populations);
        let rule = match rng.below(6) {
            0 => "\"all_to_all\"".to_string(),
            1 => "\"one_to_one\"".to_string(),
            2 => format!("{{ pairwise_bernoulli = {{ p = {} }} }}", plausible(rng, &["0.1", "0.5", "1.0"])),
            3 => format!("{{ fixed_indegree = {{ k = {} }} }}", plausible(rng, &["1", "5", "10"])),
            4 => format!("{{ fixed_outdegree = {{ k = {} }} }}", plausible(rng, &["1", "5", "10"])),
            _ => format!("{{ fixed_total_number = {{ n = {} }} }}", plausible(rng, &["1", "20", "100"])),
        };
        text += &format!("\n[[projections]]\nsource = \"{source}\"\ntarget = \"{target}\"\nrule = {rule}\n");
        text += &format!("weight = {}\n", plausible(rng, &["10.0", "-20.0", "1.0"]));
        text += &format!("delay_ms = {}\n", plausible(rng, &["1.0", "0.1", "1.5"]));
        let receptors = laminar_models::registry::model_info(model).map(|i| i.receptors.to_vec()).unwrap_or_default();
        if !receptors.is_empty() && rng.chance(30) {
            text += &format!("receptor = \"{}\"\n", rng.pick(&receptors));
        }
        if rng.chance(20) {
            text += &format!("synapse = {{ model = \"{}\" }}\n", rng.pick(laminar_models::registry::SYNAPSE_MODELS));
        }
    }
    for _ in 0..rng.below(3) {
        let (target, _) = rng.pick(&populations);
        let device = *rng.pick(laminar_models::registry::DEVICE_MODELS);
        let params = match device {
            "poisson_generator" => format!("{{ rate = {} }}", plausible(rng, &["100.0", "8000.0", "0.0"])),
            "dc_generator" => format!("{{ amplitude = {} }}", plausible(rng, &["100.0", "-50.0", "0.0"])),
            _ => format!(
                "{{ amplitude_times = [1.0, {}], amplitude_values = [100.0, 0.0] }}",
                plausible(rng, &["2.0", "5.0"])
            ),
        };
        text += &format!("\n[[stimuli]]\nmodel = \"{device}\"\nparams = {params}\ntarget = \"{target}\"\n");
        text +=
            &format!("weight = {}\ndelay_ms = {}\n", plausible(rng, &["1.0", "20.0"]), plausible(rng, &["0.1", "1.0"]));
    }
    let (recorded, model) = rng.pick(&populations);
    text += &format!(
        "\n[recording]\nspikes = {}\n",
        if rng.chance(50) { "\"all\"".to_string() } else { format!("[\"{recorded}\"]") }
    );
    let recordables = laminar_models::registry::model_info(model).map(|i| i.recordables.to_vec()).unwrap_or_default();
    if !recordables.is_empty() && rng.chance(60) {
        let variable = &rng.pick(&recordables).name;
        text += &format!("\n[[recording.variables]]\npopulation = \"{recorded}\"\nvariable = \"{variable}\"\n");
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut recipe = vec!["generated".to_string()];
    if rng.chance(30) {
        recipe.push(mutate(&mut lines, corpus, rng));
    }
    Case { dir: PathBuf::new(), text: lines.join("\n") + "\n", overrides: Vec::new(), recipe: recipe.join(", ") }
}

// ---------------------------------------------------------------- one case, in the child

/// What a case came to. The failure kinds carry a signature (what groups equal failures: a
/// panic's location, an error's wording without its numbers) and the full detail.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Rejected,
    Ran,
    /// Accepted, but too big to build in a test.
    Skipped,
    Failure {
        class: Class,
        signature: String,
        detail: String,
    },
}

/// The failure classes the report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Panic,
    /// Over the time bound: the stop flag was not honoured in time, or a load or build that no
    /// flag can stop.
    Hang,
    /// Rejected with an error that names neither `FILE:LINE` (a line of the file) nor the
    /// `--set` argument.
    NoLine,
    /// Accepted by `config::load`, then failed to build or run (validation let it through).
    RunError,
    /// The child process died in the case (an abort, such as a failed allocation).
    Crash,
}

impl Class {
    const ALL: [Class; 5] = [Class::Panic, Class::Hang, Class::NoLine, Class::RunError, Class::Crash];
    fn name(self) -> &'static str {
        match self {
            Class::Panic => "panic",
            Class::Hang => "hang",
            Class::NoLine => "no-line",
            Class::RunError => "run-error",
            Class::Crash => "crash",
        }
    }
    fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl Verdict {
    fn failure(class: Class, detail: String) -> Self {
        Verdict::Failure { class, signature: signature_of(&detail), detail }
    }
    fn kind(&self) -> &'static str {
        match self {
            Verdict::Rejected => "rejected",
            Verdict::Ran => "ran",
            Verdict::Skipped => "skipped",
            Verdict::Failure { class, .. } => class.name(),
        }
    }
}

/// What groups equal failures: the text with the case's file path, numbers and quoted values
/// masked, so that one bug found with many values is one entry of the report.
fn signature_of(detail: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut last = ' ';
    for c in detail.chars() {
        let mapped = match c {
            '`' => {
                quoted = !quoted;
                '`'
            }
            _ if quoted => continue,
            '0'..='9' => '#',
            _ => c,
        };
        if !(mapped == '#' && last == '#') {
            out.push(mapped);
        }
        last = mapped;
        if out.len() > 140 {
            break;
        }
    }
    out
}

/// The message of the last panic on any thread of the child, kept by the silent hook.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the default panic hook (which would print thousands of expected-looking traces)
/// with one that keeps the message and location for the verdict.
fn install_silent_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string payload)".to_string());
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        // The child's own thread failing is a bug of the harness, not a case: say so.
        if matches!(std::thread::current().name(), Some("main" | "fuzz_worker")) {
            let _ = writeln!(std::io::stderr(), "fuzz harness: panicked at {location}: {payload}");
        }
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("panicked at {location}: {payload}"));
        }
    }));
}

fn take_panic() -> String {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take()).unwrap_or_else(|| "panicked (no message)".to_string())
}

/// A case handed to the worker thread.
struct Job {
    path: PathBuf,
    overrides: Vec<String>,
    out: PathBuf,
    stop: Arc<AtomicBool>,
}

/// Where the worker is, for a hang's report.
static STAGE: AtomicUsize = AtomicUsize::new(0);
const STAGES: [&str; 3] = ["load", "size estimate", "build and run"];

/// Loads the case; checks a rejection's message; builds and runs an accepted file for a few steps.
fn evaluate(job: &Job) -> Verdict {
    STAGE.store(0, Ordering::SeqCst);
    let loaded = match std::panic::catch_unwind(AssertUnwindSafe(|| {
        config::load(&job.path, &job.overrides).map_err(|e| e.to_string())
    })) {
        Err(_) => return Verdict::failure(Class::Panic, format!("in config::load: {}", take_panic())),
        Ok(loaded) => loaded,
    };
    let model = match loaded {
        Err(error) => return check_rejection(&error, job),
        Ok(model) => model,
    };
    STAGE.store(1, Ordering::SeqCst);
    let fits = match std::panic::catch_unwind(AssertUnwindSafe(|| fits_in_a_test(&model))) {
        Err(_) => return Verdict::failure(Class::Panic, format!("estimating the network's size: {}", take_panic())),
        Ok(fits) => fits,
    };
    if !fits {
        return Verdict::Skipped;
    }
    let Some(duration) = short_duration(&model) else {
        return Verdict::failure(
            Class::RunError,
            format!(
                "accepted, but no duration of 1-10 steps of {} ms is on its grid",
                model.simulation().resolution_ms
            ),
        );
    };
    STAGE.store(2, Ordering::SeqCst);
    let mut overrides = job.overrides.clone();
    overrides.push(format!("simulation.duration_ms={duration:?}"));
    let options = laminar_cli::run::RunOptions { overrides, quiet: true, ..Default::default() };
    let _ = std::fs::remove_dir_all(&job.out);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        laminar_cli::run::run(&job.path, &job.out, &options, job.stop.clone())
    }));
    let _ = std::fs::remove_dir_all(&job.out);
    match result {
        Err(_) => Verdict::failure(Class::Panic, format!("in run: {}", take_panic())),
        Ok(Err(e)) => Verdict::failure(Class::RunError, format!("accepted by config::load, then run failed: {e:#}")),
        Ok(Ok(summary)) if !summary.completed && !job.stop.load(Ordering::SeqCst) => {
            Verdict::failure(Class::RunError, format!("the run stopped early unasked: {}", summary.text))
        }
        Ok(Ok(_)) => Verdict::Ran,
    }
}

/// A rejection is correct when its message starts with the file's path and `:LINE: ` (a line
/// within the file), or with ` (--set ARG): ` for one of the case's overrides.
fn check_rejection(message: &str, job: &Job) -> Verdict {
    let file = job.path.display().to_string();
    let lines = std::fs::read_to_string(&job.path).map(|t| t.lines().count()).unwrap_or(0);
    if let Some(rest) = message.strip_prefix(&file) {
        if let Some(after) = rest.strip_prefix(':') {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(line) = digits.parse::<usize>() {
                if after[digits.len()..].starts_with(": ") && (1..=lines.max(1)).contains(&line) {
                    return Verdict::Rejected;
                }
                return Verdict::failure(
                    Class::NoLine,
                    format!("line {line} is not a line of the {lines}-line file: {message}"),
                );
            }
        }
        if job.overrides.iter().any(|set| rest.starts_with(&format!(" (--set {set}): "))) {
            return Verdict::Rejected;
        }
    }
    Verdict::failure(Class::NoLine, message.replace(&file, "FILE"))
}

/// Expected synapses of a projection (the mean for random rules).
fn expected_synapses(rule: &Rule, sources: f64, targets: f64) -> f64 {
    match rule {
        Rule::AllToAll => sources * targets,
        Rule::OneToOne => sources,
        Rule::PairwiseBernoulli { p } => p * sources * targets,
        Rule::FixedIndegree { k } => *k as f64 * targets,
        Rule::FixedOutdegree { k } => *k as f64 * sources,
        Rule::FixedTotalNumber { n } => *n as f64,
        Rule::Explicit(edges) => edges.len() as f64,
    }
}

/// Whether the accepted network is small enough to build and run here.
fn fits_in_a_test(model: &ModelFile) -> bool {
    let sizes: Vec<f64> = model.populations().map(|(_, size, _)| size as f64).collect();
    let neurons: f64 = sizes.iter().sum();
    if neurons > MAX_NEURONS || model.simulation().threads > MAX_THREADS {
        return false;
    }
    // The builder does not build anything; it holds the resolved projections.
    let Ok(builder) = model.network_builder(model.simulation().seed) else {
        return true; // the run reports the error
    };
    let synapses: f64 = (0..builder.projection_count())
        .map(|i| {
            let p = model.projection(i);
            expected_synapses(&p.rule, sizes[p.source], sizes[p.target])
        })
        .sum();
    synapses <= MAX_SYNAPSES
}

/// A duration of a few steps on the file's grid (its own, if that is shorter).
fn short_duration(model: &ModelFile) -> Option<f64> {
    let simulation = model.simulation();
    let resolution = simulation.resolution();
    RUN_STEPS
        .iter()
        .map(|steps| steps * simulation.resolution_ms)
        .filter(|&d| d <= simulation.duration_ms)
        .chain(std::iter::once(simulation.duration_ms))
        .find(|&d| d > 0.0 && resolution.exact_steps(d).is_ok())
}

// ---------------------------------------------------------------- the child process

/// Environment of a child: its results file, its cases and the scratch models tree.
const CHILD_RESULTS: &str = "LAMINAR_FUZZ_CHILD_RESULTS";
const CHILD_FROM: &str = "LAMINAR_FUZZ_CHILD_FROM";
const CHILD_TO: &str = "LAMINAR_FUZZ_CHILD_TO";
const CHILD_SEED: &str = "LAMINAR_FUZZ_CHILD_SEED";
const CHILD_SCRATCH: &str = "LAMINAR_FUZZ_CHILD_SCRATCH";
const CHILD_REPLAY: &str = "LAMINAR_FUZZ_CHILD_REPLAY";

/// The child's entry point: runs its cases and appends one line per case to the results file.
#[test]
#[ignore = "the child process of fuzz_model_files, which runs it"]
fn fuzz_worker() {
    let var = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} is set by fuzz_model_files"));
    let number = |key: &str| var(key).parse::<u64>().unwrap_or_else(|e| panic!("{key}: {e}"));
    let scratch = PathBuf::from(var(CHILD_SCRATCH));
    let mut results =
        std::fs::OpenOptions::new().create(true).append(true).open(var(CHILD_RESULTS)).expect("results file");
    let corpus = Corpus::load();
    let replay = std::env::var(CHILD_REPLAY).ok().map(|path| read_replay(Path::new(&path)));
    let (seed, from, to) = (number(CHILD_SEED), number(CHILD_FROM), number(CHILD_TO));

    let default_hook = std::panic::take_hook();
    install_silent_panic_hook();
    let (jobs, job_queue) = mpsc::channel::<Job>();
    let (verdicts, done) = mpsc::channel::<Verdict>();
    // The CLI runs a model on the main thread (8 MiB of stack); so do the cases.
    std::thread::Builder::new()
        .name("fuzz-case".to_string())
        .stack_size(8 << 20)
        .spawn(move || {
            for job in job_queue {
                if verdicts.send(evaluate(&job)).is_err() {
                    break;
                }
            }
        })
        .expect("the case thread");
    for index in from..to {
        let case = match &replay {
            Some(case) => case.clone(),
            None => make_case(&corpus, seed, index),
        };
        let path = scratch.join("models").join(&case.dir).join("fuzz_case.toml");
        std::fs::write(&path, &case.text).expect("writing the case");
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let job = Job { path, overrides: case.overrides.clone(), out: scratch.join("out"), stop: stop.clone() };
        jobs.send(job).expect("the case thread is alive");
        let (verdict, stuck) = supervise(&done, &stop);
        let micros = started.elapsed().as_micros();
        let (signature, detail) = match &verdict {
            Verdict::Failure { signature, detail, .. } => (one_line(signature), one_line(detail)),
            _ => (String::new(), String::new()),
        };
        writeln!(results, "{index}\t{}\t{micros}\t{signature}\t{detail}", verdict.kind()).expect("writing a result");
        if stuck {
            // The case thread cannot be ended; the parent starts a new child at the next case.
            std::process::exit(3);
        }
    }
    std::panic::set_hook(default_hook);
}

/// Waits for the case under the time bound; past it, sets the stop flag and waits a little
/// more. Returns the verdict and whether the case thread is stuck for good.
fn supervise(done: &mpsc::Receiver<Verdict>, stop: &AtomicBool) -> (Verdict, bool) {
    match done.recv_timeout(CASE_BOUND) {
        Ok(verdict) => (verdict, false),
        Err(_) => {
            let stage = STAGES[STAGE.load(Ordering::SeqCst)];
            stop.store(true, Ordering::SeqCst);
            let flagged = Instant::now();
            match done.recv_timeout(STOP_GRACE) {
                Ok(verdict) => {
                    let detail = format!(
                        "{stage} took over {} s; returned {:.1} s after the stop flag was set ({})",
                        CASE_BOUND.as_secs(),
                        flagged.elapsed().as_secs_f64(),
                        verdict.kind()
                    );
                    (Verdict::failure(Class::Hang, detail), false)
                }
                Err(_) => {
                    let detail = format!(
                        "{stage} took over {} s and did not return within {} s of the stop flag",
                        CASE_BOUND.as_secs(),
                        STOP_GRACE.as_secs()
                    );
                    (Verdict::failure(Class::Hang, detail), true)
                }
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\t'], " ")
}

// ---------------------------------------------------------------- replay files

/// Writes a case as `NAME.toml` (the model text, byte for byte) and `NAME.toml.set` (its
/// directory under `models/`, overrides and provenance); returns the `.toml` path.
fn write_replay(dir: &Path, name: &str, case: &Case, provenance: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("failure directory");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, &case.text).expect("replay file");
    let mut set = format!(
        "# replay: LAMINAR_FUZZ_REPLAY={} cargo test --release -p laminar-cli --test fuzz_models\n",
        path.display()
    );
    set += &format!("# {provenance}\n# recipe: {}\ndir = {}\n", case.recipe, case.dir.display());
    for o in &case.overrides {
        set += &format!("set = {o}\n");
    }
    std::fs::write(dir.join(format!("{name}.toml.set")), set).expect("replay file");
    path
}

/// Reads a case written by [`write_replay`] (a model file without a `.set` beside it is a
/// case in `models/` without overrides).
fn read_replay(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut case =
        Case { dir: PathBuf::new(), text, overrides: Vec::new(), recipe: format!("replay of {}", path.display()) };
    let sidecar = PathBuf::from(format!("{}.set", path.display()));
    for line in std::fs::read_to_string(sidecar).unwrap_or_default().lines() {
        match line.split_once(" = ") {
            Some(("dir", dir)) => case.dir = PathBuf::from(dir),
            Some(("set", set)) => case.overrides.push(set.to_string()),
            _ => {}
        }
    }
    case
}

// ---------------------------------------------------------------- the parent: children and the report

/// One failure signature: how often it was seen and its smallest case.
struct FailureGroup {
    count: u64,
    index: u64,
    case: Case,
    detail: String,
}

/// Everything the report needs, gathered from the children's result lines.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
    micros: Vec<u64>,
    /// Per outcome kind: total and largest time (microseconds).
    kind_micros: BTreeMap<String, (u64, u64)>,
    slowest: Option<(u64, u64, String)>,
    failures: BTreeMap<(Class, String), FailureGroup>,
}

impl Tally {
    fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    fn failed(&self) -> u64 {
        self.failures.values().map(|g| g.count).sum()
    }

    fn record(
        &mut self,
        index: u64,
        kind: &str,
        micros: u64,
        signature: &str,
        detail: &str,
        case: impl FnOnce() -> Case,
    ) {
        *self.counts.entry(kind.to_string()).or_default() += 1;
        self.micros.push(micros);
        let (sum, max) = self.kind_micros.entry(kind.to_string()).or_default();
        (*sum, *max) = (*sum + micros, (*max).max(micros));
        if self.slowest.as_ref().is_none_or(|(_, slowest, _)| micros > *slowest) {
            self.slowest = Some((index, micros, kind.to_string()));
        }
        let Some(class) = Class::parse(kind) else { return };
        let case = case();
        let group = self.failures.entry((class, signature.to_string())).or_insert_with(|| FailureGroup {
            count: 0,
            index,
            case: case.clone(),
            detail: detail.to_string(),
        });
        group.count += 1;
        if case.size() < group.case.size() {
            (group.index, group.case, group.detail) = (index, case, detail.to_string());
        }
    }
}

/// Where cases are written: a copy of `models/` (relative paths inside it keep resolving),
/// the children's result files and the run outputs. Removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_tree(&common::root().join("models"), &dir.join("models"));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("scratch directory");
    for entry in std::fs::read_dir(from).expect("models/").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a model");
        }
    }
}

/// Runs cases `from..to` in a child; feeds each result line to `on_line` as it arrives.
/// Returns the first case without a result (`to` when all have one) and, when the child died
/// in it or was killed, the failure that case is.
fn run_child(
    scratch: &Path,
    seed: u64,
    (from, to): (u64, u64),
    replay: Option<&Path>,
    on_line: &mut dyn FnMut(&str),
) -> (u64, Option<(Class, String)>) {
    let results = scratch.join(format!("results-{from}.txt"));
    let stderr = scratch.join(format!("stderr-{from}.txt"));
    let _ = std::fs::remove_file(&results);
    std::fs::write(&results, "").expect("results file");
    let mut command = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["fuzz_worker", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_RESULTS, &results)
        .env(CHILD_SCRATCH, scratch)
        .env(CHILD_SEED, seed.to_string())
        .env(CHILD_FROM, from.to_string())
        .env(CHILD_TO, to.to_string())
        // An abort's own message ("memory allocation of N bytes failed"), not a backtrace.
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"));
    if let Some(path) = replay {
        command.env(CHILD_REPLAY, path);
    }
    let mut child = command.spawn().expect("starting the fuzz child");
    let mut reader = std::fs::File::open(&results).expect("results file");
    let mut pending = String::new();
    let mut next = from;
    let mut last_progress = Instant::now();
    let mut drain = |pending: &mut String, next: &mut u64| {
        let _ = std::io::Read::read_to_string(&mut reader, pending);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            *next = line.split('\t').next().and_then(|i| i.parse::<u64>().ok()).map_or(*next, |i| i + 1);
            on_line(line.trim_end_matches('\n'));
        }
    };
    loop {
        let exited = child.try_wait().expect("waiting for the fuzz child");
        let before = next;
        drain(&mut pending, &mut next);
        if next != before {
            last_progress = Instant::now();
        }
        if let Some(status) = exited {
            drain(&mut pending, &mut next);
            // Done, or stopped after recording a hang it cannot recover from (exit 3).
            if next >= to || status.code() == Some(3) {
                return (next, None);
            }
            let tail = std::fs::read_to_string(&stderr).unwrap_or_default();
            let tail: String =
                tail.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
            return (next, Some((Class::Crash, format!("the child process died ({status}): {tail}"))));
        }
        if last_progress.elapsed() > CHILD_SILENCE {
            let _ = child.kill();
            let _ = child.wait();
            drain(&mut pending, &mut next);
            let detail = format!("the child reported nothing for {} s and was killed", CHILD_SILENCE.as_secs());
            return (next, Some((Class::Hang, detail)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `LAMINAR_FUZZ_SEED`/`LAMINAR_FUZZ_CASES`: decimal or `0x` hexadecimal.
fn env_number(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Err(_) => default,
        Ok(text) => {
            let text = text.trim().replace('_', "");
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{key}={text}: {e}"))
        }
    }
}

/// Progress on the real stderr (a test's own output is captured until it ends).
fn progress(text: &str) {
    let _ = writeln!(std::io::stderr(), "fuzz: {text}");
}

/// The harness: every case in a child process (restarted after a case kills it), a tally,
/// and a report that fails the test listing every failure class with its smallest case.
#[test]
fn fuzz_model_files() {
    if let Ok(path) = std::env::var("LAMINAR_FUZZ_REPLAY") {
        return replay_one(Path::new(&path));
    }
    let cases = env_number("LAMINAR_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_number("LAMINAR_FUZZ_SEED", DEFAULT_SEED);
    let corpus = Corpus::load();
    let scratch = Scratch::new();
    let started = Instant::now();
    progress(&format!("{cases} cases, seed {seed:#x}, corpus of {} model files", corpus.files.len()));
    let mut tally = Tally::default();
    let mut last_report = Instant::now();
    let mut next = 0;
    while next < cases {
        let mut on_line = |line: &str| {
            let fields: Vec<&str> = line.splitn(5, '\t').collect();
            let [index, kind, micros, signature, detail] = fields[..] else {
                panic!("a malformed result line: {line}");
            };
            let index: u64 = index.parse().expect("case index");
            tally.record(index, kind, micros.parse().unwrap_or(0), signature, detail, || {
                make_case(&corpus, seed, index)
            });
            if last_report.elapsed() > Duration::from_secs(30) {
                last_report = Instant::now();
                let done = tally.total();
                let rate = done as f64 / started.elapsed().as_secs_f64();
                progress(&format!("{done}/{cases} cases, {} failures, {rate:.0} cases/s", tally.failed()));
            }
        };
        let (first_without_result, died) = run_child(&scratch.0, seed, (next, cases), None, &mut on_line);
        next = first_without_result;
        if let Some((class, detail)) = died {
            progress(&format!("case {next}: {}: {detail}", class.name()));
            let signature = signature_of(&detail);
            tally.record(next, class.name(), 0, &signature, &detail, || make_case(&corpus, seed, next));
            next += 1;
        }
    }
    let report = report(&tally, seed, started.elapsed());
    progress(&report);
    drop(scratch);
    assert!(tally.failures.is_empty(), "{report}");
}

/// The summary and, per failure class, each distinct failure with its smallest case (also
/// written as a replay file).
fn report(tally: &Tally, seed: u64, elapsed: Duration) -> String {
    let count = |kind: &str| tally.counts.get(kind).copied().unwrap_or(0);
    let mut micros = tally.micros.clone();
    micros.sort_unstable();
    let quantile =
        |q: f64| micros.get(((micros.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0) as f64 / 1000.0;
    let mut text = format!(
        "{} cases (seed {seed:#x}) in {:.1} s: {} accepted ({} built and run, {} skipped as too big), {} rejected with a line or --set, {} failed\n",
        tally.total(),
        elapsed.as_secs_f64(),
        count("ran") + count("skipped"),
        count("ran"),
        count("skipped"),
        count("rejected"),
        tally.failed()
    );
    text += &format!(
        "time per case: median {:.2} ms, 99th percentile {:.2} ms, max {:.2} ms",
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
    if let Some((index, _, kind)) = &tally.slowest {
        text += &format!(" (case {index}, {kind})");
    }
    text += "\n";
    for (kind, (sum, max)) in &tally.kind_micros {
        let mean = *sum as f64 / count(kind).max(1) as f64 / 1000.0;
        text += &format!("  {kind}: {} cases, mean {mean:.2} ms, max {:.2} ms\n", count(kind), *max as f64 / 1000.0);
    }
    let failure_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let _ = std::fs::remove_dir_all(&failure_dir);
    for class in Class::ALL {
        let groups: Vec<(&String, &FailureGroup)> =
            tally.failures.iter().filter(|((c, _), _)| *c == class).map(|((_, s), g)| (s, g)).collect();
        if groups.is_empty() {
            continue;
        }
        let total: u64 = groups.iter().map(|(_, g)| g.count).sum();
        text += &format!("\n== {}: {total} cases, {} distinct\n", class.name(), groups.len());
        for (n, (_, group)) in groups.iter().enumerate() {
            let provenance = format!("case {} of seed {seed:#x}: {}", group.index, group.detail);
            let path = write_replay(&failure_dir, &format!("{}-{n}", class.name()), &group.case, &provenance);
            text += &format!(
                "- {} cases; smallest: case {} ({}), models/{}/ {}\n  {}\n  replay: {}\n",
                group.count,
                group.index,
                group.case.recipe,
                group.case.dir.display(),
                group.case.overrides.iter().map(|o| format!("--set '{o}'")).collect::<Vec<_>>().join(" "),
                group.detail.chars().take(400).collect::<String>(),
                path.display()
            );
        }
    }
    text
}

/// Re-runs one saved case (`LAMINAR_FUZZ_REPLAY`) in a child and prints its outcome.
fn replay_one(path: &Path) {
    // cargo runs tests in the package's directory; a relative path is meant from the repository root.
    let path = if path.is_relative() && !path.exists() { common::root().join(path) } else { path.to_path_buf() };
    let path = std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let case = read_replay(&path);
    let scratch = Scratch::new();
    let mut outcome = None;
    let (_, died) = run_child(&scratch.0, 0, (0, 1), Some(&path), &mut |line: &str| outcome = Some(line.to_string()));
    drop(scratch);
    let outcome = match died {
        Some((class, detail)) => format!("0\t{}\t0\t\t{detail}", class.name()),
        None => outcome.expect("the child's result"),
    };
    let fields: Vec<&str> = outcome.splitn(5, '\t').collect();
    progress(&format!(
        "replay of {} ({}, {} overrides): {} in {} us {}",
        path.display(),
        case.dir.display(),
        case.overrides.len(),
        fields[1],
        fields[2],
        fields[4]
    ));
    assert!(Class::parse(fields[1]).is_none(), "{outcome}");
}
