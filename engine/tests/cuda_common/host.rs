//! The generated CUDA run on the host: every kernel of a suite compiled as C++ by g++ (with `host_shim.h`), each block's threads run as fibres.
//!
//! The kernels are exactly those the GPU backend would compile (`cuda::kernel_source`), each in
//! a namespace of its own, several per shared library, the libraries compiled in parallel. The
//! executor then packs the data as the GPU backend does (`cuda::host_inputs`, `host_output`,
//! `without_launch`), so only the device itself is missing from what is tested.

use super::differential::{Case, Executor};
use ndarray::{Array2, ArrayView2};
use noyau_engine::cuda::{self, device::HostData};
use noyau_engine::{DType, Error, Real, Result};
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHIM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cuda_common/host_shim.h");

type Entry = unsafe extern "C" fn(i32, i32, i32, *const *const c_void, *mut c_void) -> i32;

/// The compiled kernels of a suite.
pub struct HostEmulator {
    libs: Vec<libloading::Library>,
    /// For each kernel source: its library, its number there, and the arguments it takes.
    kernels: HashMap<String, (usize, usize, Vec<usize>)>,
}

/// One kernel as a C++ namespace, and the `case` of the dispatcher that launches it.
fn kernel_cpp(id: usize, code: &str, nargs: usize) -> (String, String) {
    let body = code.replace("extern \"C\" ", "");
    let ns = format!("namespace k{id} {{\n{body}\nstruct lock_tag {{}};\n}}  // namespace k{id}\n");
    let mut params = vec!["c.n_out".to_string(), "c.n_in".to_string()];
    params.extend((0..nargs).map(|a| format!("(const k{id}::T*)c.args[{a}]")));
    params.push(format!("(k{id}::T*)c.out"));
    let entry = format!("[](const noyau_host::Call& c) {{ k{id}::noyau_map_reduce({}); }}", params.join(", "));
    let case = format!("    case {id}: return noyau_host::launch<k{id}::lock_tag>(k{id}::BLOCK, {{n_out, n_in, args, out, {entry}}});\n");
    (ns, case)
}

/// Whether g++ can be run; without it the emulated tests are skipped with a notice.
pub fn compiler_ready(test: &str) -> bool {
    let ok = Command::new("g++").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("NOYAU_REQUIRE_HOST_CXX").as_deref() != Ok("1"), "{test}: g++ is required but absent");
        super::notice(&format!("SKIPPED {test}: no g++ to compile the host emulation of the generated CUDA"));
    }
    ok
}

