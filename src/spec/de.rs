//! A serde deserializer over a [`Node`] tree that collects every problem with its position.
//!
//! serde stops at the first error, so [`from_node`] runs several passes: each failing value is
//! recorded once, then hidden ("masked") and the document deserialized again, until it succeeds
//! or fails only because of values already reported. Unknown keys of structs are recorded and
//! skipped in every pass. The result is every unknown key, type error and missing key of a file
//! in one go.
//!
//! Scalars are text: `deserialize_any` resolves plain scalars with the YAML 1.2 core schema,
//! `deserialize_str` accepts any scalar's text, numbers and booleans are parsed from the text.
//!
//! A pass costs time linear in the document, and every failing value costs one more pass, so
//! passes stop once [`MAX_PROBLEMS`] problems are recorded: a file with a hundred thousand bad
//! values is reported in a hundred passes, not a hundred thousand. Values that messages show are
//! cut to [`super::yaml::SHOWN_CHARS`] characters.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use super::path::KeyPath;
use super::suggest::did_you_mean;
use super::yaml::{Node, NodeKind, shorten};

/// How many problems one [`from_node`] call records before it stops looking for more.
pub const MAX_PROBLEMS: usize = 100;
/// How many node visits, over all passes, one [`from_node`] call makes before it stops looking
/// for more problems: a few passes over a large file with many problems, not a hundred.
const VISIT_BUDGET: usize = 2_000_000;

