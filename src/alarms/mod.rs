//! The alarm engine: metric alarms ([`metric`]), composite alarms ([`composite`]) and their
//! states ([`state`]), persisted through the [`Store`] (current state + every transition).
//!
//! The daemon calls [`Engine::evaluate_canary`] after each saved run and [`Engine::tick`] every
//! [`TICK`]: a metric alarm is evaluated when a period of its own has completed since its last
//! evaluation (the periodic evaluation) or its canary saved a run, and a state set with
//! [`Engine::set_state`] holds until the next periodic evaluation, as in CloudWatch. Composite alarms are evaluated when they have no state
//! yet, when a reload changes their rule, and after every change of their children; nothing
//! else (a reload, a restart) evaluates an alarm early, so stored states — set-state included —
//! survive both. Transitions are recorded and handed to a [`Notifier`] (the channels).
//! See `docs/alarms.md`.

pub mod check;
pub mod composite;
pub mod metric;
pub mod quorum;
pub mod state;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use state::AlarmState;

use crate::spec::Canary;
use crate::spec::model::{AlarmActions, ProjectFile};
use crate::store::{AlarmTransition, MetricQuery, Store, StoreError};

/// The longest the daemon waits between evaluations without new runs (it also wakes when a
/// period of an alarm completes, plus [`SETTLE`]).
pub const TICK: Duration = Duration::from_secs(10);

/// Waited after a period boundary before evaluating, for runs that end right at it.
pub const SETTLE: Duration = Duration::from_millis(200);

/// The reason of an alarm that was never evaluated.
pub const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// What a transition sends to the alarm's channels (the notifier adds the dashboard link).
pub use crate::actions::Notification;

/// Delivers notifications to named channels; must not block.
pub trait Notifier: Send + Sync {
    /// Sends `notification` to each of `channels`.
    fn notify(&self, channels: &[String], notification: Notification);
}

/// A [`Notifier`] that only logs (no channels configured, or the CLI).
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, channels: &[String], n: Notification) {
        tracing::info!(alarm = %n.alarm, to = %n.new_state, channels = ?channels, "alarm notification");
    }
}

/// A metric alarm, ready to evaluate.
#[derive(Debug, Clone)]
pub struct MetricAlarm {
    /// The alarm's name.
    pub name: String,
    /// The canary whose metric the alarm watches.
    pub canary: String,
    /// The metric's name (`SuccessPercent`, `Duration`, ...).
    pub metric: String,
    /// The `step` dimension; `None` for the run-level metric.
    pub step: Option<String>,
    /// Statistic, period, threshold and the rest of the evaluation rule.
    pub rule: metric::Rule,
    /// Channels to notify on each state.
    pub actions: AlarmActions,
    /// Whether transitions notify the channels; when off they are only recorded.
    pub actions_enabled: bool,
    /// The alarm's description, from its spec.
    pub description: Option<String>,
    /// A quorum alarm: at least this many locations must breach (`locations.min_failing`).
    pub min_failing: Option<usize>,
}

/// A composite alarm, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompositeAlarm {
    /// The alarm's name.
    pub name: String,
    /// The rule as written.
    pub text: String,
    /// The parsed rule.
    pub rule: composite::Rule,
    /// Channels to notify on each state.
    pub actions: AlarmActions,
    /// Whether transitions notify the channels; when off they are only recorded.
    pub actions_enabled: bool,
    /// The alarm's description, from its spec.
    pub description: Option<String>,
}

/// Every alarm of a project. Composites are ordered children first.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// The metric alarms.
    pub metric: Vec<MetricAlarm>,
    /// The composite alarms, children before their parents.
    pub composite: Vec<CompositeAlarm>,
}

