//! YAML text to a tree of nodes that remember where they were written (1-based line and column).
//!
//! Built on saphyr-parser's event stream. Aliases are resolved (the copy is placed at the alias),
//! `<<` merge keys are applied, an empty document is an empty mapping, and more than one document,
//! a duplicate key or a syntax error is an error with its position (a wrong indentation names the
//! line and the indentations that fit, see [`super::indent`]).
//!
//! Hostile input is stopped while the events arrive, before the tree grows: collections nest at
//! most [`MAX_DEPTH`] deep (so nothing recursive over the tree can exhaust the stack) and aliases
//! expand to at most [`MAX_ALIAS_NODES`] nodes in all (an "alias bomb" of nested lists of aliases
//! would otherwise grow exponentially). Building is linear in the size of the text: duplicate
//! keys are found through a hash index of each mapping's keys. See `docs/canary-file.md`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::path::{KeyPath, PathSeg};

/// How deep collections (lists and mappings) may nest.
pub const MAX_DEPTH: usize = 100;
/// How many nodes aliases may add to a document in all (each alias adds a copy of its anchor).
pub const MAX_ALIAS_NODES: usize = 100_000;
/// How many nodes anchored collections may hold in all (each anchor keeps a copy of its node
/// for the aliases; nested anchors would copy the same nodes again and again).
pub const MAX_ANCHORED_NODES: usize = 1_000_000;
/// Values longer than this many characters are cut when a message shows them.
pub const SHOWN_CHARS: usize = 80;

/// `text` as a message shows it: at most [`SHOWN_CHARS`] characters, cut with `…`.
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.into(),
        Some((end, _)) => format!("{}…", &text[..end]).into(),
    }
}

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node is, with its contents.
    pub kind: NodeKind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
}

/// The kind of a YAML node: null, scalar, sequence or mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `~`, or nothing at all (`key:`).
    Null,
    /// Any other scalar, quoted, block style or plain.
    Scalar {
        /// The scalar's value, quotes and escapes resolved.
        text: String,
        /// Whether it was written plain: no quotes, no block style, no `!!str` tag.
        plain: bool,
    },
    /// Items in the order written.
    Seq(Vec<Node>),
    /// Entries in the order written.
    Map(Vec<(Node, Node)>),
}

/// A YAML error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// What is wrong there.
    pub message: String,
}

impl YamlError {
    fn at(span: Span, message: impl Into<String>) -> Self {
        Self { line: span.start.line(), col: span.start.col() + 1, message: message.into() }
    }
}

impl Node {
    /// A node of `kind` starting at 1-based `line` and `col`.
    pub fn new(kind: NodeKind, line: usize, col: usize) -> Self {
        Self { kind, line, col }
    }

    /// The text of a scalar (not of null).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the node is null (`null`, `~` or nothing).
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under a key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// The key node of an entry of a mapping.
    pub fn get_key(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, _)| k)
    }

    /// The value under a key of a mapping, for changing it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.kind {
            NodeKind::Map(entries) => {
                entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The node a key path points to.
    pub fn get_path(&self, path: &KeyPath) -> Option<&Node> {
        path.0.iter().try_fold(self, |node, seg| match seg {
            PathSeg::Key(k) => node.get(k),
            PathSeg::Index(i) => node.items()?.get(*i),
        })
    }

    /// Where a key path points: the node itself, else its nearest existing ancestor.
    pub fn locate(&self, path: &KeyPath) -> (usize, usize) {
        let mut node = self;
        for seg in &path.0 {
            let next = match seg {
                PathSeg::Key(k) => node.get(k),
                PathSeg::Index(i) => node.items().and_then(|items| items.get(*i)),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        (node.line, node.col)
    }

    /// A short description of what this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Null => "nothing (null)".to_string(),
            NodeKind::Scalar { text, plain: true } if looks_like_number_or_bool(text) => {
                shorten(text).into_owned()
            }
            NodeKind::Scalar { text, .. } => format!("{:?}", shorten(text)),
            NodeKind::Seq(_) => "a list".to_string(),
            NodeKind::Map(_) => "a mapping".to_string(),
        }
    }
}

