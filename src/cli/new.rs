//! `aviary new BLUEPRINT NAME`: writes `canaries/NAME.yaml` from the blueprint's template.

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::blueprints::{Blueprint, REGISTRY};
use crate::spec::suggest::did_you_mean;

/// The commented template of a blueprint (the file under `blueprints/`, built into the binary so
/// `aviary new` works wherever it is installed).
pub fn template(blueprint: &str) -> Option<&'static str> {
    REGISTRY.find(blueprint).map(Blueprint::template)
}

pub fn new_canary(globals: &Globals, blueprint: &str, name: &str, force: bool) -> i32 {
    let Some(text) = template(blueprint) else {
        let known: Vec<&str> = REGISTRY.all().map(Blueprint::name).collect();
        eprintln!(
            "error: no template for blueprint `{blueprint}`; available: {}{}",
            known.join(", "),
            did_you_mean(blueprint, known.iter().copied())
        );
        return EXIT_BAD_INPUT;
    };
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        eprintln!("error: canary name {name:?} must match [A-Za-z0-9_-]{{1,64}}");
        return EXIT_BAD_INPUT;
    }
    let project = match super::load_project_unresolved(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let folder = project.config.canaries.first().map_or_else(|| "canaries".to_string(), Clone::clone);
    let folder = project.root.join(folder);
    let path = folder.join(format!("{name}.yaml"));
    if path.exists() && !force {
        eprintln!("error: {} already exists (use --force to overwrite)", path.display());
        return EXIT_BAD_INPUT;
    }
    let text = text.replace("<name>", name);
    let written = std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&path, text));
    match written {
        Ok(()) => {
            println!("wrote {} — edit it, then: aviary run {}", path.display(), path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: could not write {}: {e}", path.display());
            EXIT_BAD_INPUT
        }
    }
}
