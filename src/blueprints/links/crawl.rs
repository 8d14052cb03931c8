//! The crawl: the pages whose links are read, every unique link found on them (fragment removed),
//! each checked once however many pages link to it, and the bound on both (`max_links`).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use futures::StreamExt;
use regex::Regex;
use url::{Origin, Url};

use super::check::{Checked, Checker};
use super::extract::{FoundLink, Include, Unchecked, extract, fragment_targets, has_fragment};
use crate::har;

/// Link checks in flight at once in a run, over all hosts (each host has its own limit).
pub const MAX_IN_FLIGHT: usize = 128;

/// What the crawl follows and checks.
pub struct Rules {
    /// Links checked at most, the start page counted as link 1.
    pub max_links: usize,
    /// How many levels of pages below the start page are read.
    pub depth: u32,
    /// Origins whose pages are read (the start page's and `origins:`).
    pub origins: Vec<Origin>,
    /// Element kinds checked besides anchors.
    pub include: Vec<Include>,
    /// URLs matching any of these are neither checked nor followed.
    pub exclude: Vec<Regex>,
    /// `#id` must exist in the target page.
    pub check_fragments: bool,
}

/// Where a link was found.
#[derive(Debug, Clone)]
pub struct Source {
    /// The page (its index in [`Crawl::pages`]).
    pub page: usize,
    /// The link's text.
    pub text: String,
    /// The fragment it points to, if any (without `#`).
    pub fragment: Option<String>,
}

/// One unique link.
#[derive(Debug)]
pub struct Link {
    /// The URL, fragment removed (or the `mailto:`/`tel:` address as written).
    pub url: String,
    /// `anchor`, `image`, ..., or `address` for `mailto:`/`tel:`, `start` for the start page.
    pub kind: &'static str,
    /// The check's result; a link past `max_links` or never reached has none.
    pub checked: Option<Checked>,
    /// A syntax problem of a link not requested (a malformed `mailto:`).
    pub malformed: Option<String>,
    /// Where it was found, in order.
    pub sources: Vec<Source>,
    /// The page's `id`s and anchor names, when it is HTML and fragments are checked.
    pub targets: Option<HashSet<String>>,
    depth: u32,
}

impl Link {
    /// Why the link itself is broken (fragments aside).
    pub fn broken(&self) -> Option<&str> {
        self.malformed.as_deref().or_else(|| self.checked.as_ref()?.broken.as_deref())
    }

    /// Why the link, as `source` uses it, is broken: the link's own reason, or a missing fragment.
    pub fn broken_for(&self, source: &Source) -> Option<String> {
        if let Some(reason) = self.broken() {
            return Some(reason.to_string());
        }
        let (Some(fragment), Some(targets)) = (&source.fragment, &self.targets) else { return None };
        (!has_fragment(targets, fragment)).then(|| format!("fragment #{fragment} not found in the page"))
    }
}

/// A page whose links were read.
#[derive(Debug)]
pub struct Page {
    /// Its URL.
    pub url: String,
    /// Levels below the start page (0: the start page).
    pub depth: u32,
    /// Links on it (duplicates included).
    pub links_found: usize,
}

/// A page to read next: its URL, depth and, when fetched over HTTP, its HTML.
pub struct NextPage {
    /// The page's URL.
    pub url: Url,
    /// Its depth.
    pub depth: u32,
    /// Its body, as checked.
    pub html: Option<Bytes>,
}

/// The state of one run's crawl.
pub struct Crawl {
    rules: Rules,
    /// Every unique link, the start page first.
    pub links: Vec<Link>,
    /// Pages read, in order.
    pub pages: Vec<Page>,
    index: HashMap<String, usize>,
    /// Pages read or queued to be, without fragment.
    read: HashSet<String>,
    pending: Vec<usize>,
    /// Links left unchecked because `max_links` was reached.
    pub over_limit: usize,
    /// Links left out by `exclude`.
    pub excluded: usize,
}

impl Crawl {
    /// A crawl from `start`, which is link 1.
    pub fn new(rules: Rules, start: &Url) -> Self {
        let key = without_fragment(start);
        let link = Link {
            url: key.clone(),
            kind: "start",
            checked: None,
            malformed: None,
            sources: vec![],
            targets: None,
            depth: 0,
        };
        Self {
            rules,
            links: vec![link],
            pages: vec![],
            index: HashMap::from([(key.clone(), 0)]),
            read: HashSet::from([key]),
            pending: vec![],
            over_limit: 0,
            excluded: 0,
        }
    }

    /// Records the start page's own check (its load in the browser).
    pub fn start_checked(&mut self, checked: Checked) {
        self.links[0].checked = Some(checked);
    }

    /// Reads a page's links: new ones wait for [`Self::check_pending`].
    pub fn add_page(&mut self, url: &Url, depth: u32, html: &str) {
        let page = self.pages.len();
        let found = extract(html, url, &self.rules.include);
        self.pages.push(Page {
            url: url.to_string(),
            depth,
            links_found: found.links.len() + found.unchecked.len(),
        });
        if self.rules.check_fragments
            && let Some(&own) = self.index.get(&without_fragment(url))
            && self.links[own].targets.is_none()
        {
            self.links[own].targets = Some(fragment_targets(html));
        }
        for link in found.links {
            self.add_link(page, depth, link);
        }
        for unchecked in found.unchecked {
            let (url, malformed, text) = match unchecked {
                Unchecked::Address(href) => (href, None, String::new()),
                Unchecked::Malformed { href, reason, text } => (href, Some(reason), text),
            };
            let source = Source { page, text, fragment: None };
            if let Some(i) = self.new_link(&url, "address", depth, source) {
                self.links[i].malformed = malformed;
            }
        }
    }

