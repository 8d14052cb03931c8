//! `aviary record URL -o FILE`: records what a person does in Chromium as a Chrome DevTools
//! Recorder flow (JSON) and writes a `flow` canary that replays it.

use std::path::{Component, Path, PathBuf};

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Globals};
use crate::browser::BrowserError;
use crate::browser::record::{Ended, RecordOptions, RecordSession};
use crate::spec::validate::is_valid_name;

/// `aviary record`'s arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct RecordArgs {
    /// The page the recording starts at (http:// or https://).
    pub url: String,
    /// Where to write the recording, e.g. canaries/flows/checkout.json; its name (checkout) is the
    /// canary's.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// No window, even when a display exists: the DevTools endpoint is printed, and whatever is
    /// done through it is recorded.
    #[arg(long)]
    pub headless: bool,
    /// Overwrite the recording and the canary file when they exist.
    #[arg(long)]
    pub force: bool,
    /// The flow's title (default: `Recording <date> at <time>`, as Chrome names them).
    #[arg(long)]
    pub title: Option<String>,
    /// The canary file to write (default: NAME.yaml in the project's canaries folder).
    #[arg(long, value_name = "FILE", conflicts_with = "no_canary")]
    pub canary: Option<PathBuf>,
    /// Write the recording only, no canary file.
    #[arg(long)]
    pub no_canary: bool,
    /// The browser window's size, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1280x800", value_parser = parse_size)]
    pub window_size: (u32, u32),
}

/// Why `aviary record` could not do its job.
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("{url:?} is not a URL to record: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "the recording's name {name:?} (from {path}) must match [A-Za-z0-9_-]{{1,64}}: it names the canary"
    )]
    BadName { name: String, path: PathBuf },
    #[error("{} already exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    #[error("could not write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot handle {signal}: {source}")]
    Signal { signal: &'static str, source: std::io::Error },
    #[error("{0}")]
    Browser(#[from] BrowserError),
}

/// Where the recording and its canary go.
struct Outputs {
    flow: PathBuf,
    canary: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let parsed =
        text.split_once(['x', 'X']).and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
    match parsed {
        Some((w, h)) if (100..=10_000).contains(&w) && (100..=10_000).contains(&h) => Ok((w, h)),
        _ => Err(format!("{text:?} is not WIDTHxHEIGHT with each 100..10000, e.g. 1280x800")),
    }
}

/// Runs `aviary record`; returns the exit code.
pub async fn record(globals: &Globals, args: RecordArgs) -> i32 {
    let outputs = match plan(globals, &args) {
        Ok(outputs) => outputs,
        Err(code) => return code,
    };
    match record_flow(globals, &args, &outputs).await {
        Ok(()) => EXIT_OK,
        Err(e @ RecordError::Browser(_)) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Checks the arguments and works out the files, before any browser starts.
fn plan(globals: &Globals, args: &RecordArgs) -> Result<Outputs, i32> {
    let fail = |e: RecordError| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    };
    check_url(&args.url).map_err(fail)?;
    let name = args.output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if !is_valid_name(&name) {
        return Err(fail(RecordError::BadName { name, path: args.output.clone() }));
    }
    let canary = if args.no_canary {
        None
    } else if let Some(canary) = &args.canary {
        Some(canary.clone())
    } else {
        let project = super::load_project_unresolved(globals)?;
        let folder = project.config.canaries.first().map_or_else(|| "canaries".to_string(), Clone::clone);
        let canary = project.root.join(folder).join(format!("{name}.yaml"));
        Some(canary.strip_prefix(".").map(Path::to_path_buf).unwrap_or(canary))
    };
    let outputs = Outputs { flow: args.output.clone(), canary };
    for path in std::iter::once(&outputs.flow).chain(&outputs.canary) {
        if path.exists() && !args.force {
            return Err(fail(RecordError::Exists(path.clone())));
        }
    }
    Ok(outputs)
}

fn check_url(url: &str) -> Result<(), RecordError> {
    let bad = |reason: String| RecordError::BadUrl { url: url.to_string(), reason };
    let parsed =
        url::Url::parse(url).map_err(|e| bad(format!("{e} (write it as http://... or https://...)")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("the scheme is {}, not http or https", parsed.scheme())));
    }
    Ok(())
}

/// Whether a window can be shown: a display exists and `--headless` was not given.
fn headless(args: &RecordArgs) -> bool {
    let display = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    args.headless || !(display("DISPLAY") || display("WAYLAND_DISPLAY"))
}

async fn record_flow(globals: &Globals, args: &RecordArgs, outputs: &Outputs) -> Result<(), RecordError> {
    let stop = stop_signal()?;
    let headless = headless(args);
    let options =
        RecordOptions { window: args.window_size, ..RecordOptions::new(args.url.clone(), headless) };
    let session = RecordSession::start(options).await?;
    // Chromium's own wording, so that tools which find its endpoint find this one.
    eprintln!("DevTools listening on {}", session.devtools_url());
    if !globals.quiet {
        let how = if headless { "press Ctrl-C" } else { "close the tab or press Ctrl-C" };
        eprintln!("recording {} — {how} to finish", args.url);
    }
    let title = args.title.clone().unwrap_or_else(default_title);
    let recorded = session.record(title, stop).await?;
    if let Ended::BrowserGone(reason) = &recorded.ended {
        eprintln!("warning: the browser went away ({reason}); writing what was recorded until then");
    }
    write(&outputs.flow, &recorded.flow.to_json())?;
    let steps = recorded.flow.steps.len();
    match &outputs.canary {
        Some(canary) => {
            write(canary, &canary_text(&args.url, &outputs.flow, canary)?)?;
            println!(
                "wrote {} ({steps} steps) and {} — replay it: aviary run {}",
                outputs.flow.display(),
                canary.display(),
                canary.display()
            );
        }
        None => println!("wrote {} ({steps} steps)", outputs.flow.display()),
    }
    if recorded.typed_password {
        eprintln!(
            "note: {} holds what was typed into a password field as it was typed; put ${{secret:NAME}} \
             there instead (see docs/record.md)",
            outputs.flow.display()
        );
    }
    Ok(())
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM.
fn stop_signal() -> Result<impl Future<Output = ()>, RecordError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| RecordError::Signal { signal: name, source })
    };
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// `Recording 12/2/2026 at 3:04:05 PM`, as Chrome titles a new recording.
fn default_title() -> String {
    chrono::Local::now().format("Recording %-m/%-d/%Y at %-I:%M:%S %p").to_string()
}

