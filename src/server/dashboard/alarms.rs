//! `GET /alarms`: every metric and composite alarm with its state, reason and since;
//! `GET /alarms/NAME`: one alarm's rule, a composite's children with their states, its history
//! and set-state (token); `GET /failover`: each DNS failover record's answer, the health it
//! follows and its flips.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::Utc;
use maud::{Markup, html};

use super::format::{alarm_url, badge, canary_url, count, segment, table, timestamp, when};
use super::{PageError, Section, blocking, layout};
use crate::alarms::AlarmStatus;
use crate::server::backend::Backend;
use crate::server::error::ApiError;
use crate::store::{AlarmTransition, FailoverChange};

/// Transitions shown on an alarm's page.
const HISTORY: usize = 100;
/// Changes shown per failover record.
const FLIPS: usize = 20;

/// `GET /alarms`.
pub async fn list_page(State(backend): State<Arc<dyn Backend>>) -> Result<Html<String>, PageError> {
    let alarms = blocking(move || Ok(backend.alarms()?)).await?;
    let now = Utc::now();
    let body = html! {
        h1 { "Alarms" }
        div id="alarms" data-live="15" {
            @if alarms.is_empty() {
                p.muted { "No alarms are defined. Alarms go in the " code { "alarms:" } " section of aviary.yaml." }
            } @else {
                p.summary {
                    (count(alarms.len(), "alarm", "alarms")) " · " (alarms.iter().filter(|a| a.state.as_str() == "ALARM").count()) " in ALARM"
                }
                (alarm_table(&alarms, now))
            }
        }
    };
    Ok(layout("Alarms", Section::Alarms, body))
}

/// Alarms with their state, reason, since and what each watches.
pub(super) fn alarm_table(alarms: &[AlarmStatus], now: chrono::DateTime<Utc>) -> Markup {
    table(
        "",
        &["Alarm", "State", "Reason", "Since", "Watches"],
        html! {
            @for alarm in alarms {
                tr {
                    td { a href=(alarm_url(&alarm.name)) { (alarm.name) } br; small { (alarm.kind) } }
                    td { (badge(alarm.state.as_str())) }
                    td.reason { (alarm.reason) }
                    td { @if let Some(since) = alarm.since { (when(since, now)) } @else { span.muted { "never evaluated" } } }
                    td { (watches(alarm)) }
                }
            }
        },
    )
}

fn watches(alarm: &AlarmStatus) -> Markup {
    html! {
        @if let Some(canary) = &alarm.canary {
            a href=(canary_url(canary)) { (canary) }
        } @else {
            @for (i, child) in alarm.children.iter().enumerate() {
                @if i > 0 { ", " }
                a href=(alarm_url(child)) { (child) }
            }
        }
    }
}

/// `GET /alarms/{name}`.
pub async fn alarm_page(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
) -> Result<Html<String>, PageError> {
    let (alarms, history) = {
        let name = name.clone();
        blocking(move || Ok((backend.alarms()?, backend.alarm_history(&name, HISTORY)?))).await?
    };
    let Some(alarm) = alarms.iter().find(|a| a.name == name) else {
        return Err(ApiError::not_found(format!("no alarm named `{name}`")).into());
    };
    let history = history.unwrap_or_default();
    Ok(layout(&name, Section::Alarms, render_alarm(alarm, &alarms, &history)))
}

