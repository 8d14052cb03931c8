//! Redaction: secrets, restricted headers and restricted URL parameters become `***` before
//! anything is written (HAR, log, report, database).
//!
//! Rules (`report:` and `${secret:NAME}` in `docs/canary-file.md`):
//! - **Headers** `authorization`, `cookie`, `set-cookie` and `proxy-authorization` are always
//!   restricted, plus the canary's `restricted_headers`. Names match case-insensitively (HTTP
//!   header names are case-insensitive). A restricted header keeps its name; its value becomes
//!   `***`. HAR cookie values are always `***`, as the cookie headers are.
//! - **URL parameters** named in `restricted_url_parameters` get the value `***`; `*` redacts
//!   every parameter's value. Names match ASCII-case-insensitively (unlike CloudWatch, which is
//!   case-sensitive: a parameter that differs only in case is still the same secret to a
//!   reader), after percent-decoding. The same applies to `application/x-www-form-urlencoded`
//!   request bodies in the HAR. A password in a URL's userinfo (`http://user:pw@host/`) is
//!   always `***`.
//! - **Secrets**: every occurrence of each non-empty secret value becomes `***`, in any text.
//!   Also caught: its percent-encoded forms (`%20` and `+` for spaces, upper- and lower-case
//!   hex), its JSON-escaped form, and, for secrets long enough for it to be distinctive, its
//!   base64 forms (standard and URL-safe alphabets, at any alignment inside a longer base64
//!   text, so a password inside a `Basic` credential is caught too). Where occurrences of
//!   secrets overlap, their whole union becomes one `***`, so no part of either survives.
//!
//! Text without anything to redact is not copied: [`Redactor::redact_text`] then returns
//! [`Cow::Borrowed`].

use std::borrow::Cow;

use base64::prelude::{BASE64_STANDARD, BASE64_URL_SAFE_NO_PAD, Engine};
use url::form_urlencoded;

use crate::har::{Har, Header};

/// What replaces a redacted value.
pub const MASK: &str = "***";

/// Headers whose values are always redacted.
pub const ALWAYS_RESTRICTED_HEADERS: [&str; 4] =
    ["authorization", "cookie", "set-cookie", "proxy-authorization"];

/// Headers whose values are URLs: their query parameters and userinfo are redacted like a URL's.
const URL_HEADERS: [&str; 4] = ["location", "referer", "content-location", ":path"];

/// The shortest secret whose base64 forms are searched for: shorter encodings are too likely to
/// occur by chance in unrelated base64 text.
const MIN_BASE64_SECRET_LEN: usize = 6;

/// Applies a canary's redaction rules; built once per run.
#[derive(Debug, Clone)]
pub struct Redactor {
    headers: Vec<String>,
    params: Vec<String>,
    all_params: bool,
    /// Every form of every secret, longest first (empty: no secrets).
    needles: Vec<String>,
    /// One automaton over all needles; `None` when there are no secrets.
    matcher: Option<regex::bytes::Regex>,
}

impl Default for Redactor {
    /// No secrets, no restricted parameters, only the always-restricted headers.
    fn default() -> Self {
        Self::new(&[], &[], &[])
    }
}

impl Redactor {
    /// A redactor for these secret values, extra restricted headers and restricted URL
    /// parameters (`*` for all). Empty secrets are ignored.
    pub fn new(
        secrets: &[String],
        restricted_headers: &[String],
        restricted_url_parameters: &[String],
    ) -> Self {
        let mut headers: Vec<String> = ALWAYS_RESTRICTED_HEADERS.iter().map(|h| (*h).to_string()).collect();
        for header in restricted_headers {
            let header = header.trim().to_ascii_lowercase();
            if !header.is_empty() && !headers.contains(&header) {
                headers.push(header);
            }
        }
        let all_params = restricted_url_parameters.iter().any(|p| p.trim() == "*");
        let params = restricted_url_parameters
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();

        let mut needles: Vec<String> =
            secrets.iter().filter(|s| !s.is_empty()).flat_map(|s| secret_forms(s)).collect();
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        let matcher = if needles.is_empty() {
            None
        } else {
            let pattern = needles.iter().map(|n| regex::escape(n)).collect::<Vec<_>>().join("|");
            // Literal alternations compile to a fast multi-substring search; the limit only
            // matters for very long secrets, where the fallback search takes over.
            regex::bytes::RegexBuilder::new(&pattern).size_limit(64 << 20).build().ok()
        };
        Redactor { headers, params, all_params, needles, matcher }
    }

