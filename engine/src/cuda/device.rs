//! CUDA devices through cudarc's driver API: found without panicking, one context per device, transfers, launches and timing.
//!
//! cudarc loads `libcuda` on first use and panics when it is absent, so its presence is checked
//! first (`is_culib_present`), and every probe runs inside `catch_unwind` as a last resort. The
//! answer is computed once per process: "no CUDA device" and the piece that is missing.

use crate::error::{Error, Result};
use crate::real::DType;
use cudarc::driver::{
    sys, CudaContext, CudaFunction, CudaStream, DeviceRepr, DriverError, LaunchConfig, PushKernelArg, ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use super::nvrtc::Target;
use super::source::KERNEL_NAME;

/// One GPU, with the context and stream every reduction on it uses.
pub struct Gpu {
    pub ordinal: usize,
    pub name: String,
    /// Compute capability as major·10 + minor (90 for an H100).
    pub cc: u32,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cuda:{} ({}, sm_{})", self.ordinal, self.name, self.cc)
    }
}

/// Host data of one argument, in the element type of the kernel.
pub enum HostData {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

fn no_device(msg: impl std::fmt::Display) -> Error {
    Error::Backend { backend: "gpu".into(), msg: format!("no CUDA device: {msg}") }
}

fn driver_error(what: &str, e: DriverError) -> Error {
    Error::Backend { backend: "gpu".into(), msg: format!("{what} failed: {e}") }
}

/// Runs a driver probe, turning a panic inside cudarc into an error.
fn guarded<R>(what: &str, f: impl FnOnce() -> std::result::Result<R, String>) -> std::result::Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(format!("{what}: the CUDA driver library panicked")))
}

/// How many devices the driver sees, or why none can be used.
pub fn device_count() -> std::result::Result<usize, String> {
    static COUNT: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            guarded("cuDeviceGetCount", || {
                // SAFETY: only tries to open the library by its usual names.
                if !unsafe { sys::is_culib_present() } {
                    return Err("the CUDA driver (libcuda.so.1) is not installed".into());
                }
                match CudaContext::device_count() {
                    Err(e) => Err(format!("the CUDA driver did not start ({e})")),
                    Ok(n) if n <= 0 => Err("the CUDA driver sees no GPU".into()),
                    Ok(n) => Ok(n as usize),
                }
            })
        })
        .clone()
}

/// The device `ordinal`, its context created on first use.
pub fn gpu(ordinal: usize) -> Result<Arc<Gpu>> {
    static GPUS: Mutex<Option<HashMap<usize, Arc<Gpu>>>> = Mutex::new(None);
    let count = device_count().map_err(no_device)?;
    if ordinal >= count {
        return Err(no_device(format!(
            "device {ordinal} was asked for, and the driver sees {count} (cuda:0 to cuda:{})",
            count - 1
        )));
    }
    let mut guard = GPUS.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(g) = map.get(&ordinal) {
        return Ok(g.clone());
    }
    let open = || -> std::result::Result<Gpu, String> {
        let ctx = CudaContext::new(ordinal).map_err(|e| format!("cannot open cuda:{ordinal} ({e})"))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| format!("cuda:{ordinal}: {e}"))?;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let stream = ctx.default_stream();
        Ok(Gpu { ordinal, name, cc: (major * 10 + minor).max(0) as u32, ctx, stream })
    };
    let g = Arc::new(guarded("cuCtxCreate", open).map_err(no_device)?);
    map.insert(ordinal, g.clone());
    Ok(g)
}

