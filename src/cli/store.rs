//! `aviary store migrate`: copies run history from one store to another, e.g. from this
//! machine's SQLite file to the PostgreSQL database several daemons share.

use std::path::PathBuf;

use clap::Subcommand;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::store::{CopyCounts, copy_history, is_postgres_url, shown_url};

#[derive(Subcommand, Debug)]
pub(crate) enum StoreCommand {
    /// Copy runs, datapoints, alarm and failover history into another store (safe to repeat).
    Migrate {
        /// The store to read: a SQLite file or a postgres:// URL (default: the project's SQLite
        /// file, `<data_dir>/aviary.db`).
        #[arg(long, value_name = "FILE|URL")]
        from: Option<String>,
        /// The store to write: a postgres:// URL or a SQLite file (default: the project's
        /// `store`).
        #[arg(long, value_name = "URL|FILE")]
        to: Option<String>,
    },
}

pub(crate) fn store(globals: &Globals, command: StoreCommand) -> i32 {
    let StoreCommand::Migrate { from, to } = command;
    let project = match super::load_project_unresolved(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let from = from.unwrap_or_else(|| project.data_dir.join("aviary.db").display().to_string());
    let Some(to) = to.or_else(|| project.config.store.clone()) else {
        eprintln!("error: where to? give --to postgres://user@host/db, or set `store` in aviary.yaml");
        return EXIT_BAD_INPUT;
    };
    if from == to {
        eprintln!("error: --from and --to are the same store ({})", shown_url(&from));
        return EXIT_BAD_INPUT;
    }
    if !is_postgres_url(&from) && !PathBuf::from(&from).is_file() {
        eprintln!("error: --from: no SQLite database at {from}");
        return EXIT_BAD_INPUT;
    }
    let open = |place: &str| {
        let (url, file) = match is_postgres_url(place) {
            true => (Some(place), PathBuf::new()),
            false => (None, PathBuf::from(place)),
        };
        super::open_store_at(url, &file, &project)
    };
    let (source, target) = match (open(&from), open(&to)) {
        (Ok(source), Ok(target)) => (source, target),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let mut last_shown = 0;
    let mut progress = |runs: usize| {
        if !globals.quiet && runs >= last_shown + 5000 {
            eprintln!("copied {runs} runs so far");
            last_shown = runs;
        }
    };
    match copy_history(source.as_ref(), target.as_ref(), &mut progress) {
        Ok(counts) => {
            println!("{}", summary(&counts, &shown_url(&from), &shown_url(&to)));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn summary(c: &CopyCounts, from: &str, to: &str) -> String {
    let mut text = format!(
        "copied {} runs ({} datapoints), {} alarm transitions and {} failover changes from {from} to {to}",
        c.runs, c.datapoints, c.alarm_transitions, c.failover_changes
    );
    if c.alarms_skipped + c.failovers_skipped > 0 {
        text.push_str(&format!(
            "; left {} alarms and {} failovers alone: {to} already has their history",
            c.alarms_skipped, c.failovers_skipped
        ));
    }
    text
}