    /// Whether there are secrets to look for.
    pub fn has_secrets(&self) -> bool {
        !self.needles.is_empty()
    }

    /// Whether a header of this name has its value redacted (case-insensitive).
    pub fn is_restricted_header(&self, name: &str) -> bool {
        let name = name.trim();
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Whether a URL (or form) parameter of this name (decoded) has its value redacted.
    pub fn is_restricted_parameter(&self, name: &str) -> bool {
        self.all_params || self.params.iter().any(|p| p.eq_ignore_ascii_case(name))
    }

    /// `text` with every secret replaced by `***`; borrowed when there is none.
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let spans = self.spans(text.as_bytes());
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            // Needles are whole UTF-8 strings, so spans fall on character boundaries.
            out.push_str(&text[at..start]);
            out.push_str(MASK);
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// A URL (absolute, or a path with a query) with its userinfo password, its restricted
    /// query parameters' values and every secret replaced by `***`. Left byte for byte as it
    /// was when there is nothing to redact (no normalisation).
    pub fn redact_url(&self, url: &str) -> String {
        let (before_fragment, fragment) = match url.find('#') {
            Some(i) => url.split_at(i),
            None => (url, ""),
        };
        let (base, query) = match before_fragment.find('?') {
            Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
            None => (before_fragment, None),
        };
        let base = mask_userinfo_password(base);
        let query = query.map(|q| self.redact_query(q));
        let redacted = match (base, query) {
            (Cow::Borrowed(_), None | Some(Cow::Borrowed(_))) => Cow::Borrowed(url),
            (base, query) => {
                let mut out = base.into_owned();
                if let Some(query) = query {
                    out.push('?');
                    out.push_str(&query);
                }
                out.push_str(fragment);
                Cow::Owned(out)
            }
        };
        match self.redact_text(&redacted) {
            Cow::Borrowed(_) => redacted.into_owned(),
            Cow::Owned(text) => text,
        }
    }

    /// Redacts header values in place: restricted headers' values become `***`, URL-valued
    /// headers (`location`, `referer`, ...) are redacted as URLs, and secrets anywhere else.
    pub fn redact_headers(&self, headers: &mut [Header]) {
        for header in headers.iter_mut() {
            if self.is_restricted_header(&header.name) {
                if header.value != MASK {
                    MASK.clone_into(&mut header.value);
                }
            } else if URL_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(header.name.trim())) {
                header.value = self.redact_url(&header.value);
            } else {
                self.redact_in_place(&mut header.value);
            }
            self.redact_in_place(&mut header.name);
        }
    }

    /// Redacts a whole HAR in place: request URLs and query strings, redirect URLs, request and
    /// response headers, cookie values, request bodies, response bodies (base64 ones decoded
    /// first), and then every remaining string for secrets.
    pub fn redact_har(&self, har: &mut Har) {
        for entry in &mut har.log.entries {
            let request = &mut entry.request;
            request.url = self.redact_url(&request.url);
            for param in &mut request.query_string {
                if self.is_restricted_parameter(&param.name) && param.value != MASK {
                    MASK.clone_into(&mut param.value);
                }
                self.redact_in_place(&mut param.value);
                self.redact_in_place(&mut param.name);
            }
            self.redact_headers(&mut request.headers);
            for cookie in request.cookies.iter_mut().chain(entry.response.cookies.iter_mut()) {
                MASK.clone_into(&mut cookie.value);
            }
            if let Some(post) = &mut request.post_data {
                if post
                    .mime_type
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
                    && let Cow::Owned(text) = self.redact_query(&post.text)
                {
                    post.text = text;
                }
                self.redact_in_place(&mut post.text);
            }

            let response = &mut entry.response;
            self.redact_headers(&mut response.headers);
            if !response.redirect_url.is_empty() {
                response.redirect_url = self.redact_url(&response.redirect_url);
            }
            if let Some(text) = &mut response.content.text {
                let base64 =
                    response.content.encoding.as_deref().is_some_and(|e| e.eq_ignore_ascii_case("base64"));
                if base64 {
                    if let Some(redacted) = self.redact_base64_body(text) {
                        *text = redacted;
                    }
                } else {
                    self.redact_in_place(text);
                }
            }
        }
        // Every other string (page titles, error messages, fields added later): through JSON,
        // so no field is missed.
        if self.has_secrets()
            && let Ok(mut value) = serde_json::to_value(&*har)
            && self.redact_json(&mut value)
            && let Ok(redacted) = serde_json::from_value(value)
        {
            *har = redacted;
        }
    }