fn looks_like_number_or_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
        || (!text.is_empty() && text.parse::<f64>().is_ok())
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeKind::Null => f.write_str("null"),
            NodeKind::Scalar { text, .. } => f.write_str(&shorten(text)),
            NodeKind::Seq(_) => f.write_str("[...]"),
            NodeKind::Map(_) => f.write_str("{...}"),
        }
    }
}

/// Whether a plain scalar is null in the YAML 1.2 core schema.
pub fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Parses one YAML document. An empty document (or only comments) is an empty mapping.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder {
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        documents: 0,
        alias_nodes: 0,
        anchored_nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let line = e.marker().line();
            match super::indent::explain(text, line, e.info()) {
                Some((line, col, message)) => YamlError { line, col, message },
                None => YamlError {
                    line,
                    col: e.marker().col() + 1,
                    message: match e.info() {
                        // saphyr-parser's own bound, met first in flow style (its scanner reads ahead).
                        "recursion limit exceeded" => depth_message(),
                        other => other.to_string(),
                    },
                },
            }
        })?;
        builder.event(event, span)?;
    }
    match builder.root {
        Some(root) if !root.is_null() => Ok(root),
        _ => Ok(Node::new(NodeKind::Map(Vec::new()), 1, 1)),
    }
}

/// A collection being built. `size`: its nodes so far, itself included.
enum Open {
    Seq { node: Node, anchor: usize, size: usize },
    Map { node: Node, anchor: usize, size: usize, pending_key: Option<Node>, keys: MapKeys },
}

/// The keys of a mapping being built: where each one is, and whether it came from a `<<` merge
/// (a key written here overrides those).
#[derive(Default)]
struct MapKeys {
    index: HashMap<KeyId, usize>,
    merged: Vec<bool>,
}

/// What makes two keys the same: scalars by their text (`1` and `"1"` are one key), any null
/// alike, collections by their content (positions aside).
#[derive(Debug, PartialEq, Eq, Hash)]
enum KeyId {
    Text(String),
    Null,
    Collection(String),
}

impl KeyId {
    fn of(node: &Node) -> Self {
        match &node.kind {
            NodeKind::Scalar { text, .. } => Self::Text(text.clone()),
            NodeKind::Null => Self::Null,
            _ => {
                let mut canonical = String::new();
                canonical_text(node, &mut canonical);
                Self::Collection(canonical)
            }
        }
    }
}

