//! File watching for hot reload: the folders of the canary paths and of `aviary.yaml`, not
//! recursive, filtered to the files a canary can name (`*.yaml`, `*.yml`, `*.json`, `*.py`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use crate::spec::Project;

/// Keeps the watches; events become messages on `tx`.
pub struct FileWatch {
    watcher: Option<notify::RecommendedWatcher>,
    watched: BTreeSet<PathBuf>,
}

impl FileWatch {
    pub fn new(tx: UnboundedSender<()>) -> Self {
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                return;
            }
            if event.paths.iter().any(|p| is_relevant(p)) {
                let _ = tx.send(());
            }
        };
        let watcher = match notify::recommended_watcher(handler) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("file watching is unavailable ({e}); reload with SIGHUP");
                None
            }
        };
        Self { watcher, watched: BTreeSet::new() }
    }

    /// Watches exactly the folders `project` reads canaries and settings from.
    pub fn update(&mut self, project: &Project) {
        let Some(watcher) = &mut self.watcher else { return };
        let wanted = folders(project);
        for gone in self.watched.difference(&wanted) {
            let _ = watcher.unwatch(gone);
        }
        for new in wanted.difference(&self.watched) {
            if let Err(e) = watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {e}; reload with SIGHUP", new.display());
            }
        }
        self.watched = wanted;
    }
}

fn is_relevant(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json" | "py"))
}

/// The folders to watch: each canary folder, the folder of each canary file, and the project
/// file's folder (editors replace files by renaming, so folders are watched, not files).
fn folders(project: &Project) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut add = |path: &Path| {
        let dir = if path.is_dir() { path.to_path_buf() } else { parent(path) };
        if dir.is_dir() {
            out.insert(std::fs::canonicalize(&dir).unwrap_or(dir));
        }
    };
    for entry in &project.config.canaries {
        add(&project.resolve(entry));
    }
    if let Some(file) = &project.file {
        add(&parent(file));
    }
    out
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
