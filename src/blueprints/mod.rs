//! One file per blueprint; each implements [`Blueprint`]. Adding a blueprint is one new file
//! plus one line in [`for_canary`] and [`is_implemented`].

pub mod api;
pub mod heartbeat;

use futures::future::BoxFuture;

use crate::runner::{RunContext, StepError};
use crate::spec::model::{BlueprintKind, CanaryFile};
use crate::spec::{Canary, Problem};

/// A blueprint runs one canary's steps through the [`RunContext`] step API.
///
/// `Ok(())` means the blueprint reached its end (its steps carry their own statuses); an
/// `Err` ends the run with that error outside any step.
pub trait Blueprint: Send + Sync {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Whether runs of this blueprint are implemented yet; validation rejects the others with
/// "not implemented yet".
pub fn is_implemented(kind: BlueprintKind) -> bool {
    matches!(kind, BlueprintKind::Heartbeat | BlueprintKind::Api)
}

/// Blueprint-specific checks of a canary's section, beyond what the types enforce (for example
/// that an API assertion parses). Paths are from the file's root.
pub fn check(canary: &CanaryFile) -> Vec<Problem> {
    match canary.blueprint {
        BlueprintKind::Api => api::check(canary),
        _ => Vec::new(),
    }
}

/// The blueprint that runs this canary.
pub fn for_canary(canary: &Canary) -> Result<Box<dyn Blueprint>, String> {
    let missing = || format!("canary `{}` has no `{}:` section", canary.name, canary.blueprint);
    match canary.blueprint {
        BlueprintKind::Heartbeat => {
            let spec = canary.spec.heartbeat.as_ref().ok_or_else(missing)?;
            Ok(Box::new(heartbeat::Heartbeat::new(spec)?))
        }
        BlueprintKind::Api => {
            let spec = canary.spec.api.as_ref().ok_or_else(missing)?;
            Ok(Box::new(api::Api::new(spec, &canary.spec)?))
        }
        other => Err(format!("blueprint `{other}` is not implemented yet")),
    }
}