fn render_alarm(alarm: &AlarmStatus, all: &[AlarmStatus], history: &[AlarmTransition]) -> Markup {
    let now = Utc::now();
    html! {
        h1 { (alarm.name) }
        dl.facts {
            dt { "State" } dd { (badge(alarm.state.as_str())) }
            dt { "Reason" } dd.reason { (alarm.reason) }
            dt { "Since" } dd { @if let Some(since) = alarm.since { (timestamp(since)) " (" (when(since, now)) ")" } @else { "never evaluated" } }
            dt { "Kind" } dd { (alarm.kind) }
            @if let Some(canary) = &alarm.canary { dt { "Canary" } dd { a href=(canary_url(canary)) { (canary) } } }
            dt { "Rule" } dd { code { (alarm.rule) } }
            @if let Some(description) = &alarm.description { dt { "Description" } dd { (description) } }
        }
        @if !alarm.children.is_empty() {
            section {
                h2 { "Alarms in the rule" }
                ul.children {
                    @for child in &alarm.children {
                        li {
                            a href=(alarm_url(child)) { (child) } " "
                            @match all.iter().find(|a| &a.name == child) {
                                Some(found) => (badge(found.state.as_str())),
                                None => span.muted { "unknown" },
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Set the state" }
            p.muted { "Like " code { "aws cloudwatch set-alarm-state" } ": the state holds until the alarm's next evaluation. Needs the server token." }
            form.set-state data-post={ "/api/v1/alarms/" (segment(&alarm.name)) "/state" } data-done="State set." {
                label { "State "
                    select name="state" {
                        @for state in ["ALARM", "OK", "INSUFFICIENT_DATA"] { option value=(state) { (state) } }
                    }
                }
                " "
                label { "Reason " input name="reason" required value="set from the dashboard"; }
                " "
                button type="submit" { "Set state" }
                " " output {}
            }
        }
        section {
            h2 { "History" }
            @if history.is_empty() {
                p.muted { "No transitions yet." }
            } @else {
                (table("", &["When", "From", "To", "Reason"], html! {
                            @for t in history {
                                tr {
                                    td { (timestamp(t.time)) }
                                    td { (badge(&t.old_state)) }
                                    td { (badge(&t.new_state)) }
                                    td.reason { (t.reason) }
                                }
                            }
                        }))
            }
        }
    }
}

/// `GET /failover`.
pub async fn failover_page(State(backend): State<Arc<dyn Backend>>) -> Result<Html<String>, PageError> {
    let records = backend.metrics().failover;
    let flips: Vec<Vec<FailoverChange>> = {
        let names: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
        let store = backend.store();
        blocking(move || {
            Ok(names.iter().map(|n| store.failover_history(n, FLIPS)).collect::<Result<_, _>>()?)
        })
        .await?
    };
    let now = Utc::now();
    let body = html! {
        h1 { "DNS failover" }
        @if records.is_empty() {
            p.muted { "No failover records are configured. They go in the " code { "failover:" } " section of aviary.yaml." }
        }
        @for (record, changes) in records.iter().zip(&flips) {
            section.failover {
                h2 { (record.name) " · " code { (record.record) } }
                dl.facts {
                    dt { "Answer now" } dd {
                        @match &record.actual { Some(values) => code { (values.join(", ")) }, None => span.muted { "not read yet" } }
                    }
                    dt { "Should answer" } dd {
                        code { (record.desired.join(", ")) }
                        @if let Some(which) = record.desired_answer { " (" (which) ")" }
                    }
                    dt { "Follows" } dd {
                        @if !record.primary_health.is_empty() { "primary: " a href=(alarm_url(&record.primary_health)) { (record.primary_health) } }
                        @if let Some(secondary) = &record.secondary_health { " · secondary: " a href=(alarm_url(secondary)) { (secondary) } }
                    }
                    dt { "Why" } dd { (record.why) }
                    dt { "Last change" } dd { @match record.last_change { Some(at) => (when(at, now)), None => "never" } }
                    @if let Some(error) = &record.last_error { dt { "Last error" } dd.bad { (error) } }
                    dt { "Errors" } dd { (record.errors_total) }
                }
                h3 { "Flips" }
                @if changes.is_empty() {
                    p.muted { "No changes made yet." }
                } @else {
                    (table("", &["When", "From", "To", "Answer", "Why"], html! {
                                @for change in changes {
                                    tr {
                                        td { (timestamp(change.time)) }
                                        td { code { (change.from.join(", ")) } }
                                        td { code { (change.to.join(", ")) } }
                                        td { (change.answer) }
                                        td.reason { (change.why) }
                                    }
                                }
                            }))
                }
            }
        }
    };
    Ok(layout("DNS failover", Section::Failover, body))
}
