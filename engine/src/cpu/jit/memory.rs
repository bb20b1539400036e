//! Executable memory for JIT code: mapped writable, filled, then made read-only and executable (never both at once).

use std::ptr::NonNull;

/// A block of machine code, unmapped on drop.
pub struct ExecMemory {
    ptr: NonNull<u8>,
    len: usize,
}

// The block is immutable once created: sharing it between threads is sound.
unsafe impl Send for ExecMemory {}
unsafe impl Sync for ExecMemory {}

impl ExecMemory {
    /// Maps `code` as executable, or says why the system refused (SELinux's execmem policy,
    /// say): the caller then runs the interpreter instead.
    pub fn new(code: &[u8]) -> Result<ExecMemory, String> {
        let page = 4096;
        let len = code.len().div_ceil(page).max(1) * page;
        // SAFETY: an anonymous private mapping of `len` bytes, checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap failed: {}", std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p as *mut u8).ok_or("mmap returned null")?;
        // SAFETY: the mapping is `len` ≥ code.len() bytes, writable, and owned here.
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), ptr.as_ptr(), code.len());
        }
        let mem = ExecMemory { ptr, len };
        // SAFETY: the same mapping, now read-only and executable.
        if unsafe { libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(format!("mprotect failed: {}", std::io::Error::last_os_error()));
        }
        Ok(mem)
    }

    /// The address of byte `offset` of the code.
    pub fn at(&self, offset: usize) -> *const u8 {
        debug_assert!(offset < self.len);
        // SAFETY: within the mapping.
        unsafe { self.ptr.as_ptr().add(offset) }
    }
}

impl Drop for ExecMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}
