//! Snapshot files: written to a temporary name, synced, then renamed into place, so a
//! reader never sees a partial file. A temporary file is locked (an advisory `flock`) by
//! its writer until it is renamed, so that opening the store removes only those a crash
//! left behind, never one another process is writing.

use crate::error::{Result, StoreError};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { path, source }
}

/// A temporary file being written: its writer holds its lock until it is published
/// or dropped (which removes it).
#[derive(Debug)]
pub(crate) struct Temp {
    pub path: PathBuf,
    /// Holds the lock; closing it releases the lock.
    _file: fs::File,
}

/// An empty unlocked temporary file may be one whose writer is between creating and
/// locking it; it is removed only once it is this old. (A writer locks before it writes
/// a byte, so an unlocked file with bytes in it has no writer any more.)
const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Write bytes to a fresh, locked temporary file in `dir` and sync it; the caller
/// publishes it.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8]) -> Result<Temp> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fs::create_dir_all(dir).map_err(io(dir))?;
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".staged.{}.{n}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.lock().map_err(io(&tmp))?;
    let done = write_direct(&tmp, bytes).unwrap_or(0);
    if done == 0 {
        f.set_len(0).map_err(io(&tmp))?;
    }
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(done as u64)).map_err(io(&tmp))?;
    f.write_all(&bytes[done..]).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    Ok(Temp {
        path: tmp,
        _file: f,
    })
}

/// Write the 4 KiB-aligned front of a large, 4 KiB-aligned buffer past the page cache
/// (`O_DIRECT`): the disk reads it straight from memory, so the copy into the cache (a
/// tenth of a large ingest's CPU) is saved, and the sync that follows writes it anyway.
/// Returns how many bytes were written; the caller writes the rest. `None` where the
/// system or file system does not take it (the caller then writes everything).
#[cfg(target_os = "linux")]
fn write_direct(path: &Path, bytes: &[u8]) -> Option<usize> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const ALIGN: usize = 4096;
    const PIECE: usize = 8 << 20;
    let front = bytes.len() / ALIGN * ALIGN;
    if front < PIECE || bytes.as_ptr().align_offset(ALIGN) != 0 {
        return None;
    }
    // The file exists (its writer created and locked it): no truncation, so a failed
    // attempt leaves the plain write to start over.
    let f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()?;
    for (i, piece) in bytes[..front].chunks(PIECE).enumerate() {
        f.write_all_at(piece, (i * PIECE) as u64).ok()?;
    }
    Some(front)
}

#[cfg(not(target_os = "linux"))]
fn write_direct(_: &Path, _: &[u8]) -> Option<usize> {
    None
}

/// Move a synced temporary file to its final name (or drop it when that name exists);
/// its lock is released after.
pub(crate) fn publish(dir: &Path, tmp: Temp, name: &str) -> Result<()> {
    let target = dir.join(name);
    if target.exists() {
        let _ = fs::remove_file(&tmp.path);
        return Ok(());
    }
    fs::rename(&tmp.path, &target).map_err(io(&target))?;
    // The rename is durable once the directory entry is.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    if dir.join(name).exists() {
        return Ok(());
    }
    let tmp = write_temp(dir, bytes)?;
    publish(dir, tmp, name)
}

/// Remove temporary files a crash left mid-write: those no writer holds the lock of.
pub(crate) fn sweep_temp(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let written = meta.len() > 0;
        let old = meta
            .modified()
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= ORPHAN_AGE));
        let Ok(f) = fs::File::open(e.path()) else {
            continue;
        };
        // Held by a live writer: not ours to remove.
        if (written || old) && f.try_lock().is_ok() {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large file's bytes go past the page cache from an aligned buffer and the tail
    /// through it; an unaligned buffer is written the plain way. Both read back the same.
    #[test]
    fn large_writes_read_back_whole_aligned_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let len = (16 << 20) + 1234;
        let mut buf = vec![0u8; len + 8192];
        let mut x = 88172645463325252u64;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let start = buf.as_ptr().align_offset(4096);
        for from in [start, start + 1] {
            let bytes = &buf[from..from + len];
            let tmp = write_temp(dir.path(), bytes).unwrap();
            assert_eq!(fs::read(&tmp.path).unwrap(), bytes, "from {from}");
        }
        // A small file is written the plain way.
        let small = b"a,b\n1,2\n";
        let tmp = write_temp(dir.path(), small).unwrap();
        assert_eq!(fs::read(&tmp.path).unwrap(), small);
    }

    /// Guards the sweep at open that removed every temporary file, also the one another
    /// process was writing (two `data add` at once, `train` while `serve` starts).
    #[test]
    fn the_sweep_keeps_a_file_its_writer_still_holds() {
        let dir = tempfile::tempdir().unwrap();
        let held = write_temp(dir.path(), b"being written").unwrap();
        let orphan = dir.path().join(".staged.1.1.tmp");
        fs::write(&orphan, b"left by a crash").unwrap();
        let long_ago = std::time::SystemTime::now() - 2 * ORPHAN_AGE;
        for p in [&held.path, &orphan] {
            fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        // Just created by a writer that has not locked it yet: empty and young.
        let fresh = dir.path().join(".staged.2.1.tmp");
        fs::write(&fresh, b"").unwrap();
        // Left by a crash a moment ago: written, unlocked.
        let crashed = dir.path().join(".staged.3.1.tmp");
        fs::write(&crashed, b"half a snapshot").unwrap();
        sweep_temp(dir.path());
        assert!(held.path.exists(), "a held file was removed");
        assert!(
            fresh.exists(),
            "a file its writer is about to lock was removed"
        );
        assert!(!orphan.exists(), "the old orphan stays");
        assert!(!crashed.exists(), "the crash's file stays");
        publish(dir.path(), held, "done.csv").unwrap();
        assert_eq!(
            fs::read(dir.path().join("done.csv")).unwrap(),
            b"being written"
        );
    }
}
