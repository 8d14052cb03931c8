//! Key names as the Recorder and Puppeteer write them (`Enter`, `ArrowDown`, `a`, `Shift`), and
//! what Chromium needs to press them: code, Windows key code, and the text a press types.

/// One key on a US keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDefinition {
    /// The `key` value (`Enter`, `a`, `A`).
    pub key: String,
    /// The physical key (`Enter`, `KeyA`).
    pub code: String,
    /// The Windows virtual key code.
    pub key_code: i64,
    /// What a press types, when it types anything.
    pub text: Option<String>,
    /// The modifier bit it sets while held (Alt 1, Control 2, Meta 4, Shift 8).
    pub modifier: i64,
}

const NAMED: &[(&str, &str, i64, Option<&str>)] = &[
    ("Enter", "Enter", 13, Some("\r")),
    ("Tab", "Tab", 9, None),
    ("Backspace", "Backspace", 8, None),
    ("Delete", "Delete", 46, None),
    ("Escape", "Escape", 27, None),
    ("Insert", "Insert", 45, None),
    ("Home", "Home", 36, None),
    ("End", "End", 35, None),
    ("PageUp", "PageUp", 33, None),
    ("PageDown", "PageDown", 34, None),
    ("ArrowLeft", "ArrowLeft", 37, None),
    ("ArrowUp", "ArrowUp", 38, None),
    ("ArrowRight", "ArrowRight", 39, None),
    ("ArrowDown", "ArrowDown", 40, None),
    ("Shift", "ShiftLeft", 16, None),
    ("Control", "ControlLeft", 17, None),
    ("Alt", "AltLeft", 18, None),
    ("Meta", "MetaLeft", 91, None),
    ("CapsLock", "CapsLock", 20, None),
    ("ContextMenu", "ContextMenu", 93, None),
    (" ", "Space", 32, Some(" ")),
];

/// Punctuation: key, code, key code (the shifted key shares code and key code).
const PUNCTUATION: &[(char, char, &str, i64)] = &[
    (';', ':', "Semicolon", 186),
    ('=', '+', "Equal", 187),
    (',', '<', "Comma", 188),
    ('-', '_', "Minus", 189),
    ('.', '>', "Period", 190),
    ('/', '?', "Slash", 191),
    ('`', '~', "Backquote", 192),
    ('[', '{', "BracketLeft", 219),
    ('\\', '|', "Backslash", 220),
    (']', '}', "BracketRight", 221),
    ('\'', '"', "Quote", 222),
];

const SHIFTED_DIGITS: &str = ")!@#$%^&*(";

/// The key named `name`, or `None` when this keyboard has no such key.
pub fn key(name: &str) -> Option<KeyDefinition> {
    let define = |key: &str, code: String, key_code: i64, text: Option<String>| KeyDefinition {
        modifier: match key {
            "Alt" => 1,
            "Control" => 2,
            "Meta" => 4,
            "Shift" => 8,
            _ => 0,
        },
        key: key.to_string(),
        code,
        key_code,
        text,
    };
    if let Some((key, code, key_code, text)) = NAMED.iter().find(|(key, ..)| *key == name) {
        return Some(define(key, (*code).to_string(), *key_code, text.map(str::to_string)));
    }
    if let Some(n) =
        name.strip_prefix('F').and_then(|n| n.parse::<i64>().ok()).filter(|n| (1..=12).contains(n))
    {
        return Some(define(name, name.to_string(), 111 + n, None));
    }
    let mut chars = name.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else { return None };
    let text = Some(c.to_string());
    if c.is_ascii_alphabetic() {
        let upper = c.to_ascii_uppercase();
        return Some(define(name, format!("Key{upper}"), i64::from(u32::from(upper)), text));
    }
    if c.is_ascii_digit() {
        return Some(define(name, format!("Digit{c}"), i64::from(u32::from(c)), text));
    }
    if let Some(i) = SHIFTED_DIGITS.find(c) {
        return Some(define(name, format!("Digit{i}"), 48 + i64::try_from(i).unwrap_or(0), text));
    }
    let (_, _, code, key_code) =
        PUNCTUATION.iter().find(|(plain, shifted, ..)| *plain == c || *shifted == c)?;
    Some(define(name, (*code).to_string(), *key_code, text))
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn named_keys_letters_digits_and_punctuation() {
        let enter = key("Enter").unwrap();
        assert_eq!((enter.code.as_str(), enter.key_code, enter.text.as_deref()), ("Enter", 13, Some("\r")));
        assert_eq!(key("a").unwrap().code, "KeyA");
        assert_eq!(key("A").unwrap().key_code, 65);
        assert_eq!(key("7").unwrap().code, "Digit7");
        assert_eq!(key("!").unwrap().code, "Digit1");
        assert_eq!(key("?").unwrap().code, "Slash");
        assert_eq!(key("F5").unwrap().key_code, 116);
        assert_eq!(key("Shift").unwrap().modifier, 8);
        assert_eq!(key("Tab").unwrap().text, None);
    }

    #[test]
    fn unknown_keys_are_none() {
        assert!(key("Enterr").is_none());
        assert!(key("F13").is_none());
        assert!(key("é").is_none());
        assert!(key("").is_none());
    }
}
