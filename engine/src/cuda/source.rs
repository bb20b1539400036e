//! The CUDA translation unit of a reduction: configuration, the templates of `kernels/`, and the generated formula code.
//!
//! A kernel is, in this order: `prelude.cuh` (names of the settings), the configuration
//! (element type, dimensions, block and tile sizes, the reduction's settings), the index tables
//! of the formula, `common.cuh` (helpers), one `reduce_*.cuh` (the accumulator) and one
//! `map_reduce_*.cu` (the loop nest) with the generated statements spliced at its markers.

use super::codegen::{self, Staging};
use crate::error::{Error, Result};
use crate::real::DType;
use crate::reduction::{Axis, Reduction, SumScheme};
use crate::spec::{Options, Reduce};

const PRELUDE: &str = include_str!("../../../kernels/prelude.cuh");
const COMMON: &str = include_str!("../../../kernels/common.cuh");
const REDUCE_SUM: &str = include_str!("../../../kernels/reduce_sum.cuh");
const REDUCE_EXTREME: &str = include_str!("../../../kernels/reduce_extreme.cuh");
const REDUCE_KMIN: &str = include_str!("../../../kernels/reduce_kmin.cuh");
const REDUCE_LSE: &str = include_str!("../../../kernels/reduce_lse.cuh");
const MAP_REDUCE_1D: &str = include_str!("../../../kernels/map_reduce_1d.cu");
const MAP_REDUCE_1D_CHUNKED: &str = include_str!("../../../kernels/map_reduce_1d_chunked.cu");

/// The kernel's name in every generated module.
pub const KERNEL_NAME: &str = "noyau_map_reduce";
/// Static shared memory a block may use on every CUDA GPU.
pub const SHARED_BYTES: usize = 48 * 1024;
/// Threads per block of the 1D scheme (one output row each), as in KeOps.
pub const BLOCK_1D: usize = 192;
/// Threads per block of the chunked scheme.
pub const BLOCK_CHUNKED: usize = 128;
/// The most K·D entries of a KMin list per thread: each entry costs 8 bytes of local memory
/// for every thread the GPU can hold at once.
pub const MAX_KMIN_ENTRIES: usize = 1024;

/// How the loop nest is laid out for one formula and element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    pub staging: Staging,
    /// Threads per block.
    pub block: usize,
    /// Points of the reduced side per tile.
    pub tile: usize,
    /// Values staged per point (0 when nothing is staged).
    pub stage: usize,
}

/// The 1D scheme when a tile of `BLOCK_1D` points fits in shared memory; else tiles of fewer
/// points (chunked); else, when not even one point fits, reads from global memory.
pub fn layout(stage: usize, elem_bytes: usize) -> Layout {
    let point = stage * elem_bytes;
    if point * BLOCK_1D <= SHARED_BYTES {
        Layout { staging: Staging::PerThread, block: BLOCK_1D, tile: BLOCK_1D, stage }
    } else if point <= SHARED_BYTES {
        let tile = (SHARED_BYTES / point).min(BLOCK_CHUNKED);
        Layout { staging: Staging::Chunked, block: BLOCK_CHUNKED, tile, stage }
    } else {
        Layout { staging: Staging::Global, block: BLOCK_CHUNKED, tile: BLOCK_CHUNKED, stage: 0 }
    }
}

/// What a kernel is generated for besides its formula: element type and accumulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub dtype: DType,
    pub scheme: SumScheme,
    /// Sums accumulate in double (float32 data with `accumulate_f64`).
    pub acc_f64: bool,
}

impl Variant {
    pub fn new(dtype: DType, opts: &Options) -> Variant {
        Variant { dtype, scheme: opts.sum_scheme, acc_f64: opts.accumulate_f64 && dtype == DType::F32 }
    }
}

