//! Loading the project file and canary files: read, parse, expand, deserialize, check, and turn
//! every problem into a [`Diagnostic`] with its file, line and column.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::catalog::BlueprintCatalog;
use super::de::{Located, from_node, from_node_with_sections, is_unknown_key, unknown_value_message};
use super::expand::{Lookup, UnsetSecrets, expand_canary, expand_document, process_env};
use super::model::{CanaryFile, ProjectFile};
use super::path::{KeyPath, PathSeg, Problem, RuleProblem};
use super::schedule::Schedule;
use super::section::Section;
use super::validate::{check_actions, check_canary, check_project};
use super::yaml::{self, Node, NodeKind};

/// A problem in a file. `line` and `column` are 1-based (1:1 when the problem is about the whole
/// file: it cannot be read, it is missing, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key path (`heartbeat.urls[1]`), empty when the problem is about the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// A problem about a whole file (placed at 1:1).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self { file: file.to_path_buf(), line: 1, column: 1, path: String::new(), message: message.into() }
    }

    /// A problem the deserializer or a section's owner placed.
    pub fn located(file: &Path, problem: Located) -> Self {
        Self {
            file: file.to_path_buf(),
            line: problem.line,
            column: problem.col,
            path: problem.path.to_string(),
            message: problem.message,
        }
    }

    /// A problem inside a composite alarm's rule: placed at the column of the rule text when
    /// the rule is written on one line.
    pub fn in_rule(file: &Path, doc: &Node, problem: RuleProblem) -> Self {
        let (line, mut column) = doc.locate(&problem.path);
        if let (Some(node), Some(at)) = (doc.get_path(&problem.path), problem.column)
            && let NodeKind::Scalar { text, plain } = &node.kind
            && !text.contains('\n')
        {
            column = node.col + usize::from(!plain) + at - 1;
        }
        Self {
            file: file.to_path_buf(),
            line,
            column,
            path: problem.path.to_string(),
            message: problem.message,
        }
    }

    /// A problem at a key path of `doc`, placed at that key's position.
    pub fn placed(file: &Path, doc: &Node, problem: Problem) -> Self {
        let (line, column) = doc.locate(&problem.path);
        Self {
            file: file.to_path_buf(),
            line,
            column,
            path: problem.path.to_string(),
            message: problem.message,
        }
    }
}

/// `file:line:col: path: message` (`file:line:col: message` when the path is empty).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A canary ready to run.
#[derive(Debug, Clone)]
pub struct Canary {
    /// The canary's name.
    pub name: String,
    /// The canary file it comes from.
    pub file: PathBuf,
    /// The blueprint's name (a name of the blueprint registry).
    pub blueprint: String,
    /// The blueprint's own section (`heartbeat:` of a heartbeat canary), expanded, for the
    /// blueprint to read.
    pub section: Section,
    /// When the canary runs.
    pub schedule: Schedule,
    /// The whole run's deadline (default 60s).
    pub timeout: Duration,
    /// Extra attempts after a failed run.
    pub retries: u8,
    /// The wait before the first retry; it doubles for each next one ([`Canary::retry_delay`]).
    pub retry_delay: Duration,
    /// Whether the canary runs on its schedule.
    pub enabled: bool,
    /// Values of `${secret:...}` references: redact them to `***` wherever they would be written.
    pub secrets: Vec<String>,
    /// The fields every canary has, with `${...}` expanded.
    pub spec: CanaryFile,
    /// The version of its file as written (secrets not expanded): the first 16 hex digits of
    /// the SHA-256 of its bytes. Runners sharing a store compare it, since each may expand
    /// secrets of its own.
    pub version: String,
}

impl Canary {
    /// How long to wait before retry number `retry` (1 for the first): `retry_delay` doubled for
    /// each retry after the first, at most [`super::validate::MAX_RETRY_DELAY`].
    pub fn retry_delay(&self, retry: u32) -> Duration {
        super::validate::retry_delay(self.retry_delay, retry)
    }

