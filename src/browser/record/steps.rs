//! Chrome DevTools Recorder steps, made from the events the injected recorder sends: the rules
//! the Recorder panel follows (typing coalesced into one `change`, two clicks and a double click
//! recorded as one `doubleClick`, a navigation asserted on the step that caused it), with no
//! browser involved, so they are tested on their own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize, Serializer};

/// One selector alternative: a chain, shadow hosts first, the element last.
pub type Selector = Vec<String>;

/// A navigation that starts this long after a step is taken for that step's doing.
const CAUSED_BY_STEP: Duration = Duration::from_secs(5);

/// What the recorder script reports (one JSON object per binding call).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub(crate) enum Event {
    /// A click (the mouse button is `primary`, `auxiliary` or `secondary`).
    Click { button: String, offset_x: f64, offset_y: f64, selectors: Vec<Selector>, frame: Vec<u32> },
    /// A double click (after the two clicks it is made of).
    DoubleClick { offset_x: f64, offset_y: f64, selectors: Vec<Selector>, frame: Vec<u32> },
    /// The value of an input, textarea, select or contenteditable, after an edit.
    Change { value: String, password: bool, selectors: Vec<Selector>, frame: Vec<u32> },
    /// A key that is not typing (Enter, Tab, Escape, arrows...) went down.
    KeyDown { key: String },
    /// ... and up.
    KeyUp { key: String },
    /// The page (no selectors) or an element scrolled to `x`, `y`.
    Scroll { x: f64, y: f64, selectors: Option<Vec<Selector>>, frame: Vec<u32> },
    /// The page asked to load another top document (a link, a form, a script): not the
    /// script's, but `Page.frameRequestedNavigation`'s.
    #[serde(skip)]
    Leaving,
    /// A top document has loaded.
    Document { url: String, title: String, width: f64, height: f64, device_scale_factor: f64 },
}

/// A Recorder flow: `{"title": ..., "steps": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    /// The flow's title.
    pub title: String,
    /// The recorded steps, in order.
    pub steps: Vec<Step>,
}

impl Flow {
    /// The JSON text, as the Recorder panel exports it (pretty-printed, ending with a newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// One step and the events it must cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What the step does.
    #[serde(flatten)]
    pub action: Action,
    /// What replaying it must cause (a navigation).
    #[serde(rename = "assertedEvents", skip_serializing_if = "Vec::is_empty")]
    pub asserted_events: Vec<AssertedEvent>,
}

/// A step of the Recorder schema, with its fields in the order the Recorder writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[allow(missing_docs, reason = "the fields are the Recorder schema's")]
pub enum Action {
    /// The page's viewport.
    SetViewport {
        width: u32,
        height: u32,
        #[serde(serialize_with = "number")]
        device_scale_factor: f64,
        is_mobile: bool,
        has_touch: bool,
        is_landscape: bool,
    },
    /// Load a URL.
    Navigate { url: String },
    /// Click an element.
    Click {
        target: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        frame: Vec<u32>,
        selectors: Vec<Selector>,
        #[serde(skip_serializing_if = "Option::is_none")]
        button: Option<String>,
        #[serde(serialize_with = "number")]
        offset_x: f64,
        #[serde(serialize_with = "number")]
        offset_y: f64,
    },
    /// Double-click an element.
    DoubleClick {
        target: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        frame: Vec<u32>,
        selectors: Vec<Selector>,
        #[serde(serialize_with = "number")]
        offset_x: f64,
        #[serde(serialize_with = "number")]
        offset_y: f64,
    },
    /// Set the value of an input, textarea, select or contenteditable.
    Change {
        value: String,
        selectors: Vec<Selector>,
        target: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        frame: Vec<u32>,
    },
    /// Press a key.
    KeyDown { target: String, key: String },
    /// Release a key.
    KeyUp { key: String, target: String },
    /// Scroll the page or an element.
    Scroll {
        target: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        frame: Vec<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        selectors: Option<Vec<Selector>>,
        #[serde(serialize_with = "number")]
        x: f64,
        #[serde(serialize_with = "number")]
        y: f64,
    },
}

/// `{"type": "navigation", "url": ..., "title": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssertedEvent {
    /// Always `navigation`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The URL navigated to.
    pub url: String,
    /// The new document's title.
    pub title: String,
}

impl AssertedEvent {
    fn navigation(url: String, title: String) -> Self {
        AssertedEvent { kind: "navigation", url, title }
    }
}

