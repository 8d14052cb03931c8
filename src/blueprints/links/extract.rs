//! The links of one HTML document, as a browser resolves them: against `<base href>` when there
//! is one, else the page's own URL.

use std::collections::HashSet;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;
use url::Url;

/// Element kinds checked besides `a[href]` and `area[href]` (`include:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// `img[src]`.
    Images,
    /// `script[src]`.
    Scripts,
    /// `link[rel=stylesheet][href]`.
    Stylesheets,
    /// `iframe[src]`, `frame[src]`.
    Frames,
    /// `video`, `audio`, `source` and `track` `[src]`, `video[poster]`.
    Media,
}

/// What a link is on its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `a` or `area`.
    Anchor,
    /// One of the [`Include`] kinds.
    Included(Include),
}

impl LinkKind {
    /// The name `links.json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Anchor => "anchor",
            Self::Included(Include::Images) => "image",
            Self::Included(Include::Scripts) => "script",
            Self::Included(Include::Stylesheets) => "stylesheet",
            Self::Included(Include::Frames) => "frame",
            Self::Included(Include::Media) => "media",
        }
    }
}

/// A link found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLink {
    /// Where it points, resolved, fragment included.
    pub url: Url,
    /// Its text (an anchor's words, collapsed), or its `alt`/`title`.
    pub text: String,
    /// The element it comes from.
    pub kind: LinkKind,
}

/// Links the checker does not request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unchecked {
    /// A `mailto:` or `tel:` link whose address is well formed.
    Address(String),
    /// A `mailto:`/`tel:` link that is not, or an `href` that is not a URL: the reason.
    Malformed {
        /// The attribute as written.
        href: String,
        /// What is wrong with it.
        reason: String,
        /// Its text.
        text: String,
    },
}

/// Everything a page links to.
#[derive(Debug, Default)]
pub struct PageLinks {
    /// Links to request, in document order (duplicates kept: each is a source).
    pub links: Vec<FoundLink>,
    /// Links checked by their syntax only.
    pub unchecked: Vec<Unchecked>,
}

static BASE: LazyLock<Selector> = LazyLock::new(|| Selector::parse("base[href]").expect("valid selector"));
static ANCHORS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href], area[href]").expect("valid selector"));
static IDS: LazyLock<Selector> = LazyLock::new(|| Selector::parse("[id], a[name]").expect("valid selector"));

fn included(kind: Include) -> &'static [(&'static str, &'static str)] {
    match kind {
        Include::Images => &[("img[src]", "src")],
        Include::Scripts => &[("script[src]", "src")],
        Include::Stylesheets => &[("link[rel~=stylesheet][href]", "href")],
        Include::Frames => &[("iframe[src], frame[src]", "src")],
        Include::Media => {
            &[("video[src], audio[src], source[src], track[src]", "src"), ("video[poster]", "poster")]
        }
    }
}

/// The links of `html`, fetched from `page`.
pub fn extract(html: &str, page: &Url, include: &[Include]) -> PageLinks {
    let document = Html::parse_document(html);
    let base = document
        .select(&BASE)
        .find_map(|b| b.value().attr("href").and_then(|href| page.join(href.trim()).ok()))
        .unwrap_or_else(|| page.clone());
    let mut out = PageLinks::default();
    for element in document.select(&ANCHORS) {
        let href = element.value().attr("href").unwrap_or_default();
        add(&mut out, &base, href, text_of(element), LinkKind::Anchor);
    }
    let mut seen_kinds = HashSet::new();
    for &kind in include.iter().filter(|k| seen_kinds.insert(**k)) {
        for &(css, attr) in included(kind) {
            let selector = Selector::parse(css).expect("valid selector");
            for element in document.select(&selector) {
                let href = element.value().attr(attr).unwrap_or_default();
                add(&mut out, &base, href, text_of(element), LinkKind::Included(kind));
            }
        }
    }
    out
}

/// The fragment targets of `html`: every `id` and every `a[name]`.
pub fn fragment_targets(html: &str) -> HashSet<String> {
    let document = Html::parse_document(html);
    document
        .select(&IDS)
        .filter_map(|e| e.value().attr("id").or_else(|| e.value().attr("name")))
        .map(str::to_string)
        .collect()
}

/// Whether `fragment` (as in a URL, percent-encoded) names a target of a page with `targets`.
/// An empty fragment and `top` always do, as in browsers.
pub fn has_fragment(targets: &HashSet<String>, fragment: &str) -> bool {
    let decoded = percent_decode(fragment);
    fragment.is_empty() || decoded.eq_ignore_ascii_case("top") || targets.contains(&decoded)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text_of(element: ElementRef<'_>) -> String {
    let words: Vec<&str> = element.text().flat_map(str::split_whitespace).take(32).collect();
    let text = words.join(" ");
    let text = if text.is_empty() {
        let value = element.value();
        value.attr("alt").or_else(|| value.attr("title")).or_else(|| value.attr("aria-label")).unwrap_or("")
    } else {
        &text
    };
    text.chars().take(120).collect()
}

fn add(out: &mut PageLinks, base: &Url, href: &str, text: String, kind: LinkKind) {
    let href = href.trim();
    if href.is_empty() {
        return;
    }
    let scheme = href.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("javascript" | "data" | "blob" | "about") => {}
        Some(scheme @ ("mailto" | "tel")) => out.unchecked.push(check_address(scheme, href, text)),
        _ => match base.join(href) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                out.links.push(FoundLink { url, text, kind });
            }
            Ok(url) => out.unchecked.push(Unchecked::Malformed {
                href: href.to_string(),
                reason: format!("`{}:` links are not checked", url.scheme()),
                text,
            }),
            Err(e) => out.unchecked.push(Unchecked::Malformed {
                href: href.to_string(),
                reason: format!("not a valid URL: {e}"),
                text,
            }),
        },
    }
}

