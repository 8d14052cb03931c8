//! A stable screenshot: the page loaded, the network quiet, web fonts ready, animations
//! finished or cancelled, transitions and the caret off, scrolled to the top, `hide:` elements
//! invisible (their space kept), and the boxes of `ignore:` selectors measured on the page as
//! shot.

use std::time::Duration;

use image::RgbaImage;
use serde_json::{Map, Value, json};

use super::Settings;
use crate::step::{RunContext, StepError};
use crate::visual::Rect;

/// The network counts as quiet after this long with no request open.
const QUIET: Duration = Duration::from_millis(500);
/// Waiting for a quiet network stops after this long (a page that polls is shot anyway).
const QUIET_LIMIT: Duration = Duration::from_secs(10);
/// Boxes measured per ignore selector at most.
const MAX_BOXES: usize = 200;

/// A page's screenshot and what was measured with it.
pub struct Shot {
    /// The page's URL when shot.
    pub url: String,
    /// The PNG as Chromium made it.
    pub png: Vec<u8>,
    /// Its pixels.
    pub image: RgbaImage,
    /// The boxes of the `ignore:` selectors' elements, in screenshot pixels.
    pub selector_boxes: Vec<Rect>,
    /// Elements `hide:` made invisible, per selector.
    pub hidden: Vec<u64>,
    /// Whether the network went quiet before the shot.
    pub network_quiet: bool,
}

impl Shot {
    /// Figures for the load step's details.
    pub fn details(&self) -> Map<String, Value> {
        let mut details = Map::new();
        details
            .insert("screenshot".into(), json!({"width": self.image.width(), "height": self.image.height()}));
        details.insert("network_quiet".into(), json!(self.network_quiet));
        details.insert("hidden_elements".into(), json!(self.hidden));
        details.insert("ignored_boxes".into(), json!(self.selector_boxes.len()));
        details
    }
}

/// Prepares the page for a stable shot; resolves to what `hide:` matched and the boxes of the
/// ignore selectors. Every wait in it is bounded.
const STABILIZE: &str = r#"(async (hide, ignore, fullPage, maxBoxes) => {
  const bounded = (promise, ms) => Promise.race([promise, new Promise(r => setTimeout(r, ms))]);
  for (const a of document.getAnimations()) {
    try {
      const end = a.effect ? a.effect.getComputedTiming().endTime : Infinity;
      if (Number.isFinite(end)) a.finish(); else a.cancel();
    } catch (e) { try { a.cancel(); } catch (e2) {} }
  }
  const style = document.createElement('style');
  style.textContent = '*, *::before, *::after { transition: none !important; animation-play-state: paused !important;'
    + ' caret-color: transparent !important; scroll-behavior: auto !important; }';
  (document.head || document.documentElement).appendChild(style);
  if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
  const hidden = hide.map(sel => {
    const found = document.querySelectorAll(sel);
    found.forEach(e => e.style.setProperty('visibility', 'hidden', 'important'));
    return found.length;
  });
  window.scrollTo(0, 0);
  if (document.fonts) await bounded(document.fonts.ready, 5000);
  await bounded(new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))), 1000);
  const boxes = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  for (const sel of ignore) {
    for (const e of Array.from(document.querySelectorAll(sel)).slice(0, maxBoxes)) {
      for (const r of e.getClientRects()) {
        let x = Math.floor(r.left + window.scrollX), y = Math.floor(r.top + window.scrollY);
        let right = Math.ceil(r.right + window.scrollX), bottom = Math.ceil(r.bottom + window.scrollY);
        if (!fullPage) { right = Math.min(right, vw); bottom = Math.min(bottom, vh); }
        x = Math.max(x, 0); y = Math.max(y, 0);
        if (right > x && bottom > y) boxes.push([x, y, right - x, bottom - y]);
      }
    }
  }
  return { hidden, boxes, url: location.href };
})"#;

/// Loads the page and takes its stable screenshot.
pub async fn take(ctx: &mut RunContext, settings: &Settings) -> Result<Shot, StepError> {
    let timeout = ctx.remaining();
    let url = &settings.url;
    let page = ctx.page().await?;
    let nav = page.goto(url, timeout).await?;
    match nav.status {
        None => return Err(StepError::Failed(format!("GET {url}: no HTTP response for the page"))),
        Some(status) if !(200..400).contains(&status) => {
            return Err(StepError::Failed(
                format!("GET {url}: expected status 200-399, got {status} {}", nav.status_text)
                    .trim_end()
                    .to_string(),
            ));
        }
        Some(_) => {}
    }
    let network_quiet = wait_for_quiet_network(ctx).await;
    let selectors: Vec<&str> = settings.ignore.iter().filter_map(|a| a.selector.as_deref()).collect();
    let call = format!(
        "{STABILIZE}({}, {}, {}, {MAX_BOXES})",
        json!(settings.hide),
        json!(selectors),
        settings.full_page
    );
    let page = ctx.page().await?;
    let prepared = page
        .evaluate(&call)
        .await
        .map_err(|e| StepError::Error(format!("preparing the page for its screenshot: {e}")))?;
    let max_height = settings.full_page.then_some(settings.max_height);
    let png = page.screenshot_bounded(settings.full_page, max_height).await?;
    let image = crate::visual::png::decode(&png, std::path::Path::new("the screenshot"))
        .map_err(|e| StepError::Error(e.to_string()))?;
    let hidden: Vec<u64> = prepared["hidden"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let selector_boxes = prepared["boxes"]
        .as_array()
        .map(|boxes| {
            boxes
                .iter()
                .filter_map(|b| {
                    let n = |i: usize| b.get(i).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
                    Some(Rect { x: n(0)?, y: n(1)?, width: n(2)?, height: n(3)? })
                })
                .collect()
        })
        .unwrap_or_default();
    let url = prepared["url"].as_str().unwrap_or(&nav.url).to_string();
    for (selector, count) in settings.hide.iter().zip(&hidden) {
        if *count == 0 {
            ctx.log(format!("hide: `{selector}` matches no element"));
        }
    }
    if !network_quiet {
        ctx.log(format!(
            "the network was not quiet within {}s: screenshot taken anyway",
            QUIET_LIMIT.as_secs()
        ));
    }
    Ok(Shot { url, png, image, selector_boxes, hidden, network_quiet })
}

/// Waits until no request has been open for [`QUIET`], at most [`QUIET_LIMIT`] (and never
/// past the run's deadline); whether it went quiet.
async fn wait_for_quiet_network(ctx: &mut RunContext) -> bool {
    let limit = tokio::time::Instant::now() + QUIET_LIMIT.min(ctx.remaining() / 2);
    let mut quiet_since: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        let open = match ctx.page().await {
            Ok(page) => page.pending().await.map_or(0, |p| p.open_requests.len()),
            Err(_) => return false,
        };
        if open == 0 {
            let since = *quiet_since.get_or_insert(now);
            if now.duration_since(since) >= QUIET {
                return true;
            }
        } else {
            quiet_since = None;
        }
        if now >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