impl Definitions {
    /// The alarms of the project file and of the canaries (validated files; anything that does
    /// not parse, and composites on a cycle, are left out with a warning).
    pub fn build(project: &ProjectFile, canaries: &[Canary]) -> Definitions {
        let mut metric = Vec::new();
        let specs = canaries
            .iter()
            .flat_map(|c| c.spec.alarms.iter().map(move |a| (Some(c.name.as_str()), a)))
            .chain(project.alarms.iter().map(|a| (None, a)));
        for (on, spec) in specs {
            let Some(canary) = spec.canary.as_deref().or(on) else {
                tracing::warn!(alarm = %spec.name, "alarm has no canary; skipped");
                continue;
            };
            let Some(rule) = metric::Rule::from_spec(spec) else {
                tracing::warn!(alarm = %spec.name, "alarm does not parse; skipped");
                continue;
            };
            metric.push(MetricAlarm {
                name: spec.name.clone(),
                canary: canary.to_string(),
                metric: spec.metric.clone(),
                step: spec.step.clone(),
                rule,
                actions: spec.actions.clone(),
                actions_enabled: spec.actions_enabled,
                description: spec.description.clone(),
                min_failing: spec.locations.map(|q| q.min_failing as usize),
            });
        }
        let mut parsed = BTreeMap::new();
        for spec in &project.composite_alarms {
            match composite::Rule::parse(&spec.rule) {
                Ok(rule) => {
                    parsed.insert(spec.name.clone(), (spec, rule));
                }
                Err(e) => tracing::warn!(alarm = %spec.name, "composite rule does not parse ({e}); skipped"),
            }
        }
        let graph: BTreeMap<String, Vec<String>> = parsed
            .iter()
            .map(|(name, (_, rule))| {
                (name.clone(), rule.references().iter().map(|r| r.0.to_string()).collect())
            })
            .collect();
        let order = composite::order(&graph).unwrap_or_else(|cycle| {
            tracing::warn!(cycle = %cycle.join(" -> "), "composite alarms form a cycle; skipped");
            Vec::new()
        });
        let composite = order
            .into_iter()
            .filter_map(|name| parsed.remove(&name))
            .map(|(spec, rule)| CompositeAlarm {
                name: spec.name.clone(),
                text: spec.rule.clone(),
                rule,
                actions: spec.actions.clone(),
                actions_enabled: spec.actions_enabled,
                description: spec.description.clone(),
            })
            .collect();
        Definitions { metric, composite }
    }

    /// Whether an alarm of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.metric.iter().any(|a| a.name == name) || self.composite.iter().any(|a| a.name == name)
    }

    /// The names of every alarm, metric ones first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.metric.iter().map(|a| a.name.as_str()).chain(self.composite.iter().map(|a| a.name.as_str()))
    }
}

/// An alarm as `aviary alarms` and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AlarmStatus {
    /// The alarm's name.
    pub name: String,
    /// `metric` or `composite`.
    pub kind: String,
    /// The alarm's current state.
    pub state: AlarmState,
    /// Why the alarm is in its state.
    pub reason: String,
    /// When the alarm entered its state (`None`: never evaluated).
    pub since: Option<DateTime<Utc>>,
    /// The canary of a metric alarm; `None` for a composite.
    pub canary: Option<String>,
    /// The alarm's description, from its spec.
    pub description: Option<String>,
    /// The rule: a metric alarm's in words (`SuccessPercent: Average over 300 s less than 90, ...`),
    /// a composite's as written.
    #[serde(default)]
    pub rule: String,
    /// The alarms a composite's rule names, in order of first mention; empty for a metric alarm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
}