    /// The folder of the canary's file: relative `file:` references start there.
    pub fn dir(&self) -> &Path {
        match self.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// The project: `aviary.yaml` (or defaults) with its paths resolved.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project file, when there is one.
    pub file: Option<PathBuf>,
    /// Relative paths of the project file start here (its folder, or `.`).
    pub root: PathBuf,
    /// The project file's settings, with `${...}` expanded (defaults when there is no file).
    pub config: ProjectFile,
    /// Where the database lives: `data_dir` resolved (default `.aviary`), or `--data-dir`.
    pub data_dir: PathBuf,
    /// The artifacts root: `artifacts.dir` resolved, default `<data_dir>/artifacts`.
    pub artifacts_dir: PathBuf,
    /// Values of `${secret:...}` references in the project file.
    pub secrets: Vec<String>,
    /// Unset `${secret:...}` references of the project file, left as written: each with the
    /// error it is for a command that needs it (see [`Self::require_secrets`]).
    pub missing_secrets: Vec<Diagnostic>,
}

impl Project {
    /// The defaults, as if there were an empty project file in `root`.
    pub fn defaults(root: &Path) -> Self {
        Self::build(None, root.to_path_buf(), ProjectFile::default(), None, Vec::new())
    }

    fn build(
        file: Option<PathBuf>,
        root: PathBuf,
        config: ProjectFile,
        data_dir_override: Option<&Path>,
        secrets: Vec<String>,
    ) -> Self {
        let data_dir = match data_dir_override {
            Some(dir) => dir.to_path_buf(),
            None => resolve(&root, Path::new(&config.data_dir)),
        };
        let artifacts_dir = match &config.artifacts.dir {
            Some(dir) => resolve(&root, Path::new(dir)),
            None => data_dir.join("artifacts"),
        };
        Self { file, root, config, data_dir, artifacts_dir, secrets, missing_secrets: Vec::new() }
    }

    /// The unset secrets under any of the key paths `under` (`server.token`, `channels`); all of
    /// them when `under` is empty. A command that would use such a value refuses with these.
    pub fn require_secrets(&self, under: &[&str]) -> Result<(), Vec<Diagnostic>> {
        let needed = |d: &&Diagnostic| {
            under.is_empty()
                || under.iter().any(|prefix| {
                    d.path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                })
        };
        let missing: Vec<Diagnostic> = self.missing_secrets.iter().filter(needed).cloned().collect();
        if missing.is_empty() { Ok(()) } else { Err(missing) }
    }

