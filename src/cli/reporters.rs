//! What `aviary run` prints at the end: a summary (list), a JSON document, or JUnit XML.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::report::{RunReport, RunStatus, StepStatus};
use crate::spec::Project;

/// The list reporter's closing lines: counts, then each run that did not pass with its reason
/// and folder.
pub fn summary(finals: &[&RunReport], project: &Project) -> String {
    let mut out = String::new();
    let count = |status: RunStatus| finals.iter().filter(|r| r.status == status).count();
    let _ = writeln!(
        out,
        "\n{} {}: {} passed, {} failed, {} error, {} timeout",
        finals.len(),
        if finals.len() == 1 { "canary" } else { "canaries" },
        count(RunStatus::Passed),
        count(RunStatus::Failed),
        count(RunStatus::Error),
        count(RunStatus::Timeout)
    );
    for report in finals.iter().filter(|r| r.status != RunStatus::Passed) {
        let reason = report.reason.as_deref().unwrap_or("");
        let _ = writeln!(out, "  {} {}: {reason}", report.status, report.canary);
        let folder = project.artifacts_dir.join(&report.artifacts);
        if folder.is_dir() {
            let _ = writeln!(out, "    {}", folder.display());
        } else {
            let _ = writeln!(out, "    (no run folder was written)");
        }
    }
    out
}

/// Every attempt of every canary, as one JSON document.
pub fn json(attempts: &[Vec<RunReport>]) -> String {
    let finals: Vec<&RunReport> = attempts.iter().filter_map(|a| a.last()).collect();
    let count = |status: RunStatus| finals.iter().filter(|r| r.status == status).count();
    let runs: Vec<&RunReport> = attempts.iter().flatten().collect();
    let document = json!({
        "summary": {
            "canaries": finals.len(),
            "passed": count(RunStatus::Passed),
            "failed": count(RunStatus::Failed),
            "error": count(RunStatus::Error),
            "timeout": count(RunStatus::Timeout),
        },
        "runs": runs,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// JUnit XML: a testsuite per canary, a testcase per step (the final attempt's). A failed or
/// errored testcase carries the run folder and its step's screenshots ([`evidence`]).
pub fn junit(finals: &[&RunReport], project: &Project) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut time) = (0usize, 0usize, 0usize, 0.0f64);
    for report in finals {
        let mut cases = String::new();
        let (mut s_failures, mut s_errors, mut s_skipped) = (0usize, 0usize, 0usize);
        let folder = project.artifacts_dir.join(&report.artifacts);
        let mut case = |name: &str,
                        seconds: f64,
                        status: Option<StepStatus>,
                        reason: &str,
                        shots: &[String]| {
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{seconds:.3}\"",
                xml(name),
                xml(&report.canary)
            );
            match status {
                Some(StepStatus::Passed) | None => cases.push_str("/>\n"),
                Some(StepStatus::Skipped) => {
                    s_skipped += 1;
                    let _ =
                        write!(cases, ">\n      <skipped message=\"{}\"/>\n    </testcase>\n", xml(reason));
                }
                Some(StepStatus::Failed) => {
                    s_failures += 1;
                    let (text, out) = evidence(reason, &folder, shots);
                    let _ = write!(
                        cases,
                        ">\n      <failure message=\"{}\" type=\"FAILED\">{}</failure>\n{out}    </testcase>\n",
                        xml(reason),
                        xml(&text)
                    );
                }
                Some(other) => {
                    s_errors += 1;
                    let (text, out) = evidence(reason, &folder, shots);
                    let _ = write!(
                        cases,
                        ">\n      <error message=\"{}\" type=\"{other}\">{}</error>\n{out}    </testcase>\n",
                        xml(reason),
                        xml(&text)
                    );
                }
            }
        };
        for step in &report.steps {
            case(
                &step.name,
                step.duration_ms / 1000.0,
                Some(step.status),
                step.reason.as_deref().unwrap_or(""),
                &step.screenshots,
            );
        }
        let steps_explain_failure =
            report.steps.iter().any(|s| !matches!(s.status, StepStatus::Passed | StepStatus::Skipped));
        if report.status != RunStatus::Passed && !steps_explain_failure {
            // The run failed outside any step (e.g. it could not start): one testcase says why.
            let status =
                if report.status == RunStatus::Failed { StepStatus::Failed } else { StepStatus::Error };
            case(
                "run",
                report.duration_ms / 1000.0,
                Some(status),
                report.reason.as_deref().unwrap_or(""),
                &[],
            );
        }
        let count =
            report.steps.len() + usize::from(report.status != RunStatus::Passed && !steps_explain_failure);
        let seconds = report.duration_ms / 1000.0;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{count}\" failures=\"{s_failures}\" errors=\"{s_errors}\" skipped=\"{s_skipped}\" time=\"{seconds:.3}\" timestamp=\"{}\" id=\"{}\">\n{cases}  </testsuite>\n",
            xml(&report.canary),
            report.start.format("%Y-%m-%dT%H:%M:%S"),
            xml(&report.run_id),
        );
        tests += count;
        failures += s_failures;
        errors += s_errors;
        time += seconds;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"aviary\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n{suites}</testsuites>\n"
    )
}

