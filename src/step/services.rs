//! What runs share: the browser pool, the store, where artifacts go, who hears about progress.

use std::path::PathBuf;
use std::sync::Arc;

use crate::browser::BrowserPool;
use crate::report::{RunReport, StepReport};
use crate::store::Store;

/// Something a run tells its caller as it goes (the CLI prints these; the daemon logs them).
pub enum ProgressEvent<'a> {
    /// An attempt of a run started.
    RunStarted {
        /// The canary's name.
        canary: &'a str,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step ended.
    Step {
        /// The canary's name.
        canary: &'a str,
        /// The attempt, from 1.
        attempt: u32,
        /// The step's report.
        step: &'a StepReport,
    },
    /// An attempt of a run ended.
    RunFinished {
        /// The attempt's report.
        report: &'a RunReport,
    },
}

/// Receives [`ProgressEvent`]s.
pub type ProgressSink = Arc<dyn Fn(ProgressEvent<'_>) + Send + Sync>;

/// The shared parts every run uses.
pub struct Services {
    /// The browser pool of browser blueprints.
    pub browser: BrowserPool,
    /// Where runs are saved.
    pub store: Arc<dyn Store>,
    /// The folder run folders are created in.
    pub artifacts_root: PathBuf,
    /// Who hears about progress, if anyone.
    pub progress: Option<ProgressSink>,
    /// The folder visual baselines are kept in (`<data_dir>/baselines`).
    pub baselines_root: PathBuf,
    /// Make each visual canary's screenshot its new baseline (`aviary run --update-baselines`).
    pub update_baselines: bool,
    /// Where runs check from (the daemon's `location`), kept in each report and datapoint.
    pub location: Option<String>,
    /// The object store each run folder is copied to (`artifacts.url`), if any.
    pub object_copies: Option<crate::store::ObjectCopies>,
}

impl Services {
    /// Hands `event` to the progress sink, if there is one.
    pub fn progress(&self, event: ProgressEvent<'_>) {
        if let Some(sink) = &self.progress {
            sink(event);
        }
    }
}
