//! A channel's `template:`: the message text, written by the user in Jinja syntax (minijinja) over
//! the notification's fields ([`FIELDS`]). Every channel takes one; where the text goes depends on
//! the channel (Slack `text`, email body, PagerDuty summary…).
//!
//! A template is checked when the project file is read: a syntax error, a variable that is not a
//! field, or a filter, test or function that does not exist or is called with the wrong arguments
//! (found by rendering the template over sample notifications of every state) is a problem placed
//! at the `template` value. A template
//! that still fails when a notification is delivered is logged and the channel's default message
//! is sent instead: a notification is never lost to its template.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use chrono::{TimeZone, Utc};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value, context};
use serde::de::{self, Deserialize, Deserializer};

use super::Notification;
use crate::spec::suggest::closest;

/// The variables a template sees, in the order the documentation lists them.
pub const FIELDS: &[&str] =
    &["alarm", "old_state", "new_state", "reason", "time", "canary", "description", "dashboard_url"];

/// Instructions a render may run: plenty for a message, a bound for a runaway loop (rendering
/// is synchronous, the channel's timeout cannot stop it).
const FUEL: u64 = 100_000;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
});

/// A checked message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate {
    source: String,
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template.
    #[error("template syntax error{}: {detail}", on_line(*.line))]
    Syntax {
        /// 1-based line in the template, when known.
        line: Option<usize>,
        /// What the parser expected or found.
        detail: String,
    },
    /// The template reads variables that are not notification fields.
    #[error("{}", unknown_variables(.names))]
    UnknownVariables {
        /// The names, sorted.
        names: Vec<String>,
    },
    /// Rendering failed (an unknown filter, test or function; a wrong operation on a field).
    #[error("template error{}: {kind}{}", on_line(*.line), in_parens(.detail))]
    Render {
        /// 1-based line in the template, when known.
        line: Option<usize>,
        /// The kind of failure, e.g. `unknown filter`.
        kind: String,
        /// More about it, when known.
        detail: Option<String>,
    },
}

fn on_line(line: Option<usize>) -> String {
    line.map(|line| format!(" on line {line}")).unwrap_or_default()
}

fn in_parens(detail: &Option<String>) -> String {
    detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn unknown_variables(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let mut text = format!(
        "template uses unknown variable{} {}; the fields are: {}",
        if names.len() == 1 { "" } else { "s" },
        shown.join(", "),
        FIELDS.join(", ")
    );
    if let [name] = names
        && let Some(hint) = closest(name, FIELDS.iter().copied())
    {
        text.push_str(&format!("; did you mean `{hint}`?"));
    }
    text
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let line = e.line();
        let detail = e.detail().map(str::to_string);
        match e.kind() {
            ErrorKind::SyntaxError => {
                TemplateError::Syntax { line, detail: detail.unwrap_or_else(|| "invalid syntax".into()) }
            }
            kind => TemplateError::Render { line, kind: kind.to_string(), detail },
        }
    }
}

