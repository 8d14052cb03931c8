//! Aviary: a synthetic monitoring runner.
//!
//! Canaries (scripted checks built from a blueprint) are read by [`spec`], run by [`runner`]
//! (in headless Chromium through [`browser`], or over plain HTTP through [`fetch`]), and their
//! results are kept by [`store`]: SQLite plus one artifact folder per run.

pub mod actions;
pub mod alarms;
pub mod blueprints;
pub mod browser;
pub mod cli;
pub mod daemon;
pub mod dns;
pub mod fetch;
pub mod har;
pub mod project;
pub mod report;
pub mod runner;
pub mod server;
pub mod spec;
pub mod step;
pub mod store;
pub mod visual;