/// A generated kernel.
#[derive(Debug, Clone)]
pub struct KernelSource {
    /// The complete translation unit, for NVRTC.
    pub code: String,
    /// The generated parts alone, section by section: what the snapshot tests pin down.
    pub generated: String,
    pub layout: Layout,
    /// The arguments of the reduction passed to the kernel after `n_out` and `n_in`, in order.
    pub args: Vec<usize>,
}

/// Refuses what the GPU backend does not run (so that `Backend::Auto` can use the CPU instead).
pub fn check_supported(spec: &Reduce) -> Result<()> {
    if let Some(k) = spec.reduction.k() {
        let entries = k.saturating_mul(spec.formula.dim());
        if entries > MAX_KMIN_ENTRIES {
            return Err(Error::Backend {
                backend: "gpu".into(),
                msg: format!(
                    "{}: K·D = {entries} is more than the GPU backend keeps per thread ({MAX_KMIN_ENTRIES}); use the CPU backend",
                    spec.reduction
                ),
            });
        }
    }
    Ok(())
}

fn elem_bytes(dtype: DType) -> usize {
    match dtype {
        DType::F32 => 4,
        DType::F64 => 8,
    }
}

fn c_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// The reduction's template and its settings.
fn reduction_settings(r: Reduction) -> (&'static str, Vec<String>) {
    let output = |values: bool, indices: bool| match (values, indices) {
        (true, true) => "OUT_BOTH",
        (true, false) => "OUT_VALUES",
        _ => "OUT_INDICES",
    };
    let extreme = |greater: bool, out: &str| {
        (REDUCE_EXTREME, vec![format!("constexpr bool GREATER = {greater};"), format!("constexpr int OUTPUT = {out};")])
    };
    let kmin = |k: usize, out: &str| {
        (REDUCE_KMIN, vec![format!("constexpr int K = {k};"), format!("constexpr int OUTPUT = {out};")])
    };
    let lse = |mode: &str| (REDUCE_LSE, vec![format!("constexpr int LSE_MODE = {mode};")]);
    match r {
        Reduction::Sum => (REDUCE_SUM, vec![]),
        Reduction::Max => extreme(true, output(true, false)),
        Reduction::ArgMax => extreme(true, output(false, true)),
        Reduction::MaxArgMax => extreme(true, output(true, true)),
        Reduction::Min => extreme(false, output(true, false)),
        Reduction::ArgMin => extreme(false, output(false, true)),
        Reduction::MinArgMin => extreme(false, output(true, true)),
        Reduction::KMin(k) => kmin(k, output(true, false)),
        Reduction::ArgKMin(k) => kmin(k, output(false, true)),
        Reduction::KMinArgKMin(k) => kmin(k, output(true, true)),
        Reduction::LogSumExp => lse("LSE_PLAIN"),
        Reduction::LogSumExpWeight => lse("LSE_WEIGHT"),
        Reduction::MaxSumShiftExpWeight => lse("LSE_MAX_SUMSHIFT"),
        Reduction::SumSoftMaxWeight => lse("LSE_SOFTMAX"),
    }
}

fn scheme_name(s: SumScheme) -> &'static str {
    match s {
        SumScheme::Direct => "SCHEME_DIRECT",
        SumScheme::Block => "SCHEME_BLOCK",
        SumScheme::Kahan => "SCHEME_KAHAN",
    }
}

/// Replaces the line holding `/*@marker*/` by `lines`, indented like the marker.
fn splice(template: &str, marker: &str, lines: &[String]) -> Result<String> {
    let tag = format!("/*@{marker}*/");
    let at = template.find(&tag).ok_or_else(|| Error::Backend {
        backend: "gpu".into(),
        msg: format!("internal error: the kernel template has no {tag} marker"),
    })?;
    let line_start = template[..at].rfind('\n').map_or(0, |p| p + 1);
    let line_end = template[at..].find('\n').map_or(template.len(), |p| at + p + 1);
    let indent = &template[line_start..at];
    let mut out =
        String::with_capacity(template.len() + lines.iter().map(|l| l.len() + indent.len() + 1).sum::<usize>());
    out.push_str(&template[..line_start]);
    for l in lines {
        // Preprocessor lines stay at the margin, as is customary.
        if !l.starts_with('#') {
            out.push_str(indent);
        }
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&template[line_end..]);
    Ok(out)
}