/// What a failed testcase carries besides its reason: the failure text (the reason, the run folder
/// and the step's screenshots) and a `<system-out>` element with each screenshot as
/// `[[ATTACHMENT|path]]`, which the Jenkins JUnit attachments plugin and GitLab show with the
/// test. Only what was written is named; paths are as the project resolves them (relative to
/// the working folder when the project is).
fn evidence(reason: &str, folder: &Path, shots: &[String]) -> (String, String) {
    let mut text = reason.to_string();
    if !folder.is_dir() {
        return (text, String::new());
    }
    let _ = write!(text, "\nrun folder: {}", folder.display());
    let shots: Vec<PathBuf> = shots.iter().map(|s| folder.join(s)).filter(|p| p.is_file()).collect();
    let mut out = String::new();
    for shot in &shots {
        let _ = write!(text, "\nscreenshot: {}", shot.display());
        let _ = writeln!(out, "[[ATTACHMENT|{}]]", shot.display());
    }
    if !out.is_empty() {
        out = format!("      <system-out>{}</system-out>\n", xml(&out));
    }
    (text, out)
}

/// Escapes text for an XML attribute or element; drops characters XML 1.0 cannot hold.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: RunStatus, artifacts: &str) -> RunReport {
        RunReport {
            location: None,
            canary: "home".into(),
            run_id: "r1".into(),
            attempt: 1,
            blueprint: "heartbeat".into(),
            status,
            reason: Some("could not create artifact folder".into()),
            start: chrono::Utc::now(),
            end: chrono::Utc::now(),
            duration_ms: 1.0,
            steps: Vec::new(),
            artifacts: artifacts.into(),
            requests: crate::report::RequestCounts::default(),
            details: serde_json::Map::new(),
        }
    }

    #[test]
    fn the_summary_names_only_run_folders_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::defaults(dir.path());
        std::fs::create_dir_all(project.artifacts_dir.join("home/written")).unwrap();
        let missing = report(RunStatus::Error, "home/never-written");
        let shown = summary(&[&missing], &project);
        assert!(shown.contains("1 canary: 0 passed, 0 failed, 1 error, 0 timeout"), "{shown}");
        assert!(shown.contains("(no run folder was written)") && !shown.contains("never-written"), "{shown}");
        let written = report(RunStatus::Failed, "home/written");
        let shown = summary(&[&written, &missing], &project);
        assert!(shown.contains("2 canaries:"), "{shown}");
        assert!(shown.contains(&project.artifacts_dir.join("home/written").display().to_string()), "{shown}");
    }

    #[test]
    fn a_failed_junit_testcase_carries_the_run_folder_and_its_screenshot() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::defaults(dir.path());
        let folder = project.artifacts_dir.join("home/run1");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("01-load-failed.png"), b"png").unwrap();
        let mut failed = report(RunStatus::Failed, "home/run1");
        failed.steps.push(crate::report::StepReport {
            index: 1,
            name: "load".into(),
            status: StepStatus::Failed,
            reason: Some("expected status 200-399, got 404".into()),
            start: chrono::Utc::now(),
            duration_ms: 5.0,
            screenshots: vec!["01-load-failed.png".into(), "never-written.png".into()],
            url: None,
            details: serde_json::Map::new(),
        });
        let xml = junit(&[&failed], &project);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let case = doc.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
        let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("message"), Some("expected status 200-399, got 404"));
        let shot = folder.join("01-load-failed.png").display().to_string();
        assert_eq!(
            failure.text(),
            Some(
                format!(
                    "expected status 200-399, got 404\nrun folder: {}\nscreenshot: {shot}",
                    folder.display()
                )
                .as_str()
            )
        );
        let out = case.children().find(|n| n.has_tag_name("system-out")).unwrap();
        assert_eq!(out.text(), Some(format!("[[ATTACHMENT|{shot}]]\n").as_str()), "only files that exist");

        // No run folder written: the reason alone, no attachment.
        let mut lost = failed.clone();
        lost.artifacts = "home/never-written".into();
        let xml = junit(&[&lost], &project);
        assert!(!xml.contains("run folder") && !xml.contains("ATTACHMENT"), "{xml}");
    }
}
