//! `${NAME}` expansion in string scalars, on the node tree before deserialization.
//!
//! - `${NAME}`: from the canary's `env:` map, then from the environment; unset is an error.
//! - `${secret:NAME}`: from the environment; the value is recorded as a secret (redacted later).
//! - `$${` is a literal `${`.
//!
//! In the project file, and in canaries loaded with [`UnsetSecrets::Leave`], an unset
//! `${secret:NAME}` is not a problem: the scalar keeps the reference as written and the expansion
//! records it in [`Expansion::missing`], for the commands that need the value to refuse.
//!
//! The `env:` map's values are expanded first, against the environment only. Keys are never
//! expanded.
//!
//! A blueprint whose steps define variables (the API blueprint's `extract:`) names its steps
//! ([`TemplateSteps`]); they are templates: in step `i`, a name that an earlier step defines is
//! left as `${name}` for run time, `$${` stays as written, and values put in at load time have
//! their own `${` escaped as `$${`. At run time, [`substitute`] turns such a template into the
//! final text.

use std::collections::{BTreeMap, HashMap};

use super::catalog::TemplateSteps;
use super::de::Located;
use super::path::KeyPath;
use super::yaml::{Node, NodeKind};

/// Looks a name up in the process environment (or a stand-in for tests).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What an expansion found: secret values and problems (at the scalars' positions).
#[derive(Debug, Default)]
pub struct Expansion {
    /// Values of the `${secret:...}` references expanded, each once.
    pub secrets: Vec<String>,
    /// References that could not be expanded, placed at their scalars.
    pub problems: Vec<Located>,
    /// Unset `${secret:...}` references left as written (see [`UnsetSecrets::Leave`]), placed at
    /// their scalars, with the message an error about them gives.
    pub missing: Vec<Located>,
    /// Messages of unset secrets of the scalar being expanded, placed by [`walk`].
    pending: Vec<String>,
}

/// What an unset `${secret:NAME}` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsetSecrets {
    /// A problem: what running a canary needs.
    Problem,
    /// Left as written and recorded in [`Expansion::missing`]: the scalar is not used by what
    /// loads it (reading history), or the command that uses it refuses.
    Leave,
}

impl Expansion {
    fn secret(&mut self, value: &str) {
        if !value.is_empty() && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
        }
    }
}

/// One piece of a string: literal text or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    /// `$${`, a literal `${`.
    Escape,
    Var {
        name: &'t str,
        secret: bool,
    },
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A template that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `${` without its closing `}`.
    #[error("unterminated `${{` in {text:?}: write `${{NAME}}`, or `$${{` for a literal `${{`")]
    Unterminated {
        /// The template.
        text: String,
    },
    /// `${a b}`.
    #[error(
        "`${{{inner}}}` is not a variable reference: names are letters, digits and `_` (write `$${{` for a literal `${{`)"
    )]
    NotAReference {
        /// What stands between `${` and `}`.
        inner: String,
    },
    /// A name the variables do not know.
    #[error("`${{{name}}}` has no value: no earlier step extracted it")]
    NoValue {
        /// The name referenced.
        name: String,
    },
    /// A secret reference, which load time should have replaced.
    #[error("`${{secret:{name}}}` left in a template")]
    SecretLeft {
        /// The secret's name.
        name: String,
    },
}

