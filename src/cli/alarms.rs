//! `aviary alarms`, `aviary alarm history NAME`, `aviary alarm set-state NAME`.
//!
//! Through the daemon's API when a daemon answers, else straight from the database; each command
//! says which one it used (stderr). The daemon is asked on its Unix socket `<data_dir>/aviary.sock`
//! first (no token needed), then at `server.listen` (with `server.token` for set-state).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::alarms::{AlarmState, AlarmStatus, Definitions, Engine, LogNotifier, SetStateError};
use crate::spec::Project;
use crate::spec::suggest::did_you_mean;
use crate::store::{AlarmTransition, Store};

/// How long the CLI waits for the daemon before using the database.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Subcommand, Debug)]
pub enum AlarmCommand {
    /// An alarm's state changes, newest first.
    History {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set an alarm's state like `aws cloudwatch set-alarm-state`; it holds until the alarm's
    /// next evaluation.
    SetState {
        /// The alarm (or `--alarm-name NAME`, as in the AWS CLI).
        #[arg(required_unless_present = "alarm_name")]
        name: Option<String>,
        #[arg(long = "alarm-name", value_name = "NAME", conflicts_with = "name")]
        alarm_name: Option<String>,
        /// OK, ALARM or INSUFFICIENT_DATA.
        #[arg(long, visible_alias = "state-value")]
        state: String,
        #[arg(long, visible_alias = "state-reason")]
        reason: String,
    },
}

/// A daemon's answer: status code and body.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
}

/// Where a daemon may answer: its Unix socket, and `server.listen` (when usable).
pub(super) struct DaemonAt {
    socket: PathBuf,
    addr: Option<SocketAddr>,
}

/// The daemon's address from `server.listen` (an unspecified address is asked on loopback).
fn daemon_addr(project: &Project) -> Option<SocketAddr> {
    let mut addr: SocketAddr = project.config.server.listen.parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Some(addr)
}

/// One HTTP/1.1 request over `stream`; `None` when the exchange fails.
async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Option<Answer> {
    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    parse_response(&raw)
}

