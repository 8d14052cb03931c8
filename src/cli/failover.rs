//! `aviary failover status`: each failover record's desired and actual answer.

use std::sync::atomic::Ordering;

use clap::Subcommand;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::dns::controller::Controller;

#[derive(Subcommand, Debug)]
pub enum FailoverCommand {
    /// Each record: desired answer (from the alarm states in the database), actual answer
    /// (queried live), why, last change. Changes nothing.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The changes Aviary made to a failover record, newest first.
    History {
        /// The failover entry's `name`.
        name: String,
        /// At most this many changes.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn failover(globals: &Globals, command: FailoverCommand) -> i32 {
    match command {
        FailoverCommand::Status { json } => status(globals, json).await,
        FailoverCommand::History { name, limit, json } => history(globals, &name, limit, json),
    }
}

fn history(globals: &Globals, name: &str, limit: usize, json: bool) -> i32 {
    let project = match super::load_project_unresolved(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !project.config.failover.iter().any(|f| f.name == name) {
        let known: Vec<&str> = project.config.failover.iter().map(|f| f.name.as_str()).collect();
        eprintln!("error: no failover record named `{name}` (defined: {})", list_or_none(&known));
        return EXIT_BAD_INPUT;
    }
    let store = match super::open_store_to_read(&project) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let changes = match store.failover_history(name, limit) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&changes).unwrap_or_default());
        return EXIT_OK;
    }
    if changes.is_empty() {
        println!("no changes of `{name}` yet");
    }
    for c in &changes {
        println!(
            "{}  {}  {} -> {} ({})  why: {}",
            c.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            c.record,
            list_or_none(&c.from),
            list_or_none(&c.to),
            c.answer,
            c.why
        );
    }
    EXIT_OK
}

fn list_or_none<S: AsRef<str>>(values: &[S]) -> String {
    if values.is_empty() {
        "(none)".to_string()
    } else {
        values.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",")
    }
}

async fn status(globals: &Globals, json: bool) -> i32 {
    let project = match super::load_project_unresolved(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // The providers are asked for the records' answers: they need their credentials.
    if let Err(code) = super::require_secrets(&project, &["dns_providers"]) {
        return code;
    }
    let store = match super::open_store(&project) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let controller = Controller::new(store);
    controller.dry_run.store(true, Ordering::Relaxed);
    controller.set_project(&project.config);
    controller.check_once().await;
    let status = controller.status();
    if json {
        println!("{}", serde_json::to_string_pretty(&status).unwrap_or_default());
        return EXIT_OK;
    }
    if status.is_empty() {
        println!("no failover records");
    }
    for s in &status {
        let actual = s.actual.as_ref().map_or_else(|| "?".to_string(), |a| a.join(","));
        let change = s.last_change.map_or_else(|| "-".to_string(), |t| t.to_rfc3339());
        println!(
            "{}  {}  desired={} ({})  actual={}  last_change={}  why: {}",
            s.name,
            s.record,
            s.desired.join(","),
            s.desired_answer.unwrap_or("?"),
            actual,
            change,
            s.why
        );
        if let Some(e) = &s.last_error {
            println!("    error: {e}");
        }
    }
    EXIT_OK
}
