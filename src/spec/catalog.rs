//! What the spec layer asks of the blueprints, which it does not know: their names, the checks of
//! their sections, and which of their values are templates completed at run time. The blueprint
//! registry implements [`BlueprintCatalog`]; the loader is handed it.

use std::path::Path;

use super::de::Located;
use super::path::KeyPath;
use super::section::Section;
use super::yaml::Node;

/// The blueprints a canary file can name.
pub trait BlueprintCatalog: Sync {
    /// Blueprints that run, in the order messages list them.
    fn names(&self) -> Vec<&'static str>;

    /// Blueprints the product plans but cannot run yet: accepted as names, rejected by
    /// validation as "not implemented yet".
    fn planned(&self) -> Vec<&'static str>;

    /// Every problem of a canary's own section (`heartbeat:` of a heartbeat canary): type errors,
    /// unknown keys, and checks beyond the types. `tainted` holds the paths that already have a
    /// problem (a `${NAME}` that is not set), which must not be reported twice; `file` is the
    /// canary file (relative `file:` references start at its folder).
    fn check(&self, blueprint: &str, section: &Section, tainted: &[KeyPath], file: &Path) -> Vec<Located>;

    /// The keys a blueprint's section reads (`urls`, `expect` for `heartbeat`), so that such a key
    /// written at the top of a canary file can be pointed to its section; none by default.
    fn section_keys(&self, _blueprint: &str) -> Vec<&'static str> {
        Vec::new()
    }

    /// For a blueprint whose steps define variables for later steps: the steps of its section.
    fn template_steps(&self, blueprint: &str, section: &Node) -> Option<TemplateSteps>;
}

/// Steps whose strings are templates completed at run time: in step `i`, `${name}` of a name an
/// earlier step defines stays for run time; a name only a later step defines is an error that
/// names that step.
#[derive(Debug, Clone, Default)]
pub struct TemplateSteps {
    /// The key of the list of steps inside the section (`steps`).
    pub list_key: &'static str,
    /// Each step in order: its name and the names it defines.
    pub steps: Vec<(String, Vec<String>)>,
}
