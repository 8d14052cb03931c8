//! The run's side of a script: starts the child process, answers its requests with the page
//! engine, the HTTP client and the step API, copies its output into the log (bounded), and stops
//! it at the run's deadline or when it floods, dies or breaks the protocol.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::protocol::{MAX_LINE_BYTES, Request, ScriptError, Start};
use super::requests::Session;
use crate::step::{RunContext, StepError};

/// After the run's stop request (its pipe closed), how long the child has before SIGKILL.
pub const GRACE: Duration = Duration::from_millis(1000);
/// Output the script may write (stdout and stderr together) before it is stopped as a flood.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// Lines of the script's output copied into `log.txt`; the rest are counted.
pub const MAX_LOG_LINES: usize = 1000;
/// Characters kept of one output line in `log.txt`.
const MAX_LOG_LINE_CHARS: usize = 2000;

/// What the child is started with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The first line it reads.
    pub start: Start,
    /// The folder it runs in (the canary's).
    pub dir: PathBuf,
    /// The venv whose packages it imports, if any.
    pub venv: Option<PathBuf>,
}

/// How the child ended, when it did not say `done`.
enum End {
    Done(Option<ScriptError>),
    Flood,
    Deadline,
    Gone,
    Broken(String),
}

/// The script's output as it arrives: the lines for the log, and the total size.
#[derive(Default)]
struct Output {
    lines: Vec<String>,
    partial: Vec<u8>,
    bytes: usize,
    dropped: usize,
}

impl Output {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len();
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                self.keep(line);
            } else if self.partial.len() < MAX_LOG_LINE_CHARS * 4 {
                self.partial.push(b);
            }
        }
    }

    fn keep(&mut self, line: Vec<u8>) {
        if self.lines.len() + self.dropped >= MAX_LOG_LINES {
            self.dropped += 1;
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text: String = text.chars().take(MAX_LOG_LINE_CHARS).collect();
        self.lines.push(text);
    }
}

/// Runs the script in a child process until it is done, dies, floods or runs out of time.
pub async fn run(ctx: &mut RunContext, launch: &Launch) -> Result<(), StepError> {
    let mut child =
        spawn(launch).map_err(|e| StepError::Error(format!("cannot start the script's process: {e}")))?;
    let pid = child.id().unwrap_or_default();
    ctx.log(format!("script {} started in process {pid}", launch.start.file));
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(StepError::Error("the script's process has no pipes".into()));
    };
    let output = Arc::new(Mutex::new(Output::default()));
    let (flood_tx, mut flood_rx) = mpsc::channel::<()>(1);
    let reader = tokio::spawn(read_output(stderr, Arc::clone(&output), flood_tx));
    let (line_tx, mut lines) = mpsc::channel::<Result<String, String>>(4);
    let protocol = tokio::spawn(read_protocol(stdout, line_tx));

    // Stop early enough that the child is gone before the runner's own timeout.
    let stop_at = Instant::now() + ctx.remaining().saturating_sub(GRACE + Duration::from_millis(500));
    let mut session = Session::new(ctx.canary.timeout);
    let start = serde_json::to_string(&launch.start).unwrap_or_default();
    let mut end = match write_line(&mut stdin, &start).await {
        Ok(()) => None,
        Err(_) => Some(End::Gone),
    };
    while end.is_none() {
        let next = tokio::select! {
            line = lines.recv() => line,
            Some(()) = flood_rx.recv() => { end = Some(End::Flood); break; }
            () = tokio::time::sleep_until(stop_at.into()) => { end = Some(End::Deadline); break; }
        };
        drain_output(ctx, &output);
        let line = match next {
            None => {
                end = Some(End::Gone);
                break;
            }
            Some(Err(why)) => {
                end = Some(End::Broken(why));
                break;
            }
            Some(Ok(line)) => line,
        };
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                end = Some(End::Broken(format!("unreadable request: {e}")));
                break;
            }
        };
        if let Request::Done { error } = request {
            end = Some(End::Done(error));
            break;
        }
        let reply = tokio::select! {
            reply = session.handle(ctx, request) => reply,
            () = tokio::time::sleep_until(stop_at.into()) => { end = Some(End::Deadline); break; }
        };
        let text = serde_json::to_string(&reply)
            .unwrap_or_else(|_| r#"{"err":{"kind":"error","message":"reply"}}"#.into());
        if write_line(&mut stdin, &text).await.is_err() {
            end = Some(End::Gone);
        }
    }
    // Closing the pipe asks the child to stop (its next request sees the end); then SIGKILL.
    drop(stdin);
    let status = stop(&mut child).await;
    protocol.abort();
    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
    drain_output(ctx, &output);
    let result = verdict(ctx, end.unwrap_or(End::Gone), status);
    session.finish(result)
}

