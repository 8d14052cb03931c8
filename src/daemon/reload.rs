//! Hot reload: what changes when the canary files are read again. A file that no longer
//! validates keeps its previous canaries; the others are added, changed or removed.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::server::BrokenFile;
use crate::spec::yaml::{Node, NodeKind};
use crate::spec::{Canary, Diagnostic};

/// A loaded canary and the fingerprint of its settings (after `${...}` expansion).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The canary.
    pub canary: Arc<Canary>,
    /// Its [`fingerprint`].
    pub fingerprint: u64,
}

impl Loaded {
    /// A canary with its fingerprint computed.
    pub fn new(canary: Canary) -> Self {
        let fingerprint = fingerprint(&canary);
        Self { canary: Arc::new(canary), fingerprint }
    }
}

/// A canary's settings, hashed: equal fingerprints mean nothing changed. Where a value stands in
/// the file (its line and column) is not a setting.
pub fn fingerprint(canary: &Canary) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let Canary {
        name,
        file,
        blueprint,
        section,
        schedule,
        timeout,
        retries,
        retry_delay,
        enabled,
        secrets,
        spec,
        // The file's bytes: a comment changes them, not the settings.
        version: _,
    } = canary;
    format!(
        "{name:?}{file:?}{blueprint:?}{schedule:?}{timeout:?}{retries:?}{retry_delay:?}{enabled:?}{secrets:?}{spec:?}"
    )
        .hash(&mut hasher);
    hash_content(&section.node, &mut hasher);
    hasher.finish()
}

fn hash_content(node: &Node, hasher: &mut impl Hasher) {
    match &node.kind {
        NodeKind::Null => 0u8.hash(hasher),
        NodeKind::Scalar { text, .. } => (1u8, text).hash(hasher),
        NodeKind::Seq(items) => {
            (2u8, items.len()).hash(hasher);
            items.iter().for_each(|item| hash_content(item, hasher));
        }
        NodeKind::Map(entries) => {
            (3u8, entries.len()).hash(hasher);
            for (key, value) in entries {
                hash_content(key, hasher);
                hash_content(value, hasher);
            }
        }
    }
}

/// What a reload does.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every canary after the reload, by name.
    pub canaries: BTreeMap<String, Loaded>,
    /// Canaries new in this reload.
    pub added: Vec<String>,
    /// Canaries whose settings changed.
    pub changed: Vec<String>,
    /// Canaries no longer defined.
    pub removed: Vec<String>,
    /// Canaries kept at their previous version because their file no longer validates.
    pub kept: Vec<String>,
}

/// The canaries after a reload: every valid canary of `loaded`, plus the previous version of
/// canaries whose file has a problem in `problems` (unless a valid file now uses their name).
pub fn plan(old: &BTreeMap<String, Loaded>, loaded: Vec<Canary>, problems: &[Diagnostic]) -> Plan {
    let broken: HashSet<&PathBuf> = problems.iter().map(|d| &d.file).collect();
    let mut plan = Plan::default();
    for canary in loaded {
        let name = canary.name.clone();
        let new = Loaded::new(canary);
        match old.get(&name) {
            None => plan.added.push(name.clone()),
            Some(previous) if previous.fingerprint != new.fingerprint => plan.changed.push(name.clone()),
            Some(_) => {}
        }
        plan.canaries.insert(name, new);
    }
    for (name, previous) in old {
        if plan.canaries.contains_key(name) {
            continue;
        }
        if broken.contains(&previous.canary.file) {
            plan.kept.push(name.clone());
            plan.canaries.insert(name.clone(), previous.clone());
        } else {
            plan.removed.push(name.clone());
        }
    }
    plan
}

/// The files that `problems` are about, one entry each (sorted), with whether an earlier version of
/// the file is still in use (`in_use`).
pub fn broken_files(problems: &[Diagnostic], in_use: impl Fn(&Path) -> bool) -> Vec<BrokenFile> {
    let mut by_file: BTreeMap<&PathBuf, Vec<String>> = BTreeMap::new();
    for problem in problems {
        by_file.entry(&problem.file).or_default().push(problem.to_string());
    }
    by_file
        .into_iter()
        .map(|(file, problems)| BrokenFile { previous_version: in_use(file), file: file.clone(), problems })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::load_canaries_with;
    use crate::spec::Project;

    fn load(dir: &std::path::Path) -> (Vec<Canary>, Vec<Diagnostic>) {
        let project = Project::defaults(dir);
        load_canaries_with(&project, &[dir.join("canaries")], &|_: &str| None)
    }

    fn write(dir: &std::path::Path, name: &str, text: &str) {
        std::fs::write(dir.join("canaries").join(format!("{name}.yaml")), text).unwrap();
    }

    const API: &str =
        "blueprint: api\napi:\n  steps:\n    - name: get\n      request: {url: \"http://127.0.0.1:1/\"}\n";

    #[test]
    fn add_change_break_remove() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("canaries")).unwrap();
        write(dir.path(), "a", API);
        write(dir.path(), "b", API);
        let (canaries, problems) = load(dir.path());
        let first = plan(&BTreeMap::new(), canaries, &problems);
        assert_eq!(first.added, ["a", "b"]);

        // Change a, break b, add c.
        write(dir.path(), "a", &format!("schedule: rate(1 minute)\n{API}"));
        write(dir.path(), "b", "blueprint: api\nschedule: rate(7 parsecs)\n");
        write(dir.path(), "c", API);
        let (canaries, problems) = load(dir.path());
        assert!(!problems.is_empty());
        let second = plan(&first.canaries, canaries, &problems);
        assert_eq!(second.changed, ["a"]);
        assert_eq!(second.added, ["c"]);
        assert_eq!(second.kept, ["b"]);
        assert!(second.removed.is_empty());
        assert_eq!(second.canaries["b"].fingerprint, first.canaries["b"].fingerprint);

        // Remove b (still broken until then) and c.
        std::fs::remove_file(dir.path().join("canaries/b.yaml")).unwrap();
        std::fs::remove_file(dir.path().join("canaries/c.yaml")).unwrap();
        let (canaries, problems) = load(dir.path());
        let third = plan(&second.canaries, canaries, &problems);
        assert_eq!(third.removed, ["b", "c"]);
        assert!(third.added.is_empty() && third.changed.is_empty());
        assert_eq!(third.canaries.keys().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn broken_files_count_files_and_know_which_never_loaded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("canaries")).unwrap();
        write(dir.path(), "a", API);
        let (canaries, problems) = load(dir.path());
        let first = plan(&BTreeMap::new(), canaries, &problems);

        // a breaks (two problems in one file) after it loaded; n never loaded.
        let two_problems = "blueprint: api\nschedule: rate(7 parsecs)\ntimeout: soon\n";
        write(dir.path(), "a", two_problems);
        write(dir.path(), "n", two_problems);
        let (canaries, problems) = load(dir.path());
        assert!(problems.len() > 2, "{problems:?}");
        let second = plan(&first.canaries, canaries, &problems);
        let in_use = |file: &Path| second.kept.iter().any(|name| second.canaries[name].canary.file == file);
        let files = broken_files(&problems, in_use);
        let shown: Vec<(String, bool)> = files
            .iter()
            .map(|f| (f.file.file_name().unwrap().to_string_lossy().into_owned(), f.previous_version))
            .collect();
        assert_eq!(shown, [("a.yaml".to_string(), true), ("n.yaml".to_string(), false)]);
        assert_eq!(files.iter().map(|f| f.problems.len()).sum::<usize>(), problems.len());
    }
}
