//! One file per blueprint; each implements [`Blueprint`].

use crate::spec::Problem;
use crate::spec::model::{BlueprintKind, CanaryFile};

/// Whether runs of this blueprint are implemented yet; validation rejects the others with
/// "not implemented yet".
pub fn is_implemented(kind: BlueprintKind) -> bool {
    matches!(kind, BlueprintKind::Heartbeat)
}

/// Blueprint-specific checks of a canary's section, beyond what the types enforce (for example
/// that an API assertion parses). Paths are from the file's root.
pub fn check(canary: &CanaryFile) -> Vec<Problem> {
    let _ = canary;
    Vec::new()
}
