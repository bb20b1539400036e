//! NVRTC, NVIDIA's runtime CUDA compiler, loaded at run time through cudarc: found, probed and called without panicking.
//!
//! cudarc looks for `libnvrtc.so*` by name only, and panics when it finds nothing. So the
//! library is looked for here first: in `NOYAU_NVRTC_PATH` (a folder or the library file; the
//! PyPI package `nvidia-cuda-nvrtc-cu12` puts it in `site-packages/nvidia/cuda_nvrtc/lib`),
//! then in the usual toolkit folders. A library found there is opened by its full path and kept
//! open, so that cudarc's later open by name (`libnvrtc.so.12`) finds it already loaded. Only
//! then, and only if cudarc can see a library, are cudarc's NVRTC functions called.

use crate::error::{Error, Result};
use cudarc::nvrtc::{result, sys};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What a kernel is compiled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// PTX for a virtual architecture (`compute_90` for 90): the driver compiles it on loading.
    Ptx(u32),
    /// Machine code (CUBIN) for one GPU architecture (`sm_90`): loads as is.
    Cubin(u32),
}

impl Target {
    /// NVRTC's `--gpu-architecture` value.
    pub fn arch(self) -> String {
        match self {
            Target::Ptx(a) => format!("compute_{a}"),
            Target::Cubin(a) => format!("sm_{a}"),
        }
    }
    /// File extension of the compiled image.
    pub fn extension(self) -> &'static str {
        match self {
            Target::Ptx(_) => "ptx",
            Target::Cubin(_) => "cubin",
        }
    }
}

/// A usable NVRTC.
#[derive(Debug)]
pub struct Nvrtc {
    /// (major, minor), e.g. (12, 9).
    pub version: (i32, i32),
    /// The architectures it compiles for (`90` for sm_90), increasing.
    pub archs: Vec<u32>,
    /// Libraries opened by full path, kept open for the life of the process.
    _preloaded: Vec<libloading::Library>,
}

/// The library files of a folder that NVRTC needs: itself and its builtins.
fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // The ".alt" variants are alternative builds of the same libraries; one is enough.
            (name.starts_with("libnvrtc.so") || name.starts_with("libnvrtc-builtins.so")) && !name.contains(".alt.")
        })
        .collect();
    // The builtins first: NVRTC opens them by name when it compiles.
    found.sort_by_key(|p| !p.to_string_lossy().contains("builtins"));
    found
}

/// Folders where an NVRTC is commonly installed, after `NOYAU_NVRTC_PATH`.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(p) = std::env::var_os("NOYAU_NVRTC_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        dirs.push(if p.is_file() { p.parent().map(Path::to_path_buf).unwrap_or_default() } else { p });
    }
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        if let Some(root) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            dirs.push(PathBuf::from(root).join("lib64"));
        }
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    dirs
}

fn probe() -> std::result::Result<Nvrtc, String> {
    let mut preloaded = Vec::new();
    for dir in candidate_dirs() {
        let libs = libraries_in(&dir);
        if !libs.iter().any(|p| p.to_string_lossy().contains("libnvrtc.so")) {
            continue;
        }
        for lib in libs {
            // SAFETY: opening NVRTC runs only its initialisers, which have no preconditions.
            if let Ok(l) = unsafe { libloading::Library::new(&lib) } {
                preloaded.push(l);
            }
        }
        break;
    }
    // SAFETY: only tries to open libraries by name.
    if !unsafe { sys::is_culib_present() } {
        return Err("NVRTC (libnvrtc.so.12) was not found: install the CUDA toolkit, or run scripts/nvrtc.sh \
                    (`pip install nvidia-cuda-nvrtc-cu12`) and set NOYAU_NVRTC_PATH to its nvidia/cuda_nvrtc/lib folder"
            .into());
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: two valid out-pointers.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }.result().map_err(|e| format!("nvrtcVersion failed: {e:?}"))?;
    let mut n = 0;
    // SAFETY: a valid out-pointer, then a buffer of the size NVRTC gave.
    unsafe { sys::nvrtcGetNumSupportedArchs(&mut n) }.result().map_err(|e| format!("NVRTC: {e:?}"))?;
    let mut archs = vec![0i32; n.max(0) as usize];
    unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }.result().map_err(|e| format!("NVRTC: {e:?}"))?;
    let mut archs: Vec<u32> = archs.into_iter().filter_map(|a| u32::try_from(a).ok()).collect();
    archs.sort_unstable();
    Ok(Nvrtc { version: (major, minor), archs, _preloaded: preloaded })
}