impl HostEmulator {
    /// Generates and compiles the kernels of `cases` into `dir`, in `jobs` libraries.
    pub fn build(cases: &[Case], dir: &Path, jobs: usize) -> std::result::Result<HostEmulator, String> {
        let mut sources: Vec<(String, Vec<usize>)> = Vec::new();
        let mut seen = HashMap::new();
        for c in cases {
            let src = cuda::kernel_source(&c.spec, c.dtype, &c.opts).map_err(|e| format!("{}: {e}", c.label))?;
            if !seen.contains_key(&src.code) {
                seen.insert(src.code.clone(), sources.len());
                sources.push((src.code, src.args));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let jobs = jobs.clamp(1, sources.len().max(1));
        let mut kernels = HashMap::new();
        let mut children = Vec::new();
        for lib in 0..jobs {
            let mut namespaces = String::new();
            let mut cases = String::new();
            for (id, (code, args)) in sources.iter().enumerate().filter(|(id, _)| id % jobs == lib) {
                let (ns, case) = kernel_cpp(id, code, args.len());
                namespaces.push_str(&ns);
                cases.push_str(&case);
                kernels.insert(code.clone(), (lib, id, args.clone()));
            }
            let cpp = format!(
                "{namespaces}\nextern \"C\" int noyau_emulate(int id, int n_out, int n_in, const void* const* args, void* out) {{\n  switch (id) {{\n{cases}    default: return -1;\n  }}\n}}\n"
            );
            let (src, so) = (dir.join(format!("kernels{lib}.cpp")), dir.join(format!("kernels{lib}.so")));
            std::fs::write(&src, cpp).map_err(|e| format!("{}: {e}", src.display()))?;
            // Unoptimised: compiling hundreds of kernels dominates, and the test data are small.
            let child = Command::new("g++")
                .args(["-std=c++20", "-O0", "-shared", "-fPIC", "-pthread", "-w", "-include", SHIM, "-o"])
                .arg(&so)
                .arg(&src)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("g++: {e}"))?;
            children.push((child, so));
        }
        let mut libs = Vec::new();
        for (child, so) in children {
            let out = child.wait_with_output().map_err(|e| format!("g++: {e}"))?;
            if !out.status.success() {
                let log = String::from_utf8_lossy(&out.stderr);
                return Err(format!(
                    "g++ failed on {}:\n{}",
                    so.display(),
                    log.chars().take(20_000).collect::<String>()
                ));
            }
            // SAFETY: a library just built from generated code, whose initialisers do nothing.
            libs.push(unsafe { libloading::Library::new(&so) }.map_err(|e| format!("{}: {e}", so.display()))?);
        }
        Ok(HostEmulator { libs, kernels })
    }

    fn run<T: Real>(&self, c: &Case, inputs: &[ArrayView2<T>]) -> Result<Array2<T>> {
        let fail = |msg: String| Error::Backend { backend: "host emulation".into(), msg };
        let (n_out, n_in) = c.spec.sizes(inputs)?;
        if let Some(out) = cuda::without_launch(&c.spec, n_out, n_in) {
            return out;
        }
        let code = cuda::kernel_source(&c.spec, T::DTYPE, &c.opts)?.code;
        let (lib, id, args) = self.kernels.get(&code).ok_or_else(|| fail(format!("{}: not built", c.label)))?;
        let data = cuda::host_inputs(inputs, args);
        let ptrs: Vec<*const c_void> = data
            .iter()
            .map(|d| match d {
                HostData::F32(v) => v.as_ptr() as *const c_void,
                HostData::F64(v) => v.as_ptr() as *const c_void,
            })
            .collect();
        let len = n_out * c.spec.out_dim;
        let mut out = match T::DTYPE {
            DType::F32 => HostData::F32(vec![0.0; len]),
            DType::F64 => HostData::F64(vec![0.0; len]),
        };
        let out_ptr = match &mut out {
            HostData::F32(v) => v.as_mut_ptr() as *mut c_void,
            HostData::F64(v) => v.as_mut_ptr() as *mut c_void,
        };
        // SAFETY: the symbol has this signature (kernel_cpp); the pointers address the kernel's
        // arguments in its element type, and `out` has room for its n_out × out_dim values.
        let status = unsafe {
            let entry: libloading::Symbol<Entry> =
                self.libs[*lib].get(b"noyau_emulate").map_err(|e| fail(e.to_string()))?;
            entry(*id as i32, n_out as i32, n_in as i32, ptrs.as_ptr(), out_ptr)
        };
        if status != 0 {
            return Err(fail(format!("{}: kernel {id} not found", c.label)));
        }
        cuda::host_output(out, n_out, c.spec.out_dim)
    }
}

impl Executor for HostEmulator {
    fn run_f32(&self, case: &Case, inputs: &[ArrayView2<f32>]) -> Result<Array2<f32>> {
        self.run(case, inputs)
    }
    fn run_f64(&self, case: &Case, inputs: &[ArrayView2<f64>]) -> Result<Array2<f64>> {
        self.run(case, inputs)
    }
}

/// A fresh folder for a suite's generated C++ and libraries, under Cargo's target folder.
pub fn work_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("noyau-host-emulation-{name}-{}", std::process::id()))
}