fn tokenize(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            if at > 0 {
                pieces.push(Piece::Text(&rest[..at]));
            }
            pieces.push(Piece::Escape);
            rest = tail;
        } else if let Some(body) = after.strip_prefix("${") {
            if at > 0 {
                pieces.push(Piece::Text(&rest[..at]));
            }
            let Some(end) = body.find('}') else {
                return Err(TemplateError::Unterminated { text: text.to_string() });
            };
            let inner = &body[..end];
            let (name, secret) = match inner.strip_prefix("secret:") {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if !is_name(name) {
                return Err(TemplateError::NotAReference { inner: inner.to_string() });
            }
            pieces.push(Piece::Var { name, secret });
            rest = &body[end + 1..];
        } else {
            pieces.push(Piece::Text(&rest[..=at]));
            rest = &rest[at + 1..];
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Run-time substitution of an API step template (see the module docs): `${name}` from `vars`,
/// `$${` to `${`. Fails on the first name `vars` does not know.
pub fn substitute(template: &str, vars: impl Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for piece in tokenize(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Escape => out.push_str("${"),
            Piece::Var { name, secret: false } => {
                out.push_str(&vars(name).ok_or_else(|| TemplateError::NoValue { name: name.to_string() })?);
            }
            Piece::Var { name, secret: true } => {
                return Err(TemplateError::SecretLeft { name: name.to_string() });
            }
        }
    }
    Ok(out)
}

/// For each name a template step defines: the first step (0-based index, name) defining it.
type FirstDefinitions = HashMap<String, (usize, String)>;

/// Where a name can come from, for one scalar.
struct Scope<'a> {
    /// The canary's `env:` map (already expanded).
    local: &'a BTreeMap<String, String>,
    process: Lookup<'a>,
    /// Template step mode: the index of the step and, for each name a step defines, the first
    /// step (0-based index, name) that defines it.
    step: Option<(usize, &'a FirstDefinitions)>,
    unset_secrets: UnsetSecrets,
}

impl Scope<'_> {
    fn template(&self) -> bool {
        self.step.is_some()
    }

    /// Defined by an earlier step: left for run time.
    fn deferred(&self, name: &str) -> bool {
        self.step.is_some_and(|(index, first)| first.get(name).is_some_and(|(at, _)| *at < index))
    }

    /// Defined only by this or a later step: the first such step (1-based number, name).
    fn later(&self, name: &str) -> Option<(usize, &str)> {
        let (index, first) = self.step?;
        first.get(name).filter(|(at, _)| *at >= index).map(|(at, step)| (at + 1, step.as_str()))
    }

    /// `; did you mean `x`?` when a step extracts a name close to `name`, else nothing.
    fn extracted_hint(&self, name: &str) -> String {
        let Some((_, first)) = self.step else { return String::new() };
        let mut names: Vec<&str> = first.keys().map(String::as_str).collect();
        names.sort_unstable();
        super::suggest::did_you_mean(name, names)
    }
}