/// The NVRTC of this process, found and probed once; the error says what is missing.
pub fn load() -> std::result::Result<&'static Nvrtc, String> {
    static NVRTC: OnceLock<std::result::Result<Nvrtc, String>> = OnceLock::new();
    NVRTC
        .get_or_init(|| {
            catch_unwind(probe).unwrap_or_else(|_| Err("NVRTC could not be loaded (the loader panicked)".into()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Nvrtc {
    /// The target for a GPU of compute capability `cc` (90 for 9.0): machine code when this NVRTC
    /// knows the architecture, else PTX for the newest one it knows below it.
    pub fn target_for(&self, cc: u32) -> std::result::Result<Target, String> {
        if self.archs.contains(&cc) {
            return Ok(Target::Cubin(cc));
        }
        self.archs.iter().rev().find(|&&a| a <= cc).map(|&a| Target::Ptx(a)).ok_or_else(|| {
            format!(
                "NVRTC {}.{} cannot compile for compute capability {}.{}",
                self.version.0,
                self.version.1,
                cc / 10,
                cc % 10
            )
        })
    }
}

/// Copies a NUL-terminated buffer from NVRTC into a String.
fn c_text(buf: &[c_char]) -> String {
    if buf.is_empty() {
        return String::new();
    }
    // SAFETY: NVRTC NUL-terminates the buffers it fills, and the slice holds the terminator.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

fn cuda_error(msg: String, log: String, code: &str) -> Error {
    Error::Cuda { msg, log, generated: code.to_string() }
}

/// Compiles a translation unit; an error carries NVRTC's log and the source.
pub fn compile(code: &str, target: Target) -> Result<Vec<u8>> {
    let nvrtc = load().map_err(|msg| Error::Backend { backend: "gpu".into(), msg })?;
    let arch = target.arch();
    let src = CString::new(code)
        .map_err(|_| cuda_error("the generated source contains a NUL byte".into(), String::new(), code))?;
    let name = CString::new("noyau_kernel.cu").unwrap_or_default();
    // Every kernel receives every setting, used or not: NVRTC's warning 177 ("declared but never
    // referenced") would only be noise.
    let options = [format!("--gpu-architecture={arch}"), "--std=c++17".to_string(), "--diag-suppress=177".to_string()];
    let run = || -> Result<Vec<u8>> {
        let prog = result::create_program(&src, Some(&name))
            .map_err(|e| cuda_error(format!("nvrtcCreateProgram failed: {e:?}"), String::new(), code))?;
        // SAFETY: `prog` is a live program until the destroy below.
        let compiled = unsafe { result::compile_program(prog, &options) };
        let log = unsafe { result::get_program_log(prog) }.map(|l| c_text(&l)).unwrap_or_default();
        let image = compiled
            .map_err(|e| {
                cuda_error(
                    format!(
                        "NVRTC {}.{} could not compile the generated kernel for {arch} ({e:?})",
                        nvrtc.version.0, nvrtc.version.1
                    ),
                    log,
                    code,
                )
            })
            .and_then(|()| match target {
                Target::Ptx(_) => unsafe { result::get_ptx(prog) }
                    .map(|p| c_text(&p).into_bytes())
                    .map_err(|e| cuda_error(format!("nvrtcGetPTX failed: {e:?}"), String::new(), code)),
                Target::Cubin(_) => {
                    cubin(prog).map_err(|e| cuda_error(format!("nvrtcGetCUBIN failed: {e:?}"), String::new(), code))
                }
            });
        // A program that cannot be destroyed leaks a little memory; nothing else to do about it.
        let _ = unsafe { result::destroy_program(prog) };
        image
    };
    catch_unwind(AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(cuda_error(format!("NVRTC panicked while compiling for {arch}"), String::new(), code)))
}

fn cubin(prog: sys::nvrtcProgram) -> std::result::Result<Vec<u8>, result::NvrtcError> {
    let mut size = 0usize;
    // SAFETY: `prog` was compiled; the buffer has the size NVRTC reported.
    unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) }.result()?;
    let mut buf = vec![0u8; size];
    unsafe { sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut c_char) }.result()?;
    Ok(buf)
}
