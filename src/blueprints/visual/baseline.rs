//! Baselines: per canary, viewport and screenshot name, a folder
//! `<data_dir>/baselines/<canary>/<WxH>/<name>/` of numbered versions (`v0001.png` with its
//! `v0001.json`) and `current.json`, the version in use (its id, the run it came from, when,
//! why). Approving a run (`aviary baseline approve`) and `aviary run --update-baselines` add a
//! version; the older ones stay as history (the latest [`KEEP`]).
//!
//! Each run of a visual canary leaves `visual/current.png` and `visual/shot.json` in its run
//! folder; a baseline is made from those.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::RunReport;
use crate::store::{RunPage, Store, StoreError};
use crate::visual::Rect;

/// Versions kept per baseline folder (the current one always).
pub const KEEP: usize = 20;
/// The folder of a run's visual files, in its run folder.
pub const RUN_DIR: &str = "visual";
/// A run's screenshot, in [`RUN_DIR`].
pub const CURRENT_PNG: &str = "current.png";
/// What a run's screenshot is of, in [`RUN_DIR`].
pub const SHOT_JSON: &str = "shot.json";

/// What a run's screenshot is of (`visual/shot.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShotInfo {
    /// The viewport, `1920x1080`.
    pub viewport: String,
    /// The screenshot's name (`name:`).
    pub name: String,
    /// The page's URL when shot.
    pub url: String,
    /// The screenshot's size.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// The boxes of the ignore selectors' elements on that shot.
    pub selector_boxes: Vec<Rect>,
}

/// One baseline version (`vNNNN.json`, and `current.json` for the one in use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// 1, 2, ... in the folder.
    pub id: u32,
    /// Its PNG, in the folder.
    pub file: String,
    /// The run whose screenshot it is.
    pub source_run: Option<String>,
    /// How it came: `first run`, `approved`, `--update-baselines`, `next_run`, `last_run`,
    /// `baseline: <run id>`.
    pub source: String,
    /// When it became a baseline.
    pub created: DateTime<Utc>,
    /// The screenshot's size.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// The boxes of the ignore selectors' elements on that screenshot.
    #[serde(default)]
    pub selector_boxes: Vec<Rect>,
    /// The canary's visual settings when it was made (see the blueprint's `setting`); `None`
    /// for an approval with no earlier baseline, which the next run fills in.
    #[serde(default)]
    pub setting: Option<String>,
}

/// A baseline that could not be read, written or made.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// A file could not be read or written.
    #[error("baseline {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is damaged.
    #[error(
        "baseline {}: {reason}; approve a run to replace it (`aviary baseline approve {canary}`) or remove the \
         folder to start again",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The canary, for the advice.
        canary: String,
    },
    /// The history could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// No run matches.
    #[error("{0}")]
    NoRun(String),
}

/// One baseline folder.
#[derive(Debug, Clone)]
pub struct Folder {
    canary: String,
    dir: PathBuf,
}

impl Folder {
    /// The folder of `canary`'s screenshot `name` at `viewport` (`1920x1080`).
    pub fn new(root: &Path, canary: &str, viewport: &str, name: &str) -> Folder {
        Folder { canary: canary.to_string(), dir: root.join(canary).join(viewport).join(name) }
    }