/// Whole numbers without a fraction (`40`, not `40.0`), as JavaScript writes them.
#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's serialize_with signature")]
fn number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    #[allow(clippy::cast_possible_truncation, reason = "checked: a whole number well within i64")]
    if value.fract() == 0.0 && value.abs() < 1e15 {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

const MAIN: &str = "main";

/// The steps recorded so far, built up event by event.
#[derive(Debug)]
pub(crate) struct Recording {
    steps: Vec<Step>,
    /// When the latest step was recorded.
    last_step_at: Option<Instant>,
    /// The first document has not loaded yet (its navigation asserts the `navigate` step).
    awaiting_first_document: bool,
    /// The top document is being left: `Some(step index)` when a step caused it.
    leaving: Option<Option<usize>>,
    /// Keys down, whose `keyUp` is still to come.
    pressed: BTreeSet<String>,
    typed_password: bool,
}

impl Recording {
    /// Starts with `setViewport` (the first document's size replaces `viewport`) and `navigate`.
    pub fn new(url: &str, viewport: (u32, u32)) -> Self {
        let steps = vec![
            Step::new(Action::SetViewport {
                width: viewport.0,
                height: viewport.1,
                device_scale_factor: 1.0,
                is_mobile: false,
                has_touch: false,
                is_landscape: false,
            }),
            Step::new(Action::Navigate { url: url.to_string() }),
        ];
        Recording {
            steps,
            last_step_at: None,
            awaiting_first_document: true,
            leaving: None,
            pressed: BTreeSet::new(),
            typed_password: false,
        }
    }

    /// Whether a password field was typed into: its value is in the recording as typed.
    pub fn typed_password(&self) -> bool {
        self.typed_password
    }

    /// The flow, with a `keyUp` for every key still down.
    pub fn finish(mut self, title: String) -> Flow {
        for key in std::mem::take(&mut self.pressed) {
            self.steps.push(Step::new(Action::KeyUp { key, target: MAIN.to_string() }));
        }
        Flow { title, steps: self.steps }
    }

    /// Adds what `event` means to the recording (`now`: when it arrived).
    pub fn apply(&mut self, event: Event, now: Instant) {
        match event {
            Event::Click { button, offset_x, offset_y, selectors, frame } => {
                let button = (button != "primary").then_some(button);
                self.push_element(
                    Action::Click { target: MAIN.into(), frame, selectors, button, offset_x, offset_y },
                    now,
                );
            }
            Event::DoubleClick { offset_x, offset_y, selectors, frame } => {
                self.drop_clicks_of(&selectors, &frame);
                let action =
                    Action::DoubleClick { target: MAIN.into(), frame, selectors, offset_x, offset_y };
                self.push_element(action, now);
            }
            Event::Change { value, password, selectors, frame } => {
                self.typed_password |= password;
                if let Some(Action::Change { value: last, selectors: same, frame: here, .. }) =
                    self.steps.last_mut().map(|s| &mut s.action)
                    && *same == selectors
                    && *here == frame
                {
                    *last = value;
                    self.last_step_at = Some(now);
                    return;
                }
                self.push_element(Action::Change { value, selectors, target: MAIN.into(), frame }, now);
            }
            Event::KeyDown { key } => {
                self.pressed.insert(key.clone());
                self.push(Action::KeyDown { target: MAIN.into(), key }, now);
            }
            Event::KeyUp { key } => {
                if self.pressed.remove(&key) {
                    self.push(Action::KeyUp { key, target: MAIN.into() }, now);
                }
            }
            Event::Scroll { x, y, selectors, frame } => {
                if let Some(Action::Scroll { x: last_x, y: last_y, selectors: same, frame: here, .. }) =
                    self.steps.last_mut().map(|s| &mut s.action)
                    && *same == selectors
                    && *here == frame
                {
                    (*last_x, *last_y) = (x, y);
                    return;
                }
                if selectors.as_ref().is_some_and(Vec::is_empty) {
                    return;
                }
                self.push(Action::Scroll { target: MAIN.into(), frame, selectors, x, y }, now);
            }
            Event::Leaving => {
                let recent = self.last_step_at.is_some_and(|at| now.duration_since(at) <= CAUSED_BY_STEP);
                let cause = (recent && !self.awaiting_first_document).then(|| self.steps.len() - 1);
                self.leaving = Some(cause);
            }
            Event::Document { url, title, width, height, device_scale_factor } => {
                self.document(url, title, (width, height, device_scale_factor), now);
            }
        }
    }

    fn document(
        &mut self,
        url: String,
        title: String,
        (width, height, scale): (f64, f64, f64),
        now: Instant,
    ) {
        let asserted = vec![AssertedEvent::navigation(url.clone(), title)];
        if std::mem::take(&mut self.awaiting_first_document) {
            if let Action::SetViewport { width: w, height: h, device_scale_factor, .. } =
                &mut self.steps[0].action
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "CSS pixels")]
                {
                    (*w, *h) = (width.round().max(1.0) as u32, height.round().max(1.0) as u32);
                }
                *device_scale_factor = scale;
            }
            self.steps[1].asserted_events = asserted;
            self.leaving = None;
            return;
        }
        match self.leaving.take() {
            Some(Some(cause)) => self.steps[cause].asserted_events = asserted,
            // Nothing recorded caused it (the address bar, a timer): replay it as a navigation.
            _ => {
                self.push(Action::Navigate { url }, now);
                if let Some(step) = self.steps.last_mut() {
                    step.asserted_events = asserted;
                }
            }
        }
    }

    /// Adds a step on an element, unless no selector could be computed for it.
    fn push_element(&mut self, action: Action, now: Instant) {
        let (Action::Click { selectors, .. }
        | Action::DoubleClick { selectors, .. }
        | Action::Change { selectors, .. }) = &action
        else {
            return self.push(action, now);
        };
        if selectors.is_empty() {
            tracing::warn!("no selector could be computed for an element: its step is not recorded");
            return;
        }
        self.push(action, now);
    }

    fn push(&mut self, action: Action, now: Instant) {
        self.steps.push(Step::new(action));
        self.last_step_at = Some(now);
    }

    /// Removes the (up to two) primary clicks on the same element just before a double click.
    fn drop_clicks_of(&mut self, selectors: &[Selector], frame: &[u32]) {
        for _ in 0..2 {
            let same_click = matches!(
                self.steps.last(),
                Some(Step { action: Action::Click { selectors: s, frame: f, button: None, .. }, asserted_events })
                    if s == selectors && f == frame && asserted_events.is_empty()
            );
            if !same_click {
                return;
            }
            self.steps.pop();
        }
    }
}

