//! Advisory locks on files (`flock`): the history file while a kernel takes its session number,
//! and the shared folder of Rust cells while a process compiles in it.
//!
//! The lock belongs to the open file and goes with it: dropping the [`FileLock`] (or the process
//! ending, however it ends) releases it. Where `flock` does not exist every lock is granted.

use std::fs::File;
use std::io;

/// An exclusive lock on an open file, held until dropped.
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for the lock.
    pub fn lock(file: File) -> io::Result<FileLock> {
        flock(&file, false)?;
        Ok(FileLock { file })
    }

    /// Takes the lock if no one holds it; None when another process (or file) does.
    pub fn try_lock(file: File) -> io::Result<Option<FileLock>> {
        match flock(&file, true) {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(unix)]
fn flock(file: &File, nonblocking: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    // SAFETY: flock on a descriptor that `file` owns and keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn flock(_file: &File, _nonblocking: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_until_dropped() {
        let path = std::env::temp_dir().join(format!("noyau-filelock-{}", std::process::id()));
        let open = || std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).unwrap();
        let held = FileLock::lock(open()).unwrap();
        // flock locks belong to open files: a second open of the same file is refused.
        assert!(FileLock::try_lock(open()).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_lock(open()).unwrap().is_some());
        std::fs::remove_file(&path).unwrap();
    }
}
