//! The memory budget: every allocation sized from user input (over 64 MiB) is checked in bytes against it before it is made.
//!
//! A request for `zeros(100000, 100000)` would otherwise abort the process (the allocator's
//! failure is not an error Rust can return), taking a Jupyter kernel and its variables with it.
//! The budget is the memory the system reports available (`MemAvailable` of `/proc/meminfo`)
//! when the check runs, or `NOYAU_MEMORY_LIMIT` (bytes, or a number with a K, M, G or T suffix)
//! when it is set; a machine that reports neither has no budget.

use crate::error::{Error, Result};

/// The environment variable that overrides the budget.
pub const LIMIT_VAR: &str = "NOYAU_MEMORY_LIMIT";

/// Allocations up to this size are never checked: they cannot be the absurd request this module
/// guards against, and tensor arithmetic in loops (a Sinkhorn iteration, autograd) makes many of
/// them, which must not each read `/proc/meminfo`.
pub const UNCHECKED_BYTES: u128 = 64 << 20;

/// Checks that `op` may allocate `count` values of `size` bytes each.
pub fn check(op: &str, count: usize, size: usize) -> Result<()> {
    let asked = (count as u128) * (size as u128);
    if asked <= UNCHECKED_BYTES {
        return Ok(());
    }
    match limit() {
        Some(limit) if asked > limit as u128 => Err(Error::Memory { op: op.to_string(), asked, limit }),
        _ => Ok(()),
    }
}

/// The budget in bytes, if there is one.
pub fn limit() -> Option<u64> {
    match std::env::var(LIMIT_VAR) {
        Ok(text) => parse_size(&text),
        Err(_) => available(),
    }
}

/// A size written as bytes or with a binary suffix: "512M", "8G", "1.5T", "1000000".
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((k, _)) => (&t[..k], t[k..].trim_end_matches(['b', 'B', 'i'])),
        None => (t, ""),
    };
    let scale: f64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale).min(u64::MAX as f64) as u64)
}

/// The memory the system reports available now.
fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A number of bytes for a person: "74.5 GiB".
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_suffix() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size(" 8g "), Some(8 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-3"), None);
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }

    #[test]
    fn the_system_reports_some_memory() {
        // Linux always has MemAvailable; the check must let a small allocation through.
        if std::env::var(LIMIT_VAR).is_err() && cfg!(target_os = "linux") {
            assert!(available().is_some_and(|b| b > 1 << 20));
        }
        assert!(check("test", 16, 8).is_ok());
        assert!(check("test", 1 << 20, 64).is_ok(), "64 MiB is never refused");
        let err = check("test", usize::MAX, 8).unwrap_err().to_string();
        assert!(err.starts_with("test: needs "), "{err}");
    }
}
