//! Atomic JSON files for standalone state.
//!
//! A write goes to a temporary file in the same directory, is fsynced, then
//! renamed over the old file and the directory is fsynced. A reader (or a
//! worker killed with -9 at any instant) therefore sees either the old file or
//! the new one, never a torn one.
//!
//! The files hold connector configs, which hold credentials (unless they
//! come from config providers), so each is created readable and writable by
//! the worker's user only (0600); every rewrite is a new file created so.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error, what: &str, p: &Path| StoreError::Io {
        path: p.display().to_string(),
        action: what.to_string(),
        reason: e.to_string(),
    };
    {
        let mut f = private_file(&tmp).map_err(|e| io(e, "create", &tmp))?;
        f.write_all(bytes).map_err(|e| io(e, "write", &tmp))?;
        f.sync_all().map_err(|e| io(e, "fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(|e| io(e, "rename into place", path))?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates (or truncates) `path` with mode 0600 on Unix.
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path)?;
    // A file left by an older run keeps its mode on open: set it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Reads a JSON file; a missing file is `None`.
pub fn read_json(path: &Path) -> Result<Option<serde_json::Value>, StoreError> {
    match fs::read(path) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io {
            path: path.display().to_string(),
            action: "read".into(),
            reason: e.to_string(),
        }),
    }
}

/// Checks up front that a state file can be written (a clear start-up error
/// beats a failure at the first offset flush).
pub fn check_writable(path: &Path) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if !dir.exists() {
        fs::create_dir_all(&dir).map_err(|e| StoreError::Io {
            path: dir.display().to_string(),
            action: "create directory".into(),
            reason: e.to_string(),
        })?;
    }
    let probe = dir.join(format!(".sluice-probe-{}", std::process::id()));
    fs::write(&probe, b"").map_err(|e| StoreError::Io {
        path: path.display().to_string(),
        action: "write".into(),
        reason: e.to_string(),
    })?;
    let _ = fs::remove_file(&probe);
    if path.exists() {
        fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| StoreError::Io {
                path: path.display().to_string(),
                action: "open for writing".into(),
                reason: e.to_string(),
            })?;
        // A file an older version left readable by all is made private now,
        // not only at its next rewrite.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| {
                StoreError::Io {
                    path: path.display().to_string(),
                    action: "make private (chmod 600)".into(),
                    reason: e.to_string(),
                }
            })?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn state_files_are_private_to_the_worker() {
        let dir = std::env::temp_dir().join(format!("sluice-file-mode-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let state = dir.join("connect.offsets");
        write_atomic(&state, b"{}").unwrap();
        assert_eq!(mode(&state), 0o600);
        write_atomic(&state, b"{\"a\":1}").unwrap();
        assert_eq!(mode(&state), 0o600);
        let old = dir.join("old.connectors.json");
        fs::write(&old, b"{}").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
        check_writable(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
