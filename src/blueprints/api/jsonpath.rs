//! JSON paths of API assertions and extractions: JSONPath as RFC 9535 defines it (through
//! `serde_json_path`): names, indexes, wildcards, slices, recursive descent and filters. A path
//! selects a list of values; a *singular* path (names and indexes only, e.g. `$.items[0].id`)
//! selects at most one, and when it selects none the walk along it says why
//! (`no key "name" in the object at $ (keys: ...)`).
//!
//! Keys written after a dot with characters RFC 9535 does not allow there (`$.content-type`)
//! were accepted before the RFC parser: such a path is still read as the same singular path.

use std::fmt;

use serde_json::Value;

use super::errors::{NoValue, SyntaxError};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `.key` or `['key']`: a member of an object.
    Key(String),
    /// `[N]`, or `[-N]` counted from the end: an element of an array.
    Index(i64),
}

/// A parsed path such as `$.items[0].id`, `$..sku` or `$.items[?@.price > 10].name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    /// The RFC 9535 query; `None` for a legacy dotted key the RFC does not allow.
    query: Option<serde_json_path::JsonPath>,
    /// The path's steps when it is singular (names and indexes only).
    singular: Option<Singular>,
}

/// One selected value and where it is (`$['items'][0]['id']`).
#[derive(Debug, Clone, PartialEq)]
pub struct Selected<'v> {
    /// The value's normalized path (RFC 9535 §2.7).
    pub at: String,
    /// The value.
    pub value: &'v Value,
}

impl JsonPath {
    /// Parses a path as RFC 9535 defines it; the error says where and what.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let singular = Singular::parse(text).ok();
        match serde_json_path::JsonPath::parse(text) {
            Ok(query) => Ok(Self { text: text.to_string(), query: Some(query), singular }),
            Err(_) if singular.is_some() => Ok(Self { text: text.to_string(), query: None, singular }),
            Err(e) => {
                Err(SyntaxError { what: "JSON path", text: text.to_string(), reason: rfc_reason(text, &e) })
            }
        }
    }

    /// Whether the path selects at most one value (names and indexes only).
    pub fn is_singular(&self) -> bool {
        self.singular.is_some()
    }

    /// The values the path selects in document order, or why there are none.
    pub fn select<'v>(&self, root: &'v Value) -> Result<Vec<Selected<'v>>, NoValue> {
        if let Some(singular) = &self.singular {
            return singular.find(root).map(|(at, value)| vec![Selected { at, value }]);
        }
        let query = self.query.as_ref().expect("a path that is not singular has an RFC query");
        let found: Vec<Selected<'v>> = query
            .query_located(root)
            .into_iter()
            .map(|node| Selected { at: node.location().to_string(), value: node.node() })
            .collect();
        if found.is_empty() {
            return Err(NoValue("the path selects no value".into()));
        }
        Ok(found)
    }

    /// The value a singular path names, or the first value (in document order) another path
    /// selects.
    pub fn first<'v>(&self, root: &'v Value) -> Result<&'v Value, NoValue> {
        self.select(root).map(|found| found[0].value)
    }
}

/// `at column 9: expected ...` from the RFC parser's error, with a hint for forms people bring
/// from other JSONPath dialects.
fn rfc_reason(text: &str, error: &serde_json_path::ParseError) -> String {
    if !text.starts_with('$') {
        return "it must start with `$`, e.g. $.items[0].id".into();
    }
    let mut reason = format!("at column {}: {}", error.position() + 1, error.message());
    if text.contains(".length()") || text.contains(".size()") {
        reason.push_str(
            "; functions such as length() go inside filters (`$[?length(@.items) > 0]`); to count values write `count $.items[*] > 0`",
        );
    }
    reason
}

/// A path of names and indexes only, walked step by step so that a miss says where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Singular {
    segments: Vec<Segment>,
}

const FORMS: &str = "use $, .key, ['key'] and [N], e.g. $.items[0].id";

impl Singular {
    fn parse(text: &str) -> Result<Self, SyntaxError> {
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
        Ok(Self { segments })
    }