/// A `mailto:` must name addresses like `user@host`; a `tel:` digits and `+-.() `.
fn check_address(scheme: &str, href: &str, text: String) -> Unchecked {
    let rest = &href[scheme.len() + 1..];
    let target = rest.split('?').next().unwrap_or_default();
    let target = percent_decode(target);
    let reason = if scheme == "mailto" {
        let bad = target.split(',').map(str::trim).find(|a| {
            let Some((user, host)) = a.split_once('@') else { return true };
            user.is_empty()
                || host.is_empty()
                || host.starts_with('.')
                || host.ends_with('.')
                || a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        });
        match bad {
            _ if target.trim().is_empty() && !rest.contains('?') => {
                Some("mailto: without an address".to_string())
            }
            Some(a) if !target.trim().is_empty() => Some(format!("`{a}` is not an email address")),
            _ => None,
        }
    } else {
        let ok = !target.is_empty()
            && target.chars().any(|c| c.is_ascii_digit())
            && target.chars().all(|c| c.is_ascii_digit() || "+-.() ".contains(c));
        (!ok).then(|| format!("`{target}` is not a telephone number"))
    };
    match reason {
        None => Unchecked::Address(href.to_string()),
        Some(reason) => Unchecked::Malformed { href: href.to_string(), reason, text },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("http://127.0.0.1:1/dir/page.html").unwrap()
    }

    #[test]
    fn resolves_against_base_and_skips_scripts_and_data() {
        let html = r#"<html><head><base href="/other/"></head><body>
            <a href="a.html">A <b>link</b></a> <a href="javascript:void(0)">js</a>
            <a href="data:text/plain,x">data</a> <area href="https://example.test/x#frag">
            <a href="">empty</a> <img src="i.png" alt="logo"></body></html>"#;
        let found = extract(html, &page(), &[]);
        let urls: Vec<String> = found.links.iter().map(|l| l.url.to_string()).collect();
        assert_eq!(urls, ["http://127.0.0.1:1/other/a.html", "https://example.test/x#frag"]);
        assert_eq!(found.links[0].text, "A link");
        let with_images = extract(html, &page(), &[Include::Images]);
        assert_eq!(with_images.links.last().unwrap().url.as_str(), "http://127.0.0.1:1/other/i.png");
        assert_eq!(with_images.links.last().unwrap().text, "logo");
    }

    #[test]
    fn mail_and_phone_links_are_checked_by_syntax() {
        let html = r#"<a href="mailto:ops@example.test">ok</a><a href="mailto:nobody">bad</a>
            <a href="tel:+1-555-0100">ok</a><a href="tel:call-me">bad</a><a href="ftp://x/">ftp</a>"#;
        let found = extract(html, &page(), &[]);
        assert!(found.links.is_empty());
        let malformed: Vec<&str> = found
            .unchecked
            .iter()
            .filter_map(|u| match u {
                Unchecked::Malformed { reason, .. } => Some(reason.as_str()),
                Unchecked::Address(_) => None,
            })
            .collect();
        assert_eq!(
            malformed,
            [
                "`nobody` is not an email address",
                "`call-me` is not a telephone number",
                "`ftp:` links are not checked"
            ]
        );
    }

    #[test]
    fn malformed_html_gives_what_a_browser_would() {
        let html = "<div><a href='x.html'>unclosed <p><a href=y.html>y</td></table></zzz><a href=\"%zz\">";
        let found = extract(html, &page(), &[]);
        let urls: Vec<&str> = found.links.iter().map(|l| l.url.path()).collect();
        // The unclosed anchor is reopened inside the <p>, as in a browser's DOM: two elements.
        assert_eq!(urls, ["/dir/x.html", "/dir/x.html", "/dir/y.html", "/dir/%zz"]);
    }

    #[test]
    fn fragments_match_ids_names_and_top() {
        let targets = fragment_targets(r#"<h2 id="caf%C3%A9">x</h2><h2 id="café">y</h2><a name="old">o</a>"#);
        assert!(has_fragment(&targets, "caf%C3%A9"));
        assert!(has_fragment(&targets, "old"));
        assert!(has_fragment(&targets, "top"));
        assert!(has_fragment(&targets, ""));
        assert!(!has_fragment(&targets, "missing"));
    }
}
