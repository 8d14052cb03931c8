//! A part of a file the spec layer hands on unread: a blueprint's section of a canary file, a
//! channel or a DNS provider of the project file. The module that owns the kind reads it with
//! [`Section::parse`], so its problems keep their `line:col` and their key path from the file's
//! root.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use super::de::{Located, from_node_at};
use super::model::HumanDuration;
use super::path::{KeyPath, Problem};
use super::yaml::Node;

/// The name [`super::de`] recognises to hand a node over whole instead of deserializing it.
pub(super) const SECTION_TOKEN: &str = "$aviary::spec::Section";

thread_local! {
    /// The node [`super::de`] hands to the [`Section`] being deserialized on this thread.
    static HANDED_OVER: RefCell<Option<Section>> = const { RefCell::new(None) };
}

/// Called by [`super::de`] just before it visits a [`Section`].
pub(super) fn hand_over(node: &Node, path: &KeyPath) {
    HANDED_OVER.with(|slot| *slot.borrow_mut() = Some(Section { node: node.clone(), path: path.clone() }));
}

/// Settings of a kind the spec layer hands on (a channel or DNS provider type): read with serde,
/// checked beyond their types, with a time limit that must not be zero when it is set.
pub trait SectionSettings: DeserializeOwned {
    /// Problems the types cannot express, at key paths relative to the section.
    fn check(&self) -> Vec<Problem>;
    /// The time limit the section sets, when it sets one.
    fn timeout(&self) -> Option<HumanDuration>;
}

/// A positioned node and the key path it stands at.
#[derive(Debug, Clone)]
pub struct Section {
    /// The node, with `${...}` already expanded.
    pub node: Node,
    /// Where the node stands, from the file's root (`channels.pager`).
    pub path: KeyPath,
}

impl Section {
    /// A section of a whole document: `key` in `doc`, when present.
    pub fn of(doc: &Node, key: &str) -> Option<Self> {
        doc.get(key).map(|node| Self { node: node.clone(), path: KeyPath::root().key(key) })
    }

    /// The text of a scalar key of the section (`type` of a channel), when there is one.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.node.get(key).and_then(Node::as_str)
    }

    /// Deserializes the section into its owner's settings type. Every problem (unknown keys with
    /// hints, type errors, missing keys) is placed in the file; the value is valid only when the
    /// problem list is empty.
    pub fn parse<T: DeserializeOwned>(&self) -> (Option<T>, Vec<Located>) {
        from_node_at(&self.node, self.path.clone())
    }

    /// Reads the section as `T` and checks it: the settings, or every problem.
    pub fn read<T: SectionSettings>(&self) -> Result<T, Vec<Located>> {
        let (settings, mut problems) = self.parse::<T>();
        let Some(settings) = settings else { return Err(problems) };
        problems.extend(self.place(settings.check()));
        if settings.timeout().is_some_and(|t| t.0.is_zero()) {
            problems.push(self.problem(&KeyPath::root().key("timeout"), "timeout must be greater than 0"));
        }
        if problems.is_empty() { Ok(settings) } else { Err(problems) }
    }

    /// A problem at `relative` (a key path inside the section), placed at its position.
    pub fn problem(&self, relative: &KeyPath, message: impl Into<String>) -> Located {
        let (line, col) = self.node.locate(relative);
        let mut path = self.path.clone();
        path.0.extend(relative.0.iter().cloned());
        Located { path, line, col, message: message.into() }
    }

    /// A key path from the file's root made relative to the section, when it lies inside it.
    pub fn relative(&self, path: &KeyPath) -> Option<KeyPath> {
        path.0.strip_prefix(self.path.0.as_slice()).map(|rest| KeyPath(rest.to_vec()))
    }

    /// Places problems whose paths are relative to the section.
    pub fn place(&self, problems: Vec<Problem>) -> Vec<Located> {
        problems.into_iter().map(|p| self.problem(&p.path, p.message)).collect()
    }
}

impl<'de> serde::Deserialize<'de> for Section {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SectionVisitor;
        impl Visitor<'_> for SectionVisitor {
            type Value = Section;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a section of a canary or project file")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Section, E> {
                HANDED_OVER
                    .with(|slot| slot.borrow_mut().take())
                    .ok_or_else(|| E::custom("a section can only be read from a canary or project file"))
            }
        }
        d.deserialize_newtype_struct(SECTION_TOKEN, SectionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::spec::de::from_node;
    use crate::spec::yaml;

    #[derive(Deserialize)]
    struct Outer {
        channels: BTreeMap<String, Section>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pager {
        #[serde(rename = "url")]
        _url: String,
    }

    #[test]
    fn a_section_is_handed_on_and_read_by_its_owner_with_positions() {
        let doc = yaml::parse("channels:\n  pager:\n    type: pager\n    urll: http://h/\n").unwrap();
        let (outer, problems) = from_node::<Outer>(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        let section = &outer.unwrap().channels["pager"];
        assert_eq!(section.path.to_string(), "channels.pager");
        assert_eq!(section.text("type"), Some("pager"));
        let (pager, problems) = section.parse::<Pager>();
        assert!(pager.is_none());
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "3:5: channels.pager.type: unknown key `type`; expected one of: url",
                "3:5: channels.pager: missing key `url`",
                "4:5: channels.pager.urll: unknown key `urll`; expected one of: url; did you mean `url`?",
            ]
        );
        let placed = section.problem(&KeyPath::root().key("type"), "bad");
        assert_eq!(placed.to_string(), "3:11: channels.pager.type: bad");
    }
}
