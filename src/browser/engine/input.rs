//! Real input events through CDP: mouse moves, presses and releases at a point of the top-level
//! viewport, key presses, and text typed key by key.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton as CdpButton,
};

use super::keys::{KeyDefinition, key};
use super::{ActionError, Click, MouseButton};
use crate::browser::BrowserPage;
use crate::browser::page::Tab;

impl MouseButton {
    fn cdp(self) -> (CdpButton, i64) {
        match self {
            Self::Left => (CdpButton::Left, 1),
            Self::Right => (CdpButton::Right, 2),
            Self::Middle => (CdpButton::Middle, 4),
            Self::Back => (CdpButton::Back, 8),
            Self::Forward => (CdpButton::Forward, 16),
        }
    }
}

impl BrowserPage {
    async fn mouse(
        &self,
        tab: &Tab,
        kind: DispatchMouseEventType,
        (x, y): (f64, f64),
        button: Option<(CdpButton, i64)>,
        click_count: i64,
    ) -> Result<(), ActionError> {
        let params = DispatchMouseEventParams {
            r#type: kind,
            x,
            y,
            modifiers: Some(self.modifiers.load(Ordering::Relaxed)),
            button: Some(button.as_ref().map_or(CdpButton::None, |(b, _)| b.clone())),
            buttons: button.map(|(_, bits)| bits),
            click_count: Some(click_count),
            ..DispatchMouseEventParams::new(DispatchMouseEventType::MouseMoved, x, y)
        };
        self.call(tab, "Input.dispatchMouseEvent", params).await?;
        Ok(())
    }

    /// Moves the mouse to `point`.
    pub(super) async fn move_mouse(&self, tab: &Tab, point: (f64, f64)) -> Result<(), ActionError> {
        self.mouse(tab, DispatchMouseEventType::MouseMoved, point, None, 0).await
    }

    /// Moves to `point` and clicks `click.count` times.
    pub(super) async fn click_at(
        &self,
        tab: &Tab,
        point: (f64, f64),
        click: &Click,
    ) -> Result<(), ActionError> {
        self.move_mouse(tab, point).await?;
        let button = click.button.cdp();
        for count in 1..=i64::from(click.count.max(1)) {
            self.mouse(tab, DispatchMouseEventType::MousePressed, point, Some(button.clone()), count).await?;
            if !click.hold.is_zero() {
                tokio::time::sleep(click.hold.min(Duration::from_secs(10))).await;
            }
            self.mouse(tab, DispatchMouseEventType::MouseReleased, point, Some(button.clone()), count)
                .await?;
        }
        Ok(())
    }

    /// Presses (`down`) or releases a key; modifiers stay held until released.
    pub(super) async fn key_event(&self, tab: &Tab, name: &str, down: bool) -> Result<(), ActionError> {
        let definition = key(name).ok_or_else(|| ActionError::UnknownKey(name.to_string()))?;
        if definition.modifier != 0 {
            if down {
                self.modifiers.fetch_or(definition.modifier, Ordering::Relaxed);
            } else {
                self.modifiers.fetch_and(!definition.modifier, Ordering::Relaxed);
            }
        }
        self.dispatch_key(tab, &definition, down).await
    }

    async fn dispatch_key(
        &self,
        tab: &Tab,
        definition: &KeyDefinition,
        down: bool,
    ) -> Result<(), ActionError> {
        let modifiers = self.modifiers.load(Ordering::Relaxed);
        // With Control, Alt or Meta held a key is a shortcut and types nothing.
        let text = definition.text.clone().filter(|_| down && modifiers & 0b111 == 0);
        let kind = match (down, text.is_some()) {
            (false, _) => DispatchKeyEventType::KeyUp,
            (true, true) => DispatchKeyEventType::KeyDown,
            (true, false) => DispatchKeyEventType::RawKeyDown,
        };
        let params = DispatchKeyEventParams {
            r#type: kind.clone(),
            modifiers: Some(modifiers),
            unmodified_text: text.clone(),
            text,
            code: Some(definition.code.clone()),
            key: Some(definition.key.clone()),
            windows_virtual_key_code: Some(definition.key_code),
            native_virtual_key_code: Some(definition.key_code),
            ..DispatchKeyEventParams::new(kind)
        };
        self.call(tab, "Input.dispatchKeyEvent", params).await?;
        Ok(())
    }

    /// Types `text` into the focused element: a key press per character this keyboard has, the
    /// rest inserted as text (as an input method would).
    pub(super) async fn type_text(&self, tab: &Tab, text: &str) -> Result<(), ActionError> {
        let mut buffer = [0u8; 4];
        for c in text.chars() {
            let name = if c == '\n' { "Enter" } else { c.encode_utf8(&mut buffer) };
            match key(name) {
                Some(definition) if definition.modifier == 0 => {
                    self.dispatch_key(tab, &definition, true).await?;
                    self.dispatch_key(tab, &definition, false).await?;
                }
                _ => {
                    self.call(tab, "Input.insertText", InsertTextParams::new(c.to_string())).await?;
                }
            }
        }
        Ok(())
    }
}