impl Step {
    fn new(action: Action) -> Self {
        Step { action, asserted_events: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn selectors(css: &str) -> Vec<Selector> {
        vec![vec![format!("aria/{css}")], vec![css.to_string()]]
    }

    fn click(css: &str) -> Event {
        Event::Click {
            button: "primary".into(),
            offset_x: 10.0,
            offset_y: 5.5,
            selectors: selectors(css),
            frame: vec![],
        }
    }

    fn change(css: &str, value: &str) -> Event {
        Event::Change { value: value.into(), password: false, selectors: selectors(css), frame: vec![] }
    }

    fn document(url: &str, title: &str) -> Event {
        Event::Document {
            url: url.into(),
            title: title.into(),
            width: 1280.0,
            height: 800.0,
            device_scale_factor: 1.0,
        }
    }

    fn record(events: Vec<Event>) -> serde_json::Value {
        let mut recording = Recording::new("http://a/", (800, 600));
        let now = Instant::now();
        for event in events {
            recording.apply(event, now);
        }
        serde_json::to_value(recording.finish("t".into())).unwrap()
    }

    #[test]
    fn the_first_document_sizes_the_viewport_and_asserts_the_navigation() {
        let flow = record(vec![document("http://a/", "A")]);
        assert_eq!(
            flow,
            json!({"title": "t", "steps": [
                {"type": "setViewport", "width": 1280, "height": 800, "deviceScaleFactor": 1,
                 "isMobile": false, "hasTouch": false, "isLandscape": false},
                {"type": "navigate", "url": "http://a/",
                 "assertedEvents": [{"type": "navigation", "url": "http://a/", "title": "A"}]},
            ]})
        );
    }

    #[test]
    fn typing_is_one_change_with_the_final_value() {
        let flow = record(vec![
            document("http://a/", "A"),
            click("#user"),
            change("#user", "d"),
            change("#user", "de"),
            change("#user", "demo"),
            change("#pw", "x"),
        ]);
        let steps = flow["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 5);
        assert_eq!(
            steps[2],
            json!({"type": "click", "target": "main", "selectors": [["aria/#user"], ["#user"]],
                   "offsetX": 10, "offsetY": 5.5})
        );
        assert_eq!(
            steps[3],
            json!({"type": "change", "value": "demo", "selectors": [["aria/#user"], ["#user"]], "target": "main"})
        );
        assert_eq!(steps[4]["value"], "x");
    }

    #[test]
    fn a_double_click_replaces_its_two_clicks() {
        let flow = record(vec![
            document("http://a/", "A"),
            click("#other"),
            click("#double"),
            click("#double"),
            Event::DoubleClick {
                offset_x: 1.0,
                offset_y: 2.0,
                selectors: selectors("#double"),
                frame: vec![],
            },
        ]);
        let types: Vec<&str> =
            flow["steps"].as_array().unwrap().iter().map(|s| s["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["setViewport", "navigate", "click", "doubleClick"]);
    }

    #[test]
    fn a_navigation_is_asserted_on_the_step_that_caused_it() {
        let flow = record(vec![
            document("http://a/", "A"),
            change("#q", "x"),
            Event::KeyDown { key: "Enter".into() },
            Event::Leaving,
            Event::KeyUp { key: "Enter".into() },
            document("http://a/b", "B"),
        ]);
        let steps = flow["steps"].as_array().unwrap();
        assert_eq!(
            steps[3],
            json!({"type": "keyDown", "target": "main", "key": "Enter",
            "assertedEvents": [{"type": "navigation", "url": "http://a/b", "title": "B"}]})
        );
        assert_eq!(steps[4], json!({"type": "keyUp", "key": "Enter", "target": "main"}));
    }

    #[test]
    fn a_navigation_no_step_caused_is_a_navigate_step() {
        let mut recording = Recording::new("http://a/", (800, 600));
        let start = Instant::now();
        recording.apply(document("http://a/", "A"), start);
        recording.apply(click("#x"), start);
        recording.apply(Event::Leaving, start + Duration::from_secs(30));
        recording.apply(document("http://a/typed", "T"), start + Duration::from_secs(31));
        let flow = serde_json::to_value(recording.finish("t".into())).unwrap();
        assert!(flow["steps"][2].get("assertedEvents").is_none());
        assert_eq!(flow["steps"][3]["type"], "navigate");
        assert_eq!(flow["steps"][3]["url"], "http://a/typed");
        assert_eq!(flow["steps"][3]["assertedEvents"][0]["title"], "T");
    }

    #[test]
    fn keys_still_down_at_the_end_are_released_and_stray_key_ups_dropped() {
        let flow = record(vec![Event::KeyUp { key: "Tab".into() }, Event::KeyDown { key: "Escape".into() }]);
        let steps = flow["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[2]["type"], "keyDown");
        assert_eq!(steps[3], json!({"type": "keyUp", "key": "Escape", "target": "main"}));
    }

    #[test]
    fn scrolls_of_one_target_merge_and_frames_and_buttons_are_written() {
        let flow = record(vec![
            Event::Scroll { x: 0.0, y: 100.0, selectors: None, frame: vec![] },
            Event::Scroll { x: 0.0, y: 400.0, selectors: None, frame: vec![] },
            Event::Click {
                button: "secondary".into(),
                offset_x: 3.0,
                offset_y: 4.0,
                selectors: selectors("#apply"),
                frame: vec![0],
            },
        ]);
        let steps = flow["steps"].as_array().unwrap();
        assert_eq!(steps[2], json!({"type": "scroll", "target": "main", "x": 0, "y": 400}));
        assert_eq!(steps[3]["frame"], json!([0]));
        assert_eq!(steps[3]["button"], "secondary");
    }

    #[test]
    fn events_parse_from_the_scripts_json() {
        let event: Event = serde_json::from_str(
            r##"{"kind":"click","button":"primary","offsetX":4,"offsetY":2.5,"selectors":[["#a"]],"frame":[]}"##,
        )
        .unwrap();
        assert_eq!(
            event,
            Event::Click {
                button: "primary".into(),
                offset_x: 4.0,
                offset_y: 2.5,
                selectors: vec![vec!["#a".into()]],
                frame: vec![]
            }
        );
        let event: Event = serde_json::from_str(r#"{"kind":"scroll","x":0,"y":5,"frame":[1]}"#).unwrap();
        assert_eq!(event, Event::Scroll { x: 0.0, y: 5.0, selectors: None, frame: vec![1] });
    }
}