    /// Its path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn corrupt(&self, path: PathBuf, reason: impl Into<String>) -> BaselineError {
        BaselineError::Corrupt { path, reason: reason.into(), canary: self.canary.clone() }
    }

    /// The version in use, `None` when there is none yet.
    pub fn current(&self) -> Result<Option<Version>, BaselineError> {
        let path = self.dir.join("current.json");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BaselineError::Io { path, source }),
        };
        let version: Version = serde_json::from_slice(&text)
            .map_err(|e| self.corrupt(path.clone(), format!("not a baseline manifest: {e}")))?;
        if version.file.contains('/') || version.file.contains('\\') || version.file.starts_with('.') {
            return Err(
                self.corrupt(path, format!("names the file `{}`, which is not in its folder", version.file))
            );
        }
        Ok(Some(version))
    }

    /// The PNG bytes of `version`.
    pub fn png(&self, version: &Version) -> Result<Vec<u8>, BaselineError> {
        let path = self.dir.join(&version.file);
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => self.corrupt(path, "its image is missing"),
            _ => BaselineError::Io { path, source: e },
        })
    }

    /// The decoded pixels of `version`'s PNG.
    pub fn image(&self, version: &Version, png: &[u8]) -> Result<image::RgbaImage, BaselineError> {
        let path = self.dir.join(&version.file);
        crate::visual::png::decode(png, &path).map_err(|e| {
            let reason = match e {
                crate::visual::png::PngError::Decode { reason, .. } => reason,
                other => other.to_string(),
            };
            self.corrupt(path, format!("its image is not a valid PNG ({reason})"))
        })
    }

    /// Adds a version from `png` and makes it current; older versions past [`KEEP`] go.
    pub fn add(&self, png: &[u8], mut version: Version) -> Result<Version, BaselineError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BaselineError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let ids = self.version_ids()?;
        version.id = ids.last().copied().unwrap_or(0) + 1;
        version.file = format!("v{:04}.png", version.id);
        let png_path = self.dir.join(&version.file);
        std::fs::write(&png_path, png).map_err(io(&png_path))?;
        let meta = self.dir.join(format!("v{:04}.json", version.id));
        std::fs::write(&meta, to_json(&version)).map_err(io(&meta))?;
        self.set_current(&version)?;
        for old in ids.iter().rev().skip(KEEP - 1) {
            let _ = std::fs::remove_file(self.dir.join(format!("v{old:04}.png")));
            let _ = std::fs::remove_file(self.dir.join(format!("v{old:04}.json")));
        }
        Ok(version)
    }

    /// Makes `version` the one in use (written whole: a reader never sees half a manifest).
    pub fn set_current(&self, version: &Version) -> Result<(), BaselineError> {
        let path = self.dir.join("current.json");
        let partial = self.dir.join(".current.json.partial");
        std::fs::write(&partial, to_json(version))
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|source| BaselineError::Io { path, source })
    }

    fn version_ids(&self) -> Result<Vec<u32>, BaselineError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|source| BaselineError::Io { path: self.dir.clone(), source })?;
        let mut ids: Vec<u32> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
}

fn to_json(version: &Version) -> Vec<u8> {
    serde_json::to_vec_pretty(version).unwrap_or_default()
}

/// A run's screenshot, as a baseline can be made from it.
pub struct RunShot {
    /// The run's id.
    pub run_id: String,
    /// What the screenshot is of.
    pub info: ShotInfo,
    /// The PNG.
    pub png: Vec<u8>,
}

impl RunShot {
    /// A baseline version made from it (id and file are set when it is added).
    pub fn version(&self, source: &str, setting: Option<String>) -> Version {
        Version {
            id: 0,
            file: String::new(),
            source_run: Some(self.run_id.clone()),
            source: source.to_string(),
            created: Utc::now(),
            width: self.info.width,
            height: self.info.height,
            selector_boxes: self.info.selector_boxes.clone(),
            setting,
        }
    }
}

/// The screenshot a stored run of `canary` left: of run `run` (id or unique prefix), or of the
/// latest run that left one (of `viewport` and `name` when given).
pub fn run_shot(
    store: &dyn Store,
    artifacts_root: &Path,
    canary: &str,
    run: Option<&str>,
    of: Option<(&str, &str)>,
) -> Result<RunShot, BaselineError> {
    let read = |report: &RunReport| -> Result<Option<RunShot>, BaselineError> {
        let mut dir = artifacts_root.to_path_buf();
        dir.extend(report.artifacts.split('/'));
        dir.push(RUN_DIR);
        let info_path = dir.join(SHOT_JSON);
        let Ok(text) = std::fs::read(&info_path) else { return Ok(None) };
        let info: ShotInfo = serde_json::from_slice(&text)
            .map_err(|e| BaselineError::NoRun(format!("{}: {e}", info_path.display())))?;
        if of.is_some_and(|(viewport, name)| info.viewport != viewport || info.name != name) {
            return Ok(None);
        }
        let png_path = dir.join(CURRENT_PNG);
        let png = std::fs::read(&png_path)
            .map_err(|source| BaselineError::Io { path: png_path.clone(), source })?;
        crate::visual::png::decode(&png, &png_path).map_err(|e| BaselineError::NoRun(e.to_string()))?;
        Ok(Some(RunShot { run_id: report.run_id.clone(), info, png }))
    };
    if let Some(id) = run {
        let report = store.run(id)?.ok_or_else(|| {
            BaselineError::NoRun(format!("no run `{id}` in the history (`aviary runs {canary}` lists them)"))
        })?;
        if report.canary != canary {
            return Err(BaselineError::NoRun(format!(
                "run {} is a run of canary `{}`, not `{canary}`",
                report.run_id, report.canary
            )));
        }
        return read(&report)?.ok_or_else(|| {
            BaselineError::NoRun(format!(
                "run {} left no visual screenshot (visual/{CURRENT_PNG}) to make a baseline of",
                report.run_id
            ))
        });
    }
    for summary in store.runs(canary, RunPage::first(50))? {
        if let Some(report) = store.run(&summary.run_id)?
            && let Some(shot) = read(&report)?
        {
            return Ok(shot);
        }
    }
    Err(BaselineError::NoRun(format!(
        "canary `{canary}` has no stored run with a visual screenshot; run it first (`aviary run`)"
    )))
}