/// Generates the kernel of a reduction.
pub fn build(spec: &Reduce, v: Variant) -> Result<KernelSource> {
    check_supported(spec)?;
    let plan = crate::plan::cached(spec);
    let stage: usize = codegen::staged_vars(&plan).iter().map(|&(_, d)| d).sum();
    let layout = layout(stage, elem_bytes(v.dtype));
    let body = codegen::generate(&plan, layout.staging)?;
    let (reduce_template, settings) = reduction_settings(spec.reduction);
    let axis = match spec.axis {
        Axis::I => "i",
        Axis::J => "j",
    };
    let weight = spec.weight.as_ref().map(|w| format!(" with weight {w}")).unwrap_or_default();
    let acc = if v.acc_f64 { "double" } else { c_type(v.dtype) };
    let mut config = vec![
        format!("// {} over {axis} of {}{weight}, {}.", spec.reduction, spec.formula, v.dtype.name()),
        format!("typedef {} T;", c_type(v.dtype)),
        format!("typedef {acc} ACC;  // sums accumulate in this type"),
        format!("constexpr int DIM = {};  // dimension of the formula", spec.formula.dim()),
        format!(
            "constexpr int WDIM = {};  // dimension of the weight (1 without one)",
            spec.weight.as_ref().map_or(1, |w| w.dim())
        ),
        format!("constexpr int OUT_DIM = {};  // columns of the output", spec.out_dim),
        format!("constexpr int SUM_SCHEME = {};", scheme_name(v.scheme)),
        format!("constexpr int STAGE = {};  // values of the reduced side staged per point", layout.stage),
        format!("constexpr int BLOCK = {};  // threads per block, one per output row", layout.block),
        format!("constexpr int TILE = {};  // points of the reduced side per tile", layout.tile),
    ];
    config.extend(settings);
    let template = match layout.staging {
        Staging::PerThread => MAP_REDUCE_1D,
        Staging::Chunked | Staging::Global => MAP_REDUCE_1D_CHUNKED,
    };
    let mut kernel = template.to_string();
    let markers = [
        ("params", &body.params),
        ("row", &body.row),
        ("stage", &body.stage),
        ("pair", &body.pair),
        ("finish", &body.finish),
    ];
    for (marker, lines) in markers {
        kernel = splice(&kernel, marker, lines)?;
    }
    let code = [PRELUDE, &config.join("\n"), &body.tables.join("\n"), COMMON, reduce_template, &kernel].join("\n\n");
    let mut generated = String::new();
    for (title, lines) in [
        ("configuration", &config),
        ("tables", &body.tables),
        ("@params", &body.params),
        ("@row", &body.row),
        ("@stage", &body.stage),
        ("@pair", &body.pair),
        ("@finish", &body.finish),
    ] {
        generated.push_str(&format!("// ---- {title}\n"));
        for l in lines.iter() {
            generated.push_str(l);
            generated.push('\n');
        }
    }
    Ok(KernelSource { code, generated, layout, args: body.args })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_indentation() {
        let t = "a\n    /*@x*/\nb\n";
        assert_eq!(splice(t, "x", &["p;".into(), "#pragma unroll".into()]).unwrap(), "a\n    p;\n#pragma unroll\nb\n");
        assert_eq!(splice(t, "x", &[]).unwrap(), "a\nb\n");
        assert!(splice(t, "y", &[]).is_err());
    }

    #[test]
    fn layouts() {
        assert_eq!(layout(6, 4).staging, Staging::PerThread);
        assert_eq!(layout(64, 4).staging, Staging::PerThread);
        let l = layout(100, 4);
        assert_eq!((l.staging, l.block, l.tile), (Staging::Chunked, 128, 122));
        assert_eq!(layout(20_000, 4).staging, Staging::Global);
    }
}
