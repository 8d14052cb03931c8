//! `exec`: runs `command` (a program and its arguments, no shell) with the JSON payload
//! ([`Notification::payload`]) on stdin and the notification in environment variables:
//! `AVIARY_ALARM`, `AVIARY_OLD_STATE`, `AVIARY_NEW_STATE`, `AVIARY_REASON`, `AVIARY_TIME`,
//! `AVIARY_CANARY`, `AVIARY_DESCRIPTION`, `AVIARY_DASHBOARD_URL` (empty when unknown); with a
//! `template`, the rendered text is `AVIARY_MESSAGE` and the payload's `message`. Exit code 0
//! means delivered; another exit code fails the attempt with the tail of stderr. A program still
//! running at the channel's timeout is killed, with the processes it started (its process group). The working directory is the project folder; a
//! relative program path containing `/` (`./notify.sh`) is resolved against it, a bare name
//! (`notify-send`) is looked up in `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, tail};
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;
use crate::spec::{KeyPath, Problem};

/// The settings of a `type: exec` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
    /// `AVIARY_MESSAGE` and the payload's `message`.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s); the program is killed then.
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        if self.command.first().is_none_or(|program| program.trim().is_empty()) {
            return vec![Problem::new(
                KeyPath::root().key("command"),
                "`command` must name a program, e.g. [\"./notify.sh\"]",
            )];
        }
        Vec::new()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        let Some((program, args)) = self.command.split_first().filter(|(p, _)| !p.trim().is_empty()) else {
            return Err(ChannelError::Unusable { key: "command", expected: "a program and its arguments" });
        };
        let path = Path::new(program);
        let program =
            if path.is_relative() && program.contains('/') { base_dir.join(path) } else { path.into() };
        Ok(Arc::new(Exec {
            program,
            args: args.to_vec(),
            dir: base_dir.to_path_buf(),
            template: self.template,
        }))
    }
}

/// The `exec` channel.
pub struct Exec {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    template: Option<MessageTemplate>,
}

impl Channel for Exec {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(self.run(n))
    }
}

impl Exec {
    async fn run(&self, n: &Notification) -> Result<(), ChannelError> {
        let program = || self.program.display().to_string();
        let message = render(self.template.as_ref(), n);
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env("AVIARY_ALARM", &n.alarm)
            .env("AVIARY_OLD_STATE", &n.old_state)
            .env("AVIARY_NEW_STATE", &n.new_state)
            .env("AVIARY_REASON", &n.reason)
            .env("AVIARY_TIME", n.time_rfc3339())
            .env("AVIARY_CANARY", n.canary.as_deref().unwrap_or(""))
            .env("AVIARY_DESCRIPTION", n.description.as_deref().unwrap_or(""))
            .env("AVIARY_DASHBOARD_URL", n.dashboard_url.as_deref().unwrap_or(""))
            .env("AVIARY_MESSAGE", message.as_deref().unwrap_or(""))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout stops what it started too.
            .process_group(0)
            .kill_on_drop(true);
        if self.dir.is_dir() {
            command.current_dir(&self.dir);
        }
        let mut child =
            command.spawn().map_err(|e| ChannelError::Start { program: program(), reason: e.to_string() })?;
        // The dispatcher drops this future at the timeout: the guard kills the group then.
        let mut group = GroupGuard(child.id());
        if let Some(mut stdin) = child.stdin.take() {
            let payload = n.payload_with(message.as_deref()).to_string();
            // A program that does not read its stdin may close it early: not an error.
            let _ = stdin.write_all(payload.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        // Read stderr aside: a background process the program left may keep it open.
        let stderr = child.stderr.take().map(|mut pipe| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = (&mut pipe).take(1 << 20).read_to_end(&mut buf).await;
                buf
            })
        });
        let status = child
            .wait()
            .await
            .map_err(|e| ChannelError::Wait { program: program(), reason: e.to_string() })?;
        group.0 = None; // exited: what it left running is its own business
        if status.success() {
            return Ok(());
        }
        let stderr = match stderr {
            Some(task) => match tokio::time::timeout(Duration::from_millis(500), task).await {
                Ok(Ok(bytes)) => tail(&String::from_utf8_lossy(&bytes), 500),
                _ => String::new(),
            },
            None => String::new(),
        };
        Err(ChannelError::Exit { program: program(), code: status.code(), stderr })
    }
}

/// Kills the program's process group (`kill -KILL -PGID`) unless it has exited.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
