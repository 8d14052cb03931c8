//! API step assertions, one per line: `<subject> <op> <value>`.
//!
//! | subject       | operators                                   | value                         |
//! |---------------|---------------------------------------------|-------------------------------|
//! | `status`      | `==` `!=` `<` `<=` `>` `>=`, `in`           | a code; `in`: `200-299`, `2xx`, `200,201` |
//! | `header NAME` | `exists`, `==` `!=` `contains` `matches`    | text; `matches`: a regex       |
//! | `json PATH`   | `exists`, `==` `!=` `<` `<=` `>` `>=` `contains` `matches` | a JSON literal or text |
//! | `body`        | `contains`, `matches`                       | text; `matches`: a regex       |
//! | `latency`     | `<` `<=`                                    | a duration (`800ms`, `2s`; a bare number is ms) |
//!
//! Values may be quoted (`"a b"` with JSON escapes, or `'a b'` taken as written) or bare (the
//! rest of the line). For `json`, `123`, `1.5`, `true`, `false`, `null`, `"text"`, `[..]` and
//! `{..}` are JSON values; anything else is text.

use std::cell::OnceCell;
use std::fmt;
use std::time::Duration;

use hyper::header::{HeaderMap, HeaderName};
use regex::Regex;
use serde_json::Value;

use super::errors::{NoValue, SyntaxError, ValueError};
use super::jsonpath::{JsonPath, Selected, kind};
use crate::spec::StatusRanges;

/// What assertions and extractions look at: one response.
pub struct ResponseView<'a> {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The response body.
    pub body: &'a [u8],
    /// The whole exchange, redirects included.
    pub latency: Duration,
    json: OnceCell<Result<Value, NoValue>>,
}

impl<'a> ResponseView<'a> {
    /// A view of one response; the body is parsed as JSON only when asked.
    pub fn new(status: u16, headers: &'a HeaderMap, body: &'a [u8], latency: Duration) -> Self {
        Self { status, headers, body, latency, json: OnceCell::new() }
    }

    /// The body as JSON, parsed once.
    pub fn json(&self) -> Result<&Value, &NoValue> {
        self.json
            .get_or_init(|| {
                serde_json::from_slice(self.body).map_err(|e| {
                    NoValue(if self.body.is_empty() {
                        "an empty body, not JSON".to_string()
                    } else {
                        format!("a body that is not JSON ({e}): {}", preview(self.body))
                    })
                })
            })
            .as_ref()
    }

    /// Every value of a header (names are case-insensitive).
    pub fn header_values(&self, name: &HeaderName) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// Up to 80 characters of a body, quoted, on one line.
pub fn preview(body: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// What an assertion looks at.
#[derive(Debug, Clone)]
pub enum Subject {
    /// `status`: the status code.
    Status,
    /// `header NAME`: the values of one header.
    Header(HeaderName),
    /// `json PATH`: the values a JSON path selects in the body.
    Json(JsonPath),
    /// `count PATH`: how many values a JSON path selects in the body.
    Count(JsonPath),
    /// `body`: the body as text.
    Body,
    /// `latency`: how long the exchange took.
    Latency,
}

/// An assertion's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`: the status is in a list of codes or ranges.
    In,
    /// `exists`: the header or JSON path is present.
    Exists,
    /// `contains`: the text contains the value.
    Contains,
    /// `matches`: the text matches a regex.
    Matches,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "in",
            Self::Exists => "exists",
            Self::Contains => "contains",
            Self::Matches => "matches",
        }
    }

    fn compare<T: PartialOrd>(self, found: T, expected: T) -> bool {
        match self {
            Self::Eq => found == expected,
            Self::Ne => found != expected,
            Self::Lt => found < expected,
            Self::Le => found <= expected,
            Self::Gt => found > expected,
            Self::Ge => found >= expected,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Expected {
    Nothing,
    Code(u16),
    Ranges(StatusRanges),
    Literal(Value),
    Number(f64),
    Text(String),
    Pattern(Regex),
    Duration(Duration),
}

/// A parsed assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    text: String,
    subject: Subject,
    op: Op,
    expected: Expected,
}

/// The result of checking one assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the assertion held.
    pub passed: bool,
    /// What was found, as it follows "got " in a message.
    pub found: String,
}