    /// A path written in the project file, resolved against [`Self::root`].
    pub fn resolve(&self, path: &str) -> PathBuf {
        resolve(&self.root, Path::new(path))
    }
}

/// `path` relative to `root` (kept as written when `root` is `.`).
fn resolve(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || root.as_os_str().is_empty() || root == Path::new(".") {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// Checks across files, for `aviary validate` after the canaries are loaded: alarm names are
/// unique over the project and project-level alarms name a loaded canary. (Whether composite
/// rules name alarms that exist is the alarms' check.)
pub fn check_alarm_references(project: &Project, canaries: &[Canary]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Alarm names are one namespace: states and history are kept by name.
    let mut owners: HashMap<&str, &Path> = HashMap::new();
    let project_file = project.file.clone().unwrap_or_else(|| PathBuf::from("aviary.yaml"));
    let all = project
        .config
        .alarms
        .iter()
        .map(|a| (a, project_file.as_path()))
        .chain(canaries.iter().flat_map(|c| c.spec.alarms.iter().map(move |a| (a, c.file.as_path()))));
    for (alarm, file) in all {
        if let Some(first) = owners.insert(&alarm.name, file)
            && first != file
        {
            out.push(Diagnostic::file(
                file,
                format!(
                    "alarm name `{}` is also used in {}; alarm names must be unique",
                    alarm.name,
                    first.display()
                ),
            ));
        }
    }
    let Some(file) = &project.file else { return out };
    let Ok(doc) = read_document(file, "project settings") else { return out };
    let canary_names: Vec<&str> = canaries.iter().map(|c| c.name.as_str()).collect();
    for (i, alarm) in project.config.alarms.iter().enumerate() {
        if let Some(canary) = alarm.canary.as_deref()
            && !canary.is_empty()
            && !canary_names.contains(&canary)
        {
            let path = KeyPath::root().key("alarms").index(i).key("canary");
            out.push(Diagnostic::placed(
                file,
                &doc,
                Problem::new(
                    path,
                    format!(
                        "unknown canary `{canary}`{}",
                        crate::spec::suggest::did_you_mean(canary, canary_names.iter().copied())
                    ),
                ),
            ));
        }
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

/// Every metric alarm name of the project file and its canaries.
pub fn alarm_names(project: &Project, canaries: &[Canary]) -> std::collections::HashSet<String> {
    let on_canaries = canaries.iter().flat_map(|c| c.spec.alarms.iter());
    project.config.alarms.iter().chain(on_canaries).map(|a| a.name.clone()).collect()
}

/// Places problems in composite rules at their column in the project file.
pub fn rule_diagnostics(project: &Project, problems: Vec<RuleProblem>) -> Vec<Diagnostic> {
    let Some(file) = &project.file else { return Vec::new() };
    let Ok(doc) = read_document(file, "project settings") else { return Vec::new() };
    problems.into_iter().map(|p| Diagnostic::in_rule(file, &doc, p)).collect()
}

/// Loads the project file: `config`, else `./aviary.yaml` if present, else the defaults with the
/// current folder as root. `data_dir_override` (`--data-dir`) replaces `data_dir`. Strings are
/// expanded against the process environment; an unset secret is an error.
pub fn load_project(
    config: Option<&Path>,
    data_dir_override: Option<&Path>,
) -> Result<Project, Vec<Diagnostic>> {
    load_project_with(config, data_dir_override, &process_env)
}

/// [`load_project`] with a stand-in for the process environment.
pub fn load_project_with(
    config: Option<&Path>,
    data_dir_override: Option<&Path>,
    env: Lookup<'_>,
) -> Result<Project, Vec<Diagnostic>> {
    match read_project_with(config, data_dir_override, env, &[]) {
        (Some(project), diagnostics) if diagnostics.is_empty() => {
            project.require_secrets(&[]).map(|()| project)
        }
        (_, diagnostics) => Err(diagnostics),
    }
}

/// A check of the project file's sections the spec layer hands on unread (channels, DNS
/// providers), given by the module that owns them so that its problems are reported with the
/// others. Problems under a value that failed to expand are left out (already reported).
pub type SectionCheck = fn(&ProjectFile) -> Vec<Located>;

/// [`load_project_with`] that keeps going and also runs `checks`: the project whenever the file
/// could be read into its types (even with problems, so `aviary validate` can go on to the
/// canaries), and every problem. Unset secrets are not among the problems: the project keeps
/// them in [`Project::missing_secrets`], and the checks skip the values that hold them.
pub fn read_project_with(
    config: Option<&Path>,
    data_dir_override: Option<&Path>,
    env: Lookup<'_>,
    checks: &[SectionCheck],
) -> (Option<Project>, Vec<Diagnostic>) {
    let file = match config {
        Some(path) => path.to_path_buf(),
        None if Path::new("aviary.yaml").is_file() => PathBuf::from("aviary.yaml"),
        None => {
            let defaults = Project::build(
                None,
                PathBuf::from("."),
                ProjectFile::default(),
                data_dir_override,
                Vec::new(),
            );
            return (Some(defaults), Vec::new());
        }
    };
    let root = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut doc = match read_document(&file, "project settings") {
        Ok(doc) => doc,
        Err(d) => return (None, vec![d]),
    };
    let expansion = expand_document(&mut doc, env);
    let (config, de_problems) = from_node::<ProjectFile>(&doc);
    let mut located = expansion.problems;
    located.extend(de_problems);
    let mut tainted = tainted_paths(&located);
    tainted.extend(expansion.missing.iter().map(|p| p.path.clone()));
    let mut diagnostics: Vec<Diagnostic> =
        located.into_iter().map(|p| Diagnostic::located(&file, p)).collect();
    let missing = expansion.missing.into_iter().map(|p| Diagnostic::located(&file, p)).collect();
    if let Some(config) = &config {
        diagnostics
            .extend(check_project(config, &tainted).into_iter().map(|p| Diagnostic::placed(&file, &doc, p)));
        let untainted = |p: &Located| !tainted.iter().any(|t| p.path.0.starts_with(&t.0));
        for check in checks {
            diagnostics
                .extend(check(config).into_iter().filter(untainted).map(|p| Diagnostic::located(&file, p)));
        }
    }
    let project = config.map(|config| Project {
        missing_secrets: missing,
        ..Project::build(Some(file), root, config, data_dir_override, expansion.secrets)
    });
    (project, sorted(diagnostics))
}

/// Loads canaries from files and folders (a folder: its `*.yaml` / `*.yml` files, not
/// recursive, in name order); no `paths`: the project's `canaries` entries. Returns every canary
/// without problems, and every problem of every file.
/// `blueprints` knows the blueprints' names and checks their sections.
pub fn load_canaries(
    project: &Project,
    paths: &[PathBuf],
    blueprints: &dyn BlueprintCatalog,
) -> (Vec<Canary>, Vec<Diagnostic>) {
    load_canaries_with(project, paths, &process_env, blueprints)
}

/// [`load_canaries`] with a stand-in for the process environment.
pub fn load_canaries_with(
    project: &Project,
    paths: &[PathBuf],
    env: Lookup<'_>,
    blueprints: &dyn BlueprintCatalog,
) -> (Vec<Canary>, Vec<Diagnostic>) {
    load_canaries_in(project, paths, env, UnsetSecrets::Problem, blueprints)
}

/// [`load_canaries_with`] where `unset_secrets` says what an unset `${secret:NAME}` is. With
/// [`UnsetSecrets::Leave`] a canary whose secret is unset still loads, its value left as written:
/// for commands that read names and alarm definitions and run nothing.
pub fn load_canaries_in(
    project: &Project,
    paths: &[PathBuf],
    env: Lookup<'_>,
    unset_secrets: UnsetSecrets,
    blueprints: &dyn BlueprintCatalog,
) -> (Vec<Canary>, Vec<Diagnostic>) {
    let targets: Vec<PathBuf> = if paths.is_empty() {
        project.config.canaries.iter().map(|c| project.resolve(c)).collect()
    } else {
        paths.to_vec()
    };
    let mut diagnostics = Vec::new();
    let files = canary_files(&targets, &mut diagnostics);

    let mut canaries = Vec::new();
    let mut first_by_name: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let loaded = load_canary_file(&file, project, (env, unset_secrets), blueprints);
        let mut file_diagnostics = loaded.diagnostics;
        if let Some((name, line, column, path)) = &loaded.name {
            match first_by_name.get(name) {
                Some(first) => file_diagnostics.push(Diagnostic {
                    file: file.clone(),
                    line: *line,
                    column: *column,
                    path: path.clone(),
                    message: format!("duplicate canary name `{name}`: {} already uses it", first.display()),
                }),
                None => {
                    first_by_name.insert(name.clone(), file.clone());
                }
            }
        }
        if file_diagnostics.is_empty() {
            canaries.extend(loaded.canary);
        }
        diagnostics.extend(sorted(file_diagnostics));
    }
    (canaries, diagnostics)
}

/// The canary files named by `targets`, each once.
fn canary_files(targets: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |file: PathBuf, files: &mut Vec<PathBuf>| {
        let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if seen.insert(key) {
            files.push(file);
        }
    };
    for target in targets {
        match fs::metadata(target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diagnostics.push(Diagnostic::file(target, "no such file or folder"));
            }
            Err(e) => diagnostics.push(Diagnostic::file(target, format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => match fs::read_dir(target) {
                Err(e) => diagnostics.push(Diagnostic::file(target, format!("cannot read folder: {e}"))),
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file() && p.extension().is_some_and(|ext| ext == "yaml" || ext == "yml")
                        })
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        diagnostics.push(Diagnostic::file(
                            target,
                            format!("no canary files (*.yaml) in {}", target.display()),
                        ));
                    }
                    for file in found {
                        add(file, &mut files);
                    }
                }
            },
            Ok(_) => add(target.clone(), &mut files),
        }
    }
    files
}

/// Reads and parses a YAML file whose top level must be a mapping.
fn read_document(file: &Path, what: &str) -> Result<Node, Diagnostic> {
    parse_document(file, &read_text(file)?, what)
}

/// The first 16 hex digits of the SHA-256 of a file's bytes: stable across builds, so runners
/// built apart agree on equal files.
fn content_version(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A settings file's text, at most [`MAX_FILE_BYTES`].
fn read_text(file: &Path) -> Result<String, Diagnostic> {
    if let Ok(meta) = fs::metadata(file)
        && meta.len() > MAX_FILE_BYTES
    {
        return Err(Diagnostic::file(
            file,
            format!("the file is {} bytes; at most {MAX_FILE_BYTES} (10 MB) are read", meta.len()),
        ));
    }
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Diagnostic::file(file, "not a YAML file: the content is not UTF-8 text"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Diagnostic::file(file, "no such file"));
        }
        Err(e) => return Err(Diagnostic::file(file, format!("cannot read: {e}"))),
    };
    Ok(text)
}

