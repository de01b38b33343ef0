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
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    Ok(tmp)
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