fn spawn(launch: &Launch) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg("__script-child")
        .current_dir(&launch.dir)
        .env_clear()
        .envs(child_env(&launch.start.env, launch.venv.as_deref()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.spawn()
}

/// The child's whole environment: the canary's `env`, `PATH`, `HOME`, `LANG` and the venv.
fn child_env(env: &BTreeMap<String, String>, venv: Option<&std::path::Path>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for name in ["PATH", "HOME", "LANG", "TZ"] {
        if let Ok(value) = std::env::var(name) {
            vars.insert(name.to_string(), value);
        }
    }
    vars.insert("PYTHONUNBUFFERED".into(), "1".into());
    vars.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    vars.insert("PYTHONNOUSERSITE".into(), "1".into());
    if let Some(venv) = venv {
        vars.insert("VIRTUAL_ENV".into(), venv.display().to_string());
    }
    vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

async fn write_line(stdin: &mut ChildStdin, line: &str) -> std::io::Result<()> {
    stdin.write_all(line.as_bytes()).await?;
    stdin.write_all(b"\n").await?;
    stdin.flush().await
}

async fn read_protocol(stdout: impl AsyncRead + Unpin, lines: mpsc::Sender<Result<String, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line).await;
        let message = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") => Err(format!("a request longer than {MAX_LINE_BYTES} bytes")),
            Ok(_) => Ok(String::from_utf8_lossy(&line).trim_end().to_string()),
        };
        let stop = message.is_err();
        if lines.send(message).await.is_err() || stop {
            return;
        }
    }
}

async fn read_output(stderr: impl AsyncRead + Unpin, output: Arc<Mutex<Output>>, flood: mpsc::Sender<()>) {
    let mut stderr = stderr;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let total = {
            let Ok(mut out) = output.lock() else { break };
            out.push(&buf[..n]);
            out.bytes
        };
        if total > MAX_OUTPUT_BYTES {
            let _ = flood.try_send(());
            return;
        }
    }
    if let Ok(mut out) = output.lock()
        && !out.partial.is_empty()
    {
        let line = std::mem::take(&mut out.partial);
        out.keep(line);
    }
}

/// Copies the output lines received so far into the log.
fn drain_output(ctx: &mut RunContext, output: &Mutex<Output>) {
    let lines = match output.lock() {
        Ok(mut out) => std::mem::take(&mut out.lines),
        Err(_) => return,
    };
    for line in lines {
        ctx.log(format!("script output: {line}"));
    }
}

/// Ends the child: it has [`GRACE`] to exit after its pipe closed, then SIGKILL. Reaped here.
async fn stop(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Ok(status)) = tokio::time::timeout(GRACE, child.wait()).await {
        return Some(status);
    }
    let _ = child.start_kill();
    tokio::time::timeout(Duration::from_secs(5), child.wait()).await.ok().and_then(Result::ok)
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}{}", signal_name(signal)),
            _ => "ended".to_string(),
        },
        None => "did not end".to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => " (SIGSEGV, a segmentation fault)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGBUS => " (SIGBUS)",
        _ => "",
    }
}

fn verdict(ctx: &RunContext, end: End, status: Option<ExitStatus>) -> Result<(), StepError> {
    match end {
        End::Done(None) => Ok(()),
        End::Done(Some(error)) => Err(error.into()),
        End::Flood => Err(StepError::Error(format!(
            "the script wrote more than {} MiB of output; its process was stopped",
            MAX_OUTPUT_BYTES / (1024 * 1024)
        ))),
        End::Deadline => Err(StepError::Timeout(format!(
            "the script did not finish within the run's timeout of {}; its process was stopped",
            humantime::format_duration(ctx.canary.timeout)
        ))),
        End::Gone => Err(StepError::Error(format!(
            "the script's process {} before its handler returned",
            describe(status)
        ))),
        End::Broken(why) => Err(StepError::Error(format!("the script's process broke the protocol: {why}"))),
    }
}