/// Parses a settings file's text; its top level must be a mapping.
fn parse_document(file: &Path, text: &str, what: &str) -> Result<Node, Diagnostic> {
    let doc = yaml::parse(text).map_err(|e| Diagnostic {
        file: file.to_path_buf(),
        line: e.line,
        column: e.col,
        path: String::new(),
        message: format!("invalid YAML: {}", e.message),
    })?;
    if !matches!(doc.kind, NodeKind::Map(_)) {
        return Err(Diagnostic {
            file: file.to_path_buf(),
            line: doc.line,
            column: doc.col,
            path: String::new(),
            message: format!("expected a mapping of {what} (`key: value` lines), found {}", doc.describe()),
        });
    }
    Ok(doc)
}

/// Paths whose values failed to expand or deserialize (unknown keys aside).
fn tainted_paths(problems: &[Located]) -> Vec<KeyPath> {
    problems.iter().filter(|p| !is_unknown_key(p)).map(|p| p.path.clone()).collect()
}

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 10_000_000;

/// Sorted by position, and at most [`super::de::MAX_PROBLEMS`] of them with a last "… and N more".
fn sorted(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line, d.column));
    super::de::cap_problems(diagnostics)
}

struct LoadedFile {
    /// The canary, when it deserialized and its checks settled name and schedule; only valid
    /// when `diagnostics` is empty.
    canary: Option<Canary>,
    /// The canary's name and where it is set (for the duplicate check).
    name: Option<(String, usize, usize, String)>,
    diagnostics: Vec<Diagnostic>,
}

