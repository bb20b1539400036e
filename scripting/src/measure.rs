//! Memory readouts for notebooks: a tensor's bytes, the process's resident memory and its peak.
//!
//! Time needs nothing here: Rhai's own `timestamp()` and `t.elapsed` (seconds, a float) serve.
//! Memory is read from `/proc/self/status` (Linux): `VmRSS` is what the process holds now and
//! `VmHWM` the most it has held. Writing `5` to `/proc/self/clear_refs` brings the peak back
//! down to the current value, so that `reset_peak_rss()` … `peak_rss_mib()` brackets the memory
//! one computation needs. On other systems these readouts are errors that say so.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use noyau_engine::{DType, Tensor};
use rhai::{Engine, INT};
use std::rc::Rc;

pub fn register(engine: &mut Engine, _ctx: &Rc<Context>) {
    doc(
        "get$nbytes(x: Tensor) -> int",
        "The bytes its elements take: x.numel() times 4 for float32, 8 for float64 (as PyTorch's x.nbytes).",
    )
    .register_into_engine(engine, |x: Tensor| nbytes(&x) as INT);
    doc(
        "rss_mib() -> float",
        "The memory this process holds now (resident set, VmRSS), in MiB (2^20 bytes). Linux only.",
    )
    .register_into_engine(engine, || status_mib("rss_mib", "VmRSS:"));
    doc(
        "peak_rss_mib() -> float",
        "The most memory this process has held (VmHWM), in MiB, since it started or since the last\n\
         reset_peak_rss(). Linux only. Example:\n\
         reset_peak_rss(); let before = rss_mib(); compute(); let extra = peak_rss_mib() - before;",
    )
    .register_into_engine(engine, || status_mib("peak_rss_mib", "VmHWM:"));
    doc(
        "reset_peak_rss()",
        "Brings peak_rss_mib() down to the current resident memory (writes 5 to /proc/self/clear_refs),\n\
         so that the next peak measures what follows. Linux only.",
    )
    .register_into_engine(engine, || -> RhaiResult<()> {
        std::fs::write("/proc/self/clear_refs", "5")
            .map_err(|e| rt("reset_peak_rss", format!("/proc/self/clear_refs: {e} (Linux only)")))
    });
}

/// The bytes of a tensor's elements.
pub fn nbytes(x: &Tensor) -> usize {
    x.numel()
        * match x.dtype() {
            DType::F32 => 4,
            DType::F64 => 8,
        }
}

/// A `kB` line of /proc/self/status (such as `VmRSS:   1234 kB`), in MiB.
fn status_mib(call: &str, key: &str) -> RhaiResult<f64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| rt(call, format!("/proc/self/status: {e} (Linux only)")))?;
    parse_kib(&status, key)
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| rt(call, format!("no `{key}` line in /proc/self/status")))
}

/// The number of kB on the line of `status` that starts with `key`.
fn parse_kib(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_kib;

    #[test]
    fn status_lines() {
        let status = "Name:\tnoyau\nVmHWM:\t  204800 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(parse_kib(status, "VmHWM:"), Some(204800.0));
        assert_eq!(parse_kib(status, "VmRSS:"), Some(1024.0));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
    }
}
