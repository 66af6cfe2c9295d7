//! What the machine lets this process use: the memory limit a model's estimated footprint is
//! checked against before anything is built.
//!
//! The limit is the smallest of
//! - `LAMINAR_MEMORY_LIMIT` (bytes, or with a suffix: `512M`, `4G`, `1.5T`), for a user who wants
//!   a cap below the machine's, or a test;
//! - the machine's physical memory (`MemTotal` in `/proc/meminfo`);
//! - the cgroup's limit (`memory.max` of cgroup v2, `memory.limit_in_bytes` of v1), which
//!   containers and batch schedulers set;
//! - the process's address-space and data-segment limits (`ulimit -v`, `ulimit -d`, read from
//!   `/proc/self/limits`).
//!
//! Where none can be read (not Linux), there is no limit and nothing is refused.

use std::path::Path;

/// A memory limit and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryLimit {
    pub bytes: u64,
    /// E.g. "MemTotal in /proc/meminfo" or "ulimit -v (Max address space)".
    pub source: String,
}

/// The environment variable that caps the memory a model may need.
pub const LIMIT_VARIABLE: &str = "LAMINAR_MEMORY_LIMIT";

/// What the program itself takes besides the network (code, the HDF5 library, thread stacks,
/// the recorder's buffers): subtracted from an address-space limit, which counts all of it.
pub const PROCESS_BASELINE_BYTES: u64 = 256 << 20;

/// A `LAMINAR_MEMORY_LIMIT` that is not a size.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}={text}: expected a size in bytes, or with a suffix K, M, G or T (e.g. 4G)", LIMIT_VARIABLE)]
pub struct MemoryLimitError {
    /// The variable's value as set.
    pub text: String,
}

/// The smallest limit that applies to this process, if any can be read. An unreadable or
/// malformed `LAMINAR_MEMORY_LIMIT` is an error, so that a typo does not silently lift the cap.
pub fn memory_limit() -> Result<Option<MemoryLimit>, MemoryLimitError> {
    let mut limits: Vec<MemoryLimit> = Vec::new();
    if let Ok(text) = std::env::var(LIMIT_VARIABLE) {
        let bytes = parse_size(&text).ok_or_else(|| MemoryLimitError { text: text.clone() })?;
        limits.push(MemoryLimit { bytes, source: format!("{LIMIT_VARIABLE}={text}") });
    }
    if let Some(kib) = read(Path::new("/proc/meminfo")).as_deref().and_then(|t| meminfo_field(t, "MemTotal")) {
        limits
            .push(MemoryLimit { bytes: kib * 1024, source: "the machine's memory (MemTotal in /proc/meminfo)".into() });
    }
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
        // "max" (v2) or a huge number (v1) mean no limit.
        if let Some(bytes) = read(Path::new(path)).and_then(|t| t.trim().parse::<u64>().ok()).filter(|&b| b < 1 << 60) {
            limits.push(MemoryLimit { bytes, source: format!("the cgroup's limit ({path})") });
        }
    }
    if let Some(text) = read(Path::new("/proc/self/limits")) {
        for (name, shell) in [("Max address space", "ulimit -v"), ("Max data size", "ulimit -d")] {
            if let Some(bytes) = rlimit_soft(&text, name) {
                limits.push(MemoryLimit {
                    bytes: bytes.saturating_sub(PROCESS_BASELINE_BYTES),
                    source: format!(
                        "{shell} ({name}, less {} MiB for the program itself)",
                        PROCESS_BASELINE_BYTES >> 20
                    ),
                });
            }
        }
    }
    Ok(limits.into_iter().min_by_key(|l| l.bytes))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A `/proc/meminfo` field in KiB.
fn meminfo_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The soft limit of a `/proc/self/limits` row in bytes; `None` when unlimited.
fn rlimit_soft(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(name))?;
    rest.split_whitespace().next()?.parse().ok()
}

/// "4G", "512M", "1.5T", "1000000" (bytes); binary units.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => {
            let scale = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return None,
            };
            (&t[..i], scale)
        }
        _ => (t, 1),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some((value * scale as f64) as u64)
}

/// Bytes for people: "812 MB", "35.2 GB", "2.1 TB" (decimal units, as `free -h` rounds).
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if value >= 1000.0 {
        return format!("{bytes:.2e} B");
    }
    if unit == 0 { format!("{value:.0} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1.5T"), Some(3 << 39));
        assert_eq!(parse_size("1000000"), Some(1_000_000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1G"), None);
    }

    #[test]
    fn proc_files_are_read() {
        assert_eq!(meminfo_field("MemTotal:       24563412 kB\nMemFree: 1 kB\n", "MemTotal"), Some(24_563_412));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max data size             unlimited            unlimited            bytes\n\
                      Max address space         4096000000           unlimited            bytes\n";
        assert_eq!(rlimit_soft(limits, "Max address space"), Some(4_096_000_000));
        assert_eq!(rlimit_soft(limits, "Max data size"), None);
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(812.0), "812 B");
        assert_eq!(human_bytes(35.2e9), "35.2 GB");
        assert_eq!(human_bytes(2.1e12), "2.1 TB");
    }
}