const SUBJECTS: &str = "status, header NAME, json PATH, count PATH, body or latency";

impl Assertion {
    /// The assertion as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What the assertion looks at.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Parses one assertion line; the error says what is wrong and shows the line.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let text = text.trim();
        let fail = |why: String| SyntaxError { what: "assertion", text: text.to_string(), reason: why };
        let failed = |e: &dyn std::fmt::Display| fail(e.to_string());
        let word_end = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
        let word = text[..word_end].to_ascii_lowercase();
        let rest = text[word_end..].trim_start();
        let (subject, rest) = match word.as_str() {
            "status" => (Subject::Status, rest),
            "body" => (Subject::Body, rest),
            "latency" => (Subject::Latency, rest),
            "header" => {
                let end = rest.find(|c: char| c.is_whitespace() || "=!<>".contains(c)).unwrap_or(rest.len());
                let name = &rest[..end];
                if name.is_empty() {
                    return Err(fail(
                        "`header` needs a header name, e.g. `header content-type contains json`".into(),
                    ));
                }
                let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map_err(|_| fail(format!("`{name}` is not a header name")))?;
                (Subject::Header(name), rest[end..].trim_start())
            }
            "json" | "count" => {
                let end = path_end(rest);
                if end == 0 {
                    return Err(fail(format!("`{word}` needs a path, e.g. `{word} $.items[0].id ...`")));
                }
                let path = JsonPath::parse(&rest[..end]).map_err(|e| failed(&e))?;
                let subject = if word == "json" { Subject::Json(path) } else { Subject::Count(path) };
                (subject, rest[end..].trim_start())
            }
            "" => return Err(fail(format!("an assertion starts with {SUBJECTS}"))),
            other => return Err(fail(format!("unknown subject `{other}`; use {SUBJECTS}"))),
        };
        let (op, value) = parse_op(rest).map_err(|e| failed(&e))?;
        let allowed: &[Op] = match subject {
            Subject::Status => &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::In],
            Subject::Header(_) => &[Op::Exists, Op::Eq, Op::Ne, Op::Contains, Op::Matches],
            Subject::Json(_) => {
                &[Op::Exists, Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Contains, Op::Matches]
            }
            Subject::Count(_) => &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge],
            Subject::Body => &[Op::Contains, Op::Matches],
            Subject::Latency => &[Op::Lt, Op::Le],
        };
        let name = match &subject {
            Subject::Status => "status",
            Subject::Header(_) => "header",
            Subject::Json(_) => "json",
            Subject::Count(_) => "count",
            Subject::Body => "body",
            Subject::Latency => "latency",
        };
        if !allowed.contains(&op) {
            let list: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
            return Err(fail(format!("`{name}` does not take `{}`; use {}", op.as_str(), list.join(", "))));
        }
        let value = value.trim();
        if op == Op::Exists {
            if !value.is_empty() {
                return Err(fail(format!("`exists` takes no value (found `{value}`)")));
            }
        } else if value.is_empty() {
            return Err(fail(format!("missing value after `{}`", op.as_str())));
        }
        let expected = match (&subject, op) {
            (_, Op::Exists) => Expected::Nothing,
            (_, Op::Matches) => {
                let pattern = regex_text(value);
                Expected::Pattern(
                    Regex::new(&pattern).map_err(|e| fail(format!("invalid regex: {}", one_line(&e))))?,
                )
            }
            (Subject::Status, Op::In) => {
                Expected::Ranges(StatusRanges::parse(value).map_err(|e| failed(&e))?)
            }
            (Subject::Status, _) => match value.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => Expected::Code(code),
                _ => return Err(fail(format!("`{value}` is not a status code (100..599)"))),
            },
            (Subject::Latency, _) => Expected::Duration(parse_latency(value).map_err(|e| failed(&e))?),
            (Subject::Count(_), _) => match value.parse::<u64>() {
                Ok(n) => Expected::Number(n as f64),
                Err(_) => {
                    return Err(fail(format!("`count` compares a number of values; `{value}` is not one")));
                }
            },
            (Subject::Json(_), Op::Lt | Op::Le | Op::Gt | Op::Ge) => match literal(value) {
                Ok(Value::Number(n)) => Expected::Number(n.as_f64().unwrap_or(f64::NAN)),
                _ => {
                    return Err(fail(format!(
                        "`{}` compares numbers; `{value}` is not a number",
                        op.as_str()
                    )));
                }
            },
            (Subject::Json(_), _) => Expected::Literal(literal(value).map_err(|e| failed(&e))?),
            (Subject::Header(_) | Subject::Body, _) => {
                Expected::Text(text_value(value).map_err(|e| failed(&e))?)
            }
        };
        Ok(Self { text: text.to_string(), subject, op, expected })
    }

    /// Checks the assertion against a response.
    pub fn check(&self, response: &ResponseView<'_>) -> Verdict {
        let verdict = |passed: bool, found: String| Verdict { passed, found };
        match &self.subject {
            Subject::Status => {
                let status = response.status;
                let passed = match &self.expected {
                    Expected::Ranges(ranges) => ranges.contains(status),
                    Expected::Code(code) => self.op.compare(status, *code),
                    _ => false,
                };
                verdict(passed, status.to_string())
            }
            Subject::Latency => {
                let Expected::Duration(limit) = self.expected else { return verdict(false, String::new()) };
                let passed = self.op.compare(response.latency, limit);
                verdict(passed, format!("{} ms", response.latency.as_millis()))
            }
            Subject::Header(name) => {
                let values = response.header_values(name);
                if values.is_empty() {
                    return verdict(false, format!("no `{name}` header"));
                }
                let joined = values.join(", ");
                let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v)) || f(&joined);
                let passed = match (&self.expected, self.op) {
                    (Expected::Nothing, _) => true,
                    (Expected::Text(t), Op::Eq) => any(&|v| v == t),
                    (Expected::Text(t), Op::Ne) => !any(&|v| v == t),
                    (Expected::Text(t), Op::Contains) => joined.contains(t.as_str()),
                    (Expected::Pattern(re), _) => any(&|v| re.is_match(v)),
                    _ => false,
                };
                verdict(passed, quoted(&joined))
            }
            Subject::Body => {
                let text = String::from_utf8_lossy(response.body);
                let passed = match &self.expected {
                    Expected::Text(t) => text.contains(t.as_str()),
                    Expected::Pattern(re) => re.is_match(&text),
                    _ => false,
                };
                let found = if response.body.is_empty() {
                    "an empty body".to_string()
                } else {
                    format!("a {}-byte body: {}", response.body.len(), preview(response.body))
                };
                verdict(passed, found)
            }
            Subject::Json(path) => {
                let root = match response.json() {
                    Ok(root) => root,
                    Err(why) => return verdict(false, why.to_string()),
                };
                let found = match path.select(root) {
                    Ok(found) => found,
                    Err(why) => return verdict(false, format!("nothing: {why}")),
                };
                if self.op == Op::Exists {
                    return verdict(true, shown(&found));
                }
                // A path that selects several values passes when every one of them does; the
                // found text names the first that does not.
                match found.iter().find_map(|s| self.check_value(s.value).err().map(|why| (s, why))) {
                    None => verdict(true, shown(&found)),
                    Some((_, why)) if path.is_singular() => verdict(false, why),
                    Some((failing, why)) => {
                        verdict(false, format!("{why} at {} ({} values selected)", failing.at, found.len()))
                    }
                }
            }
            Subject::Count(path) => {
                let root = match response.json() {
                    Ok(root) => root,
                    Err(why) => return verdict(false, why.to_string()),
                };
                let count = path.select(root).map_or(0, |found| found.len());
                let Expected::Number(expected) = self.expected else { return verdict(false, String::new()) };
                let plural = if count == 1 { "" } else { "s" };
                verdict(self.op.compare(count as f64, expected), format!("{count} value{plural} selected"))
            }
        }
    }

    /// Whether one selected value meets the operator and value; `Err` says what was found
    /// instead.
    fn check_value(&self, found: &Value) -> Result<(), String> {
        let shown = || compact(found);
        let passed = match (&self.expected, self.op) {
            (Expected::Nothing, _) => true,
            (Expected::Literal(expected), Op::Eq) => json_eq(found, expected),
            (Expected::Literal(expected), Op::Ne) => !json_eq(found, expected),
            (Expected::Number(expected), op) => match found.as_f64() {
                Some(n) => op.compare(n, *expected),
                None => return Err(format!("{} ({}, not a number)", shown(), kind(found))),
            },
            (Expected::Literal(expected), Op::Contains) => match found {
                Value::String(s) => {
                    let needle = match expected {
                        Value::String(e) => e.clone(),
                        other => other.to_string(),
                    };
                    s.contains(&needle)
                }
                Value::Array(items) => items.iter().any(|i| json_eq(i, expected)),
                Value::Object(map) => {
                    let key = expected.as_str().map_or_else(|| expected.to_string(), str::to_string);
                    map.contains_key(&key)
                }
                other => return Err(format!("{} ({}, which contains nothing)", shown(), kind(other))),
            },
            (Expected::Pattern(re), _) => match found {
                Value::String(s) => re.is_match(s),
                Value::Number(_) | Value::Bool(_) => re.is_match(&found.to_string()),
                other => return Err(format!("{} ({}, not text)", shown(), kind(other))),
            },
            _ => false,
        };
        if passed { Ok(()) } else { Err(shown()) }
    }
}

