//! The command line: argument model and one module per command. `main.rs` only calls [`main`].

mod alarms;
mod baseline;
mod daemon;
mod diff;
mod failover;
mod history;
mod new;
mod progress;
mod record;
mod reporters;
mod run;
mod store;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::store::{Store, StoreError};

/// Exit code: everything passed / valid.
pub const EXIT_OK: i32 = 0;
/// Exit code: a canary failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input (invalid files, unknown canary, bad arguments).
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "aviary",
    version,
    about = "Synthetic monitoring: canaries in headless Chromium or over HTTP"
)]
pub(crate) struct Cli {
    /// Project file (default: ./aviary.yaml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and artifacts live (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where run history lives: a PostgreSQL URL shared by several daemons (overrides `store`).
    #[arg(long, global = true, value_name = "URL", env = "AVIARY_STORE")]
    pub store: Option<String>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run canaries once, now, in parallel.
    Run(run::RunArgs),
    /// Schedule every enabled canary and serve /metrics and the API, until SIGINT / SIGTERM.
    Daemon(daemon::DaemonArgs),
    /// Parse and check canary and project files.
    Validate {
        /// Canary files or folders (default: the project's `canaries`).
        paths: Vec<PathBuf>,
        /// Unset secrets of the project file are errors, not warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Write canaries/NAME.yaml from a blueprint template.
    New {
        /// heartbeat, api, broken-links, flow, workflow, script or visual.
        blueprint: String,
        /// The canary's name.
        name: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Record what you do in Chromium as a Recorder flow (JSON) and a canary replaying it.
    Record(record::RecordArgs),
    /// A canary's run history, newest first.
    Runs {
        canary: String,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every alarm's state, reason and last change.
    Alarms {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One alarm: its history, or set its state.
    #[command(subcommand)]
    Alarm(alarms::AlarmCommand),
    /// DNS failover records.
    #[command(subcommand)]
    Failover(failover::FailoverCommand),
    /// One run's report (a unique prefix of the run id is enough).
    Show {
        run_id: String,
        /// Print the report.json document.
        #[arg(long)]
        json: bool,
    },
    /// Visual baselines.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
    /// Compare two PNG screenshots as the visual blueprint does (exit 0 same, 1 different,
    /// 2 bad input).
    Diff(diff::DiffArgs),
    /// Run history's database: copy it to another store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// A script canary's child process (started by a run; speaks JSON lines on stdin/stdout).
    #[command(name = "__script-child", hide = true)]
    ScriptChild,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    if let Command::Diff(args) = cli.command {
        // Pure computation: no runtime, no logging to start.
        return diff::diff(args);
    }
    if matches!(cli.command, Command::ScriptChild) {
        // No runtime, no logging: the child's stdout is the protocol.
        return crate::blueprints::script::child::main();
    }
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> i32 {
    let globals = Globals {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        store: cli.store.clone(),
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Run(args) => run::run(&globals, args).await,
        Command::Daemon(args) => daemon::daemon(&globals, args).await,
        Command::Validate { paths, strict } => validate::validate(&globals, &paths, strict),
        Command::New { blueprint, name, force } => new::new_canary(&globals, &blueprint, &name, force),
        Command::Record(args) => record::record(&globals, args).await,
        Command::Runs { canary, limit, json } => history::runs(&globals, &canary, limit, json),
        Command::Show { run_id, json } => history::show(&globals, &run_id, json),
        Command::Alarms { json } => alarms::list(&globals, json).await,
        Command::Alarm(command) => alarms::alarm(&globals, command).await,
        Command::Failover(command) => failover::failover(&globals, command).await,
        Command::Baseline(command) => baseline::baseline(&globals, command).await,
        Command::Diff(args) => diff::diff(args),
        Command::Store(command) => store::store(&globals, command),
        Command::ScriptChild => crate::blueprints::script::child::main(),
    }
}

/// Options every command shares.
pub struct Globals {
    /// Project file (`--config`).
    pub config: Option<PathBuf>,
    /// Data folder (`--data-dir`), overriding `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Run history's database (`--store`), overriding `store`.
    pub store: Option<String>,
    /// Only errors (`--quiet`).
    pub quiet: bool,
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    // The daemon logs a line per run and per reload, each alarm transition, each notification
    // delivered or failed and each failover change at INFO: what a person watching its log needs.
    let daemon = matches!(cli.command, Command::Daemon(_));
    let default = match (cli.quiet, cli.verbose) {
        (false, 0) if daemon => {
            "warn,aviary::daemon=info,aviary::alarms=info,aviary::actions=info,aviary::dns=info,chromiumoxide=off"
        }
        // chromiumoxide logs CDP messages it cannot parse and the browser's socket closing at
        // shutdown; both are expected and handled in `browser/`.
        (true, _) => "error,chromiumoxide=off",
        (false, 0) => "warn,chromiumoxide=off",
        (false, 1) => "info,chromiumoxide=off",
        (false, 2) => "debug,chromiumoxide=warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("AVIARY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: a daemon's log goes to files and journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Prints diagnostics (one `file:line:col: message` a line) to stderr.
fn print_diagnostics(problems: &[crate::spec::Diagnostic]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}

/// Loads the project file, printing its problems; an unset secret is one (the daemon's load).
fn load_project(globals: &Globals) -> Result<crate::spec::Project, i32> {
    crate::project::load_project(globals.config.as_deref(), globals.data_dir.as_deref())
        .map(|project| with_store_override(project, globals))
        .map_err(|problems| {
            print_diagnostics(&problems);
            EXIT_BAD_INPUT
        })
}

/// `--store` in place of the project file's `store`.
fn with_store_override(mut project: crate::spec::Project, globals: &Globals) -> crate::spec::Project {
    if let Some(store) = &globals.store {
        project.config.store = Some(store.clone());
    }
    project
}

/// Loads the project file, printing its problems; unset secrets are left for
/// [`require_secrets`] (commands that need none, or only some).
fn load_project_unresolved(globals: &Globals) -> Result<crate::spec::Project, i32> {
    let (config, data_dir) = (globals.config.as_deref(), globals.data_dir.as_deref());
    crate::project::load_project_unresolved(config, data_dir, &crate::spec::expand::process_env)
        .map(|project| with_store_override(project, globals))
        .map_err(|problems| {
            print_diagnostics(&problems);
            EXIT_BAD_INPUT
        })
}

/// Refuses, printing them, when secrets under the key paths `under` are unset.
fn require_secrets(project: &crate::spec::Project, under: &[&str]) -> Result<(), i32> {
    project.require_secrets(under).map_err(|missing| {
        print_diagnostics(&missing);
        EXIT_BAD_INPUT
    })
}

/// When no canary path is named and none of the project's canary folders holds a canary file:
/// what to say (the next step is `aviary new`). A check that finds nothing to check fails.
fn no_canaries(project: &crate::spec::Project, paths: &[PathBuf]) -> Option<String> {
    if !paths.is_empty() || project.config.canaries.is_empty() {
        return None;
    }
    let folders: Vec<PathBuf> = project.config.canaries.iter().map(|c| project.resolve(c)).collect();
    // A listed file (not a folder) is a canary; a folder counts when it holds a *.yaml or *.yml.
    let holds_canaries = |path: &PathBuf| match std::fs::read_dir(path) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .any(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "yaml" || ext == "yml")),
        Err(_) => path.is_file(),
    };
    if folders.iter().any(holds_canaries) {
        return None;
    }
    let shown: Vec<String> = folders.iter().map(|f| format!("{}/", f.display())).collect();
    let why = match folders.iter().all(|f| !f.exists()) {
        true if folders.len() == 1 => "does not exist",
        true => "do not exist",
        false => "holds no canary files (*.yaml)",
    };
    let blueprints: Vec<&str> =
        crate::blueprints::REGISTRY.all().map(crate::blueprints::Blueprint::name).collect();
    Some(format!(
        "no canaries yet: {} {why}; write one with `aviary new <blueprint> <name>`, e.g. `aviary new heartbeat \
         homepage` (blueprints: {})",
        shown.join(", "),
        blueprints.join(", ")
    ))
}

/// Opens the project's store: the PostgreSQL database of `store`, or SQLite in the data folder
/// (created, with the folder, when there is none).
fn open_store(project: &crate::spec::Project) -> Result<Arc<dyn Store>, i32> {
    open_store_at(project.config.store.as_deref(), &project.data_dir.join("aviary.db"), project)
}

fn open_store_at(
    url: Option<&str>,
    sqlite: &Path,
    project: &crate::spec::Project,
) -> Result<Arc<dyn Store>, i32> {
    let opened: Result<Arc<dyn Store>, StoreError> = match url {
        Some(url) => {
            require_secrets(project, &["store"])?;
            if !crate::store::is_postgres_url(url) {
                eprintln!(
                    "error: store: expected a PostgreSQL URL like postgres://user@host/db, found `{}`",
                    crate::store::shown_url(url)
                );
                return Err(EXIT_BAD_INPUT);
            }
            crate::store::PostgresStore::open(url).map(|s| Arc::new(s) as Arc<dyn Store>)
        }
        None => crate::store::SqliteStore::open(sqlite).map(|s| Arc::new(s) as Arc<dyn Store>),
    };
    opened.map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
}

/// Opens the object store run folders are copied to (`artifacts.url`), if the project names one.
fn open_object_copies(project: &crate::spec::Project) -> Result<Option<crate::store::ObjectCopies>, i32> {
    let Some(url) = project.config.artifacts.url.as_deref() else { return Ok(None) };
    require_secrets(project, &["artifacts"])?;
    crate::store::ObjectCopies::open(url).map(Some).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
}

/// Opens the project's store for commands that only read it: when SQLite's file does not exist
/// yet (no run so far), an empty database in memory, so that reading creates no data folder.
fn open_store_to_read(project: &crate::spec::Project) -> Result<Arc<dyn Store>, i32> {
    let path = project.data_dir.join("aviary.db");
    if project.config.store.is_some() || path.exists() {
        return open_store(project);
    }
    crate::store::SqliteStore::open_empty(&path).map(|s| Arc::new(s) as Arc<dyn Store>).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
}
