//! What a broken-links run leaves: one step per page read (failing when the page has broken
//! links, which it lists), `links.json` with every link, the `LinksChecked` and `BrokenLinks`
//! figures, and the screenshots `screenshots:` asks for.

use serde_json::{Map, Value, json};

use super::LinkScreenshots;
use super::crawl::{Crawl, Link};
use crate::step::{RunContext, StepError, StepOutcome};

/// Broken links named in a step's one-line reason; the step's details list them all.
const NAMED_IN_REASON: usize = 3;
/// Pages and broken links screenshotted at most per run.
pub const MAX_SCREENSHOTS: usize = 10;

/// Writes the steps, `links.json` and the run's figures.
pub async fn write(ctx: &mut RunContext, crawl: &Crawl, shots: LinkScreenshots) -> Result<(), StepError> {
    let broken_by_page = crawl.broken_by_page();
    let broken_links = crawl.links.iter().filter(|link| is_broken(link)).count();
    let checked = crawl.links.iter().filter(|l| l.checked.is_some() || l.kind == "address").count();
    ctx.details.insert("links_checked".into(), json!(checked));
    ctx.details.insert("broken_links".into(), json!(broken_links));
    ctx.details.insert("pages_read".into(), json!(crawl.pages.len()));
    write_links_json(ctx, crawl)?;

    let start = &crawl.links[0];
    if crawl.pages.is_empty() {
        let name = format!("links on {}", start.url);
        ctx.begin_step(&name).await;
        let reason = start.broken().unwrap_or("the page could not be read");
        ctx.end_step(Err(StepError::Failed(format!("start page {}: {reason}", start.url)))).await;
        return Ok(());
    }
    let mut source_shots = 0;
    let mut destination_shots = 0;
    for (p, page) in crawl.pages.iter().enumerate() {
        ctx.begin_step(&format!("links on {}", page.url)).await;
        let broken = &broken_by_page[p];
        let mut details = Map::new();
        details.insert("links".into(), json!(page.links_found));
        details.insert("depth".into(), json!(page.depth));
        let listed: Vec<Value> = broken
            .iter()
            .map(|&(l, s)| {
                let link = &crawl.links[l];
                let source = &link.sources[s];
                json!({
                    "url": ctx.redactor.redact_url(&full_url(link, source.fragment.as_deref())),
                    "status": link.checked.as_ref().and_then(|c| c.status),
                    "reason": link.broken_for(source),
                    "text": source.text,
                    "linked_from": link.sources.iter().map(|s| crawl.pages[s.page].url.as_str()).collect::<std::collections::BTreeSet<_>>(),
                })
            })
            .collect();
        details.insert("broken".into(), Value::Array(listed));
        ctx.add_step_details(details);
        if broken.is_empty() {
            ctx.end_step(Ok(StepOutcome { url: Some(page.url.clone()), details: Map::new() })).await;
            continue;
        }
        if matches!(shots, LinkScreenshots::Source | LinkScreenshots::Both) && source_shots < MAX_SCREENSHOTS
        {
            source_shots += 1;
            shoot(ctx, &page.url, "source").await;
        }
        if matches!(shots, LinkScreenshots::Destination | LinkScreenshots::Both) {
            for &(l, _) in broken {
                let link = &crawl.links[l];
                if destination_shots < MAX_SCREENSHOTS
                    && link.checked.as_ref().is_some_and(|c| c.status.is_some())
                {
                    destination_shots += 1;
                    shoot(ctx, &link.url, &format!("destination {destination_shots}")).await;
                }
            }
        }
        ctx.end_step(Err(StepError::Failed(reason(crawl, broken)))).await;
    }
    Ok(())
}

/// Whether the link is broken itself or as one of its sources uses it (a missing fragment).
fn is_broken(link: &Link) -> bool {
    link.broken().is_some() || link.sources.iter().any(|s| link.broken_for(s).is_some())
}

fn full_url(link: &Link, fragment: Option<&str>) -> String {
    match fragment {
        Some(f) => format!("{}#{f}", link.url),
        None => link.url.clone(),
    }
}

/// `3 broken links: <url> (404 Not Found), <url> (timed out ...), ... and 2 more`.
fn reason(crawl: &Crawl, broken: &[(usize, usize)]) -> String {
    let named: Vec<String> = broken
        .iter()
        .take(NAMED_IN_REASON)
        .map(|&(l, s)| {
            let link = &crawl.links[l];
            let source = &link.sources[s];
            let why = link.broken_for(source).unwrap_or_default();
            format!("{} ({why})", full_url(link, source.fragment.as_deref()))
        })
        .collect();
    let more = broken.len().saturating_sub(NAMED_IN_REASON);
    let noun = if broken.len() == 1 { "broken link" } else { "broken links" };
    let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("{} {noun}: {}{tail}", broken.len(), named.join(", "))
}

/// Loads `url` in the browser and screenshots it into the open step; a page that does not load
/// is logged, not an error of the run.
async fn shoot(ctx: &mut RunContext, url: &str, label: &str) {
    let timeout = ctx.remaining().min(std::time::Duration::from_secs(15));
    let loaded = match ctx.page().await {
        Ok(page) => page.goto(url, timeout).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.reason().to_string()),
    };
    let result = match loaded {
        Ok(_) => ctx.named_screenshot(label).await.map(|_| ()).map_err(|e| e.reason().to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        ctx.log(format!("no {label} screenshot of {url}: {e}"));
    }
}

fn write_links_json(ctx: &mut RunContext, crawl: &Crawl) -> Result<(), StepError> {
    let redact = |url: &str| ctx.redactor.redact_url(url);
    let links: Vec<Value> = crawl
        .links
        .iter()
        .map(|link| {
            let checked = link.checked.as_ref();
            json!({
                "url": redact(&link.url),
                "kind": link.kind,
                "status": checked.and_then(|c| c.status),
                "broken": is_broken(link),
                "reason": link.broken(),
                "latency_ms": checked.map(|c| (c.latency.as_secs_f64() * 1000.0).round()),
                "requests": checked.map(|c| c.requests),
                "redirects": checked.map(|c| c.redirects.iter().map(|u| redact(u)).collect::<Vec<_>>()),
                "sources": link.sources.iter().map(|s| json!({
                    "page": redact(&crawl.pages[s.page].url),
                    "text": s.text,
                    "fragment": s.fragment,
                    "reason": link.broken_for(s),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let document = json!({
        "start_url": redact(&crawl.links[0].url),
        "pages": crawl.pages.iter().map(|p| json!({"url": redact(&p.url), "depth": p.depth, "links": p.links_found})).collect::<Vec<_>>(),
        "links": links,
        "over_max_links": crawl.over_limit,
        "excluded": crawl.excluded,
    });
    let bytes = serde_json::to_vec_pretty(&document).map_err(|e| StepError::Error(e.to_string()))?;
    ctx.write_artifact("links.json", &bytes).map_err(|e| StepError::Error(format!("writing links.json: {e}")))
}
