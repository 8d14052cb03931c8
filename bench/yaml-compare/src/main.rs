//! Loads a canary file with serde-saphyr, as `aviary validate` loads it with the project's own
//! loader: into a typed canary (what a serde-based loader reports: the first problem, with its
//! position) and into an untyped value (the parse alone). Prints one line: the outcome of each.
//!
//! usage: yaml-compare [--untyped-too] FILE   (the timing runs load the typed canary only)

use std::collections::BTreeMap;

use serde::Deserialize;

/// The part of a canary file the benchmark's files use, typed as a serde loader would.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Canary {
    blueprint: String,
    schedule: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    heartbeat: Option<Heartbeat>,
    #[serde(default)]
    api: Option<serde_json::Value>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Heartbeat {
    urls: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let untyped_too = args.iter().any(|a| a == "--untyped-too");
    let path = args.iter().find(|a| !a.starts_with("--")).expect("usage: yaml-compare [--untyped-too] FILE");
    let text = std::fs::read_to_string(path).expect("readable file");
    let typed = match serde_saphyr::from_str::<Canary>(&text) {
        Ok(_) => "typed: ok".to_string(),
        Err(e) => format!("typed: error: {}", e.to_string().lines().next().unwrap_or_default()),
    };
    if !untyped_too {
        println!("{typed}");
        return;
    }
    let untyped = match serde_saphyr::from_str::<serde_json::Value>(&text) {
        Ok(_) => "untyped: ok".to_string(),
        Err(e) => format!("untyped: error: {}", e.to_string().lines().next().unwrap_or_default()),
    };
    println!("{typed} | {untyped}");
}