/// Why `set-state` was refused.
#[derive(Debug, thiserror::Error)]
pub enum SetStateError {
    /// No alarm has this name.
    #[error("no alarm named `{0}`")]
    UnknownAlarm(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Evaluates alarms and keeps their states.
pub struct Engine {
    store: Arc<dyn Store>,
    notifier: Arc<dyn Notifier>,
    inner: Mutex<Inner>,
}

struct Inner {
    defs: Arc<Definitions>,
    /// Per metric alarm, the end of the range it was last evaluated on (or of set-state's time).
    /// An alarm missing here (a new engine: a restart) counts as evaluated on the range that
    /// ended before its stored state was entered, so only a period completed since then makes it
    /// due; without a stored state it is due at once.
    evaluated: HashMap<String, DateTime<Utc>>,
    /// Composites whose rule a reload added or changed: evaluated at the next pass.
    pending: HashSet<String>,
    /// Metric alarms set by set-state and not periodically evaluated since: runs of their canary
    /// do not evaluate them.
    held: HashSet<String>,
    /// Created without definitions and none set since (the daemon's start): the first
    /// [`Engine::set_definitions`] is a start, not a reload, and marks no composite pending.
    empty: bool,
}

impl Engine {
    /// An engine with these definitions that stores states in `store` and sends notifications
    /// through `notifier`.
    pub fn new(store: Arc<dyn Store>, notifier: Arc<dyn Notifier>, defs: Definitions) -> Engine {
        Engine {
            store,
            notifier,
            inner: Mutex::new(Inner {
                empty: defs.metric.is_empty() && defs.composite.is_empty(),
                defs: Arc::new(defs),
                evaluated: HashMap::new(),
                pending: HashSet::new(),
                held: HashSet::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the alarm definitions (start or reload). Every alarm keeps its stored state: a
    /// metric alarm (even one whose settings changed) is evaluated when its next period completes,
    /// as usual; a composite when one of its children changes state, or at the next pass if this
    /// reload added it or changed its rule (or it has no state yet).
    pub fn set_definitions(&self, defs: Definitions) {
        let mut inner = self.lock();
        if !inner.empty {
            let old = inner.defs.clone();
            for alarm in &defs.composite {
                if !old.composite.iter().any(|o| o.name == alarm.name && o.text == alarm.text) {
                    inner.pending.insert(alarm.name.clone());
                }
            }
        }
        inner.evaluated.retain(|name, _| defs.metric.iter().any(|a| &a.name == name));
        inner.pending.retain(|name| defs.composite.iter().any(|a| &a.name == name));
        inner.held.retain(|name| defs.metric.iter().any(|a| &a.name == name));
        inner.empty = false;
        inner.defs = Arc::new(defs);
    }

    /// The current alarm definitions.
    pub fn definitions(&self) -> Arc<Definitions> {
        self.lock().defs.clone()
    }

    /// When the next period of any metric alarm completes after `now` (`None`: no metric alarm).
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.definitions()
            .metric
            .iter()
            .map(|a| a.rule.range_end(now) + chrono::Duration::seconds(a.rule.period_secs))
            .min()
    }

    /// The periodic evaluation: every metric alarm with a newly completed period, then the
    /// composites.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<Vec<AlarmTransition>, StoreError> {
        self.run(now, true, |_, end, last, _| last.is_none_or(|l| l < end))
    }

    /// Evaluates the metric alarms of `canary` (new datapoints), then the composites. An alarm
    /// held by set-state is left to its next periodic evaluation.
    pub fn evaluate_canary(
        &self,
        canary: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlarmTransition>, StoreError> {
        self.run(now, false, |alarm, _, _, held| alarm.canary == canary && !held)
    }

    /// Evaluates every metric alarm now, whatever was evaluated before, then the composites (as
    /// always: those with a changed child, a new rule or no state).
    pub fn evaluate_all(&self, now: DateTime<Utc>) -> Result<Vec<AlarmTransition>, StoreError> {
        self.run(now, true, |_, _, _, _| true)
    }

    /// Evaluates the metric alarms for which `due(alarm, range end, last evaluated range end,
    /// held by set-state)`, then the composites. `periodic`: an evaluation that ends a hold.
    fn run(
        &self,
        now: DateTime<Utc>,
        periodic: bool,
        due: impl Fn(&MetricAlarm, DateTime<Utc>, Option<DateTime<Utc>>, bool) -> bool,
    ) -> Result<Vec<AlarmTransition>, StoreError> {
        let mut inner = self.lock();
        let defs = inner.defs.clone();
        let records = self.records()?;
        let mut states: HashMap<String, AlarmState> =
            records.iter().map(|(name, (state, _))| (name.clone(), *state)).collect();
        let mut transitions = Vec::new();
        for alarm in &defs.metric {
            let end = alarm.rule.range_end(now);
            let stored = records.get(&alarm.name).map(|(_, since)| alarm.rule.range_end(*since));
            let last = inner.evaluated.get(&alarm.name).copied().or(stored);
            // Not evaluated by this engine yet (a restart) and its state entered in this period:
            // it may come from a set-state, so it is held like one.
            let held = inner.held.contains(&alarm.name)
                || (!inner.evaluated.contains_key(&alarm.name) && stored.is_some_and(|l| l >= end));
            if !due(alarm, end, last, held) {
                continue;
            }
            if periodic {
                inner.held.remove(&alarm.name);
            }
            let points = self.store.datapoints(&MetricQuery {
                canary: alarm.canary.clone(),
                metric: alarm.metric.clone(),
                step: alarm.step.clone(),
                since: alarm.rule.range_start(end),
                until: end,
            })?;
            let current = states.get(&alarm.name).copied().unwrap_or_default();
            let outcome = match alarm.min_failing {
                Some(min_failing) => quorum::evaluate(&alarm.rule, min_failing, &points, end, current),
                None => {
                    let samples: Vec<(DateTime<Utc>, f64)> =
                        points.iter().map(|d| (d.timestamp, d.value)).collect();
                    alarm.rule.evaluate(&alarm.rule.slots(&samples, end), current)
                }
            };
            inner.evaluated.insert(alarm.name.clone(), end);
            if let Some(new) = outcome.state
                && new != current
            {
                let t = self.transition(&alarm.name, current, new, outcome.reason, now)?;
                states.insert(alarm.name.clone(), new);
                self.act(&alarm.actions, alarm.actions_enabled, &t, Some(&alarm.canary), &alarm.description);
                transitions.push(t);
            }
        }
        let pending = std::mem::take(&mut inner.pending);
        // The lock is held to the end: two passes never record the same transition twice.
        let mut changed: HashSet<String> = transitions.iter().map(|t| t.alarm.clone()).collect();
        transitions.extend(self.composites(&defs, &mut states, &mut changed, &pending, None, now)?);
        drop(inner);
        Ok(transitions)
    }

    /// Evaluates the composites (children first) against `states`: those with a child in
    /// `changed`, those in `pending` (rule added or changed by a reload) and those without a
    /// state yet. CloudWatch evaluates a composite when a child changes, so a composite's
    /// set-state holds until then, across reloads and restarts. `skip` is a composite just set by
    /// set-state. Only a change of state is recorded and acted on.
    fn composites(
        &self,
        defs: &Definitions,
        states: &mut HashMap<String, AlarmState>,
        changed: &mut HashSet<String>,
        pending: &HashSet<String>,
        skip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlarmTransition>, StoreError> {
        let mut transitions = Vec::new();
        for alarm in &defs.composite {
            let due = pending.contains(&alarm.name)
                || !states.contains_key(&alarm.name)
                || alarm.rule.references().iter().any(|(child, _)| changed.contains(*child));
            if skip == Some(alarm.name.as_str()) || !due {
                continue;
            }
            let lookup = |name: &str| states.get(name).copied().unwrap_or_default();
            let value = alarm.rule.eval(&lookup);
            let new = if value { AlarmState::Alarm } else { AlarmState::Ok };
            let current = lookup(&alarm.name);
            if new == current {
                continue;
            }
            let children: Vec<String> = alarm
                .rule
                .references()
                .iter()
                .map(|(name, _)| format!("{name} is {}", lookup(name)))
                .collect();
            let reason = format!(
                "Rule `{}` evaluated to {}{}",
                alarm.text,
                if value { "TRUE" } else { "FALSE" },
                if children.is_empty() { String::new() } else { format!(": {}", children.join(", ")) }
            );
            let t = self.transition(&alarm.name, current, new, reason, now)?;
            states.insert(alarm.name.clone(), new);
            changed.insert(alarm.name.clone());
            self.act(&alarm.actions, alarm.actions_enabled, &t, None, &alarm.description);
            transitions.push(t);
        }
        Ok(transitions)
    }

    /// Every stored state, with when it was entered.
    fn records(&self) -> Result<HashMap<String, (AlarmState, DateTime<Utc>)>, StoreError> {
        Ok(self
            .store
            .alarm_states()?
            .into_iter()
            .map(|r| (r.alarm, (r.state.parse().unwrap_or_default(), r.since)))
            .collect())
    }

    fn transition(
        &self,
        alarm: &str,
        old: AlarmState,
        new: AlarmState,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<AlarmTransition, StoreError> {
        let t = AlarmTransition {
            alarm: alarm.to_string(),
            time: now,
            old_state: old.to_string(),
            new_state: new.to_string(),
            reason,
        };
        self.store.record_alarm_transition(&t)?;
        tracing::info!(alarm, from = %old, to = %new, reason = %t.reason, "alarm state changed");
        Ok(t)
    }

    fn act(
        &self,
        actions: &AlarmActions,
        enabled: bool,
        t: &AlarmTransition,
        canary: Option<&str>,
        description: &Option<String>,
    ) {
        let channels = match t.new_state.as_str() {
            "ALARM" => &actions.alarm,
            "OK" => &actions.ok,
            _ => &actions.insufficient_data,
        };
        if !enabled || channels.is_empty() {
            return;
        }
        self.notifier.notify(
            channels,
            Notification {
                alarm: t.alarm.clone(),
                old_state: t.old_state.clone(),
                new_state: t.new_state.clone(),
                reason: t.reason.clone(),
                time: t.time,
                canary: canary.map(str::to_string),
                description: description.clone(),
                dashboard_url: None,
            },
        );
    }

    /// Sets an alarm's state like `aws cloudwatch set-alarm-state`: recorded (and acted on) when
    /// it differs from the current state, held until the alarm's next evaluation (for a metric
    /// alarm, when its next period completes; for a composite, when a child changes state);
    /// composites react at once. Returns every transition it caused.
    pub fn set_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlarmTransition>, SetStateError> {
        let mut inner = self.lock();
        let defs = inner.defs.clone();
        if !defs.contains(name) {
            return Err(SetStateError::UnknownAlarm(name.to_string()));
        }
        if let Some(alarm) = defs.metric.iter().find(|a| a.name == name) {
            // Held until the tick's evaluation when its next period completes, whatever the last
            // evaluation was; runs in between do not evaluate it.
            let end = alarm.rule.range_end(now);
            let last = inner.evaluated.entry(name.to_string()).or_insert(end);
            *last = (*last).max(end);
            inner.held.insert(name.to_string());
        }
        let mut states: HashMap<String, AlarmState> =
            self.records()?.into_iter().map(|(name, (state, _))| (name, state)).collect();
        let current = states.get(name).copied().unwrap_or_default();
        let mut transitions = Vec::new();
        if current != state {
            let t = self.transition(name, current, state, reason.to_string(), now)?;
            states.insert(name.to_string(), state);
            if let Some(a) = defs.metric.iter().find(|a| a.name == name) {
                self.act(&a.actions, a.actions_enabled, &t, Some(&a.canary), &a.description);
            } else if let Some(a) = defs.composite.iter().find(|a| a.name == name) {
                self.act(&a.actions, a.actions_enabled, &t, None, &a.description);
            }
            transitions.push(t);
        }
        let mut changed: HashSet<String> = transitions.iter().map(|t| t.alarm.clone()).collect();
        let pending = HashSet::new();
        transitions.extend(self.composites(&defs, &mut states, &mut changed, &pending, Some(name), now)?);
        drop(inner);
        Ok(transitions)
    }

    /// Every defined alarm with its state.
    pub fn statuses(&self) -> Result<Vec<AlarmStatus>, StoreError> {
        statuses(&self.definitions(), &*self.store)
    }
}

/// Every alarm of `defs` with its stored state (INSUFFICIENT_DATA when never evaluated).
pub fn statuses(defs: &Definitions, store: &dyn Store) -> Result<Vec<AlarmStatus>, StoreError> {
    let records: HashMap<String, crate::store::AlarmRecord> =
        store.alarm_states()?.into_iter().map(|r| (r.alarm.clone(), r)).collect();
    let status = |name: &str, kind: &str, canary: Option<String>, description: &Option<String>| {
        let record = records.get(name);
        AlarmStatus {
            name: name.to_string(),
            kind: kind.to_string(),
            state: record.and_then(|r| r.state.parse().ok()).unwrap_or_default(),
            reason: record.map_or_else(|| INITIAL_REASON.to_string(), |r| r.reason.clone()),
            since: record.map(|r| r.since),
            canary,
            description: description.clone(),
            rule: String::new(),
            children: Vec::new(),
        }
    };
    let metric = defs.metric.iter().map(|a| {
        let step = a.step.as_ref().map(|s| format!(" (step `{s}`)")).unwrap_or_default();
        let rule = format!("{}{step}: {}", a.metric, a.rule.describe());
        AlarmStatus { rule, ..status(&a.name, "metric", Some(a.canary.clone()), &a.description) }
    });
    let composite = defs.composite.iter().map(|a| {
        let mut children: Vec<String> = Vec::new();
        for (name, _) in a.rule.references() {
            if !children.iter().any(|c| c == name) {
                children.push(name.to_string());
            }
        }
        AlarmStatus { rule: a.text.clone(), children, ..status(&a.name, "composite", None, &a.description) }
    });
    let mut out: Vec<AlarmStatus> = metric.chain(composite).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests;
