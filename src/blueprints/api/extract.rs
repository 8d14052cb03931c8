//! `extract:` — values later steps use as `${name}`:
//!
//! - `json PATH`: the value at the path; strings as they are, other values as JSON text.
//! - `header NAME`: the header's value (repeated headers joined by `, `).
//! - `body REGEX`: the first capture group of the first match, else the whole match.

use hyper::header::HeaderName;
use regex::Regex;
use serde_json::Value;

use super::assertion::{ResponseView, regex_text};
use super::errors::{NoValue, SyntaxError};
use super::jsonpath::JsonPath;

/// A parsed extraction: where in the response a value comes from.
#[derive(Debug, Clone)]
pub enum Extraction {
    /// `json PATH`: the value at the path.
    Json(JsonPath),
    /// `header NAME`: the header's value.
    Header(HeaderName),
    /// `body REGEX`: the first capture group of the first match, else the whole match.
    Body(Regex),
}

impl Extraction {
    /// Parses one extraction; the error says what is wrong and shows it.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let text = text.trim();
        let fail = |why: String| SyntaxError { what: "extraction", text: text.to_string(), reason: why };
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        let need = |what: &str| fail(format!("`{word}` needs {what}"));
        match word.to_ascii_lowercase().as_str() {
            "json" if rest.is_empty() => Err(need("a path, e.g. `json $.id`")),
            "json" => JsonPath::parse(rest).map(Self::Json).map_err(|e| fail(e.to_string())),
            "header" if rest.is_empty() => Err(need("a header name, e.g. `header etag`")),
            "header" => HeaderName::from_bytes(rest.to_ascii_lowercase().as_bytes())
                .map(Self::Header)
                .map_err(|_| fail(format!("`{rest}` is not a header name"))),
            "body" if rest.is_empty() => Err(need("a regex, e.g. `body \"id=(\\d+)\"`")),
            "body" => Regex::new(&regex_text(rest)).map(Self::Body).map_err(|e| {
                fail(format!(
                    "invalid regex: {}",
                    e.to_string()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            }),
            _ => Err(fail("use `json PATH`, `header NAME` or `body REGEX`".into())),
        }
    }

    /// The value, or why there is none.
    pub fn apply(&self, response: &ResponseView<'_>) -> Result<String, NoValue> {
        let none = |why: String| NoValue(why);
        match self {
            Self::Json(path) => {
                let root = response.json().map_err(|why| none(format!("the response has {why}")))?;
                match path.first(root).map_err(|why| none(format!("json {path}: {why}")))? {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Err(none(format!("json {path} is null"))),
                    other => Ok(other.to_string()),
                }
            }
            Self::Header(name) => {
                let values = response.header_values(name);
                if values.is_empty() {
                    Err(none(format!("the response has no `{name}` header")))
                } else {
                    Ok(values.join(", "))
                }
            }
            Self::Body(re) => {
                let text = String::from_utf8_lossy(response.body);
                let captures =
                    re.captures(&text).ok_or_else(|| none(format!("body regex `{re}` does not match")))?;
                let found = captures.get(1).or_else(|| captures.get(0)).map_or("", |m| m.as_str());
                Ok(found.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::header::{HeaderMap, HeaderValue};

    use super::*;

    fn extract(spec: &str, body: &str) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        headers.insert("etag", HeaderValue::from_static("\"v1\""));
        let view = ResponseView::new(200, &headers, body.as_bytes(), Duration::ZERO);
        Extraction::parse(spec).unwrap().apply(&view).map_err(|e| e.0)
    }

    #[test]
    fn forms() {
        let body = r#"{"id": 7, "name": "w", "tags": ["a"], "none": null}"#;
        assert_eq!(extract("json $.id", body), Ok("7".into()));
        assert_eq!(extract("json $.name", body), Ok("w".into()));
        assert_eq!(extract("json $.tags", body), Ok("[\"a\"]".into()));
        assert_eq!(extract("json $.none", body), Err("json $.none is null".into()));
        assert!(extract("json $.x", body).unwrap_err().starts_with("json $.x: no key \"x\""));
        assert!(
            extract("json $.x", "<html>")
                .unwrap_err()
                .starts_with("the response has a body that is not JSON")
        );
        assert_eq!(extract("header ETag", body), Ok("\"v1\"".into()));
        assert_eq!(extract("header x-nope", body), Err("the response has no `x-nope` header".into()));
        assert_eq!(extract(r#"body "id\": (\d+)""#, body), Ok("7".into()));
        assert_eq!(extract(r"body \d+", body), Ok("7".into()));
        assert_eq!(extract("body zzz", body), Err("body regex `zzz` does not match".into()));
    }

    #[test]
    fn malformed() {
        for (spec, why) in [
            ("json", "needs a path"),
            ("json id", "must start with `$`"),
            ("header", "needs a header name"),
            ("header a b", "is not a header name"),
            ("body", "needs a regex"),
            ("body (", "invalid regex"),
            ("xpath //a", "use `json PATH`"),
        ] {
            let e = Extraction::parse(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }
}
