//! The channel types by their `type:` name. Adding a channel type is one module owning a
//! [`ChannelConfig`] and one line in [`KINDS`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{
    Channel, ChannelError, DEFAULT_TIMEOUT, discord, email, exec, ntfy, opsgenie, pagerduty, slack, teams,
    telegram, webhook,
};
use crate::spec::Section;
use crate::spec::de::Located;
use crate::spec::model::ProjectFile;
use crate::spec::section::SectionSettings;

/// A channel type's settings (its section of `channels:`, without `type`): read with serde
/// (unknown keys rejected), checked, then turned into the channel.
pub trait ChannelConfig: SectionSettings {
    /// The channel. `base_dir` is the project folder (relative `exec` programs start there).
    fn build(self, base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError>;
}

/// A channel ready for the dispatcher.
#[derive(Clone)]
pub struct Ready {
    /// The built channel.
    pub channel: Arc<dyn Channel>,
    /// Limit of one delivery attempt.
    pub timeout: Duration,
}

/// One channel type: its `type:` name and its settings type, erased.
struct Kind {
    name: &'static str,
    check: fn(&Section) -> Vec<Located>,
    build: fn(&Section, &Path) -> Result<Ready, ChannelError>,
}

const fn kind<C: ChannelConfig>(name: &'static str) -> Kind {
    Kind { name, check: check::<C>, build: build_as::<C> }
}

/// Every channel type, in the order messages list them.
const KINDS: &[Kind] = &[
    kind::<webhook::Config>("webhook"),
    kind::<slack::Config>("slack"),
    kind::<exec::Config>("exec"),
    kind::<email::Config>("email"),
    kind::<pagerduty::Config>("pagerduty"),
    kind::<opsgenie::Config>("opsgenie"),
    kind::<teams::Config>("teams"),
    kind::<discord::Config>("discord"),
    kind::<ntfy::Config>("ntfy"),
    kind::<telegram::Config>("telegram"),
];

/// The `type:` names of the channel types.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

fn check<C: ChannelConfig>(section: &Section) -> Vec<Located> {
    section.read::<C>().err().unwrap_or_default()
}

fn build_as<C: ChannelConfig>(section: &Section, base_dir: &Path) -> Result<Ready, ChannelError> {
    let config = section.read::<C>().map_err(|problems| ChannelError::Invalid { problems })?;
    let timeout = config.timeout().map_or(DEFAULT_TIMEOUT, |t| t.0);
    Ok(Ready { channel: config.build(base_dir)?, timeout })
}

/// The type a channel's section names and the section without `type`.
fn kind_of(section: &Section) -> Result<(&'static Kind, Section), Located> {
    let (name, rest) = section.kind(&kind_names(), "channel")?;
    let kind = KINDS.iter().find(|k| k.name == name).expect("`Section::kind` picks one of the names given");
    Ok((kind, rest))
}

/// Every problem of the project file's channels, placed in the file. What `aviary validate` and
/// every command loading the project run (through `project::load_project`).
pub fn check_channels(config: &ProjectFile) -> Vec<Located> {
    let mut problems = Vec::new();
    for section in config.channels.values() {
        match kind_of(section) {
            Ok((kind, rest)) => problems.extend((kind.check)(&rest)),
            Err(problem) => problems.push(problem),
        }
    }
    problems
}

/// The channel a section of `channels:` describes. `base_dir` is the project folder.
pub fn build(section: &Section, base_dir: &Path) -> Result<Ready, ChannelError> {
    let (kind, rest) =
        kind_of(section).map_err(|problem| ChannelError::Invalid { problems: vec![problem] })?;
    (kind.build)(&rest, base_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::de::from_node;
    use crate::spec::yaml;

    fn problems(text: &str) -> Vec<String> {
        let doc = yaml::parse(text).unwrap();
        let (config, problems) = from_node::<ProjectFile>(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        check_channels(&config.unwrap()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_channels_of_every_type() {
        let got = problems(
            "channels:\n  a: {type: webhook, url: 'http://h/', headers: {X-A: b}, timeout: 5s}\n  \
             b: {type: slack, webhook_url: 'https://hooks.example/x'}\n  c: {type: exec, command: [./n.sh]}\n  \
             d: {type: email, smtp: 'h:587', from: 'Aviary <a@h>', to: [b@h], username: u, password: p}\n  \
             e: {type: pagerduty, routing_key: k, severity: warning, url: 'http://h/v2/enqueue'}\n  \
             f: {type: opsgenie, api_key: k, api_url: 'https://api.eu.opsgenie.com', priority: P2, tags: [web]}\n  \
             g: {type: teams, webhook_url: 'https://h/workflows/x'}\n  \
             h: {type: discord, webhook_url: 'https://h/api/webhooks/1/t', username: Aviary}\n  \
             i: {type: ntfy, topic: alerts, url: 'http://h:8080', token: tk_x, priority: max, tags: [web]}\n  \
             j: {type: telegram, bot_token: '1:x', chat_id: -100123, parse_mode: HTML, template: '<b>{{ alarm }}</b>'}\n",
        );
        assert_eq!(got, Vec::<String>::new());
        assert_eq!(
            kind_names(),
            [
                "webhook",
                "slack",
                "exec",
                "email",
                "pagerduty",
                "opsgenie",
                "teams",
                "discord",
                "ntfy",
                "telegram"
            ]
        );
    }

    #[test]
    fn each_type_checks_its_own_keys() {
        let got = problems(
            "channels:\n  a: {type: webhook}\n  b: {type: slack, webhook_url: 'http://h', command: [x]}\n  \
             c: {type: exec, command: []}\n  d: {type: email, smtp: 'h:x', from: me}\n  \
             e: {type: webhook, url: 'ftp://h/', timeout: 0s}\n",
        );
        assert_eq!(
            got,
            [
                "2:6: channels.a: missing key `url`",
                "3:45: channels.b.command: unknown key `command`; expected one of: webhook_url, headers, template, timeout",
                "4:28: channels.c.command: `command` must name a program, e.g. [\"./notify.sh\"]",
                "5:6: channels.d: missing key `to`",
                "6:27: channels.e.url: `ftp://h/` is not an http(s) URL (scheme `ftp`)",
                "6:48: channels.e.timeout: timeout must be greater than 0",
            ]
        );
    }

    #[test]
    fn email_addresses_and_server_are_checked() {
        let got = problems("channels:\n  d: {type: email, smtp: 'h:x', from: me, to: [ok@h, '']}\n");
        assert_eq!(
            got,
            [
                "2:26: channels.d.smtp: `x` is not a port; expected host:port, e.g. smtp.example.com:587",
                "2:39: channels.d.from: `me` is not an email address; expected a@b or Name <a@b>",
                "2:54: channels.d.to[1]: `` is not an email address; expected a@b or Name <a@b>",
            ]
        );
        let got = problems("channels:\n  d: {type: email, smtp: ' ', from: a@h, to: []}\n");
        assert_eq!(
            got,
            [
                "2:26: channels.d.smtp: `smtp` is empty; expected host:port, e.g. smtp.example.com:587",
                "2:46: channels.d.to: `to` must list at least one address",
            ]
        );
    }

    #[test]
    fn the_paging_and_chat_channels_check_their_settings() {
        let got = problems(
            "channels:\n  a: {type: pagerduty, routing_key: ' ', severity: fatal}\n  \
             b: {type: opsgenie, api_key: k, api_url: 'ftp://h', priority: P9}\n  \
             c: {type: ntfy, topic: ''}\n  d: {type: telegram, bot_token: t}\n  e: {type: teams}\n",
        );
        assert_eq!(
            got,
            [
                "2:52: channels.a.severity: unknown value `fatal`; expected one of: critical, error, warning, info",
                "2:37: channels.a.routing_key: `routing_key` is empty",
                "3:65: channels.b.priority: unknown value `P9`; expected one of: P1, P2, P3, P4, P5; did you mean \
                 `P1`?",
                "3:44: channels.b.api_url: `ftp://h` is not an http(s) URL (scheme `ftp`)",
                "4:26: channels.c.topic: `topic` is empty",
                "5:6: channels.d: missing key `chat_id`",
                "6:6: channels.e: missing key `webhook_url`",
            ]
        );
    }

    #[test]
    fn a_bad_template_is_placed_at_its_value() {
        let got = problems(
            "channels:\n  a: {type: slack, webhook_url: 'http://h/', template: '{{ alarm }'}\n  \
             b:\n    type: email\n    smtp: h\n    from: a@h\n    to: [b@h]\n    template: |\n      {{ alrm }}\n",
        );
        assert_eq!(
            got,
            [
                "2:56: channels.a.template: template syntax error on line 1: unexpected `}`, expected end of \
                 variable block",
                "9:7: channels.b.template: template uses unknown variable `alrm`; the fields are: alarm, \
                 old_state, new_state, reason, time, canary, description, dashboard_url; did you mean `alarm`?",
            ]
        );
    }

    #[test]
    fn an_unknown_type_or_key_gets_a_hint() {
        let got = problems("channels:\n  a:\n    type: webhok\n  b:\n    type: slack\n    webhook_ur: x\n");
        assert_eq!(
            got,
            [
                "3:11: channels.a.type: unknown value `webhok`; expected one of: webhook, slack, exec, email, \
                 pagerduty, opsgenie, teams, discord, ntfy, telegram; did you mean `webhook`?",
                "5:5: channels.b: missing key `webhook_url`",
                "6:5: channels.b.webhook_ur: unknown key `webhook_ur`; expected one of: webhook_url, headers, \
                 template, timeout; did you mean `webhook_url`?",
            ]
        );
    }

    #[test]
    fn an_invalid_section_builds_no_channel_and_names_no_value() {
        let doc = yaml::parse("channels:\n  a: {type: webhook, url: 'ftp://secret@h/'}\n").unwrap();
        let config = from_node::<ProjectFile>(&doc).0.unwrap();
        let error = build(&config.channels["a"], Path::new(".")).err().unwrap().to_string();
        assert_eq!(error, "invalid settings at channels.a.url");
    }
}