/// A problem placed in the file: position, key path and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The key path of the value at fault.
    pub path: KeyPath,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl Located {
    /// A problem placed where `node` starts, under `path`.
    pub fn at(node: &Node, path: KeyPath, message: impl Into<String>) -> Self {
        Self { path, line: node.line, col: node.col, message: message.into() }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.col)?;
        if !self.path.is_root() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Deserializes `T` from a node tree. Returns the value when one could be built (possibly with
/// defaults standing in for values that were reported as problems) and every problem found.
/// The value is only valid when the problem list is empty.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<Located>) {
    from_node_at(node, KeyPath::root())
}

/// [`from_node`] for a node that stands at `path` in its file (a section handed on by the spec
/// layer): problems carry the whole path.
pub fn from_node_at<T: DeserializeOwned>(node: &Node, path: KeyPath) -> (Option<T>, Vec<Located>) {
    from_node_in(node, path, Ctx::default())
}

/// [`from_node`] for a document whose top-level mapping may also hold `sections`: keys that
/// another module reads (a blueprint's section). They are skipped, and listed among the expected
/// keys when a top-level key is unknown.
pub fn from_node_with_sections<T: DeserializeOwned>(
    node: &Node,
    sections: &[&'static str],
) -> (Option<T>, Vec<Located>) {
    let ctx = Ctx { sections: sections.to_vec(), ..Ctx::default() };
    from_node_in(node, KeyPath::root(), ctx)
}

fn from_node_in<T: DeserializeOwned>(node: &Node, path: KeyPath, ctx: Ctx) -> (Option<T>, Vec<Located>) {
    // Each failed pass records a problem and masks at least one more node, so this ends within
    // MAX_PROBLEMS + 1 passes (fewer for a large document: VISIT_BUDGET); the loop bound is a
    // safety net.
    let mut value = None;
    for _ in 0..=MAX_PROBLEMS * 2 {
        if ctx.is_full() || ctx.visits.get() > VISIT_BUDGET {
            let found = ctx.problems.borrow().len();
            ctx.problems.borrow_mut().push(Located::at(
                node,
                path.clone(),
                format!("… stopped after {found} problems; fix these to see the rest"),
            ));
            break;
        }
        match T::deserialize(NodeDe::new(node, path.clone(), &ctx, false)) {
            Ok(v) => {
                value = Some(v);
                break;
            }
            Err(e) => match e {
                Error::Done => {}
                Error::Stale => break,
                fresh => {
                    ctx.record(fresh, node, &path);
                    break;
                }
            },
        }
    }
    let mut problems = ctx.problems.into_inner();
    problems.sort_by_key(|p| (p.line, p.col));
    (value, problems)
}

/// At most [`MAX_PROBLEMS`] diagnostics of one file; the rest are counted in a last one
/// ("… and N more problems") placed after the last one kept. A message that still echoes a long
/// value (a check that quotes it whole) keeps its start and its end.
pub fn cap_problems(mut diagnostics: Vec<super::Diagnostic>) -> Vec<super::Diagnostic> {
    for diagnostic in &mut diagnostics {
        if let Some(cut) = cut_middle(&diagnostic.message) {
            diagnostic.message = cut;
        }
    }
    if diagnostics.len() <= MAX_PROBLEMS {
        return diagnostics;
    }
    let more = diagnostics.len() - MAX_PROBLEMS;
    diagnostics.truncate(MAX_PROBLEMS);
    let last = &diagnostics[MAX_PROBLEMS - 1];
    let summary = super::Diagnostic {
        path: String::new(),
        message: format!("… and {more} more problem{}", if more == 1 { "" } else { "s" }),
        ..last.clone()
    };
    diagnostics.push(summary);
    diagnostics
}

/// The longest message shown whole, in characters.
const MAX_MESSAGE_CHARS: usize = 400;

/// A message longer than [`MAX_MESSAGE_CHARS`]: its first and last 150 characters around `…`.
fn cut_middle(message: &str) -> Option<String> {
    let chars = message.chars().count();
    if chars <= MAX_MESSAGE_CHARS {
        return None;
    }
    let head: String = message.chars().take(150).collect();
    let tail: String = message.chars().skip(chars - 150).collect();
    Some(format!("{head}…{tail}"))
}

/// The error type of [`NodeDe`]. Users only see the messages, via [`from_node`].
#[derive(Debug)]
pub enum Error {
    /// A problem not yet recorded; `at` is filled by the innermost node that knows its position.
    Fresh {
        /// What is wrong.
        message: String,
        /// Key path, 1-based line and column, once known.
        at: Option<(KeyPath, usize, usize)>,
    },
    /// A visitor found a required field missing (converted by `deserialize_struct`).
    MissingField(&'static str),
    /// Recorded, and a node was masked: try again.
    Done,
    /// Failed only because of masked nodes: mask the enclosing value.
    Stale,
}

impl Error {
    fn fresh(message: impl Into<String>) -> Self {
        Self::Fresh { message: message.into(), at: None }
    }

    fn expected(what: &str, node: &Node) -> Self {
        // `describe` cuts long values.
        Self::fresh(format!("expected {what}, found {}", node.describe()))
    }

    /// Places a fresh error at `node` unless it already has a place.
    fn place(self, node: &Node, path: &KeyPath) -> Self {
        match self {
            Self::Fresh { message, at: None } => {
                Self::Fresh { message, at: Some((path.clone(), node.line, node.col)) }
            }
            Self::MissingField(field) => Self::Fresh {
                message: format!("missing key `{field}`"),
                at: Some((path.clone(), node.line, node.col)),
            },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fresh { message, .. } => f.write_str(message),
            Self::MissingField(field) => write!(f, "missing key `{field}`"),
            Self::Done | Self::Stale => f.write_str("already reported"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::fresh(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Self::MissingField(field)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::fresh(unknown_value_message(variant, expected))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::fresh(unknown_key_message(field, expected))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::fresh(format!("expected {exp}, found {}", shown_unexpected(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::fresh(format!("expected {exp}, found {}", shown_unexpected(&unexp)))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Self::fresh(format!("expected {exp}, found {len} items"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::fresh(format!("key `{field}` is given twice"))
    }
}

/// The keys a struct type reads (its serde field names); empty for a type that is no struct.
pub fn struct_keys<T: DeserializeOwned>() -> &'static [&'static str] {
    T::deserialize(KeysProbe).err().map_or(&[], |keys| keys.0)
}

/// A deserializer that only records the field names a struct asks for.
struct KeysProbe;

/// The field names [`KeysProbe`] saw (empty when the type asked for no struct).
#[derive(Debug)]
struct ProbedKeys(&'static [&'static str]);

impl fmt::Display for ProbedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keys: {}", self.0.join(", "))
    }
}

impl std::error::Error for ProbedKeys {}

impl de::Error for ProbedKeys {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self(&[])
    }
}

impl<'de> de::Deserializer<'de> for KeysProbe {
    type Error = ProbedKeys;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbedKeys> {
        Err(ProbedKeys(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbedKeys> {
        Err(ProbedKeys(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Whether a problem is an unknown key (skipped, so no value stands in for it): semantic checks
/// need not avoid its path.
pub fn is_unknown_key(problem: &Located) -> bool {
    problem.message.starts_with("unknown key `")
}

/// "unknown value `x`; expected one of: a, b; did you mean `a`?" (a long value cut)
pub fn unknown_value_message(value: &str, expected: &[&str]) -> String {
    format!(
        "unknown value `{}`; expected one of: {}{}",
        shorten(value),
        expected.join(", "),
        did_you_mean(value, expected.iter().copied())
    )
}

/// serde's description of an unexpected value, its text cut.
fn shown_unexpected(unexp: &de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Str(text) => format!("string {:?}", shorten(text)),
        other => shorten(&other.to_string()).into_owned(),
    }
}

fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    let shown = shorten(key);
    if expected.is_empty() {
        return format!("unknown key `{shown}`; no keys are allowed here");
    }
    format!(
        "unknown key `{shown}`; expected one of: {}{}",
        expected.join(", "),
        did_you_mean(key, expected.iter().copied())
    )
}

/// State shared by all deserializers of one [`from_node`] call.
#[derive(Default)]
struct Ctx {
    /// Addresses of the nodes hidden after a failure.
    masked: RefCell<HashSet<usize>>,
    problems: RefCell<Vec<Located>>,
    seen: RefCell<HashSet<(usize, usize, String)>>,
    /// Top-level keys read by another module (see [`from_node_with_sections`]).
    sections: Vec<&'static str>,
    /// Nodes visited so far, over all passes.
    visits: std::cell::Cell<usize>,
}

fn addr(node: &Node) -> usize {
    std::ptr::from_ref(node) as usize
}

impl Ctx {
    fn is_masked(&self, node: &Node) -> bool {
        self.masked.borrow().contains(&addr(node))
    }

    fn push(&self, problem: Located) {
        if self.is_full() {
            return;
        }
        let key = (problem.line, problem.col, problem.message.clone());
        if self.seen.borrow_mut().insert(key) {
            self.problems.borrow_mut().push(problem);
        }
    }

    fn is_full(&self) -> bool {
        self.problems.borrow().len() >= MAX_PROBLEMS
    }

    /// Records a fresh error (placed at `node` unless it has a place).
    fn record(&self, error: Error, node: &Node, path: &KeyPath) {
        if let Error::Fresh { message, at } = error.place(node, path) {
            let (path, line, col) = at.unwrap_or_else(|| (path.clone(), node.line, node.col));
            self.push(Located { path, line, col, message });
        }
    }

    /// After a child failed: record what is new, hide `mask`, and ask for another pass.
    fn fail(&self, error: Error, node: &Node, path: &KeyPath, mask: &Node) -> Error {
        match error {
            Error::Done => Error::Done,
            Error::Stale => {
                self.masked.borrow_mut().insert(addr(mask));
                Error::Done
            }
            fresh => {
                self.record(fresh, node, path);
                self.masked.borrow_mut().insert(addr(mask));
                Error::Done
            }
        }
    }
}

/// A deserializer for one node. `key`: the node is a mapping key (scalars are always strings).
pub struct NodeDe<'a> {
    node: &'a Node,
    path: KeyPath,
    ctx: &'a Ctx,
    key: bool,
}

impl<'a> NodeDe<'a> {
    fn new(node: &'a Node, path: KeyPath, ctx: &'a Ctx, key: bool) -> Self {
        ctx.visits.set(ctx.visits.get() + 1);
        Self { node, path, ctx, key }
    }

    fn text(&self, what: &str) -> Result<&'a str, Error> {
        match &self.node.kind {
            NodeKind::Scalar { text, .. } => Ok(text),
            _ => Err(Error::expected(what, self.node)),
        }
    }

    fn integer(&self, what: &str) -> Result<i128, Error> {
        let text = self.text(what)?;
        parse_int(text).ok_or_else(|| Error::expected(what, self.node))
    }

    fn float(&self) -> Result<f64, Error> {
        let text = self.text("a number")?;
        parse_float(text).ok_or_else(|| Error::expected("a number", self.node))
    }

    fn map_access(&self, allowed: Option<&'static [&'static str]>) -> MapAcc<'a> {
        let mut entries = Vec::new();
        if let NodeKind::Map(all) = &self.node.kind {
            self.ctx.visits.set(self.ctx.visits.get() + all.len());
            for entry in all {
                let (k, v) = entry;
                if self.ctx.is_masked(v) {
                    continue;
                }
                if let Some(fields) = allowed {
                    let sections: &[&str] = if self.path.is_root() { &self.ctx.sections } else { &[] };
                    match &k.kind {
                        NodeKind::Scalar { text, .. } if fields.contains(&text.as_str()) => {}
                        NodeKind::Scalar { text, .. } if sections.contains(&text.as_str()) => continue,
                        NodeKind::Scalar { text, .. } => {
                            let expected: Vec<&str> = fields.iter().chain(sections).copied().collect();
                            self.ctx.push(Located::at(
                                k,
                                child_path(&self.path, k),
                                unknown_key_message(text, &expected),
                            ));
                            continue;
                        }
                        _ => {
                            self.ctx.push(Located::at(
                                k,
                                self.path.clone(),
                                format!("expected a key name, found {}", k.describe()),
                            ));
                            continue;
                        }
                    }
                }
                entries.push(entry);
            }
        }
        MapAcc { entries: entries.into_iter(), current: None, path: self.path.clone(), ctx: self.ctx }
    }

    fn seq_access(&self) -> SeqAcc<'a> {
        let items: Vec<(usize, &'a Node)> = match &self.node.kind {
            NodeKind::Seq(items) => {
                self.ctx.visits.set(self.ctx.visits.get() + items.len());
                items.iter().enumerate().filter(|(_, n)| !self.ctx.is_masked(n)).collect()
            }
            _ => Vec::new(),
        };
        SeqAcc { items: items.into_iter(), path: self.path.clone(), ctx: self.ctx }
    }

    fn place<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|e| e.place(self.node, &self.path))
    }
}

/// Integers of the YAML 1.2 core schema: decimal with an optional sign, `0x..`, `0o..`.
pub fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i128::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

/// Floats of the YAML 1.2 core schema (integers included).
pub fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let body = text.trim_start_matches(['-', '+']);
    let numeric = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if numeric { text.parse().ok() } else { parse_int(text).map(|i| i as f64) }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

macro_rules! deserialize_int {
    ($method:ident, $visit:ident, $ty:ty, $what:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let value = self.place(self.integer($what))?;
            let value = <$ty>::try_from(value)
                .map_err(|_| Error::expected($what, self.node))
                .map_err(|e| e.place(self.node, &self.path))?;
            self.place(visitor.$visit(value))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar { text, plain: true } if !self.key => {
                if let Some(b) = parse_bool(text) {
                    visitor.visit_bool(b)
                } else if let Some(i) = parse_int(text) {
                    match (i64::try_from(i), u64::try_from(i)) {
                        (Ok(i), _) => visitor.visit_i64(i),
                        (_, Ok(u)) => visitor.visit_u64(u),
                        _ => visitor.visit_f64(i as f64),
                    }
                } else if let Some(f) = parse_float(text) {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(text)
                }
            }
            NodeKind::Scalar { text, .. } => visitor.visit_str(text),
            NodeKind::Seq(_) => visitor.visit_seq(self.seq_access()),
            NodeKind::Map(_) => visitor.visit_map(self.map_access(None)),
        };
        self.place(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.place(self.text("true or false"))?;
        let value =
            self.place(parse_bool(text).ok_or_else(|| Error::expected("true or false", self.node)))?;
        self.place(visitor.visit_bool(value))
    }

    deserialize_int!(deserialize_i8, visit_i8, i8, "an integer -128..127");
    deserialize_int!(deserialize_i16, visit_i16, i16, "an integer -32768..32767");
    deserialize_int!(deserialize_i32, visit_i32, i32, "a 32-bit integer");
    deserialize_int!(deserialize_i64, visit_i64, i64, "an integer");
    deserialize_int!(deserialize_i128, visit_i128, i128, "an integer");
    deserialize_int!(deserialize_u8, visit_u8, u8, "an integer 0..255");
    deserialize_int!(deserialize_u16, visit_u16, u16, "an integer 0..65535");
    deserialize_int!(deserialize_u32, visit_u32, u32, "an integer 0..4294967295");
    deserialize_int!(deserialize_u64, visit_u64, u64, "a non-negative integer");
    deserialize_int!(deserialize_u128, visit_u128, u128, "a non-negative integer");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.place(self.float())?;
        self.place(visitor.visit_f32(value as f32))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.place(self.float())?;
        self.place(visitor.visit_f64(value))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.place(self.text("a single character"))?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.place(visitor.visit_char(c)),
            _ => self.place(Err(Error::expected("a single character", self.node))),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.place(self.text("a string"))?;
        self.place(visitor.visit_str(text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.place(self.text("a string"))?;
        self.place(visitor.visit_bytes(text.as_bytes()))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            let result = visitor.visit_none();
            self.place(result)
        } else {
            let (node, path) = (self.node, self.path.clone());
            visitor.visit_some(self).map_err(|e| e.place(node, &path))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            self.place(visitor.visit_unit())
        } else {
            self.place(Err(Error::expected("nothing (null)", self.node)))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == super::section::SECTION_TOKEN {
            super::section::hand_over(self.node, &self.path);
            return self.place(visitor.visit_unit());
        }
        let (node, path) = (self.node, self.path.clone());
        visitor.visit_newtype_struct(self).map_err(|e| e.place(node, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(_) | NodeKind::Null => self.place(visitor.visit_seq(self.seq_access())),
            _ => self.place(Err(Error::expected("a list", self.node))),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(_) | NodeKind::Null => self.place(visitor.visit_map(self.map_access(None))),
            _ => self.place(Err(Error::expected("a mapping", self.node))),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if !matches!(self.node.kind, NodeKind::Map(_) | NodeKind::Null) {
            return self.place(Err(Error::expected("a mapping", self.node)));
        }
        match visitor.visit_map(self.map_access(Some(fields))) {
            // A required key that is written but was masked after a problem: already reported.
            Err(Error::MissingField(field)) if self.node.get(field).is_some() => Err(Error::Stale),
            other => self.place(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let access = match &self.node.kind {
            NodeKind::Scalar { .. } => {
                EnumAcc { variant: self.node, value: None, path: self.path.clone(), ctx: self.ctx }
            }
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                EnumAcc { variant: k, value: Some(v), path: self.path.clone(), ctx: self.ctx }
            }
            NodeKind::Map(entries) => {
                return self.place(Err(Error::fresh(format!(
                    "expected a single key (one of: {}), found a mapping with {} keys",
                    variants.join(", "),
                    entries.len()
                ))));
            }
            _ => {
                return self
                    .place(Err(Error::expected(&format!("one of: {}", variants.join(", ")), self.node)));
            }
        };
        self.place(visitor.visit_enum(access))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct MapAcc<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    current: Option<&'a (Node, Node)>,
    path: KeyPath,
    ctx: &'a Ctx,
}

/// The path of a mapping's value (a key too long to show is cut; `Display` of a node cuts).
fn child_path(path: &KeyPath, key: &Node) -> KeyPath {
    match &key.kind {
        NodeKind::Scalar { text, .. } => path.key(shorten(text)),
        other => path.key(other.to_string()),
    }
}

impl<'de> de::MapAccess<'de> for MapAcc<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else { return Ok(None) };
        self.current = Some(entry);
        let (k, v) = entry;
        let path = child_path(&self.path, k);
        seed.deserialize(NodeDe::new(k, path.clone(), self.ctx, true))
            .map(Some)
            .map_err(|e| self.ctx.fail(e, k, &path, v))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (k, v) = self.current.take().expect("next_value_seed called before next_key_seed");
        let path = child_path(&self.path, k);
        seed.deserialize(NodeDe::new(v, path.clone(), self.ctx, false))
            .map_err(|e| self.ctx.fail(e, v, &path, v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct SeqAcc<'a> {
    items: std::vec::IntoIter<(usize, &'a Node)>,
    path: KeyPath,
    ctx: &'a Ctx,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Error> {
        let Some((index, node)) = self.items.next() else { return Ok(None) };
        let path = self.path.index(index);
        seed.deserialize(NodeDe::new(node, path.clone(), self.ctx, false))
            .map(Some)
            .map_err(|e| self.ctx.fail(e, node, &path, node))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An enum written as `variant` or `variant: value`.
struct EnumAcc<'a> {
    variant: &'a Node,
    value: Option<&'a Node>,
    path: KeyPath,
    ctx: &'a Ctx,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAcc<'a> {
    type Error = Error;
    type Variant = VariantAcc<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantAcc<'a>), Error> {
        let name = self.variant.as_str().unwrap_or_default().to_string();
        let value = seed
            .deserialize(NodeDe::new(self.variant, self.path.clone(), self.ctx, true))
            .map_err(|e| e.place(self.variant, &self.path))?;
        let path = if self.value.is_some() { self.path.key(name.clone()) } else { self.path.clone() };
        Ok((value, VariantAcc { name, value: self.value, at: self.variant, path, ctx: self.ctx }))
    }
}

struct VariantAcc<'a> {
    name: String,
    value: Option<&'a Node>,
    /// The variant's name node, where "needs a value" problems go.
    at: &'a Node,
    path: KeyPath,
    ctx: &'a Ctx,
}

impl<'a> VariantAcc<'a> {
    fn value(&self) -> Result<NodeDe<'a>, Error> {
        match self.value {
            Some(v) => Ok(NodeDe::new(v, self.path.clone(), self.ctx, false)),
            None => Err(Error::fresh(format!("`{}` needs a value (write `{}: ...`)", self.name, self.name))
                .place(self.at, &self.path)),
        }
    }
}

impl<'de> de::VariantAccess<'de> for VariantAcc<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(v) if v.is_null() => Ok(()),
            Some(v) => Err(Error::fresh(format!("`{}` takes no value", self.name)).place(v, &self.path)),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self.value()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self.value()?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self.value()?, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::spec::model::{CanaryFile, HumanDuration};
    use crate::spec::yaml::parse;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Kind {
        Heartbeat,
        Api,
        BrokenLinks,
        Visual,
        Flow,
        Workflow,
        Script,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code, reason = "only deserialized")]
    enum WorkflowStep {
        Input(SelectorText),
        Click(String),
        ClickAndNavigate(String),
        VerifyText(SelectorText),
        VerifySelector(String),
        Screenshot(String),
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SelectorText {
        #[serde(rename = "selector")]
        _selector: String,
        #[serde(rename = "text")]
        _text: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct KindFile {
        #[serde(rename = "blueprint")]
        _blueprint: Kind,
        #[serde(default, rename = "retries")]
        _retries: u8,
        #[serde(rename = "heartbeat")]
        _heartbeat: Option<Inner>,
    }

    fn de<T: DeserializeOwned>(text: &str) -> (Option<T>, Vec<String>) {
        let node = parse(text).unwrap();
        let (value, problems) = from_node::<T>(&node);
        (value, problems.iter().map(ToString::to_string).collect())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        count: u8,
        #[serde(default)]
        label: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        #[serde(default)]
        timeout: Option<HumanDuration>,
        #[serde(default)]
        retries: u8,
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<u32>,
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        ratio: f64,
    }

    #[test]
    fn scalars_are_text() {
        let (v, problems) = de::<Outer>("name: 200\nretries: 3\nflag: true\nratio: 1\nlist: [1, 0x10]\n");
        assert_eq!(problems, Vec::<String>::new());
        let v = v.unwrap();
        assert_eq!(v.name, "200");
        assert_eq!((v.retries, v.flag, v.ratio, v.list), (3, true, 1.0, vec![1, 16]));
    }

    #[test]
    fn unknown_key_with_suggestion() {
        let (v, problems) = de::<Outer>("name: x\ntimout: 5s\n");
        assert_eq!(
            problems,
            [
                "2:1: timout: unknown key `timout`; expected one of: name, timeout, retries, inner, list, flag, \
              ratio; did you mean `timeout`?"
            ]
        );
        assert!(v.is_some(), "unknown keys are skipped, the rest still deserializes");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = "name: x\nretries: \"many\"\ntimeout: soon\nlist: [1, x, 3]\ninner:\n  label: [a]\nflag: yes\nextra: 1\n";
        let (_, problems) = de::<Outer>(text);
        assert_eq!(
            problems,
            [
                "2:10: retries: expected an integer 0..255, found \"many\"",
                "3:10: timeout: invalid duration \"soon\" (expected number at 0); expected e.g. 500ms, 30s, 5m, 1h",
                "4:11: list[1]: expected an integer 0..4294967295, found \"x\"",
                "6:3: inner: missing key `count`",
                "6:10: inner.label: expected a string, found a list",
                "7:7: flag: expected true or false, found \"yes\"",
                "8:1: extra: unknown key `extra`; expected one of: name, timeout, retries, inner, list, flag, ratio",
            ]
        );
    }

    #[test]
    fn missing_key_at_the_parent() {
        let (v, problems) = de::<Outer>("inner:\n  count: 1\n");
        assert!(v.is_none());
        assert_eq!(problems, ["1:1: missing key `name`"]);
        let (_, problems) = de::<Outer>("name: a\ninner:\n  label: b\n");
        assert_eq!(problems, ["3:3: inner: missing key `count`"]);
    }

    #[test]
    fn out_of_range_integer() {
        let (_, problems) = de::<Outer>("name: a\nretries: 300\n");
        assert_eq!(problems, ["2:10: retries: expected an integer 0..255, found 300"]);
    }

    #[test]
    fn option_null_is_none() {
        let (v, problems) = de::<Outer>("name: a\ninner: ~\ntimeout:\n");
        assert!(problems.is_empty(), "{problems:?}");
        let v = v.unwrap();
        assert_eq!((v.inner, v.timeout), (None, None));
    }

    #[test]
    fn any_follows_the_core_schema() {
        let (v, problems) = de::<serde_json::Value>(
            "a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: text\ng: [x]\n1: key is a string\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            v.unwrap(),
            serde_json::json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "text", "g": ["x"],
                "1": "key is a string"})
        );
    }

    #[test]
    fn maps_keep_going_after_a_bad_value() {
        let (v, problems) = de::<BTreeMap<String, u8>>("a: 1\nb: x\nc: 3\n");
        assert_eq!(problems, ["2:4: b: expected an integer 0..255, found \"x\""]);
        assert_eq!(v.unwrap().len(), 2);
    }

    #[test]
    fn enums_from_strings_and_single_key_maps() {
        let (v, problems) = de::<Vec<WorkflowStep>>(
            "- click: '#menu'\n- input: {selector: '#u', text: me}\n- clik: x\n- screenshot\n- {click: a, input: b}\n",
        );
        assert_eq!(
            problems,
            [
                "3:3: [2]: unknown value `clik`; expected one of: input, click, click_and_navigate, verify_text, \
                 verify_selector, screenshot; did you mean `click`?",
                "4:3: [3]: `screenshot` needs a value (write `screenshot: ...`)",
                "5:3: [4]: expected a single key (one of: input, click, click_and_navigate, verify_text, \
                 verify_selector, screenshot), found a mapping with 2 keys",
            ]
        );
        assert_eq!(v.unwrap().len(), 2);
        let (v, problems) = de::<Kind>("broken-links");
        assert!(problems.is_empty());
        assert_eq!(v, Some(Kind::BrokenLinks));
        let (_, problems) = de::<Kind>("visaul");
        assert_eq!(
            problems,
            [
                "1:1: unknown value `visaul`; expected one of: heartbeat, api, broken-links, visual, flow, workflow, \
              script; did you mean `visual`?"
            ]
        );
    }

    #[test]
    fn nested_errors_in_enum_values() {
        let (_, problems) = de::<Vec<WorkflowStep>>("- input: {selector: '#u', txt: me}\n");
        assert_eq!(
            problems,
            [
                "1:10: [0].input: missing key `text`",
                "1:27: [0].input.txt: unknown key `txt`; expected one of: selector, text; did you mean `text`?",
            ]
        );
    }

    #[test]
    fn collects_problems_after_a_bad_required_value() {
        let (v, problems) = de::<KindFile>("blueprint: nope\nretries: x\nheartbeat: {count: 1, expct: {}}\n");
        assert!(v.is_none());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("1:12: blueprint: unknown value `nope`"), "{problems:?}");
        assert!(problems[1].starts_with("2:10: retries: expected an integer 0..255"), "{problems:?}");
        assert!(problems[2].starts_with("3:23: heartbeat.expct: unknown key"), "{problems:?}");
    }

    #[test]
    fn sections_at_the_top_level_are_skipped_and_named_in_hints() {
        let node = parse("blueprint: heartbeat\nheartbeat: {anything: 1}\nheartbaet: {}\n").unwrap();
        let (v, problems) = from_node_with_sections::<CanaryFile>(&node, &["heartbeat", "api"]);
        assert!(v.is_some());
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].starts_with("3:1: heartbaet: unknown key `heartbaet`; expected one of: name,"),
            "{shown:?}"
        );
        assert!(
            shown[0].ends_with("alarms, locations, heartbeat, api; did you mean `heartbeat`?"),
            "{shown:?}"
        );
    }

    #[test]
    fn core_schema_numbers() {
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("-.inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn problems_stop_at_the_cap() {
        let text: String = (0..500).map(|i| format!("k{i}: x\n")).collect();
        let (v, problems) = de::<BTreeMap<String, u8>>(&text);
        assert!(v.is_none());
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert_eq!(problems[0], "1:1: … stopped after 100 problems; fix these to see the rest");
        assert_eq!(problems[1], "1:5: k0: expected an integer 0..255, found \"x\"");
    }

    #[test]
    fn a_large_file_with_many_problems_takes_few_passes() {
        // Every pass goes through the good values before the bad ones at the end.
        let text: String =
            (0..200_000).map(|i| format!("k{i}: {}\n", if i < 199_800 { "1" } else { "x" })).collect();
        let (_, problems) = de::<BTreeMap<String, u8>>(&text);
        assert!(problems.len() < 30, "{} problems", problems.len());
        assert!(problems[0].contains("stopped after"), "{}", problems[0]);
    }

    #[test]
    fn long_keys_and_values_are_cut() {
        let key = "k".repeat(10_000);
        let (_, problems) = de::<Inner>(&format!("count: \"{}\"\n? {key}\n: 1\n", "9".repeat(10_000)));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.len() < 400), "{problems:?}");
        assert!(problems[1].contains(&format!("`{}…`", "k".repeat(80))), "{}", problems[1]);
    }

    #[test]
    fn a_file_shows_at_most_the_cap_and_counts_the_rest() {
        let all: Vec<crate::spec::Diagnostic> = (1..=150)
            .map(|line| crate::spec::Diagnostic {
                file: "c.yaml".into(),
                line,
                column: 3,
                path: "tags".into(),
                message: "bad".into(),
            })
            .collect();
        let shown = cap_problems(all);
        assert_eq!(shown.len(), MAX_PROBLEMS + 1);
        assert_eq!(shown[MAX_PROBLEMS].to_string(), "c.yaml:100:3: … and 50 more problems");
        assert_eq!(cap_problems(shown[..3].to_vec()).len(), 3);
        let long = crate::spec::Diagnostic {
            message: format!("`{}` is not an absolute http(s) URL", "y".repeat(5_000_000)),
            ..shown[0].clone()
        };
        let cut = cap_problems(vec![long]).remove(0).message;
        assert_eq!(cut, format!("`{}…{}` is not an absolute http(s) URL", "y".repeat(149), "y".repeat(118)));
    }

    #[test]
    fn durations_are_at_most_a_year() {
        let (v, problems) = de::<Outer>("name: a\ntimeout: 365d\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(v.unwrap().timeout, Some(HumanDuration(HumanDuration::MAX)));
        for (text, found) in [("366d", "\"366d\""), ("18446744073709551615s", "\"18446744073709551615s\"")] {
            let (_, problems) = de::<Outer>(&format!("name: a\ntimeout: {text}\n"));
            assert_eq!(problems, [format!("2:10: timeout: expected a duration up to 365d, found {found}")]);
        }
    }

    #[test]
    fn struct_keys_are_the_serde_field_names() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Section {
            urls: Vec<String>,
            #[serde(rename = "expect-text")]
            text: Option<String>,
        }
        assert_eq!(struct_keys::<Section>(), ["urls", "expect-text"]);
        assert!(struct_keys::<String>().is_empty());
        assert!(struct_keys::<Vec<u8>>().is_empty());
    }
}
