//! One daemon per SQLite file.
//!
//! Replicas coordinate through PostgreSQL (leases with epochs, row locks). SQLite has one
//! writer at a time and lives on one machine's disk, so a second `okno run` on the same file
//! would only queue behind the first for every write; it is refused at start instead, with the
//! way out. The lock is an OS file lock (`flock`) beside the database: it vanishes with the
//! process, however that ends, so a crash never leaves a stale lock behind. One-off commands
//! (`okno sync`, `okno status`, `okno run --once`) do not take it; instance leases keep them
//! from syncing what the daemon is syncing.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the daemon cannot start on this SQLite file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another okno daemon{} is already running on {db}; SQLite serves one daemon — for several replicas use PostgreSQL ([store] url = \"postgres://...\")", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Held { db: String, holder: Option<String> },
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The daemon's hold on a SQLite file; released when dropped or when the process ends.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

impl DaemonLock {
    /// Takes the lock of `db` (`<db>.daemon.lock`) without waiting.
    pub fn acquire(db: &Path) -> Result<DaemonLock, LockError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".daemon.lock");
        let path = PathBuf::from(name);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if !try_lock(&file) {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim().to_string();
            return Err(LockError::Held {
                db: db.display().to_string(),
                holder: (!holder.is_empty()).then_some(holder),
            });
        }
        // Who holds it, for the message the next one gets; the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "pid {}", std::process::id());
        let _ = file.flush();
        Ok(DaemonLock { _file: file, path })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function's caller owns; no memory is shared.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_daemon_on_one_file_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("okno.db");
        let first = DaemonLock::acquire(&db).expect("first");
        let err = DaemonLock::acquire(&db).expect_err("second");
        let text = err.to_string();
        assert!(text.contains("another okno daemon"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("PostgreSQL"), "{text}");
        drop(first);
        DaemonLock::acquire(&db).expect("free again once the first is gone");
    }
}
