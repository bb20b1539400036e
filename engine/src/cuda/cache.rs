//! Compiled kernels cached in memory and on disk, keyed by the generated source, the target architecture and the NVRTC version.
//!
//! The source of a kernel is a function of the formula, the reduction, the element type and the
//! accumulation settings, so keying by the source keys by all of them, and also by the templates
//! of `kernels/`: editing a template invalidates what was compiled from the old one. On disk, an
//! image `<hash>.<arch>.<ptx|cubin>` sits next to the source it was compiled from (`<hash>.cu`),
//! which is compared on loading, so that a hash collision can only cost a recompilation. The
//! folder is `NOYAU_CUDA_CACHE`, else `$XDG_CACHE_HOME/noyau/cuda`, else `~/.cache/noyau/cuda`.
//! Disk errors are ignored: the cache only saves time.

use super::nvrtc::{self, Target};
use crate::error::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        h = (h ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The cache folder, or `None` when no folder can be named.
pub fn dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("NOYAU_CUDA_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|p| p.join("noyau").join("cuda")))
        .or_else(|| var("HOME").map(|p| p.join(".cache").join("noyau").join("cuda")))
}

type Key = (u64, Target);
/// A compiled image and the source it came from.
type Entry = (Arc<str>, Arc<Vec<u8>>);

/// The images compiled or read by this process.
static MEMORY: Mutex<Option<HashMap<Key, Entry>>> = Mutex::new(None);

/// The compiled image of `code` for `target`: from memory, from disk ([`dir`]), or compiled now.
pub fn compiled(code: &str, target: Target) -> Result<Arc<Vec<u8>>> {
    compiled_in(dir().as_deref(), code, target)
}

/// [`compiled`] with the disk cache in `dir` (none when `None`).
pub fn compiled_in(dir: Option<&Path>, code: &str, target: Target) -> Result<Arc<Vec<u8>>> {
    let version = nvrtc::load().map(|n| format!("{}.{}", n.version.0, n.version.1)).unwrap_or_default();
    let hash = fnv1a(&[code.as_bytes(), target.arch().as_bytes(), version.as_bytes()]);
    let key = (hash, target);
    {
        let guard = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((src, image)) = guard.as_ref().and_then(|m| m.get(&key)) {
            if **src == *code {
                return Ok(image.clone());
            }
        }
    }
    let stem = format!("{hash:016x}");
    let files = dir.map(|d| files(d, &stem, target));
    let image = match files.as_ref().and_then(|f| read_disk(f, code)) {
        Some(image) => image,
        None => {
            let image = nvrtc::compile(code, target)?;
            if let Some(f) = &files {
                write_disk(f, code, &image);
            }
            image
        }
    };
    let image = Arc::new(image);
    let mut guard = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    // A bounded cache: a script generating endless distinct formulas must not grow memory forever.
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(key, (Arc::from(code), image.clone()));
    Ok(image)
}

/// The source and image files of a kernel in the cache folder.
struct Files {
    source: PathBuf,
    image: PathBuf,
}

fn files(dir: &Path, stem: &str, target: Target) -> Files {
    Files {
        source: dir.join(format!("{stem}.cu")),
        image: dir.join(format!("{stem}.{}.{}", target.arch(), target.extension())),
    }
}

fn read_disk(f: &Files, code: &str) -> Option<Vec<u8>> {
    if std::fs::read_to_string(&f.source).ok()? != code {
        return None;
    }
    std::fs::read(&f.image).ok().filter(|i| !i.is_empty())
}

/// Writes through a temporary file and a rename, so that a concurrent reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn write_disk(f: &Files, code: &str, image: &[u8]) {
    let _ = f.image.parent().map(std::fs::create_dir_all);
    // The image first: a source without its image is a miss, an image without its source too.
    let _ = write_atomic(&f.image, image).and_then(|()| write_atomic(&f.source, code.as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"kernel"]), fnv1a(&[b"kernel"]));
    }
}