fn write(path: &Path, text: &str) -> Result<(), RecordError> {
    let fail = |source| RecordError::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

/// The canary replaying `flow`, which it names relative to its own folder.
fn canary_text(url: &str, flow: &Path, canary: &Path) -> Result<String, RecordError> {
    let absolute = |path: &Path| {
        std::path::absolute(path).map_err(|source| RecordError::Write { path: path.to_path_buf(), source })
    };
    let (flow_abs, canary_abs) = (absolute(flow)?, absolute(canary)?);
    let relative = relative_to(&flow_abs, canary_abs.parent().unwrap_or(Path::new("/")));
    let file = serde_json::to_string(&relative.to_string_lossy().replace('\\', "/")).unwrap_or_default();
    Ok(format!(
        "# Flow canary written by `aviary record {url}`: replays {file} (Chrome DevTools Recorder\n\
         # JSON) step by step in headless Chromium. Run it once: aviary run <this file>.\n\
         # Every setting: blueprints/flow.yaml; recording: docs/record.md.\n\
         blueprint: flow\n\
         schedule: rate(5 minutes)\n\
         timeout: 60s\n\
         retries: 0\n\
         flow:\n  \
           file: {file}\n"
    ))
}

/// `path` relative to the folder `base` (both absolute): `flows/x.json`, `../flows/x.json`.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    fn normal(path: &Path) -> Vec<Component<'_>> {
        path.components().filter(|c| *c != Component::CurDir).collect()
    }
    let (path_parts, base_parts) = (normal(path), normal(base));
    let common = path_parts.iter().zip(&base_parts).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..base_parts.len() {
        relative.push("..");
    }
    for part in &path_parts[common..] {
        relative.push(part);
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_paths_are_relative_to_the_canary_folder() {
        let rel = |p: &str, b: &str| relative_to(Path::new(p), Path::new(b)).display().to_string();
        assert_eq!(rel("/p/canaries/flows/x.json", "/p/canaries"), "flows/x.json");
        assert_eq!(rel("/p/flows/x.json", "/p/canaries"), "../flows/x.json");
        assert_eq!(rel("/p/./canaries/x.json", "/p/canaries"), "x.json");
    }

    #[test]
    fn window_sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_size("1280x800"), Ok((1280, 800)));
        assert_eq!(parse_size("800X600"), Ok((800, 600)));
        assert!(parse_size("1280").unwrap_err().contains("WIDTHxHEIGHT"));
        assert!(parse_size("0x800").is_err());
    }

    #[test]
    fn only_http_urls_are_recorded() {
        assert!(check_url("http://127.0.0.1:8080/login.html").is_ok());
        let error = check_url("example.com").unwrap_err().to_string();
        assert!(error.contains("http://"), "{error}");
        assert!(check_url("file:///etc/passwd").unwrap_err().to_string().contains("scheme is file"));
    }

    #[test]
    fn the_canary_names_its_flow_relative_to_itself() {
        let text =
            canary_text("http://a/", Path::new("/p/canaries/flows/x.json"), Path::new("/p/canaries/x.yaml"))
                .unwrap();
        assert!(text.contains("blueprint: flow\n"), "{text}");
        assert!(text.contains("  file: \"flows/x.json\"\n"), "{text}");
    }
}