/// Expands one string; `Ok(None)` when it has nothing to expand.
fn expand_text(text: &str, scope: &Scope<'_>, out: &mut Expansion) -> Result<Option<String>, Vec<String>> {
    if !text.contains("${") {
        return Ok(None);
    }
    let pieces = tokenize(text).map_err(|e| vec![e.to_string()])?;
    let raw = expand_pieces(&pieces, scope, out, false)?;
    let has_secret = pieces.iter().any(|p| matches!(p, Piece::Var { secret: true, .. }));
    if has_secret && is_http_url(&raw) {
        // A secret inside a URL is encoded for where it lands, so `&`, `=` or `#` in it cannot
        // change the request.
        out.pending.clear();
        return expand_pieces(&pieces, scope, out, true).map(Some);
    }
    Ok(Some(raw))
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Where a value put into a URL lands, judged by the URL text before it.
fn url_part(before: &str) -> UrlPart {
    let Some((_, after_scheme)) = before.split_once("://") else { return UrlPart::Authority };
    if before.contains(['?', '#']) {
        UrlPart::Query
    } else if after_scheme.contains('/') {
        UrlPart::Path
    } else {
        UrlPart::Authority
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlPart {
    Authority,
    Path,
    Query,
}

/// `value` encoded for that part of a URL: every byte but the unreserved ones in a path segment
/// or a query value; as written in the authority (a host or port is never a secret's place).
fn encode_for(part: UrlPart, value: &str) -> String {
    match part {
        UrlPart::Authority => value.to_string(),
        UrlPart::Path | UrlPart::Query => {
            // `byte_serialize` writes a space as `+` (and a `+` as `%2B`): `%20` is right in both.
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
        }
    }
}

/// The pieces of a scalar with every reference filled in; `encode_secrets`: secrets are encoded
/// for the part of the URL they land in.
fn expand_pieces(
    pieces: &[Piece<'_>],
    scope: &Scope<'_>,
    out: &mut Expansion,
    encode_secrets: bool,
) -> Result<String, Vec<String>> {
    let mut result = String::new();
    let mut errors = Vec::new();
    // Values put into a template must not be read as references again at run time.
    let put = |result: &mut String, value: &str| {
        if scope.template() { result.push_str(&value.replace("${", "$${")) } else { result.push_str(value) }
    };
    for piece in pieces {
        match *piece {
            Piece::Text(t) => result.push_str(t),
            Piece::Escape => result.push_str(if scope.template() { "$${" } else { "${" }),
            Piece::Var { name, secret: true } => match (scope.process)(name) {
                Some(value) => {
                    out.secret(&value);
                    let part = if encode_secrets { url_part(&result) } else { UrlPart::Authority };
                    put(&mut result, &encode_for(part, &value));
                }
                None => {
                    let message =
                        format!("`${{secret:{name}}}` is not set: export {name} in the environment");
                    match scope.unset_secrets {
                        UnsetSecrets::Problem => errors.push(message),
                        UnsetSecrets::Leave => {
                            out.pending.push(message);
                            result.push_str("${secret:");
                            result.push_str(name);
                            result.push('}');
                        }
                    }
                }
            },
            Piece::Var { name, secret: false } => {
                if scope.deferred(name) {
                    result.push_str("${");
                    result.push_str(name);
                    result.push('}');
                } else if let Some(value) = scope.local.get(name) {
                    put(&mut result, value);
                } else if let Some(value) = (scope.process)(name) {
                    put(&mut result, &value);
                } else if let Some((step, step_name)) = scope.later(name) {
                    errors.push(format!(
                        "`${{{name}}}` is used before any step extracts it (step {step} `{step_name}` extracts it)"
                    ));
                } else {
                    let hint = scope.extracted_hint(name);
                    errors
                        .push(format!("`${{{name}}}` is not set: add it to `env:` or the environment{hint}"));
                }
            }
        }
    }
    if errors.is_empty() { Ok(result) } else { Err(errors) }
}

/// Expands every string scalar under `node` (not keys).
fn walk(node: &mut Node, path: &KeyPath, scope: &Scope<'_>, out: &mut Expansion) {
    let (line, col) = (node.line, node.col);
    match &mut node.kind {
        NodeKind::Scalar { text, .. } => {
            match expand_text(text, scope, out) {
                Ok(Some(expanded)) => *text = expanded,
                Ok(None) => {}
                Err(messages) => out.problems.extend(messages.into_iter().map(|message| Located {
                    path: path.clone(),
                    line,
                    col,
                    message,
                })),
            }
            let pending = std::mem::take(&mut out.pending);
            out.missing.extend(pending.into_iter().map(|message| Located {
                path: path.clone(),
                line,
                col,
                message,
            }));
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(i), scope, out);
            }
        }
        NodeKind::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                let child = match &key.kind {
                    NodeKind::Scalar { text, .. } => path.key(text.clone()),
                    other => path.key(other.to_string()),
                };
                walk(value, &child, scope, out);
            }
        }
        NodeKind::Null => {}
    }
}

/// Expands a whole document against the environment only (the project file); unset secrets are
/// left as written and recorded in [`Expansion::missing`].
pub fn expand_document(root: &mut Node, process: Lookup<'_>) -> Expansion {
    let mut out = Expansion::default();
    let local = BTreeMap::new();
    let scope = Scope { local: &local, process, step: None, unset_secrets: UnsetSecrets::Leave };
    walk(root, &KeyPath::root(), &scope, &mut out);
    out
}

/// Expands a file a canary uses (a recorded flow) as its own file's values are: `${NAME}` from
/// the canary's `env:` (`local`, already expanded) then the environment, `${secret:NAME}` from
/// the environment.
pub fn expand_attached(
    root: &mut Node,
    local: &BTreeMap<String, String>,
    process: Lookup<'_>,
    unset_secrets: UnsetSecrets,
) -> Expansion {
    let mut out = Expansion::default();
    let scope = Scope { local, process, step: None, unset_secrets };
    walk(root, &KeyPath::root(), &scope, &mut out);
    out
}