impl MessageTemplate {
    /// Compiles and checks `source`.
    pub fn new(source: &str) -> Result<Self, TemplateError> {
        let template = ENV.template_from_str(source)?;
        let globals: BTreeSet<&str> = ENV.globals().map(|(name, _)| name).collect();
        let names: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !FIELDS.contains(&name.as_str()) && !globals.contains(name.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !names.is_empty() {
            return Err(TemplateError::UnknownVariables { names });
        }
        for sample in samples() {
            match template.render(context(&sample)) {
                Err(e) if is_static(e.kind()) => return Err(e.into()),
                // Depends on the data (an index past a short reason): found, and fallen back from,
                // at delivery if it happens then.
                _ => {}
            }
        }
        Ok(Self { source: source.to_string() })
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The message for `n`.
    pub fn render(&self, n: &Notification) -> Result<String, TemplateError> {
        Ok(ENV.render_str(&self.source, context(n))?)
    }
}

/// Whether a render error is the template's whatever the notification: a name that does not
/// exist, a call with the wrong arguments, an include (templates have none), a runaway loop.
fn is_static(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
            | ErrorKind::UnknownMethod
            | ErrorKind::UnknownBlock
            | ErrorKind::TooManyArguments
            | ErrorKind::MissingArgument
            | ErrorKind::TemplateNotFound
            | ErrorKind::BadInclude
            | ErrorKind::OutOfFuel
    )
}

/// The rendered message for `n` when the channel has a template; `None` without one, or when it
/// fails or renders only blanks (logged: the channel then sends its default message).
pub fn render(template: Option<&MessageTemplate>, n: &Notification) -> Option<String> {
    let template = template?;
    match template.render(n) {
        Ok(text) if !text.trim().is_empty() => Some(text),
        Ok(_) => {
            tracing::warn!(alarm = %n.alarm, "the template rendered an empty message; sending the default message instead");
            None
        }
        Err(e) => {
            tracing::warn!(alarm = %n.alarm, "{e}; sending the default message instead");
            None
        }
    }
}

/// The variables of a notification: [`FIELDS`], unknown optional ones as empty text (so that
/// `{% if canary %}` tests them and `{{ canary }}` prints nothing).
fn context(n: &Notification) -> Value {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    context! {
        alarm => n.alarm.clone(),
        old_state => n.old_state.clone(),
        new_state => n.new_state.clone(),
        reason => n.reason.clone(),
        time => n.time_rfc3339(),
        canary => text(&n.canary),
        description => text(&n.description),
        dashboard_url => text(&n.dashboard_url),
    }
}

/// Notifications of every transition, with and without the optional fields: a template renders
/// over each when it is checked, so most branches and filters are tried.
fn samples() -> Vec<Notification> {
    let states = [("OK", "ALARM"), ("ALARM", "OK"), ("OK", "INSUFFICIENT_DATA")];
    let mut samples = Vec::new();
    for (old, new) in states {
        for full in [true, false] {
            let some = |text: &str| full.then(|| text.to_string());
            samples.push(Notification {
                alarm: "homepage-availability".into(),
                old_state: old.into(),
                new_state: new.into(),
                reason: "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was less than the threshold (1.0)"
                    .into(),
                time: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
                canary: some("homepage"),
                description: some("The home page answers"),
                dashboard_url: some("http://127.0.0.1:9090/alarms/homepage-availability"),
            });
        }
    }
    samples
}

impl<'de> Deserialize<'de> for MessageTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::new(&text).map_err(de::Error::custom)
    }
}

impl fmt::Display for MessageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        let mut n = samples().remove(0);
        n.canary = None;
        n
    }

    #[test]
    fn renders_the_fields_and_unknown_ones_as_empty_text() {
        let t = MessageTemplate::new(
            "{{ alarm }}: {{ old_state }} -> {{ new_state | lower }}{% if canary %} ({{ canary }}){% endif %} at {{ time }}",
        )
        .unwrap();
        assert_eq!(
            t.render(&notification()).unwrap(),
            "homepage-availability: OK -> alarm at 2025-01-02T03:04:05.000Z"
        );
    }

    #[test]
    fn problems_are_found_when_checked() {
        let syntax = MessageTemplate::new("line one\n{{ alarm }").unwrap_err();
        assert!(matches!(syntax, TemplateError::Syntax { line: Some(2), .. }), "{syntax:?}");
        assert!(syntax.to_string().starts_with("template syntax error on line 2: "), "{syntax}");
        assert_eq!(
            MessageTemplate::new(
                "{{ alrm }} {% set x = 1 %}{{ x }}{% for i in range(2) %}{{ i }}{% endfor %}"
            )
            .unwrap_err()
            .to_string(),
            "template uses unknown variable `alrm`; the fields are: alarm, old_state, new_state, reason, \
             time, canary, description, dashboard_url; did you mean `alarm`?"
        );
        let filter =
            MessageTemplate::new("{% if new_state == 'OK' %}{{ alarm | shout }}{% endif %}").unwrap_err();
        assert_eq!(filter.to_string(), "template error on line 1: unknown filter (filter shout is unknown)");
    }

    #[test]
    fn what_depends_on_the_data_is_left_for_delivery() {
        // The sample canary has no `-`: fine for a project whose canaries all have one.
        let t = MessageTemplate::new("{{ (canary | split('-'))[1] }}").unwrap();
        let mut n = notification();
        n.canary = Some("shop-checkout".into());
        assert_eq!(t.render(&n).unwrap(), "checkout");
        let e = MessageTemplate::new("{{ alarm | replace('a') }}").unwrap_err();
        assert!(e.to_string().starts_with("template error on line 1: missing argument"), "{e}");
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let e = MessageTemplate::new(
            "{% for i in range(100000) %}{% for j in range(100) %}x{% endfor %}{% endfor %}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("fuel"), "{e}");
    }

    #[test]
    fn a_failing_render_falls_back() {
        let t = MessageTemplate::new("{{ reason[0] }}").unwrap();
        let mut n = notification();
        assert_eq!(render(Some(&t), &n).as_deref(), Some("T"));
        n.reason = String::new();
        assert_eq!(render(Some(&t), &n), None);
        assert_eq!(render(None, &n), None);
    }
}