/// What an approval did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    /// The canary.
    pub canary: String,
    /// The new baseline version.
    pub baseline: Version,
    /// The version it replaced, if any.
    pub replaced: Option<u32>,
    /// Its folder.
    pub folder: PathBuf,
}

/// Makes run `run`'s screenshot (default: the latest run's) `canary`'s baseline.
pub fn approve(
    store: &dyn Store,
    artifacts_root: &Path,
    baselines_root: &Path,
    canary: &str,
    run: Option<&str>,
) -> Result<Approval, BaselineError> {
    let shot = run_shot(store, artifacts_root, canary, run, None)?;
    let folder = Folder::new(baselines_root, canary, &shot.info.viewport, &shot.info.name);
    // A damaged current manifest is replaced, not a reason to refuse.
    let previous = folder.current().ok().flatten();
    let setting = previous.as_ref().and_then(|p| p.setting.clone());
    let baseline = folder.add(&shot.png, shot.version("approved", setting))?;
    Ok(Approval {
        canary: canary.to_string(),
        baseline,
        replaced: previous.map(|p| p.id),
        folder: folder.dir().to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Vec<u8> {
        crate::visual::png::encode(&image::RgbaImage::new(4, 3)).unwrap()
    }

    fn version() -> Version {
        Version {
            id: 0,
            file: String::new(),
            source_run: Some("r1".into()),
            source: "first run".into(),
            created: Utc::now(),
            width: 4,
            height: 3,
            selector_boxes: vec![],
            setting: Some("first_run#0".into()),
        }
    }

    #[test]
    fn versions_are_numbered_current_follows_and_history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::new(dir.path(), "home", "1920x1080", "page");
        assert_eq!(folder.current().unwrap(), None);
        let first = folder.add(&png(), version()).unwrap();
        assert_eq!((first.id, first.file.as_str()), (1, "v0001.png"));
        assert_eq!(folder.current().unwrap().unwrap(), first);
        for _ in 0..KEEP + 3 {
            folder.add(&png(), version()).unwrap();
        }
        let current = folder.current().unwrap().unwrap();
        assert_eq!(current.id, KEEP as u32 + 4);
        assert_eq!(folder.version_ids().unwrap().len(), KEEP);
        assert!(folder.image(&current, &folder.png(&current).unwrap()).is_ok());
    }

    #[test]
    fn damaged_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::new(dir.path(), "home", "1920x1080", "page");
        let v = folder.add(&png(), version()).unwrap();
        std::fs::write(folder.dir().join(&v.file), b"not a png").unwrap();
        let e = folder.image(&v, &folder.png(&v).unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("v0001.png: its image is not a valid PNG")
                && e.contains("aviary baseline approve home"),
            "{e}"
        );
        std::fs::remove_file(folder.dir().join(&v.file)).unwrap();
        assert!(folder.png(&v).unwrap_err().to_string().contains("its image is missing"));
        std::fs::write(folder.dir().join("current.json"), b"{").unwrap();
        assert!(folder.current().unwrap_err().to_string().contains("not a baseline manifest"));
    }
}
