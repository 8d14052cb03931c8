//! The crawl: the pages whose links are read, every unique link found on them (fragment removed),
//! each checked once however many pages link to it, and the bound on both (`max_links`).
//!
//! [`Crawl`] holds the state; the run drives it: it checks the [`Job`]s the crawl hands out, tells
//! the crawl each result as it arrives ([`Crawl::checked`]) and reads the page that result
//! returns at once, so pages are read while other links are still being checked.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use regex::Regex;
use url::{Origin, Url};

use super::check::Checked;
use super::extract::{FoundLink, Include, Unchecked, extract, fragment_targets, has_fragment};

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
    /// The index of the link it was found as (0: the start page): pages are reported in the
    /// order of their depth, then of this, whatever order their checks ended in.
    pub found_as: usize,
}

/// A page to read next: its URL, depth and, when fetched over HTTP, its HTML.
pub struct NextPage {
    /// The page's URL.
    pub url: Url,
    /// Its depth.
    pub depth: u32,
    /// Its body, as checked.
    pub html: Option<Bytes>,
    /// The index of the link it was found as.
    pub found_as: usize,
}

/// One link to check.
#[derive(Debug, Clone)]
pub struct Job {
    /// The link's index in [`Crawl::links`].
    pub link: usize,
    /// Its URL.
    pub url: Url,
    /// Whether its page is read when it is HTML.
    pub follow: bool,
    /// Whether its body is wanted (to read the page or find fragments).
    pub want_html: bool,
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

    /// Reads a page's links: new ones wait for [`Self::take_jobs`].
    pub fn add_page(&mut self, url: &Url, depth: u32, found_as: usize, html: &str) {
        let page = self.pages.len();
        let found = extract(html, url, &self.rules.include);
        self.pages.push(Page {
            url: url.to_string(),
            depth,
            links_found: found.links.len() + found.unchecked.len(),
            found_as,
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

    /// The checks of every link found since the last call.
    pub fn take_jobs(&mut self) -> Vec<Job> {
        let pending = std::mem::take(&mut self.pending);
        pending
            .into_iter()
            .filter_map(|link| {
                let url = Url::parse(&self.links[link].url).ok()?;
                let follow = self.follows(&url, self.links[link].depth);
                Some(Job { link, url, follow, want_html: follow || self.wants_targets(link) })
            })
            .collect()
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
    pub fn late_fragment_jobs(&self) -> Vec<Job> {
        (0..self.links.len())
            .filter(|&i| self.wants_targets(i) && self.links[i].broken().is_none())
            .filter_map(|link| {
                Some(Job {
                    link,
                    url: Url::parse(&self.links[link].url).ok()?,
                    follow: false,
                    want_html: true,
                })
            })
            .collect()
    }

    /// Records a check's result; the page to read when the link is one the crawl follows.
    pub fn checked(&mut self, job: Job, mut checked: Checked) -> Option<NextPage> {
        let link = &mut self.links[job.link];
        if self.rules.check_fragments
            && link.targets.is_none()
            && let Some(html) = &checked.html
        {
            link.targets = Some(fragment_targets(&String::from_utf8_lossy(html)));
        }
        // A redirected page is read at its final URL (its relative links resolve there), once.
        let landed = checked.redirects.last().and_then(|u| Url::parse(u).ok()).unwrap_or(job.url);
        let html = checked.html.take();
        let depth = link.depth + 1;
        link.checked = Some(checked);
        let read = job.follow
            && html.is_some()
            && self.rules.origins.contains(&landed.origin())
            && self.read.insert(without_fragment(&landed));
        read.then_some(NextPage { url: landed, depth, html, found_as: job.link })
    }

    /// Puts the pages in the order they are reported, whatever order their checks ended in: by
    /// depth, then in the order they were found.
    pub fn sort_pages(&mut self) {
        let mut order: Vec<usize> = (0..self.pages.len()).collect();
        order.sort_by_key(|&p| (self.pages[p].depth, self.pages[p].found_as));
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        for source in self.links.iter_mut().flat_map(|link| link.sources.iter_mut()) {
            source.page = new_index[source.page];
        }
        let mut pages: Vec<Option<Page>> = std::mem::take(&mut self.pages).into_iter().map(Some).collect();
        self.pages = order.iter().filter_map(|&old| pages[old].take()).collect();
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
