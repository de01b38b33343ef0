//! Snapshot files: written to a temporary name, synced, then renamed into place, so a
//! reader never sees a partial file.

use crate::error::{Result, StoreError};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { path, source }
}

/// Write bytes to a fresh temporary file in `dir` and sync it; the caller publishes it.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fs::create_dir_all(dir).map_err(io(dir))?;
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".staged.{}.{n}.tmp", std::process::id()));
    let done = write_direct(&tmp, bytes).unwrap_or(0);
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    if done == 0 {
        f.set_len(0).map_err(io(&tmp))?;
    }
    f.write_all(&bytes[done..]).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    Ok(tmp)
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
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
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

/// Move a synced temporary file to its final name (or drop it when that name exists).
pub(crate) fn publish(dir: &Path, tmp: &Path, name: &str) -> Result<()> {
    let target = dir.join(name);
    if target.exists() {
        let _ = fs::remove_file(tmp);
        return Ok(());
    }
    fs::rename(tmp, &target).map_err(io(&target))?;
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
    publish(dir, &tmp, name)
}

/// Remove temporary files left by a crash mid-write.
pub(crate) fn sweep_temp(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
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
            assert_eq!(fs::read(&tmp).unwrap(), bytes, "from {from}");
        }
        // A small file is written the plain way.
        let small = b"a,b\n1,2\n";
        let tmp = write_temp(dir.path(), small).unwrap();
        assert_eq!(fs::read(&tmp).unwrap(), small);
    }
}
