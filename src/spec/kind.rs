//! Sections whose `type` key picks the module that reads the rest (a channel, a DNS provider):
//! the spec layer checks the `type` against the names a registry gives it and hands on the
//! section without that key, knowing none of the kinds itself.

use super::de::Located;
use super::path::KeyPath;
use super::section::Section;
use super::suggest::did_you_mean;
use super::yaml::NodeKind;

impl Section {
    /// The kind the section's `type` names among `kinds`, and the section without `type` (what
    /// the kind's own settings type reads). `what` names the section in messages (`channel`).
    pub fn kind<'k>(&self, kinds: &[&'k str], what: &str) -> Result<(&'k str, Section), Located> {
        let expected = kinds.join(", ");
        let NodeKind::Map(entries) = &self.node.kind else {
            return Err(self.problem(
                &KeyPath::root(),
                format!("expected a {what} (a mapping with `type:`), found {}", self.node.describe()),
            ));
        };
        let Some(found) = self.node.get("type") else {
            return Err(self.problem(
                &KeyPath::root(),
                format!("missing key `type` (the {what} type; expected one of: {expected})"),
            ));
        };
        let text = found.as_str().unwrap_or_default();
        let Some(kind) = kinds.iter().find(|k| **k == text) else {
            let shown = found.as_str().map_or_else(|| found.describe(), |t| format!("`{t}`"));
            let message = format!(
                "unknown value {shown}; expected one of: {expected}{}",
                did_you_mean(text, kinds.iter().copied())
            );
            return Err(self.problem(&KeyPath::root().key("type"), message));
        };
        let rest = entries.iter().filter(|(key, _)| key.as_str() != Some("type")).cloned().collect();
        let mut node = self.node.clone();
        node.kind = NodeKind::Map(rest);
        Ok((kind, Section { node, path: self.path.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use crate::spec::de::from_node;
    use crate::spec::section::Section;
    use crate::spec::yaml;

    #[derive(Deserialize)]
    struct Outer {
        channels: BTreeMap<String, Section>,
    }

    fn kind_of(text: &str) -> Result<(&'static str, Section), String> {
        let doc = yaml::parse(text).unwrap();
        let outer = from_node::<Outer>(&doc).0.unwrap();
        outer.channels["a"].kind(&["webhook", "slack"], "channel").map_err(|p| p.to_string())
    }

    #[test]
    fn the_type_picks_the_kind_and_is_taken_out() {
        let (kind, rest) = kind_of("channels:\n  a:\n    type: slack\n    url: x\n").unwrap();
        assert_eq!(kind, "slack");
        assert!(rest.node.get("type").is_none());
        assert_eq!(rest.text("url"), Some("x"));
        assert_eq!(rest.path.to_string(), "channels.a");
    }

    #[test]
    fn a_missing_or_unknown_type_is_placed_with_the_choices() {
        assert_eq!(
            kind_of("channels:\n  a:\n    type: slak\n").unwrap_err(),
            "3:11: channels.a.type: unknown value `slak`; expected one of: webhook, slack; did you mean `slack`?"
        );
        assert_eq!(
            kind_of("channels:\n  a: {url: x}\n").unwrap_err(),
            "2:6: channels.a: missing key `type` (the channel type; expected one of: webhook, slack)"
        );
        let not_a_map = kind_of("channels:\n  a: 5\n").unwrap_err();
        assert!(not_a_map.starts_with("2:6: channels.a: expected a channel (a mapping with `type:`), found"));
    }
}