    /// Free text (a reason, a log line, a step name): every secret, and every `http(s)://` URL in
    /// it through [`Self::redact_url`] (restricted parameters, userinfo passwords).
    pub fn redact_message<'a>(&self, text: &'a str) -> Cow<'a, str> {
        static URL: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(r#"https?://[^\s"'<>`]+"#).expect("valid regex"));
        let without_secrets = self.redact_text(text);
        if !without_secrets.contains("://") {
            return without_secrets;
        }
        let replaced = URL.replace_all(&without_secrets, |c: &regex::Captures<'_>| self.redact_url(&c[0]));
        match replaced {
            Cow::Borrowed(_) => without_secrets,
            Cow::Owned(text) if text == *without_secrets => without_secrets,
            Cow::Owned(text) => Cow::Owned(text),
        }
    }

    /// Passes every string in `value` through [`Self::redact_message`] (object keys through
    /// [`Self::redact_text`]). Returns whether anything changed.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> bool {
        self.redact_json_value(value)
    }

    fn redact_json_value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => match self.redact_message(text) {
                Cow::Owned(redacted) => {
                    *text = redacted;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => {
                items.iter_mut().fold(false, |changed, item| self.redact_json_value(item) | changed)
            }
            Value::Object(map) => {
                let mut changed =
                    map.values_mut().fold(false, |changed, item| self.redact_json_value(item) | changed);
                if map.keys().any(|k| matches!(self.redact_text(k), Cow::Owned(_))) {
                    let old = std::mem::take(map);
                    for (key, item) in old {
                        map.insert(self.redact_text(&key).into_owned(), item);
                    }
                    changed = true;
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// Redacts secrets in `slot`, replacing it only when something changed.
    fn redact_in_place(&self, slot: &mut String) -> bool {
        let redacted = match self.redact_text(slot) {
            Cow::Owned(text) => Some(text),
            Cow::Borrowed(_) => None,
        };
        redacted.map(|text| *slot = text).is_some()
    }

    /// The query (or form body) with restricted parameters' values as `***` and parameters
    /// whose decoded name or value holds a secret re-encoded with the secret redacted. Pairs
    /// with nothing to redact keep their exact encoding.
    fn redact_query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        if query.is_empty() || (!self.all_params && self.params.is_empty() && !self.has_secrets()) {
            return Cow::Borrowed(query);
        }
        let mut out = String::new();
        let mut changed = false;
        for (i, piece) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let Some((name, value)) = form_urlencoded::parse(piece.as_bytes()).next() else {
                out.push_str(piece);
                continue;
            };
            match piece.split_once('=') {
                Some((raw_name, raw_value)) if self.is_restricted_parameter(&name) => {
                    let raw_name = match self.redact_text(&name) {
                        Cow::Borrowed(_) => Cow::Borrowed(raw_name),
                        Cow::Owned(redacted) => {
                            Cow::Owned(form_urlencoded::byte_serialize(redacted.as_bytes()).collect())
                        }
                    };
                    changed |= raw_value != MASK || matches!(raw_name, Cow::Owned(_));
                    out.push_str(&raw_name);
                    out.push('=');
                    out.push_str(MASK);
                }
                split => {
                    let redacted_name = self.redact_text(&name);
                    let redacted_value = self.redact_text(&value);
                    if matches!(redacted_name, Cow::Owned(_)) || matches!(redacted_value, Cow::Owned(_)) {
                        changed = true;
                        out.extend(form_urlencoded::byte_serialize(redacted_name.as_bytes()));
                        if split.is_some() {
                            out.push('=');
                            out.extend(form_urlencoded::byte_serialize(redacted_value.as_bytes()));
                        }
                    } else {
                        out.push_str(piece);
                    }
                }
            }
        }
        if changed { Cow::Owned(out) } else { Cow::Borrowed(query) }
    }

    /// A base64 body decoded, redacted and encoded again; `None` when nothing changed.
    fn redact_base64_body(&self, text: &str) -> Option<String> {
        if !self.has_secrets() {
            return None;
        }
        let Ok(bytes) = BASE64_STANDARD.decode(text.trim()) else {
            // Not valid base64 after all: treat it as text.
            return match self.redact_text(text) {
                Cow::Owned(redacted) => Some(redacted),
                Cow::Borrowed(_) => None,
            };
        };
        let spans = self.spans(&bytes);
        if spans.is_empty() {
            // The base64 text itself may still hold a secret's base64 form.
            return match self.redact_text(text) {
                Cow::Owned(redacted) => Some(redacted),
                Cow::Borrowed(_) => None,
            };
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        for (start, end) in spans {
            out.extend_from_slice(&bytes[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = end;
        }
        out.extend_from_slice(&bytes[at..]);
        Some(BASE64_STANDARD.encode(out))
    }

    /// The byte ranges to mask in `hay`: every occurrence of every needle, overlapping ones
    /// merged. Empty (no allocation) when there is none.
    fn spans(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        if self.needles.is_empty() || hay.is_empty() {
            return Vec::new();
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut push = |start: usize, end: usize| match spans.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => spans.push((start, end)),
        };
        if let Some(matcher) = &self.matcher {
            // Needles are ordered longest first, so at each start the longest one matches;
            // searching again from the next byte finds occurrences that overlap it. Starts
            // only grow, so merging with the last span is enough.
            let mut from = 0;
            while let Some(found) = matcher.find_at(hay, from) {
                push(found.start(), found.end());
                from = found.start() + 1;
            }
        } else {
            let mut found: Vec<(usize, usize)> = Vec::new();
            for needle in &self.needles {
                let needle = needle.as_bytes();
                found.extend(
                    hay.windows(needle.len())
                        .enumerate()
                        .filter(|(_, window)| *window == needle)
                        .map(|(i, _)| (i, i + needle.len())),
                );
            }
            found.sort_unstable();
            for (start, end) in found {
                push(start, end);
            }
        }
        spans
    }
}

/// Every form in which a secret may appear in text that Aviary writes.
fn secret_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    forms.push(form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    let upper = percent_encode(secret);
    forms.push(lowercase_hex(&upper));
    forms.push(upper);
    // As a URL parser leaves a raw secret it finds in a query or a path: only some bytes escaped.
    forms.push(partial_encode(secret, b" \"#<>'"));
    forms.push(partial_encode(secret, b" \"#<>`?{}"));
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json[1..json.len() - 1].to_string());
    }
    if secret.len() >= MIN_BASE64_SECRET_LEN {
        // Inside a longer base64 text the secret starts at one of three alignments; each
        // quantum made only of the secret's bytes encodes the same way whatever surrounds it.
        let bytes = secret.as_bytes();
        for skip in 0..3 {
            let whole = (bytes.len().saturating_sub(skip) / 3) * 3;
            if whole >= 6 {
                let core = &bytes[skip..skip + whole];
                forms.push(BASE64_STANDARD.encode(core));
                forms.push(BASE64_URL_SAFE_NO_PAD.encode(core));
            }
        }
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// Percent-encodes controls, non-ASCII bytes and `special`, as the WHATWG URL parser does for a
/// query (`special` = ` "#<>'`) or a path (`` "#<>`?{}``).
fn partial_encode(text: &str, special: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte <= 0x20 || byte >= 0x7f || special.contains(&byte) {
            let _ = write!(out, "%{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// Percent-encodes every byte but RFC 3986's unreserved characters, with upper-case hex.
fn percent_encode(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The same percent-encoding with lower-case hex digits (`%2f` for `%2F`).
fn lowercase_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The URL part before the query with a userinfo password replaced by `***`.
fn mask_userinfo_password(base: &str) -> Cow<'_, str> {
    let Some(scheme_end) = base.find("://") else {
        return Cow::Borrowed(base);
    };
    let authority_start = scheme_end + 3;
    let authority_len = base[authority_start..].find('/').unwrap_or(base.len() - authority_start);
    let authority = &base[authority_start..authority_start + authority_len];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(base);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(base);
    };
    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    if &base[password_start..password_end] == MASK {
        return Cow::Borrowed(base);
    }
    Cow::Owned(format!("{}{MASK}{}", &base[..password_start], &base[password_end..]))
}
