//! The one list of blueprints.

use std::path::Path;

use super::{Blueprint, api, flow, heartbeat, links, script, visual, workflow};
use crate::spec::de::Located;
use crate::spec::yaml::Node;
use crate::spec::{BlueprintCatalog, KeyPath, Section, TemplateSteps};

/// Every blueprint that runs, and the names of those still to come.
pub static REGISTRY: Registry = Registry {
    blueprints: &[
        &heartbeat::HEARTBEAT,
        &api::API,
        &links::BROKEN_LINKS,
        &flow::FLOW,
        &workflow::WORKFLOW,
        &script::SCRIPT,
        &visual::VISUAL,
    ],
    planned: &[],
};

/// A list of blueprints; the spec layer asks it about canary files ([`BlueprintCatalog`]).
pub struct Registry {
    blueprints: &'static [&'static dyn Blueprint],
    planned: &'static [&'static str],
}

impl Registry {
    /// The blueprint of that name.
    pub fn find(&self, name: &str) -> Option<&'static dyn Blueprint> {
        self.blueprints.iter().copied().find(|b| b.name() == name)
    }

    /// Every blueprint, in the order messages list them.
    pub fn all(&self) -> impl Iterator<Item = &'static dyn Blueprint> + '_ {
        self.blueprints.iter().copied()
    }
}

impl BlueprintCatalog for Registry {
    fn names(&self) -> Vec<&'static str> {
        self.all().map(Blueprint::name).collect()
    }

    fn planned(&self) -> Vec<&'static str> {
        self.planned.to_vec()
    }

    fn check(&self, blueprint: &str, section: &Section, tainted: &[KeyPath], file: &Path) -> Vec<Located> {
        self.find(blueprint).map(|b| b.check(section, tainted, file)).unwrap_or_default()
    }

    fn section_keys(&self, blueprint: &str) -> Vec<&'static str> {
        self.find(blueprint).map(|b| b.section_keys().to_vec()).unwrap_or_default()
    }

    fn template_steps(&self, blueprint: &str, section: &Node) -> Option<TemplateSteps> {
        self.find(blueprint)?.template_steps(section)
    }
}