    fn add_link(&mut self, page: usize, depth: u32, found: FoundLink) {
        let url = without_fragment(&found.url);
        if self.rules.exclude.iter().any(|re| re.is_match(found.url.as_str())) {
            self.excluded += 1;
            return;
        }
        let fragment = found.url.fragment().map(str::to_string);
        let source = Source { page, text: found.text, fragment };
        if let Some(i) = self.new_link(&url, found.kind.name(), depth, source) {
            self.pending.push(i);
        }
    }

    /// Adds a source to a known link, or a new link within `max_links`; the new link's index.
    fn new_link(&mut self, url: &str, kind: &'static str, depth: u32, source: Source) -> Option<usize> {
        if let Some(&i) = self.index.get(url) {
            self.links[i].sources.push(source);
            return None;
        }
        if self.links.len() >= self.rules.max_links {
            self.over_limit += 1;
            return None;
        }
        let i = self.links.len();
        self.index.insert(url.to_string(), i);
        self.links.push(Link {
            url: url.to_string(),
            kind,
            checked: None,
            malformed: None,
            sources: vec![source],
            targets: None,
            depth,
        });
        Some(i)
    }

    /// Whether the crawl reads the page at `url` found on a page at `depth`.
    fn follows(&self, url: &Url, depth: u32) -> bool {
        depth < self.rules.depth && self.rules.origins.contains(&url.origin())
    }

    /// Checks every link found since the last call; returns the pages to read next, and the HAR
    /// entries of the requests made.
    pub async fn check_pending(&mut self, checker: &Checker) -> (Vec<NextPage>, Vec<har::Entry>) {
        let pending = std::mem::take(&mut self.pending);
        let jobs: Vec<(usize, Url, bool, bool)> = pending
            .into_iter()
            .filter_map(|i| {
                let url = Url::parse(&self.links[i].url).ok()?;
                let follow = self.follows(&url, self.links[i].depth);
                Some((i, url, follow, follow || self.wants_targets(i)))
            })
            .collect();
        self.run_checks(checker, jobs).await
    }

    /// Whether link `i` has fragments to look for and no targets yet.
    fn wants_targets(&self, i: usize) -> bool {
        let link = &self.links[i];
        self.rules.check_fragments
            && link.targets.is_none()
            && link.sources.iter().any(|s| s.fragment.as_deref().is_some_and(|f| !f.is_empty() && f != "top"))
    }

    /// After the crawl: links that were checked without their body before a page linked to one
    /// of their fragments are fetched once more to find it.
    pub async fn check_late_fragments(&mut self, checker: &Checker) -> Vec<har::Entry> {
        let jobs: Vec<(usize, Url, bool, bool)> = (0..self.links.len())
            .filter(|&i| self.wants_targets(i) && self.links[i].broken().is_none())
            .filter_map(|i| Some((i, Url::parse(&self.links[i].url).ok()?, false, true)))
            .collect();
        let (_, entries) = self.run_checks(checker, jobs).await;
        entries
    }

    async fn run_checks(
        &mut self,
        checker: &Checker,
        jobs: Vec<(usize, Url, bool, bool)>,
    ) -> (Vec<NextPage>, Vec<har::Entry>) {
        let fragments = self.rules.check_fragments;
        let mut results = futures::stream::iter(jobs)
            .map(|(i, url, follow, want_html)| async move {
                let checked = checker.check(&url, want_html).await;
                (i, url, follow, checked)
            })
            .buffer_unordered(MAX_IN_FLIGHT);
        let mut next = Vec::new();
        let mut entries = Vec::new();
        while let Some((i, url, follow, mut checked)) = results.next().await {
            entries.append(&mut checked.entries);
            let link = &mut self.links[i];
            if fragments
                && link.targets.is_none()
                && let Some(html) = &checked.html
            {
                link.targets = Some(fragment_targets(&String::from_utf8_lossy(html)));
            }
            // A redirected page is read at its final URL (its relative links resolve there), once.
            let landed = checked.redirects.last().and_then(|u| Url::parse(u).ok()).unwrap_or(url);
            if follow
                && checked.html.is_some()
                && self.rules.origins.contains(&landed.origin())
                && self.read.insert(without_fragment(&landed))
            {
                next.push((i, NextPage { url: landed, depth: link.depth + 1, html: checked.html.take() }));
            }
            checked.html = None;
            link.checked = Some(checked);
        }
        next.sort_by_key(|(i, _)| *i);
        (next.into_iter().map(|(_, page)| page).collect(), entries)
    }

    /// Per page, the links on it that are broken as it uses them: (link, source) indexes.
    pub fn broken_by_page(&self) -> Vec<Vec<(usize, usize)>> {
        let mut by_page = vec![Vec::new(); self.pages.len()];
        for (l, link) in self.links.iter().enumerate() {
            for (s, source) in link.sources.iter().enumerate() {
                if link.broken_for(source).is_some() {
                    by_page[source.page].push((l, s));
                }
            }
        }
        by_page
    }
}

/// A URL without its fragment: the unit that is checked once.
pub fn without_fragment(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.to_string()
}