/// A node's content without positions, for comparing collection keys (depth is bounded by
/// [`MAX_DEPTH`]).
fn canonical_text(node: &Node, out: &mut String) {
    match &node.kind {
        NodeKind::Null => out.push('~'),
        NodeKind::Scalar { text, .. } => out.push_str(&format!("{text:?}")),
        NodeKind::Seq(items) => {
            out.push('[');
            for item in items {
                canonical_text(item, out);
                out.push(',');
            }
            out.push(']');
        }
        NodeKind::Map(entries) => {
            out.push('{');
            for (k, v) in entries {
                canonical_text(k, out);
                out.push(':');
                canonical_text(v, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

struct Builder {
    /// Each anchored node with its size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    stack: Vec<Open>,
    root: Option<Node>,
    documents: usize,
    /// Nodes added by aliases so far.
    alias_nodes: usize,
    /// Nodes copied for anchors so far.
    anchored_nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let (line, col) = (span.start.line(), span.start.col() + 1);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::at(
                        span,
                        "a second YAML document (`---`): a file holds exactly one document",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                // Block scalars (`|`, `>`) and `!!str` count as quoted: always strings.
                let plain = style == ScalarStyle::Plain && tag.as_ref().is_none_or(|t| t.suffix != "str");
                let kind = if plain && is_null_text(&text) {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar { text: text.into_owned(), plain }
                };
                let node = Node::new(kind, line, col);
                self.finish(node, anchor, 1)?;
            }
            Event::Alias(id) => {
                let Some((target, size)) = self.anchors.get(&id) else {
                    return Err(YamlError::at(span, "alias to an unknown anchor"));
                };
                let size = *size;
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError::at(
                        span,
                        format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes; write the values out or use \
                             fewer aliases"
                        ),
                    ));
                }
                let mut node = target.clone();
                node.line = line;
                node.col = col;
                self.finish(node, 0, size)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.check_depth(span)?;
                let node = Node::new(NodeKind::Seq(Vec::new()), line, col);
                self.stack.push(Open::Seq { node, anchor, size: 1 });
            }
            Event::MappingStart(anchor, _) => {
                self.check_depth(span)?;
                let node = Node::new(NodeKind::Map(Vec::new()), line, col);
                self.stack.push(Open::Map {
                    node,
                    anchor,
                    size: 1,
                    pending_key: None,
                    keys: MapKeys::default(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq { node, anchor, size } | Open::Map { node, anchor, size, .. }) => {
                    self.finish(node, anchor, size)?;
                }
                None => return Err(YamlError::at(span, "unbalanced collection end")),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn check_depth(&self, span: Span) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(span, depth_message()));
        }
        Ok(())
    }

    /// A complete node of `size` nodes: remember its anchor and attach it to its parent.
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchored_nodes = self.anchored_nodes.saturating_add(size);
            if self.anchored_nodes > MAX_ANCHORED_NODES {
                return Err(YamlError {
                    line: node.line,
                    col: node.col,
                    message: format!(
                        "anchors (`&name`) hold more than {MAX_ANCHORED_NODES} nodes in all; anchor smaller parts"
                    ),
                });
            }
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { node: seq, size: total, .. }) => {
                *total = total.saturating_add(size);
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map { node: map, pending_key, keys, size: total, .. }) => {
                *total = total.saturating_add(size);
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => {
                        let NodeKind::Map(entries) = &mut map.kind else { unreachable!() };
                        let mut value = node;
                        // `key:` with nothing after it: point at the key, not at the end of the line.
                        if value.is_null() && value.line == key.line && value.col > key.col {
                            value.line = key.line;
                            value.col = key.col;
                        }
                        insert_entry(entries, keys, key, value)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn depth_message() -> String {
    format!("lists and mappings nest more than {MAX_DEPTH} deep")
}

fn not_mergeable(node: &Node) -> YamlError {
    YamlError {
        line: node.line,
        col: node.col,
        message: "`<<` merges a mapping or a list of mappings".to_string(),
    }
}

fn insert_entry(
    entries: &mut Vec<(Node, Node)>,
    keys: &mut MapKeys,
    key: Node,
    value: Node,
) -> Result<(), YamlError> {
    if key.as_str() == Some("<<") && matches!(key.kind, NodeKind::Scalar { plain: true, .. }) {
        // Merge key: entries of the merged mapping(s) that are not written here.
        let sources: Vec<Node> = match value.kind {
            NodeKind::Map(_) => vec![value],
            NodeKind::Seq(items) => items,
            _ => return Err(not_mergeable(&value)),
        };
        for source in sources {
            let NodeKind::Map(source_entries) = source.kind else { return Err(not_mergeable(&source)) };
            for (k, v) in source_entries {
                if let Entry::Vacant(slot) = keys.index.entry(KeyId::of(&k)) {
                    slot.insert(entries.len());
                    entries.push((k, v));
                    keys.merged.push(true);
                }
            }
        }
        return Ok(());
    }
    match keys.index.entry(KeyId::of(&key)) {
        // A key that came from a merge is overridden by one written here.
        Entry::Occupied(slot) if keys.merged[*slot.get()] => {
            let index = *slot.get();
            entries[index] = (key, value);
            keys.merged[index] = false;
        }
        Entry::Occupied(slot) => {
            let (first, _) = &entries[*slot.get()];
            return Err(YamlError {
                line: key.line,
                col: key.col,
                message: format!("duplicate key `{}` (first at line {})", key.kind, first.line),
            });
        }
        Entry::Vacant(slot) => {
            slot.insert(entries.len());
            entries.push((key, value));
            keys.merged.push(false);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, bool) {
        match &node.kind {
            NodeKind::Scalar { text, plain } => (text, *plain),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: 'd'}\ne:\n").unwrap();
        assert_eq!((doc.line, doc.col), (1, 1));
        let a = doc.get("a").unwrap();
        assert_eq!((a.line, a.col), (1, 4));
        assert_eq!(scalar(a), ("1", true));
        let b = doc.get("b").unwrap();
        assert_eq!((b.line, b.col), (3, 3));
        let c = doc.get_path(&KeyPath::root().key("b").index(1).key("c")).unwrap();
        assert_eq!(scalar(c), ("d", false));
        assert_eq!((c.line, c.col), (4, 9));
        let e = doc.get("e").unwrap();
        assert!(e.is_null());
        assert_eq!((e.line, e.col), (5, 1));
    }

    #[test]
    fn locate_falls_back_to_the_nearest_ancestor() {
        let doc = parse("top:\n  inner: 1\n").unwrap();
        assert_eq!(doc.locate(&KeyPath::root().key("top").key("missing")), (2, 3));
        assert_eq!(doc.locate(&KeyPath::root().key("top").key("inner")), (2, 10));
        assert_eq!(doc.locate(&KeyPath::root().key("nope").index(3)), (1, 1));
    }

    #[test]
    fn empty_document_is_an_empty_map() {
        for text in ["", "# just a comment\n", "---\n"] {
            let doc = parse(text).unwrap();
            assert_eq!(doc.entries().map(<[_]>::len), Some(0), "{text:?}");
        }
    }

    #[test]
    fn null_forms() {
        let doc = parse("a: ~\nb: null\nc:\nd: 'null'\n").unwrap();
        assert!(doc.get("a").unwrap().is_null());
        assert!(doc.get("b").unwrap().is_null());
        assert!(doc.get("c").unwrap().is_null());
        assert_eq!(scalar(doc.get("d").unwrap()), ("null", false));
    }

    #[test]
    fn two_documents_are_an_error() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!((err.line, err.col), (2, 1));
        assert!(err.message.contains("second YAML document"), "{err}");
    }

    #[test]
    fn duplicate_key_is_an_error_at_the_second_key() {
        let err = parse("a: 1\nb: 2\n  \na: 3\n").unwrap_err();
        assert_eq!((err.line, err.col), (4, 1));
        assert_eq!(err.message, "duplicate key `a` (first at line 1)");
        let err = parse("x:\n  y: 1\n  y: 2\n").unwrap_err();
        assert_eq!((err.line, err.col), (3, 3));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1\n").unwrap_err();
        assert_eq!((err.line, err.col), (2, 1));
        let err = parse("a: 'x'\n  b: 2\n").unwrap_err();
        assert_eq!((err.line, err.col), (2, 3));
        assert_eq!(err.to_string(), format!("2:3: {}", err.message));
    }

    #[test]
    fn aliases_are_resolved_at_the_alias() {
        let doc = parse("base: &b [1, 2]\ncopy: *b\n").unwrap();
        let copy = doc.get("copy").unwrap();
        assert_eq!(copy.items().unwrap().len(), 2);
        assert_eq!((copy.line, copy.col), (2, 7));
    }

    #[test]
    fn merge_keys() {
        let doc = parse("d: &d {a: 1, b: 2}\nx:\n  <<: *d\n  b: 3\n").unwrap();
        let x = doc.get("x").unwrap();
        assert_eq!(scalar(x.get("a").unwrap()).0, "1");
        assert_eq!(scalar(x.get("b").unwrap()).0, "3");
        assert_eq!(x.entries().unwrap().len(), 2);
    }

    #[test]
    fn quoted_and_tagged_scalars_are_not_plain() {
        let doc = parse("a: \"1\"\nb: !!str 2\nc: |\n  text\n").unwrap();
        assert_eq!(scalar(doc.get("a").unwrap()), ("1", false));
        assert_eq!(scalar(doc.get("b").unwrap()), ("2", false));
        assert_eq!(scalar(doc.get("c").unwrap()), ("text\n", false));
    }

    /// Ten levels of anchors, each a list of ten aliases of the level below.
    fn alias_bomb(levels: usize) -> String {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..levels {
            let aliases = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
        }
        text
    }

    #[test]
    fn alias_bombs_are_stopped_at_the_alias_that_goes_over() {
        let err = parse(&format!("whatever:\n  {}", alias_bomb(10).replace('\n', "\n  "))).unwrap_err();
        assert!(err.message.contains("aliases expand to more than 100000 nodes"), "{err}");
        // 12,330 nodes from the levels below, then 11,111 for each alias of level 3: the 8th goes over.
        assert_eq!((err.line, err.col), (6, 47), "{err}");
        // Four levels (about 11,000 nodes) are fine.
        let doc = parse(&alias_bomb(4)).unwrap();
        assert_eq!(doc.get("a3").unwrap().items().unwrap().len(), 10);
    }

    #[test]
    fn deep_nesting_is_an_error_where_it_goes_too_deep() {
        let text = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
        // In flow style the scanner reads ahead and stops first, further in.
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert!(err.message.contains("nest more than 100 deep"), "{err}");
        let block: String = (0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
        let err = parse(&block).unwrap_err();
        assert_eq!((err.line, err.col), (101, 201), "{err}");
        assert!(err.message.contains("nest more than 100 deep"), "{err}");
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn many_keys_are_indexed_and_duplicates_still_found() {
        let mut text: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
        assert_eq!(parse(&text).unwrap().entries().unwrap().len(), 50_000);
        text.push_str("k49999: again\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line, 50_001);
        assert_eq!(err.message, "duplicate key `k49999` (first at line 50000)");
        let err = parse("? [a, b]\n: 1\n? [a, b]\n: 2\n").unwrap_err();
        assert_eq!(err.line, 3, "collection keys compare by content");
    }

    #[test]
    fn merged_keys_stay_overridable_with_the_index() {
        let doc = parse("d: &d {a: 1, b: 2}\ne: &e {b: 9, c: 3}\nx:\n  <<: [*d, *e]\n  a: 0\n").unwrap();
        let x = doc.get("x").unwrap();
        let shown: Vec<(&str, &str)> =
            x.entries().unwrap().iter().map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap())).collect();
        assert_eq!(shown, [("a", "0"), ("b", "2"), ("c", "3")]);
        let err = parse("x:\n  <<: {a: 1}\n  a: 2\n  a: 3\n").unwrap_err();
        assert_eq!(err.line, 4);
    }

    #[test]
    fn long_values_are_cut_in_descriptions() {
        let long = "y".repeat(5_000_000);
        let doc = parse(&format!("a: \"{long}\"\n")).unwrap();
        let shown = doc.get("a").unwrap().describe();
        assert_eq!(shown, format!("\"{}…\"", "y".repeat(SHOWN_CHARS)));
        assert_eq!(shorten("short"), "short");
        assert_eq!(shorten(&"é".repeat(81)), format!("{}…", "é".repeat(80)));
    }

    #[test]
    fn nested_anchors_over_a_large_list_are_stopped() {
        let items = vec!["x"; 20_000].join(", ");
        let text = format!(
            "a: {}[{items}]{}\n",
            (0..60).map(|i| format!("&n{i} [")).collect::<String>(),
            "]".repeat(60)
        );
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("hold more than 1000000 nodes"), "{err}");
        assert!(parse(&format!("a: &one [{items}]\nb: *one\n")).is_ok());
    }
}
