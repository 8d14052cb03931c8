//! `aviary failover status`: each failover record's desired and actual answer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use clap::Subcommand;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::dns::controller::Controller;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum FailoverCommand {
    /// Each record: desired answer (from the alarm states in the database), actual answer
    /// (queried live), why, last change. Changes nothing.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn failover(globals: &Globals, command: FailoverCommand) -> i32 {
    let FailoverCommand::Status { json } = command;
    let project = match super::load_project(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let store: Arc<dyn Store> = match super::open_store(&project) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let controller = Controller::new(store);
    controller.dry_run.store(true, Ordering::Relaxed);
    controller.set_project(&project.config);
    controller.check_once().await;
    let status = controller.status();
    if json {
        match serde_json::to_string_pretty(&status) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
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
