//! The checks of composite alarms' rules: syntax (with the column), a rule naming its own alarm,
//! cycles between composites and, once every alarm of the project is known, unknown names.

use std::collections::{BTreeMap, HashSet};

use super::composite::{Rule, order};
use crate::spec::model::ProjectFile;
use crate::spec::path::RuleProblem;
use crate::spec::suggest::did_you_mean;
use crate::spec::{KeyPath, Project};

fn rule_path(index: usize) -> KeyPath {
    KeyPath::root().key("composite_alarms").index(index).key("rule")
}

/// What the project file alone tells: syntax, self-references and cycles.
pub fn check_rules(config: &ProjectFile) -> Vec<RuleProblem> {
    let mut out = Vec::new();
    let mut graph = BTreeMap::new();
    for (i, composite) in config.composite_alarms.iter().enumerate() {
        let Some(rule) = parse(&composite.rule, i, &mut out) else { continue };
        let refs = rule.references();
        if let Some((name, column)) = refs.iter().find(|(name, _)| *name == composite.name) {
            out.push(RuleProblem {
                path: rule_path(i),
                column: Some(*column),
                message: format!("the rule of composite alarm `{name}` names the alarm itself (a cycle)"),
            });
            continue;
        }
        graph.insert(composite.name.clone(), refs.iter().map(|r| r.0.to_string()).collect::<Vec<_>>());
    }
    if let Err(cycle) = order(&graph)
        && let Some(i) = config.composite_alarms.iter().position(|c| c.name == cycle[0])
    {
        let column = Rule::parse(&config.composite_alarms[i].rule)
            .ok()
            .and_then(|r| r.references().iter().find(|(n, _)| *n == cycle[1]).map(|r| r.1));
        out.push(RuleProblem {
            path: rule_path(i),
            column,
            message: format!("composite alarms form a cycle: {}", cycle.join(" -> ")),
        });
    }
    out
}

/// Names in rules that are neither a metric alarm of the project (`alarms`: of the project file
/// and every canary) nor a composite.
pub fn unknown_names(project: &Project, alarms: &HashSet<String>) -> Vec<RuleProblem> {
    let composites = &project.config.composite_alarms;
    let composite_names: HashSet<&str> = composites.iter().map(|c| c.name.as_str()).collect();
    let known = || alarms.iter().map(String::as_str).chain(composite_names.iter().copied());
    let mut out = Vec::new();
    for (i, composite) in composites.iter().enumerate() {
        let Ok(rule) = Rule::parse(&composite.rule) else { continue };
        for (name, column) in rule.references() {
            if !alarms.contains(name) && !composite_names.contains(name) {
                out.push(RuleProblem {
                    path: rule_path(i),
                    column: Some(column),
                    message: format!("unknown alarm `{name}` in the rule{}", did_you_mean(name, known())),
                });
            }
        }
    }
    out
}

fn parse(rule: &str, index: usize, out: &mut Vec<RuleProblem>) -> Option<Rule> {
    if rule.trim().is_empty() {
        return None;
    }
    match Rule::parse(rule) {
        Ok(rule) => Some(rule),
        Err(e) => {
            out.push(RuleProblem {
                path: rule_path(index),
                column: Some(e.column),
                message: format!("invalid rule: {}", e.message),
            });
            None
        }
    }
}