/// Copies host data to the device, launches, copies the output back: the output and the
/// kernel's own time in milliseconds (CUDA events around the launch).
fn run_typed<E: DeviceRepr + ValidAsZeroBits + Copy>(
    g: &Gpu,
    f: &CudaFunction,
    cfg: LaunchConfig,
    sizes: [i32; 2],
    inputs: &[&Vec<E>],
    out_len: usize,
) -> Result<(Vec<E>, f64)> {
    let s = &g.stream;
    let bufs = inputs.iter().map(|v| s.clone_htod(v.as_slice())).collect::<std::result::Result<Vec<_>, _>>();
    let bufs = bufs.map_err(|e| driver_error("copying the inputs to the GPU", e))?;
    let mut out =
        s.alloc_zeros::<E>(out_len.max(1)).map_err(|e| driver_error("allocating the output on the GPU", e))?;
    let timing = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
    let start = g.ctx.new_event(timing).map_err(|e| driver_error("cuEventCreate", e))?;
    let end = g.ctx.new_event(timing).map_err(|e| driver_error("cuEventCreate", e))?;
    start.record(s).map_err(|e| driver_error("cuEventRecord", e))?;
    let mut launch = s.launch_builder(f);
    launch.arg(&sizes[0]).arg(&sizes[1]);
    for b in &bufs {
        launch.arg(b);
    }
    launch.arg(&mut out);
    // SAFETY: the kernel's parameters are (int, int, one const T* per argument, T*), pushed in
    // that order with buffers of the kernel's element type; it writes out_len values of `out`.
    unsafe { launch.launch(cfg) }.map_err(|e| driver_error("launching the kernel", e))?;
    end.record(s).map_err(|e| driver_error("cuEventRecord", e))?;
    let host = s.clone_dtoh(&out).map_err(|e| driver_error("copying the output from the GPU", e))?;
    let ms = start.elapsed_ms(&end).map_err(|e| driver_error("cuEventElapsedTime", e))?;
    Ok((host.into_iter().take(out_len).collect(), ms as f64))
}

/// A kernel loaded on a device.
pub struct Loaded {
    pub function: CudaFunction,
}

impl Gpu {
    /// Loads a compiled image (PTX or CUBIN) and finds the kernel in it.
    pub fn load(&self, image: &[u8], target: Target) -> Result<Loaded> {
        let ptx = match target {
            Target::Cubin(_) => Ptx::from_binary(image.to_vec()),
            Target::Ptx(_) => Ptx::from_src(String::from_utf8_lossy(image).into_owned()),
        };
        let module = self.ctx.load_module(ptx).map_err(|e| driver_error("loading the compiled kernel", e))?;
        let function = module.load_function(KERNEL_NAME).map_err(|e| driver_error("finding the kernel", e))?;
        Ok(Loaded { function })
    }

    /// Runs a kernel of `block` threads per block over `n_out` rows and `n_in` reduced points;
    /// `inputs` must all be of the element type `dtype`.
    pub fn run(
        &self,
        k: &Loaded,
        block: usize,
        sizes: [i32; 2],
        dtype: DType,
        inputs: &[HostData],
        out_len: usize,
    ) -> Result<(HostData, f64)> {
        let blocks = (sizes[0].max(0) as usize).div_ceil(block) as u32;
        let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (block as u32, 1, 1), shared_mem_bytes: 0 };
        let mixed =
            || Error::Backend { backend: "gpu".into(), msg: "internal error: inputs of mixed element types".into() };
        match dtype {
            DType::F64 => {
                let v: Vec<&Vec<f64>> = inputs
                    .iter()
                    .map(|d| if let HostData::F64(v) = d { Ok(v) } else { Err(mixed()) })
                    .collect::<Result<_>>()?;
                run_typed(self, &k.function, cfg, sizes, &v, out_len).map(|(o, t)| (HostData::F64(o), t))
            }
            DType::F32 => {
                let v: Vec<&Vec<f32>> = inputs
                    .iter()
                    .map(|d| if let HostData::F32(v) = d { Ok(v) } else { Err(mixed()) })
                    .collect::<Result<_>>()?;
                run_typed(self, &k.function, cfg, sizes, &v, out_len).map(|(o, t)| (HostData::F32(o), t))
            }
        }
    }
}