/// One request to the daemon: on its socket when it exists and answers (no token sent), else at
/// `server.listen` (with `token`). Returns where it answered; `None` when nothing answers in time.
pub(super) async fn asked(
    daemon: &DaemonAt,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Option<(String, Answer)> {
    if daemon.socket.exists() {
        let over_socket = async {
            let stream = tokio::net::UnixStream::connect(&daemon.socket).await.ok()?;
            exchange(stream, "localhost", method, path, None, body.clone()).await
        };
        if let Ok(Some(answer)) = tokio::time::timeout(DAEMON_TIMEOUT, over_socket).await {
            return Some((daemon.socket.display().to_string(), answer));
        }
    }
    let addr = daemon.addr?;
    let over_tcp = async {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        exchange(stream, &addr.to_string(), method, path, token, body).await
    };
    let answer = tokio::time::timeout(DAEMON_TIMEOUT, over_tcp).await.ok().flatten()?;
    Some((addr.to_string(), answer))
}

fn parse_response(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Some(Answer { status, body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

pub(super) fn api_error(answer: &Answer) -> String {
    serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| answer.body.clone())
}

/// A daemon's refusal, with a did-you-mean hint from the daemon's alarms when the alarm is unknown.
async fn refusal(daemon: &DaemonAt, answer: &Answer, name: &str) -> String {
    let error = api_error(answer);
    if answer.status != 404 {
        return error;
    }
    let names: Vec<String> = match asked(daemon, "GET", "/api/v1/alarms", None, None).await {
        Some((_, list)) if list.status == 200 => serde_json::from_str::<serde_json::Value>(&list.body)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<AlarmStatus>>(v["alarms"].clone()).ok())
            .map(|alarms| alarms.into_iter().map(|a| a.name).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    format!("{error}{}", did_you_mean(name, names.iter().map(String::as_str)))
}

pub(super) fn load(globals: &Globals) -> Result<(Project, DaemonAt), i32> {
    let project = super::load_project_unresolved(globals)?;
    let socket = crate::server::socket::path_in(&project.data_dir);
    let addr = daemon_addr(&project);
    Ok((project, DaemonAt { socket, addr }))
}

/// The engine over the database, for when no daemon answers. Only `writes` creates the database
/// when there is none yet.
fn offline_engine(project: &Project, writes: bool) -> Result<(Engine, Arc<dyn Store>), i32> {
    let store = if writes { super::open_store(project)? } else { super::open_store_to_read(project)? };
    // Alarm definitions only: nothing runs, so a canary's unset secret does not matter.
    let (canaries, problems) = crate::project::load_canaries_unresolved(project, &[]);
    if !problems.is_empty() {
        eprintln!("warning: {} canary file(s) do not validate; their alarms are left out", problems.len());
    }
    let defs = Definitions::build(&project.config, &canaries);
    Ok((Engine::new(store.clone(), Arc::new(LogNotifier), defs), store))
}

pub(super) fn from_daemon(at: &str) {
    eprintln!("(from the daemon at {at})");
}

pub(super) fn from_database(project: &Project, daemon: &DaemonAt) {
    let why = daemon
        .addr
        .map_or_else(|| "no usable server.listen".to_string(), |a| format!("no daemon answered at {a}"));
    eprintln!("(from the database in {}: {why})", project.data_dir.display());
}

/// `aviary alarms`.
pub async fn list(globals: &Globals, as_json: bool) -> i32 {
    let (project, daemon) = match load(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let alarms: Vec<AlarmStatus> = match asked(&daemon, "GET", "/api/v1/alarms", None, None).await {
        Some((a, answer)) => {
            from_daemon(&a);
            if answer.status != 200 {
                eprintln!("error: the daemon answered {}: {}", answer.status, api_error(&answer));
                return EXIT_BAD_INPUT;
            }
            match serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| serde_json::from_value(v["alarms"].clone()).ok())
            {
                Some(alarms) => alarms,
                None => {
                    eprintln!("error: the daemon's answer is not an alarm list");
                    return EXIT_BAD_INPUT;
                }
            }
        }
        _ => {
            from_database(&project, &daemon);
            let (engine, _) = match offline_engine(&project, false) {
                Ok(e) => e,
                Err(code) => return code,
            };
            match engine.statuses() {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&alarms).unwrap_or_default());
        return EXIT_OK;
    }
    if alarms.is_empty() {
        println!("no alarms defined");
        return EXIT_OK;
    }
    let width = alarms.iter().map(|a| a.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<17}  {:<20}  REASON", "NAME", "STATE", "SINCE (UTC)");
    for a in &alarms {
        let since = a.since.map_or_else(|| "-".to_string(), |s| s.format("%Y-%m-%d %H:%M:%S").to_string());
        println!("{:<width$}  {:<17}  {:<20}  {}", a.name, a.state.as_str(), since, a.reason);
    }
    EXIT_OK
}

/// `aviary alarm history NAME` and `aviary alarm set-state NAME`.
pub async fn alarm(globals: &Globals, command: AlarmCommand) -> i32 {
    match command {
        AlarmCommand::History { name, limit, json } => history(globals, &name, limit, json).await,
        AlarmCommand::SetState { name, alarm_name, state, reason } => {
            let name = name.or(alarm_name).unwrap_or_default();
            set_state(globals, &name, &state, &reason).await
        }
    }
}

pub(super) fn url_segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20")
}

async fn history(globals: &Globals, name: &str, limit: usize, as_json: bool) -> i32 {
    let (project, daemon) = match load(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let path = format!("/api/v1/alarms/{}/history?limit={limit}", url_segment(name));
    let history: Vec<AlarmTransition> = match asked(&daemon, "GET", &path, None, None).await {
        Some((a, answer)) => {
            from_daemon(&a);
            if answer.status != 200 {
                eprintln!("error: {}", refusal(&daemon, &answer, name).await);
                return EXIT_BAD_INPUT;
            }
            serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| serde_json::from_value(v["history"].clone()).ok())
                .unwrap_or_default()
        }
        _ => {
            from_database(&project, &daemon);
            let (engine, store) = match offline_engine(&project, false) {
                Ok(e) => e,
                Err(code) => return code,
            };
            let defs = engine.definitions();
            if !defs.contains(name) {
                eprintln!("error: no alarm named `{name}`{}", did_you_mean(name, defs.names()));
                return EXIT_BAD_INPUT;
            }
            match store.alarm_history(name, limit) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&history).unwrap_or_default());
        return EXIT_OK;
    }
    if history.is_empty() {
        println!("alarm `{name}` has not changed state yet");
        return EXIT_OK;
    }
    println!("{:<20}  {:<17}  {:<17}  REASON", "TIME (UTC)", "FROM", "TO");
    for t in &history {
        println!(
            "{:<20}  {:<17}  {:<17}  {}",
            t.time.format("%Y-%m-%d %H:%M:%S"),
            t.old_state,
            t.new_state,
            t.reason
        );
    }
    EXIT_OK
}

async fn set_state(globals: &Globals, name: &str, state: &str, reason: &str) -> i32 {
    let state: AlarmState = match state.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let (project, daemon) = match load(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // The token goes to the daemon over TCP (the socket needs none): an unset one is never sent
    // as written, and a refusal then says it is unset.
    let token_is_set = project.require_secrets(&["server.token"]).is_ok();
    let body = serde_json::json!({ "state": state, "reason": reason }).to_string();
    let path = format!("/api/v1/alarms/{}/state", url_segment(name));
    let token = project.config.server.token.clone().filter(|_| token_is_set);
    let transitions: Vec<AlarmTransition> = match asked(&daemon, "POST", &path, token.as_deref(), Some(body))
        .await
    {
        Some((a, answer)) => {
            from_daemon(&a);
            if matches!(answer.status, 401 | 403) && !token_is_set {
                return super::require_secrets(&project, &["server.token"]).err().unwrap_or(EXIT_BAD_INPUT);
            }
            if answer.status != 200 {
                let why = refusal(&daemon, &answer, name).await;
                eprintln!("error: the daemon refused ({}): {why}", answer.status);
                return EXIT_BAD_INPUT;
            }
            serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| serde_json::from_value(v["transitions"].clone()).ok())
                .unwrap_or_default()
        }
        _ => {
            from_database(&project, &daemon);
            eprintln!("note: without a daemon, no channel is notified");
            let (engine, _) = match offline_engine(&project, true) {
                Ok(e) => e,
                Err(code) => return code,
            };
            match engine.set_state(name, state, reason, chrono::Utc::now()) {
                Ok(t) => t,
                Err(e @ SetStateError::UnknownAlarm(_)) => {
                    eprintln!("error: {e}{}", did_you_mean(name, engine.definitions().names()));
                    return EXIT_BAD_INPUT;
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
    };
    if transitions.is_empty() {
        println!("{name} is already {state}");
    }
    for t in &transitions {
        println!("{}: {} -> {}", t.alarm, t.old_state, t.new_state);
    }
    EXIT_OK
}
