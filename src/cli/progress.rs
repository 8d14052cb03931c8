//! Live output of `aviary run`: a plain line per step and per run; on a terminal, also a status
//! line with how many runs are done.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::report::StepStatus;
use crate::step::ProgressEvent;

pub struct Progress {
    /// Step lines go to stdout for the list reporter, else to stderr (stdout holds the document).
    to_stdout: bool,
    quiet: bool,
    terminal: bool,
    state: Mutex<State>,
}

struct State {
    total: usize,
    done: usize,
    running: usize,
    status_line_shown: bool,
}

impl Progress {
    pub fn new(to_stdout: bool, quiet: bool, total: usize) -> Self {
        Self {
            to_stdout,
            quiet,
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State { total, done: 0, running: 0, status_line_shown: false }),
        }
    }

    pub fn event(&self, event: ProgressEvent<'_>) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let line = match event {
            ProgressEvent::RunStarted { .. } => {
                state.running += 1;
                None
            }
            ProgressEvent::Step { canary, attempt, step } => {
                let mark = match step.status {
                    StepStatus::Passed => "✓",
                    StepStatus::Skipped => "-",
                    _ => "✗",
                };
                let retry = if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
                let why = step.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                Some(format!(
                    "  {mark} {canary} › {} {} {:.0} ms{retry}{why}",
                    step.name, step.status, step.duration_ms
                ))
            }
            ProgressEvent::RunFinished { report } => {
                state.running = state.running.saturating_sub(1);
                state.done += 1;
                let why = report.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                Some(format!(
                    "{} {} ({:.0} ms, attempt {}, run {}){why}",
                    report.status, report.canary, report.duration_ms, report.attempt, report.run_id
                ))
            }
        };
        if self.quiet {
            return;
        }
        self.clear_status_line(&mut state);
        if let Some(line) = line {
            if self.to_stdout {
                println!("{line}");
            } else {
                eprintln!("{line}");
            }
        }
        if self.terminal {
            eprint!("\r… {} running, {} runs finished, {} canaries", state.running, state.done, state.total);
            let _ = std::io::stderr().flush();
            state.status_line_shown = true;
        }
    }

    fn clear_status_line(&self, state: &mut State) {
        if state.status_line_shown {
            eprint!("\r\x1b[2K");
            state.status_line_shown = false;
        }
    }

    /// Removes the status line before the summary is printed.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.clear_status_line(&mut state);
    }
}
