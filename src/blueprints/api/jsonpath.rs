//! The JSONPath subset of API assertions and extractions: `$`, `.key`, `['key']` / `["key"]`,
//! `[N]` and `[-N]` (from the end). One path names at most one value.

use std::fmt;

use serde_json::Value;

use super::errors::{NoValue, SyntaxError};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.key` or `['key']`: a member of an object.
    Key(String),
    /// `[N]`, or `[-N]` counted from the end: an element of an array.
    Index(i64),
}

/// A parsed path such as `$.items[0].id` or `$['content-type']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

const FORMS: &str = "use $, .key, ['key'] and [N], e.g. $.items[0].id";

impl JsonPath {
    /// Parses a path; the error names the path and the forms allowed.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let bad = |why: &str| {
            Err(SyntaxError { what: "JSON path", text: text.to_string(), reason: why.to_string() })
        };
        let Some(mut rest) = text.strip_prefix('$') else {
            return bad(&format!("it must start with `$` ({FORMS})"));
        };
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('.') {
                    return bad(&format!("recursive descent `..` is not supported ({FORMS})"));
                }
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() {
                    return bad("empty key after `.`");
                }
                if key == "*" {
                    return bad(&format!("wildcards are not supported ({FORMS})"));
                }
                if key.contains(|c: char| c.is_whitespace() || matches!(c, ']' | '\'' | '"')) {
                    return bad(&format!("write the key `{key}` as ['{key}']"));
                }
                segments.push(Segment::Key(key.to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let (segment, len) = match after.chars().next() {
                    Some(quote @ ('\'' | '"')) => match quoted_key(&after[1..], quote) {
                        Some((key, used)) if after[1 + used..].starts_with(']') => {
                            (Segment::Key(key), used + 2)
                        }
                        _ => return bad("unterminated ['key']"),
                    },
                    _ => {
                        let Some(end) = after.find(']') else { return bad("missing `]`") };
                        let inner = after[..end].trim();
                        match inner.parse::<i64>() {
                            Ok(i) => (Segment::Index(i), end + 1),
                            Err(_) if inner == "*" => {
                                return bad(&format!("wildcards are not supported ({FORMS})"));
                            }
                            Err(_) if inner.starts_with('?') => {
                                return bad(&format!("filters are not supported ({FORMS})"));
                            }
                            Err(_) => {
                                return bad(&format!("`[{inner}]` is not an index; quote keys: ['{inner}']"));
                            }
                        }
                    }
                };
                segments.push(segment);
                rest = &after[len..];
            } else {
                return bad(&format!("unexpected `{}` ({FORMS})", rest.chars().next().unwrap_or(' ')));
            }
        }
        Ok(Self { text: text.to_string(), segments })
    }

    /// The path's steps after `$`, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The value at this path, or why there is none (e.g. `no key "name" in the object at $`).
    pub fn find<'v>(&self, root: &'v Value) -> Result<&'v Value, NoValue> {
        let mut value = root;
        let mut at = String::from("$");
        for segment in &self.segments {
            let next = match (segment, value) {
                (Segment::Key(key), Value::Object(map)) => map.get(key).ok_or_else(|| {
                    let keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
                    let more = if map.len() > 10 { ", ..." } else { "" };
                    NoValue(format!("no key {key:?} in the object at {at} (keys: {}{more})", keys.join(", ")))
                })?,
                (Segment::Index(i), Value::Array(items)) => {
                    let index = if *i < 0 { items.len() as i64 + i } else { *i };
                    usize::try_from(index).ok().and_then(|i| items.get(i)).ok_or_else(|| {
                        NoValue(format!("index {i} is out of range for the array of {} at {at}", items.len()))
                    })?
                }
                (Segment::Key(key), other) => {
                    return Err(NoValue(format!("{at} is {}, not an object with key {key:?}", kind(other))));
                }
                (Segment::Index(i), other) => {
                    return Err(NoValue(format!("{at} is {}, not an array with index {i}", kind(other))));
                }
            };
            match segment {
                Segment::Key(key) if is_plain_key(key) => {
                    at.push('.');
                    at.push_str(key);
                }
                Segment::Key(key) => at.push_str(&format!("[{key:?}]")),
                Segment::Index(i) => at.push_str(&format!("[{i}]")),
            }
            value = next;
        }
        Ok(value)
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// A quoted key's text up to the closing quote (`\` escapes the quote and itself), and the bytes
/// used including the closing quote.
fn quoted_key(text: &str, quote: char) -> Option<(String, usize)> {
    let mut key = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => key.push(chars.next()?.1),
            c if c == quote => return Some((key, i + 1)),
            c => key.push(c),
        }
    }
    None
}

/// `a string`, `a number`, ... for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find(path: &str, value: &Value) -> Result<Value, String> {
        JsonPath::parse(path).unwrap().find(value).cloned().map_err(|e| e.0)
    }

    #[test]
    fn parses_the_subset() {
        let p = JsonPath::parse("$.items[0].id").unwrap();
        assert_eq!(
            p.segments(),
            [Segment::Key("items".into()), Segment::Index(0), Segment::Key("id".into())]
        );
        assert_eq!(JsonPath::parse("$").unwrap().segments(), []);
        assert_eq!(
            JsonPath::parse("$['content-type'][\"a b\"]['it\\'s'][-1]").unwrap().segments(),
            [
                Segment::Key("content-type".into()),
                Segment::Key("a b".into()),
                Segment::Key("it's".into()),
                Segment::Index(-1)
            ]
        );
        assert_eq!(p.to_string(), "$.items[0].id");
    }

    #[test]
    fn rejects_what_it_does_not_support() {
        for (path, why) in [
            ("items.id", "must start with `$`"),
            ("$..id", "recursive descent"),
            ("$.items[*]", "wildcards"),
            ("$.*", "wildcards"),
            ("$.items[?(@.a)]", "filters"),
            ("$.items[x]", "is not an index"),
            ("$.items[0", "missing `]`"),
            ("$['a]", "unterminated"),
            ("$.", "empty key"),
            ("$x", "unexpected `x`"),
        ] {
            let e = JsonPath::parse(path).unwrap_err().to_string();
            assert!(e.contains(why), "{path}: {e}");
        }
    }

    #[test]
    fn finds_values_and_explains_misses() {
        let doc = json!({"id": 7, "items": [{"id": "a"}, {"id": "b"}], "meta": {"a-b": true}, "n": null});
        assert_eq!(find("$.id", &doc), Ok(json!(7)));
        assert_eq!(find("$.items[1].id", &doc), Ok(json!("b")));
        assert_eq!(find("$.items[-1].id", &doc), Ok(json!("b")));
        assert_eq!(find("$.meta['a-b']", &doc), Ok(json!(true)));
        assert_eq!(find("$.n", &doc), Ok(Value::Null));
        assert_eq!(find("$", &doc), Ok(doc.clone()));
        assert_eq!(
            find("$.name", &doc).unwrap_err(),
            "no key \"name\" in the object at $ (keys: id, items, meta, n)"
        );
        assert_eq!(
            find("$.items[2]", &doc).unwrap_err(),
            "index 2 is out of range for the array of 2 at $.items"
        );
        assert_eq!(find("$.id.x", &doc).unwrap_err(), "$.id is a number, not an object with key \"x\"");
        assert_eq!(find("$.meta[0]", &doc).unwrap_err(), "$.meta is an object, not an array with index 0");
    }
}