    /// The value at this path and its normalized path, or why there is none (e.g. `no key
    /// "name" in the object at $`).
    fn find<'v>(&self, root: &'v Value) -> Result<(String, &'v Value), NoValue> {
        let mut normalized = String::from("$");
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
            match (segment, value) {
                (Segment::Index(i), Value::Array(items)) if *i < 0 => {
                    normalized.push_str(&format!("[{}]", items.len() as i64 + i));
                }
                (Segment::Index(i), _) => normalized.push_str(&format!("[{i}]")),
                (Segment::Key(key), _) => normalized.push_str(&format!("[{}]", normalized_name(key))),
            }
            value = next;
        }
        Ok((normalized, value))
    }
}

/// A member name as RFC 9535's normalized paths write it: `'name'`, with `'` and `\` escaped.
fn normalized_name(key: &str) -> String {
    let mut out = String::from("'");
    for c in key.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
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
        JsonPath::parse(path).unwrap().first(value).cloned().map_err(|e| e.0)
    }

    fn all(path: &str, value: &Value) -> Vec<(String, Value)> {
        let found = JsonPath::parse(path).unwrap().select(value).unwrap_or_default();
        found.into_iter().map(|s| (s.at, s.value.clone())).collect()
    }

    #[test]
    fn names_and_indexes_are_singular_and_legacy_dotted_keys_still_parse() {
        for path in ["$", "$.items[0].id", "$['content-type'][\"a b\"]['it\\'s'][-1]", "$.content-type"] {
            let parsed = JsonPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(parsed.is_singular(), "{path}");
            assert_eq!(parsed.to_string(), path);
        }
        for path in ["$.items[*]", "$..id", "$.items[1:3]", "$.items[?@.id == 'a']", "$.*"] {
            assert!(!JsonPath::parse(path).unwrap().is_singular(), "{path}");
        }
    }

    #[test]
    fn bad_paths_say_where_and_what() {
        for (path, why) in [
            ("items.id", "must start with `$`"),
            ("$.items.length() > 0", "count $.items[*]"),
            ("$.items[0", "at column"),
            ("$['a]", "at column"),
        ] {
            let e = JsonPath::parse(path).unwrap_err().to_string();
            assert!(e.contains(why), "{path}: {e}");
        }
    }

    #[test]
    fn selects_every_value_of_wildcards_slices_descendants_and_filters() {
        let doc = json!({"items": [{"name": "widget", "id": 7, "sku": "W"}, {"name": "gadget", "id": 8, "sku": "G"}], "sku": "top"});
        assert_eq!(
            all("$.items[*].id", &doc),
            [("$['items'][0]['id']".into(), json!(7)), ("$['items'][1]['id']".into(), json!(8))]
        );
        assert_eq!(all("$.items[?@.name == 'widget'].id", &doc), [("$['items'][0]['id']".into(), json!(7))]);
        assert_eq!(all("$..sku", &doc).len(), 3);
        assert_eq!(all("$.items[1:].name", &doc), [("$['items'][1]['name']".into(), json!("gadget"))]);
        assert_eq!(all("$.items[?length(@.name) > 6].name", &doc), []);
        assert_eq!(
            JsonPath::parse("$.items[?@.id > 9]").unwrap().select(&doc).unwrap_err().0,
            "the path selects no value"
        );
    }

    #[test]
    fn finds_values_and_explains_misses() {
        let doc = json!({"id": 7, "items": [{"id": "a"}, {"id": "b"}], "meta": {"a-b": true}, "n": null});
        assert_eq!(find("$.id", &doc), Ok(json!(7)));
        assert_eq!(find("$.items[1].id", &doc), Ok(json!("b")));
        assert_eq!(find("$.items[-1].id", &doc), Ok(json!("b")));
        assert_eq!(find("$.meta['a-b']", &doc), Ok(json!(true)));
        assert_eq!(find("$.meta.a-b", &doc), Ok(json!(true)));
        assert_eq!(find("$.n", &doc), Ok(Value::Null));
        assert_eq!(find("$", &doc), Ok(doc.clone()));
        assert_eq!(find("$.items[*].id", &doc), Ok(json!("a")), "the first of several");
        assert_eq!(all("$.items[-1].id", &doc), [("$['items'][1]['id']".into(), json!("b"))]);
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