fn load_canary_file(
    file: &Path,
    project: &Project,
    (env, unset_secrets): (Lookup<'_>, UnsetSecrets),
    blueprints: &dyn BlueprintCatalog,
) -> LoadedFile {
    let read = read_text(file).and_then(|text| {
        Ok((parse_document(file, &text, "canary settings")?, content_version(text.as_bytes())))
    });
    let (mut doc, version) = match read {
        Ok(read) => read,
        Err(d) => return LoadedFile { canary: None, name: None, diagnostics: vec![d] },
    };
    let sections: Vec<&'static str> = blueprints.names().into_iter().chain(blueprints.planned()).collect();
    let blueprint = doc.get("blueprint").and_then(Node::as_str).map(str::to_string);
    let template =
        blueprint.as_deref().and_then(|name| Some((name, blueprints.template_steps(name, doc.get(name)?)?)));
    let template = template.as_ref().map(|(key, steps)| (*key, steps));
    let expansion = expand_canary(&mut doc, env, template, unset_secrets);
    let (spec, mut de_problems) = from_node_with_sections::<CanaryFile>(&doc, &sections);
    if let Some(blueprint) = blueprint.as_deref() {
        point_to_section(&mut de_problems, blueprint, &blueprints.section_keys(blueprint));
    }
    let mut located = expansion.problems;
    located.extend(de_problems);
    let mut tainted = tainted_paths(&located);
    tainted.extend(expansion.missing.iter().map(|p| p.path.clone()));
    let mut diagnostics: Vec<Diagnostic> =
        located.into_iter().map(|p| Diagnostic::located(file, p)).collect();
    let Some(spec) = spec else { return LoadedFile { canary: None, name: None, diagnostics } };

    let check = check_canary(&spec, file, &tainted);
    diagnostics.extend(check.problems.into_iter().map(|p| Diagnostic::placed(file, &doc, p)));
    let (section, section_problems) = blueprint_section(&spec, &doc, &sections, blueprints, &tainted, file);
    diagnostics.extend(section_problems.into_iter().map(|p| Diagnostic::located(file, p)));
    let mut action_problems = Vec::new();
    for (i, alarm) in spec.alarms.iter().enumerate() {
        let at = KeyPath::root().key("alarms").index(i).key("actions");
        check_actions(&alarm.actions, &at, &project.config.channels, &mut action_problems);
    }
    diagnostics.extend(action_problems.into_iter().map(|p| Diagnostic::placed(file, &doc, p)));

    let name = check.name.map(|name| {
        let path = if spec.name.is_some() { KeyPath::root().key("name") } else { KeyPath::root() };
        let (line, column) = doc.locate(&path);
        (name, line, column, path.to_string())
    });
    let canary = match (&name, check.schedule, section) {
        (Some((name, ..)), Some(schedule), Some(section)) => Some(Canary {
            name: name.clone(),
            file: file.to_path_buf(),
            blueprint: spec.blueprint.clone(),
            section,
            schedule,
            timeout: check.timeout,
            retries: spec.retries,
            retry_delay: spec.retry_delay.map_or(Duration::ZERO, |d| d.0),
            enabled: spec.enabled,
            secrets: expansion.secrets,
            spec,
            version,
        }),
        _ => None,
    };
    LoadedFile { canary, name, diagnostics }
}

/// An unknown top-level key that the blueprint's section reads: says it belongs under the section.
fn point_to_section(problems: &mut [Located], blueprint: &str, section_keys: &[&str]) {
    for problem in problems.iter_mut().filter(|p| is_unknown_key(p)) {
        if let [PathSeg::Key(key)] = problem.path.0.as_slice()
            && section_keys.contains(&key.as_str())
        {
            problem.message.push_str(&format!("; it belongs under `{blueprint}:`"));
        }
    }
}

/// The blueprint is known, its section is there (and no other blueprint's), and the blueprint
/// accepts the section. Returns the section when there is one to run.
fn blueprint_section(
    spec: &CanaryFile,
    doc: &Node,
    sections: &[&'static str],
    blueprints: &dyn BlueprintCatalog,
    tainted: &[KeyPath],
    file: &Path,
) -> (Option<Section>, Vec<Located>) {
    let own = spec.blueprint.as_str();
    let at = |path: KeyPath, message: String| {
        let (line, col) = doc.locate(&path);
        Located { path, line, col, message }
    };
    let root = KeyPath::root();
    if !sections.contains(&own) {
        let message = unknown_value_message(own, sections);
        return (None, vec![at(root.key("blueprint"), message)]);
    }
    let mut problems = Vec::new();
    for other in sections.iter().filter(|s| **s != own && doc.get(s).is_some()) {
        problems.push(at(root.key(*other), format!("section `{other}` does not apply to blueprint `{own}`")));
    }
    if blueprints.planned().contains(&own) {
        problems.push(at(root.key("blueprint"), format!("blueprint `{own}` is not implemented yet")));
    }
    let section = match Section::of(doc, own) {
        None => {
            let message = format!("missing section `{own}:` (blueprint `{own}` reads its settings from it)");
            problems.push(at(root, message));
            return (None, problems);
        }
        Some(section) if section.node.is_null() => {
            problems.push(at(section.path.clone(), format!("section `{own}` is empty")));
            return (None, problems);
        }
        Some(section) => section,
    };
    if blueprints.planned().contains(&own) {
        return (None, problems);
    }
    problems.extend(blueprints.check(own, &section, tainted, file));
    (Some(section), problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_display() {
        let d = Diagnostic {
            file: PathBuf::from("canaries/a.yaml"),
            line: 3,
            column: 5,
            path: "heartbeat.urls[0]".into(),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "canaries/a.yaml:3:5: heartbeat.urls[0]: bad");
        let d = Diagnostic { path: String::new(), ..d };
        assert_eq!(d.to_string(), "canaries/a.yaml:3:5: bad");
        assert_eq!(Diagnostic::file(Path::new("x"), "no such file").to_string(), "x:1:1: no such file");
    }

    #[test]
    fn paths_resolve_against_the_root() {
        assert_eq!(resolve(Path::new("."), Path::new("canaries")), PathBuf::from("canaries"));
        assert_eq!(resolve(Path::new("proj"), Path::new("canaries")), PathBuf::from("proj/canaries"));
        assert_eq!(resolve(Path::new("proj"), Path::new("/abs")), PathBuf::from("/abs"));
        let p = Project::defaults(Path::new("proj"));
        assert_eq!(p.data_dir, PathBuf::from("proj/.aviary"));
        assert_eq!(p.artifacts_dir, PathBuf::from("proj/.aviary/artifacts"));
    }

    #[test]
    fn project_file_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aviary.yaml");
        fs::write(
            &file,
            "canaries: [checks]\ndata_dir: state\nserver: {listen: '127.0.0.1:9999', token: '${secret:TOK}'}\n",
        )
        .unwrap();
        let env = |name: &str| (name == "TOK").then(|| "t0k3n".to_string());
        let p = load_project_with(Some(&file), None, &env).unwrap();
        assert_eq!(p.root, dir.path());
        assert_eq!(p.data_dir, dir.path().join("state"));
        assert_eq!(p.artifacts_dir, dir.path().join("state/artifacts"));
        assert_eq!(p.secrets, ["t0k3n"]);
        assert_eq!(p.config.server.token.as_deref(), Some("t0k3n"));
        assert_eq!(p.resolve("checks"), dir.path().join("checks"));
        let over = load_project_with(Some(&file), Some(Path::new("/tmp/elsewhere")), &env).unwrap();
        assert_eq!(over.data_dir, PathBuf::from("/tmp/elsewhere"));
        assert_eq!(over.artifacts_dir, PathBuf::from("/tmp/elsewhere/artifacts"));
    }

    #[test]
    fn project_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aviary.yaml");
        fs::write(&file, "runner: {max_concurency: 2}\nserver:\n  listen: nowhere\n").unwrap();
        let errs = load_project_with(Some(&file), None, &|_: &str| None).unwrap_err();
        let shown: Vec<String> =
            errs.iter().map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.path, d.message)).collect();
        assert_eq!(
            shown,
            [
                "1:10: runner.max_concurency: unknown key `max_concurency`; expected one of: max_concurrency; did you \
             mean `max_concurrency`?",
                "3:11: server.listen: `nowhere` is not a socket address like 127.0.0.1:9090",
            ]
        );
        let missing =
            load_project_with(Some(&dir.path().join("nope.yaml")), None, &|_: &str| None).unwrap_err();
        assert_eq!(missing[0].message, "no such file");
    }
}
