//! What runs share: the browser pool, the store, where artifacts go, who hears about progress.

use std::path::PathBuf;
use std::sync::Arc;

use crate::browser::BrowserPool;
use crate::report::{RunReport, StepReport};
use crate::store::Store;

/// Something a run tells its caller as it goes (the CLI prints these; the daemon logs them).
pub enum ProgressEvent<'a> {
    RunStarted { canary: &'a str, attempt: u32 },
    Step { canary: &'a str, attempt: u32, step: &'a StepReport },
    RunFinished { report: &'a RunReport },
}

pub type ProgressSink = Arc<dyn Fn(ProgressEvent<'_>) + Send + Sync>;

/// The shared parts every run uses.
pub struct Services {
    pub browser: BrowserPool,
    pub store: Arc<dyn Store>,
    pub artifacts_root: PathBuf,
    pub progress: Option<ProgressSink>,
}

impl Services {
    pub fn progress(&self, event: ProgressEvent<'_>) {
        if let Some(sink) = &self.progress {
            sink(event);
        }
    }
}
