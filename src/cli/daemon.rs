//! `aviary daemon`: schedules every enabled canary until SIGINT / SIGTERM, then drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::browser::BrowserPool;
use crate::step::Services;

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// How long runs in flight may take to finish after SIGTERM / SIGINT (default: the longest
    /// canary timeout plus 10s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// Log the DNS failover changes the daemon would make, and make none.
    #[arg(long)]
    pub dry_run: bool,
    /// Where this daemon checks from, with a shared store (overrides `location`; default
    /// `default`).
    #[arg(long, value_name = "NAME", env = "AVIARY_LOCATION")]
    pub location: Option<String>,
}

pub async fn daemon(globals: &Globals, args: DaemonArgs) -> i32 {
    let project = match super::load_project(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let listen: SocketAddr = match project.config.server.listen.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: server.listen `{}`: {e}", project.config.server.listen);
            return EXIT_BAD_INPUT;
        }
    };
    let location = args.location.or_else(|| project.config.location.clone());
    if let Some(location) = location.as_deref().filter(|l| !crate::spec::is_location_name(l)) {
        eprintln!("error: --location: `{location}` is not a location name (letters, digits, `.`, `_`, `-`)");
        return EXIT_BAD_INPUT;
    }
    let store = match super::open_store(&project) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let object_copies = match super::open_object_copies(&project) {
        Ok(copies) => copies,
        Err(code) => return code,
    };
    let services = Arc::new(Services {
        object_copies,
        browser: BrowserPool::new(super::run::pool_config(&project)),
        store,
        artifacts_root: project.artifacts_dir.clone(),
        progress: None,
        baselines_root: crate::blueprints::visual::baselines_root(&project.data_dir),
        update_baselines: false,
        location: location.clone(),
    });
    let options = crate::daemon::Options {
        config: globals.config.clone(),
        data_dir: globals.data_dir.clone(),
        drain_timeout: args.drain_timeout,
        dry_run: args.dry_run,
        listen,
        token: project.config.server.token.clone(),
        socket: Some(crate::server::socket::path_in(&project.data_dir)),
        location: location.unwrap_or_else(|| crate::daemon::DEFAULT_LOCATION.to_string()),
    };
    match crate::daemon::run(options, services, project.config.runner.max_concurrency).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}
