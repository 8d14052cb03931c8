//! `aviary baseline approve CANARY [--run ID]`: makes a run's screenshot the canary's visual
//! baseline — through the daemon's API when a daemon answers (so it never races a run of the
//! canary), else straight in the data folder.

use clap::Subcommand;

use super::alarms::{api_error, asked, from_daemon, from_database, load, url_segment};
use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::blueprints::visual::baseline::{self, Approval};

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Make a run's screenshot the canary's visual baseline (default: its latest run's).
    Approve {
        /// The visual canary.
        canary: String,
        /// The run (a whole id or a unique prefix; `aviary runs CANARY` lists them).
        #[arg(long, value_name = "ID")]
        run: Option<String>,
    },
}

pub async fn baseline(globals: &Globals, command: BaselineCommand) -> i32 {
    match command {
        BaselineCommand::Approve { canary, run } => approve(globals, &canary, run.as_deref()).await,
    }
}

async fn approve(globals: &Globals, canary: &str, run: Option<&str>) -> i32 {
    let (project, daemon) = match load(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let token_is_set = project.require_secrets(&["server.token"]).is_ok();
    let token = project.config.server.token.clone().filter(|_| token_is_set);
    let path = format!("/api/v1/canaries/{}/baseline", url_segment(canary));
    let body = serde_json::json!({ "run": run }).to_string();
    let approval: Approval = match asked(&daemon, "POST", &path, token.as_deref(), Some(body)).await {
        Some((at, answer)) => {
            from_daemon(&at);
            if matches!(answer.status, 401 | 403) && !token_is_set {
                return super::require_secrets(&project, &["server.token"]).err().unwrap_or(EXIT_BAD_INPUT);
            }
            if answer.status != 200 {
                eprintln!("error: the daemon refused ({}): {}", answer.status, api_error(&answer));
                return EXIT_BAD_INPUT;
            }
            match serde_json::from_str(&answer.body) {
                Ok(approval) => approval,
                Err(e) => {
                    eprintln!("error: the daemon's answer is not an approval: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
        None => {
            from_database(&project, &daemon);
            let store = match super::open_store_to_read(&project) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let root = crate::blueprints::visual::baselines_root(&project.data_dir);
            match baseline::approve(store.as_ref(), &project.artifacts_dir, &root, canary, run) {
                Ok(approval) => approval,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
    };
    let b = &approval.baseline;
    let replaced =
        approval.replaced.map_or_else(|| "no earlier baseline".to_string(), |id| format!("replaces v{id}"));
    println!(
        "{}: baseline v{} ({}×{}) from run {} ({replaced}) in {}",
        approval.canary,
        b.id,
        b.width,
        b.height,
        b.source_run.as_deref().unwrap_or("?"),
        approval.folder.display()
    );
    EXIT_OK
}