/// The selected values for a report: the value of a singular path, else the list.
fn shown(found: &[Selected<'_>]) -> String {
    match found {
        [one] => compact(one.value),
        many => compact(&Value::Array(many.iter().map(|s| s.value.clone()).collect())),
    }
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where a JSON path ends: at whitespace or an operator outside brackets and quotes.
fn path_end(text: &str) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => quote = Some(c),
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 && (c.is_whitespace() || "=!<>".contains(c)) => return i,
            _ => {}
        }
    }
    text.len()
}

fn parse_op(text: &str) -> Result<(Op, &str), ValueError> {
    for (symbol, op) in
        [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
    {
        if let Some(rest) = text.strip_prefix(symbol) {
            return Ok((op, rest));
        }
    }
    if text.starts_with('=') {
        return Err(ValueError::SingleEquals);
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let word = &text[..end];
    let op = match word.to_ascii_lowercase().as_str() {
        "in" => Op::In,
        "exists" => Op::Exists,
        "contains" => Op::Contains,
        "matches" => Op::Matches,
        "" => return Err(ValueError::MissingOperator),
        _ => return Err(ValueError::UnknownOperator(word.to_string())),
    };
    Ok((op, &text[end..]))
}

/// A text value: `"..."` (JSON escapes), `'...'` (as written) or bare.
pub(super) fn text_value(value: &str) -> Result<String, ValueError> {
    if value.starts_with('"') {
        return serde_json::from_str::<String>(value)
            .map_err(|_| ValueError::BadQuotedText(value.to_string()));
    }
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        return Ok(value[1..value.len() - 1].to_string());
    }
    Ok(value.to_string())
}

/// A regex value: quotes (either kind) are removed, nothing else is unescaped.
pub(super) fn regex_text(value: &str) -> String {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if quoted { value[1..value.len() - 1].to_string() } else { value.to_string() }
}

/// A JSON literal, `'text'`, or bare text.
fn literal(value: &str) -> Result<Value, ValueError> {
    if let Ok(v) = serde_json::from_str::<Value>(value) {
        return Ok(v);
    }
    match value.chars().next() {
        Some('"') => Err(ValueError::BadQuotedText(value.to_string())),
        Some('[' | '{') => Err(ValueError::NotJson(value.to_string())),
        _ => text_value(value).map(Value::String),
    }
}

fn parse_latency(value: &str) -> Result<Duration, ValueError> {
    if let Ok(ms) = value.parse::<f64>()
        && ms.is_finite()
        && ms >= 0.0
    {
        return Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| ValueError::TooLong(value.to_string()));
    }
    humantime::parse_duration(value).map_err(|_| ValueError::NotADuration(value.to_string()))
}