/// Expands a canary document: `env:` first (against the environment), then every other string
/// scalar against `env:` and the environment. `template`: the key of the blueprint's section and
/// its steps, when its steps are templates (see the module docs). `unset_secrets`: what an unset
/// `${secret:NAME}` is.
pub fn expand_canary(
    root: &mut Node,
    process: Lookup<'_>,
    template: Option<(&str, &TemplateSteps)>,
    unset_secrets: UnsetSecrets,
) -> Expansion {
    let mut out = Expansion::default();
    let empty = BTreeMap::new();
    let mut local = BTreeMap::new();
    if let Some(env) = root.get_mut("env") {
        let scope = Scope { local: &empty, process, step: None, unset_secrets };
        walk(env, &KeyPath::root().key("env"), &scope, &mut out);
        for (k, v) in env.entries().unwrap_or_default() {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                local.insert(k.to_string(), v.to_string());
            }
        }
    }
    let scope = Scope { local: &local, process, step: None, unset_secrets };
    let NodeKind::Map(entries) = &mut root.kind else { return out };
    for (key, value) in entries.iter_mut() {
        let Some(name) = key.as_str() else { continue };
        let path = KeyPath::root().key(name);
        match template {
            _ if name == "env" => {}
            Some((section, steps)) if section == name => walk_steps(value, &path, &scope, steps, &mut out),
            _ => walk(value, &path, &scope, &mut out),
        }
    }
    out
}

