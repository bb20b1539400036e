//! The GPU backend: CUDA C generated per formula, compiled at run time with NVRTC, run through cudarc's driver API.
//!
//! A reduction becomes one kernel (`source.rs`): the formula's statements (`codegen.rs`, from
//! the same IR and op tables as the other backends) spliced into a map-reduce template of
//! `kernels/` with the reduction's accumulator. NVRTC (`nvrtc.rs`) compiles it for the device's
//! architecture; images are cached in memory and on disk (`cache.rs`) and loaded modules per
//! device (here). Host data in, host data out: each call copies the arguments to the GPU and
//! the output back (`device.rs`). Nothing CUDA is linked: the driver and NVRTC are opened at run
//! time, so that a build with the `cuda` feature still runs, on the CPU, where they are absent.

pub mod cache;
pub mod codegen;
pub mod device;
pub mod nvrtc;
pub mod source;

use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::real::{DType, Real};
use crate::reduction::{Axis, Reduction};
use crate::spec::{Options, Reduce};
use device::{Gpu, HostData, Loaded};
use ndarray::{Array2, ArrayView2};
use nvrtc::Target;
use source::Variant;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Times of one GPU reduction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// The kernel alone, measured with CUDA events.
    pub kernel_ms: f64,
}

/// Whether reductions can run on device `ordinal`: a driver, the device and NVRTC are present.
/// The error names the missing piece ("no CUDA device: ...", or NVRTC not found).
pub fn available(ordinal: usize) -> Result<()> {
    device::gpu(ordinal)?;
    nvrtc::load().map_err(|msg| Error::Backend { backend: "gpu".into(), msg })?;
    Ok(())
}

/// The generated CUDA source of a reduction for an element type and options.
pub fn kernel_source(spec: &Reduce, dtype: DType, opts: &Options) -> Result<source::KernelSource> {
    source::build(spec, Variant::new(dtype, opts))
}

/// Compiles a reduction's kernel for `target` without any device (through the caches): how the
/// tests check the generated code of every op and reduction on machines without a GPU.
pub fn compile(spec: &Reduce, dtype: DType, opts: &Options, target: Target) -> Result<Arc<Vec<u8>>> {
    cache::compiled(&kernel_source(spec, dtype, opts)?.code, target)
}

/// Whether `Backend::Auto` should run this reduction on device 0.
pub fn auto_selects(spec: &Reduce) -> bool {
    source::check_supported(spec).is_ok() && available(0).is_ok()
}

/// A kernel loaded on a device, with what launching it needs.
struct Kernel {
    loaded: Loaded,
    block: usize,
    args: Vec<usize>,
}

type KernelKey = (Vec<Expr>, Reduction, Axis, Variant, usize);

/// The kernel of a reduction on a device: generated, compiled and loaded on first use.
fn kernel(spec: &Reduce, v: Variant, g: &Gpu) -> Result<Arc<Kernel>> {
    static KERNELS: Mutex<Option<HashMap<KernelKey, Arc<Kernel>>>> = Mutex::new(None);
    let key: KernelKey = (spec.roots(), spec.reduction, spec.axis, v, g.ordinal);
    if let Some(k) = KERNELS.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(&key)) {
        return Ok(k.clone());
    }
    let src = source::build(spec, v)?;
    let nv = nvrtc::load().map_err(|msg| Error::Backend { backend: "gpu".into(), msg })?;
    let target = nv.target_for(g.cc).map_err(|msg| Error::Backend { backend: "gpu".into(), msg })?;
    let image = cache::compiled(&src.code, target)?;
    let k = Arc::new(Kernel { loaded: g.load(&image, target)?, block: src.layout.block, args: src.args });
    let mut guard = KERNELS.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(key, k.clone());
    Ok(k)
}

/// The arguments a kernel takes (`args`, from [`source::KernelSource::args`]), row-major, in the
/// kernel's element type: what is copied to the device.
pub fn host_inputs<T: Real>(inputs: &[ArrayView2<T>], args: &[usize]) -> Vec<HostData> {
    args.iter()
        .map(|&a| match T::DTYPE {
            DType::F32 => HostData::F32(inputs[a].iter().map(|v| v.as_f64() as f32).collect()),
            DType::F64 => HostData::F64(inputs[a].iter().map(|v| v.as_f64()).collect()),
        })
        .collect()
}

/// The output copied back from the device, as an `n_out × out_dim` array.
pub fn host_output<T: Real>(out: HostData, n_out: usize, out_dim: usize) -> Result<Array2<T>> {
    let values: Vec<T> = match out {
        HostData::F32(v) => v.into_iter().map(|x| T::from_f64(x as f64)).collect(),
        HostData::F64(v) => v.into_iter().map(T::from_f64).collect(),
    };
    Array2::from_shape_vec((n_out, out_dim), values).map_err(|e| Error::Data(e.to_string()))
}

/// The output when there is nothing to launch (no output row, or nothing reduced), or an error
/// when the sizes exceed the kernels' 32-bit indices; `None` when a kernel must run.
pub fn without_launch<T: Real>(spec: &Reduce, n_out: usize, n_in: usize) -> Option<Result<Array2<T>>> {
    let out_dim = spec.out_dim;
    if n_out == 0 || out_dim == 0 || n_in == 0 {
        let row: Vec<T> =
            spec.reduction.empty_output(spec.formula.dim(), out_dim).iter().map(|&v| T::from_f64(v)).collect();
        return Some(
            Array2::from_shape_vec((n_out, out_dim), row.repeat(n_out)).map_err(|e| Error::Data(e.to_string())),
        );
    }
    let too_big = |n: usize| i32::try_from(n).is_err() || i32::try_from(n.saturating_mul(out_dim)).is_err();
    if too_big(n_out) || too_big(n_in) {
        return Some(Err(Error::Backend {
            backend: "gpu".into(),
            msg: format!("{n_out} × {n_in} points: the GPU backend indexes points with 32-bit integers"),
        }));
    }
    None
}

/// Runs a checked reduction on device `ordinal` (`n_out` output rows, `n_in` reduced points).
pub fn reduce<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    ordinal: usize,
) -> Result<Array2<T>> {
    reduce_timed(spec, inputs, n_out, n_in, opts, ordinal).map(|(out, _)| out)
}

/// [`reduce`], also returning the kernel's time.
pub fn reduce_timed<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    ordinal: usize,
) -> Result<(Array2<T>, Timing)> {
    let g = device::gpu(ordinal)?;
    if let Some(out) = without_launch(spec, n_out, n_in) {
        return out.map(|o| (o, Timing::default()));
    }
    let k = kernel(spec, Variant::new(T::DTYPE, opts), &g)?;
    if opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Error::Interrupted);
    }
    let data = host_inputs(inputs, &k.args);
    let out_len = n_out * spec.out_dim;
    let (out, kernel_ms) = g.run(&k.loaded, k.block, [n_out as i32, n_in as i32], T::DTYPE, &data, out_len)?;
    Ok((host_output(out, n_out, spec.out_dim)?, Timing { kernel_ms }))
}
