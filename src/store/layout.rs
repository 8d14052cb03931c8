//! Where a run's artifacts live (`docs/artifacts.md`), like CloudWatch's bucket layout:
//! `<artifacts>/<canary>/<YYYY>/<MM>/<DD>/<HH>/<mm-ss-SSS>-<run_id>/`, in UTC.

use std::io;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};

/// The run's folder, relative to the artifacts root, with `/` separators (as reports and the
/// database record it): `<canary>/<YYYY>/<MM>/<DD>/<HH>/<mm-ss-SSS>-<run_id>`.
pub fn run_dir_relative(canary: &str, start: DateTime<Utc>, run_id: &str) -> String {
    format!("{canary}/{}-{run_id}", start.format("%Y/%m/%d/%H/%M-%S-%3f"))
}

/// Every entry under `dir` but folders, with its path relative to `dir` (`/`-separated), in no
/// particular order. Folders are entered; symbolic links are returned, not followed; names that
/// are not UTF-8 are skipped.
pub fn entries_under(dir: &Path) -> io::Result<Vec<(String, std::fs::DirEntry)>> {
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if entry.file_type()?.is_dir() {
                pending.push((entry.path(), relative));
            } else {
                found.push((relative, entry));
            }
        }
    }
    Ok(found)
}

/// When a run started, read back from its folder (relative, as [`run_dir_relative`] makes it);
/// `None` for a path the layout did not make.
pub fn run_start(relative: &str) -> Option<DateTime<Utc>> {
    let parts: Vec<&str> = relative.split('/').collect();
    let [_, year, month, day, hour, folder] = parts.as_slice() else { return None };
    let stamp = folder.get(..9)?; // mm-ss-SSS
    let text = format!("{year}-{month}-{day}T{hour}:{}", stamp.replacen('-', ":", 1).replacen('-', ".", 1));
    chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.3f").ok().map(|t| t.and_utc())
}

/// The run's folder under `artifacts_root`:
/// `<artifacts_root>/<canary>/<YYYY>/<MM>/<DD>/<HH>/<mm-ss-SSS>-<run_id>`.
pub fn run_dir(artifacts_root: &Path, canary: &str, start: DateTime<Utc>, run_id: &str) -> PathBuf {
    let mut dir = artifacts_root.to_path_buf();
    dir.extend(run_dir_relative(canary, start, run_id).split('/'));
    dir
}

/// Removes a run's folder (`relative` to `artifacts_root`, as [`run_dir_relative`] makes it),
/// then every parent folder this leaves empty, up to but not including the canary's folder.
///
/// Refuses (`InvalidInput`) a path that is absolute, uses `..`, names less than a folder inside
/// a canary's folder, or leads outside the root through a symbolic link. A folder that is
/// already gone is not an error.
pub fn remove_run_dir(artifacts_root: &Path, relative: &str) -> io::Result<()> {
    let refuse = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to remove run folder `{relative}` under {}: {why}", artifacts_root.display()),
        )
    };
    let mut parts = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("it contains `..`")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("it is not relative")),
        }
    }
    if parts.len() < 2 {
        return Err(refuse("it is not a folder inside a canary's folder"));
    }
    let canary_dir = artifacts_root.join(parts[0]);
    let target: PathBuf = parts.iter().fold(artifacts_root.to_path_buf(), |path, part| path.join(part));

    let metadata = match std::fs::symlink_metadata(&target) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // The folder's parent, resolved, must still be under the resolved root: a symbolic link
    // on the way must not lead the removal elsewhere.
    let root = artifacts_root.canonicalize()?;
    let parent = target.parent().map(Path::canonicalize).transpose()?.unwrap_or_default();
    if !parent.starts_with(&root) || parent == root {
        return Err(refuse("it leads outside the artifacts root"));
    }
    if metadata.is_dir() {
        std::fs::remove_dir_all(&target)?;
    } else {
        // A file or a symbolic link: remove it, never what a link points to.
        std::fs::remove_file(&target)?;
    }

    let mut dir = target.parent();
    while let Some(current) = dir {
        if current == canary_dir || !current.starts_with(&canary_dir) || std::fs::remove_dir(current).is_err()
        {
            break;
        }
        dir = current.parent();
    }
    Ok(())
}

/// A run file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The value could not be encoded as JSON.
    #[error("could not encode {}: {source}", path.display())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// The file could not be written (disk full, read-only, ...).
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Writes a file of a run folder whole. Readers find runs through the database, whose row is
/// written after every file, so no reader sees a file being written; a process killed mid-run
/// leaves no row.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    std::fs::write(path, bytes).map_err(|source| ArtifactError::Write { path: path.to_path_buf(), source })
}