/// Expands a section whose steps are templates; everything outside the step list as usual.
fn walk_steps(
    section: &mut Node,
    path: &KeyPath,
    base: &Scope<'_>,
    template: &TemplateSteps,
    out: &mut Expansion,
) {
    let NodeKind::Map(entries) = &mut section.kind else { return walk(section, path, base, out) };
    let mut first = FirstDefinitions::new();
    for (index, (step, names)) in template.steps.iter().enumerate() {
        for name in names {
            first.entry(name.clone()).or_insert_with(|| (index, step.clone()));
        }
    }
    for (key, value) in entries.iter_mut() {
        let child = path.key(key.as_str().unwrap_or_default());
        match &mut value.kind {
            NodeKind::Seq(steps) if key.as_str() == Some(template.list_key) => {
                for (index, step) in steps.iter_mut().enumerate() {
                    let scope = Scope {
                        local: base.local,
                        process: base.process,
                        step: Some((index, &first)),
                        unset_secrets: base.unset_secrets,
                    };
                    walk(step, &child.index(index), &scope, out);
                }
            }
            _ => walk(value, &child, base, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml::parse;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.test".into()),
            "TOKEN" => Some("s3cr3t".into()),
            "BRACES" => Some("a${b}".into()),
            _ => None,
        }
    }

    fn text<'n>(node: &'n Node, path: &str) -> &'n str {
        let mut p = KeyPath::root();
        for seg in path.split('.') {
            p = match seg.parse::<usize>() {
                Ok(i) => p.index(i),
                Err(_) => p.key(seg),
            };
        }
        node.get_path(&p).and_then(Node::as_str).unwrap_or_else(|| panic!("no scalar at {path}"))
    }

    fn problems(e: &Expansion) -> Vec<String> {
        e.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            tokenize("a$b$${c}${D}${secret:E}$").unwrap(),
            [
                Piece::Text("a$"),
                Piece::Text("b"),
                Piece::Escape,
                Piece::Text("c}"),
                Piece::Var { name: "D", secret: false },
                Piece::Var { name: "E", secret: true },
                Piece::Text("$"),
            ]
        );
        assert!(tokenize("${A").unwrap_err().to_string().starts_with("unterminated"));
        assert!(tokenize("${a b}").unwrap_err().to_string().contains("not a variable reference"));
        assert!(tokenize("${}").is_err());
    }

    #[test]
    fn env_map_then_process_env() {
        let mut doc = parse(
            "env:\n  BASE: \"https://${HOST}\"\n  HOST: local\nblueprint: heartbeat\nheartbeat:\n  urls: [\"${BASE}/\", \"${HOST}\", \"$${HOST}\", \"cost: $5\"]\n",
        )
        .unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!(text(&doc, "env.BASE"), "https://example.test", "env values use the process environment");
        assert_eq!(text(&doc, "heartbeat.urls.0"), "https://example.test/");
        assert_eq!(text(&doc, "heartbeat.urls.1"), "local", "env: wins over the process environment");
        assert_eq!(text(&doc, "heartbeat.urls.2"), "${HOST}");
        assert_eq!(text(&doc, "heartbeat.urls.3"), "cost: $5");
    }

    #[test]
    fn unset_names_are_errors_at_the_scalar() {
        let mut doc =
            parse("blueprint: heartbeat\nheartbeat:\n  urls:\n    - \"${NOPE}/${ALSO_NOPE}\"\n").unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert_eq!(
            problems(&e),
            [
                "4:7: heartbeat.urls[0]: `${NOPE}` is not set: add it to `env:` or the environment",
                "4:7: heartbeat.urls[0]: `${ALSO_NOPE}` is not set: add it to `env:` or the environment",
            ]
        );
    }

    #[test]
    fn secrets_are_recorded() {
        let mut doc = parse(
            "env:\n  KEY: ${secret:TOKEN}\nblueprint: heartbeat\nheartbeat:\n  urls: [\"https://h/?k=${KEY}\"]\nx: ${secret:MISSING}\n",
        )
        .unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert_eq!(e.secrets, ["s3cr3t"]);
        assert_eq!(text(&doc, "heartbeat.urls.0"), "https://h/?k=s3cr3t");
        assert_eq!(
            problems(&e),
            ["6:4: x: `${secret:MISSING}` is not set: export MISSING in the environment"]
        );
    }

    #[test]
    fn keys_are_not_expanded() {
        let mut doc = parse("tags:\n  ${HOST}: v\n").unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert!(e.problems.is_empty());
        assert!(doc.get("tags").unwrap().get("${HOST}").is_some());
    }

    const API: &str = "\
blueprint: api
env: {BASE: http://h}
api:
  steps:
    - name: create item
      request: {method: POST, url: \"${BASE}/items?x=${item_id}\", body: \"$${literal} ${BRACES}\"}
      extract: {item_id: json $.id}
    - name: read item
      request: {url: \"${BASE}/items/${item_id}?t=${token}\"}
    - name: login
      request: {url: \"${BASE}/login\"}
      extract: {token: json $.token}
    - name: read again
      request: {url: \"${BASE}/items/${item_id}?t=${token}\"}
";

    fn api_steps() -> TemplateSteps {
        let step = |name: &str, defines: &[&str]| {
            (name.to_string(), defines.iter().map(ToString::to_string).collect())
        };
        TemplateSteps {
            list_key: "steps",
            steps: vec![
                step("create item", &["item_id"]),
                step("read item", &[]),
                step("login", &["token"]),
                step("read again", &[]),
            ],
        }
    }

    #[test]
    fn api_steps_use_names_extracted_earlier() {
        let mut doc = parse(API).unwrap();
        let e = expand_canary(&mut doc, &env, Some(("api", &api_steps())), UnsetSecrets::Problem);
        assert_eq!(
            problems(&e),
            [
                "6:36: api.steps[0].request.url: `${item_id}` is used before any step extracts it (step 1 \
                 `create item` extracts it)",
                "9:22: api.steps[1].request.url: `${token}` is used before any step extracts it (step 3 `login` \
                 extracts it)",
            ]
        );
        // Extracted earlier: left for run time; escapes and `${` in values stay escaped.
        assert_eq!(text(&doc, "api.steps.3.request.url"), "http://h/items/${item_id}?t=${token}");
        assert_eq!(text(&doc, "api.steps.0.request.body"), "$${literal} a$${b}");
        let vars = |name: &str| (name == "item_id").then(|| "42".to_string());
        assert_eq!(substitute(text(&doc, "api.steps.0.request.body"), vars).unwrap(), "${literal} a${b}");
        assert_eq!(substitute("http://h/items/${item_id}", vars).unwrap(), "http://h/items/42");
        assert!(substitute("${token}", vars).is_err());
    }

    #[test]
    fn an_unset_name_close_to_an_extracted_one_gets_a_hint() {
        let mut doc = parse(&API.replace("?t=${token}", "?t=${tokn}")).unwrap();
        let e = expand_canary(&mut doc, &env, Some(("api", &api_steps())), UnsetSecrets::Problem);
        let got = problems(&e);
        assert!(
            got.iter().any(|p| p.ends_with(
                "`${tokn}` is not set: add it to `env:` or the environment; did you mean `token`?"
            )),
            "{got:?}"
        );
    }

    #[test]
    fn outside_api_extract_names_are_plain_variables() {
        let mut doc = parse(&API.replace("blueprint: api", "blueprint: heartbeat")).unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert_eq!(e.problems.len(), 5, "{:?}", problems(&e));
        assert!(e.problems.iter().all(|p| p.message.contains("is not set")));
        assert_eq!(text(&doc, "api.steps.0.request.body"), "${literal} a${b}");
    }

    #[test]
    fn secrets_in_urls_are_encoded_for_where_they_land() {
        let env = |name: &str| match name {
            "SEC" => Some("Sp3c!@l pa+ss/&=?#%".to_string()),
            "BASE" => Some("http://h".to_string()),
            _ => None,
        };
        let mut doc = parse(
            "a: \"${BASE}/echo?k=${secret:SEC}&x=1\"\nb: \"http://h/p/${secret:SEC}/q\"\n\
             c: \"Bearer ${secret:SEC}\"\nd: \"http://u:${secret:SEC}@h/\"\n",
        )
        .unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Problem);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let encoded = "Sp3c%21%40l%20pa%2Bss%2F%26%3D%3F%23%25";
        assert_eq!(text(&doc, "a"), format!("http://h/echo?k={encoded}&x=1"));
        assert_eq!(text(&doc, "b"), format!("http://h/p/{encoded}/q"));
        assert_eq!(text(&doc, "c"), "Bearer Sp3c!@l pa+ss/&=?#%", "not a URL: as written");
        let url = url::Url::parse(text(&doc, "a")).unwrap();
        let k: Vec<_> = url.query_pairs().filter(|(n, _)| n == "k").map(|(_, v)| v.into_owned()).collect();
        assert_eq!(k, ["Sp3c!@l pa+ss/&=?#%"], "the server receives the secret as it is");
        assert_eq!(e.secrets, ["Sp3c!@l pa+ss/&=?#%"]);
    }

    #[test]
    fn project_documents() {
        let mut doc = parse("server: {token: \"${secret:TOKEN}\"}\nurl: \"http://${HOST}/$${x}\"\n").unwrap();
        let e = expand_document(&mut doc, &env);
        assert!(e.problems.is_empty());
        assert_eq!(e.secrets, ["s3cr3t"]);
        assert_eq!(text(&doc, "url"), "http://example.test/${x}");
    }

    #[test]
    fn unset_secrets_left_as_written_are_recorded() {
        let mut doc =
            parse("server: {token: \"Bearer ${secret:NOPE}\"}\nurl: \"http://h/?k=${secret:NOPE}\"\n")
                .unwrap();
        let e = expand_document(&mut doc, &env);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!(text(&doc, "server.token"), "Bearer ${secret:NOPE}");
        assert_eq!(text(&doc, "url"), "http://h/?k=${secret:NOPE}");
        let missing: Vec<String> = e.missing.iter().map(ToString::to_string).collect();
        assert_eq!(
            missing,
            [
                "1:17: server.token: `${secret:NOPE}` is not set: export NOPE in the environment",
                "2:6: url: `${secret:NOPE}` is not set: export NOPE in the environment",
            ]
        );
        let mut doc = parse("x: ${secret:NOPE}\n").unwrap();
        let e = expand_canary(&mut doc, &env, None, UnsetSecrets::Leave);
        assert!(e.problems.is_empty());
        assert_eq!(e.missing.len(), 1);
    }
}