/// Numbers compare by value (`1 == 1.0`), everything else structurally.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON value on one line, at most 120 characters.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

fn quoted(text: &str) -> String {
    if text.chars().count() > 200 {
        format!("{:?}", format!("{}…", text.chars().take(200).collect::<String>()))
    } else {
        format!("{text:?}")
    }
}

fn one_line(e: &regex::Error) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        h.append("x-tag", HeaderValue::from_static("a"));
        h.append("x-tag", HeaderValue::from_static("b"));
        h
    }

    const BODY: &str =
        r#"{"id": 42, "name": "widget", "price": 9.5, "tags": ["a", "b"], "meta": {"k": null}, "ok": true}"#;

    fn check(assertion: &str, status: u16, body: &str) -> Verdict {
        let headers = headers();
        let view = ResponseView::new(status, &headers, body.as_bytes(), Duration::from_millis(120));
        Assertion::parse(assertion).unwrap_or_else(|e| panic!("{e}")).check(&view)
    }

    fn passes(assertion: &str) -> bool {
        check(assertion, 201, BODY).passed
    }

    fn error(assertion: &str) -> String {
        Assertion::parse(assertion).unwrap_err().to_string()
    }

    #[test]
    fn status() {
        for a in [
            "status == 201",
            "status != 200",
            "status < 300",
            "status > 200",
            "status <= 201",
            "status >= 201",
            "status in 200-299",
            "status in 2xx",
            "status in 200,201",
            "status==201",
            "STATUS == 201",
        ] {
            assert!(passes(a), "{a}");
        }
        for a in ["status == 200", "status != 201", "status < 201", "status > 201", "status in 300-399"] {
            assert!(!passes(a), "{a}");
        }
        assert_eq!(check("status == 200", 500, "").found, "500");
    }

    #[test]
    fn headers_are_case_insensitive_and_repeatable() {
        for a in [
            "header content-type exists",
            "header Content-Type contains json",
            "header content-type == \"application/json; charset=utf-8\"",
            "header content-type matches ^application/.*json",
            "header x-tag == a",
            "header x-tag == \"a, b\"",
            "header x-tag != c",
            "header content-type matches '^app'",
        ] {
            assert!(passes(a), "{a}");
        }
        assert!(!passes("header content-type contains xml"));
        assert!(!passes("header x-tag != a"));
        let missing = check("header x-request-id exists", 200, BODY);
        assert_eq!(missing, Verdict { passed: false, found: "no `x-request-id` header".into() });
        assert_eq!(
            check("header content-type contains xml", 200, BODY).found,
            "\"application/json; charset=utf-8\""
        );
    }

    #[test]
    fn json() {
        for a in [
            "json $.id exists",
            "json $.id == 42",
            "json $.id == 42.0",
            "json $.name == \"widget\"",
            "json $.name == widget",
            "json $.name == 'widget'",
            "json $.name != \"gadget\"",
            "json $.price < 10",
            "json $.price >= 9.5",
            "json $.id > 41",
            "json $.tags contains \"a\"",
            "json $.tags == [\"a\", \"b\"]",
            "json $.name contains idg",
            "json $.meta contains k",
            "json $.meta.k == null",
            "json $.ok == true",
            "json $.name matches ^wid",
            "json $['name'] == widget",
            "json $.tags[-1] == b",
            "json $.id matches ^4",
        ] {
            assert!(passes(a), "{a}");
        }
        for a in [
            "json $.id == \"42\"",
            "json $.name == gadget",
            "json $.price > 10",
            "json $.tags contains c",
            "json $.missing exists",
            "json $.meta.k exists.x",
        ] {
            assert!(Assertion::parse(a).is_err() || !passes(a), "{a}");
        }
        assert_eq!(check("json $.name == \"gadget\"", 200, BODY).found, "\"widget\"");
        assert_eq!(
            check("json $.nope exists", 200, BODY).found,
            "nothing: no key \"nope\" in the object at $ (keys: id, meta, name, ok, price, tags)"
        );
        assert_eq!(check("json $.name > 1", 200, BODY).found, "\"widget\" (a string, not a number)");
        let invalid = check("json $.id exists", 200, "{\"id\": ");
        assert!(!invalid.passed);
        assert!(invalid.found.starts_with("a body that is not JSON (EOF while parsing"), "{}", invalid.found);
        assert_eq!(check("json $.id exists", 200, "").found, "an empty body, not JSON");
    }

    #[test]
    fn a_path_selecting_several_values_holds_for_every_one() {
        let body = r#"{"items": [{"name": "widget", "id": 7, "price": 12}, {"name": "gadget", "id": 8, "price": 30}]}"#;
        let passes = |a: &str| check(a, 200, body).passed;
        assert!(passes("json $.items[?@.name == 'widget'].id == 7"));
        assert!(passes("json $..price > 10"));
        assert!(!passes("json $..price > 20"));
        assert_eq!(
            check("json $..price > 20", 200, body).found,
            "12 at $['items'][0]['price'] (2 values selected)"
        );
        assert!(passes("json $.items[*].name matches ^[a-z]+$"));
        assert!(passes("json $..id exists"));
        assert!(!passes("json $..sku exists"));
        assert_eq!(check("json $..sku exists", 200, body).found, "nothing: the path selects no value");
        assert!(!passes("json $.items[?@.price > 100].id == 7"), "nothing selected fails");
        assert_eq!(check("json $.items[*].id exists", 200, body).found, "[7,8]");
        assert!(passes("count $.items[*] == 2"));
        assert!(passes("count $.items[?@.price > 20] == 1"));
        assert!(passes("count $..sku == 0"));
        assert!(!passes("count $.items[*] > 2"));
        assert_eq!(check("count $.items[*] > 2", 200, body).found, "2 values selected");
        assert!(Assertion::parse("count $.items[*] > two").unwrap_err().to_string().contains("not one"));
        assert!(Assertion::parse("count $.items[*] contains 1").is_err());
    }

    #[test]
    fn body_and_latency() {
        assert!(passes("body contains widget"));
        assert!(passes("body contains \"\\\"name\\\": \\\"widget\\\"\""));
        assert!(passes("body matches \"wid.*\""));
        assert!(passes(r#"body matches "\"id\": \d+""#));
        assert!(!passes("body contains gadget"));
        assert_eq!(check("body contains x", 200, "").found, "an empty body");
        assert!(check("body contains zzz", 200, "hello").found.starts_with("a 5-byte body: \"hello\""));
        assert!(passes("latency < 800ms"));
        assert!(passes("latency <= 120"));
        assert!(!passes("latency < 100ms"));
        assert_eq!(check("latency < 1ms", 200, "").found, "120 ms");
    }

    #[test]
    fn malformed_assertions_say_why() {
        for (a, why) in [
            ("", "an assertion starts with status"),
            ("code == 200", "unknown subject `code`"),
            ("status = 200", "use `==`"),
            ("status is 200", "unknown operator `is`"),
            ("status", "missing operator"),
            ("status ==", "missing value after `==`"),
            ("status == abc", "`abc` is not a status code"),
            ("status == 700", "not a status code (100..599)"),
            ("status in 2xx-3xx", "status"),
            ("status contains 2", "`status` does not take `contains`; use ==, !=, <, <=, >, >=, in"),
            ("header == x", "`header` needs a header name"),
            ("header bad(name) exists", "is not a header name"),
            ("header x exists now", "`exists` takes no value"),
            ("json id exists", "must start with `$`"),
            ("json == 1", "`json` needs a path"),
            ("json $.a < big", "`<` compares numbers"),
            ("json $.a == \"open", "bad quoted text"),
            ("json $.a == [1,", "is not valid JSON"),
            ("body == x", "`body` does not take `==`; use contains, matches"),
            ("body matches (", "invalid regex"),
            ("latency > 1s", "`latency` does not take `>`"),
            ("latency < soon", "not a duration"),
        ] {
            let e = error(a);
            assert!(e.starts_with(&format!("invalid assertion `{}`", a.trim())), "{e}");
            assert!(e.contains(why), "{a}: {e}");
        }
    }
}
