//! The image diff shared by the visual blueprint and `aviary diff`: pixelmatch's perceptual
//! YIQ distance with its anti-aliasing detection ([`pixel`]), ignored areas, the share of
//! differing pixels over the page and over its worst 64×64 window ([`window`]), the bounding
//! boxes of what changed ([`regions`]), a size change as an outcome of its own, the diff picture
//! ([`render`]), a structural-similarity figure ([`ssim`]) and PNG files ([`png`]).
//!
//! ```
//! use aviary::visual::{Options, compare};
//! let a = image::RgbaImage::from_pixel(100, 50, image::Rgba([255, 255, 255, 255]));
//! let mut b = a.clone();
//! b.put_pixel(10, 10, image::Rgba([0, 0, 0, 255]));
//! let cmp = compare(&a, &b, &Options::default());
//! assert_eq!(cmp.diff_pixels, 1);
//! assert!(cmp.size_change.is_none());
//! ```

pub mod pixel;
pub mod png;
pub mod regions;
pub mod render;
pub mod ssim;
pub mod window;

use image::RgbaImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pixel::{MAX_YIQ_DELTA, Pixels, antialiased, color_delta};

/// Mask value: the pixels are alike (or identical).
pub const SAME: u8 = 0;
/// Mask value: the pixels differ.
pub const DIFF: u8 = 1;
/// Mask value: the pixels differ, but one of them is anti-aliasing; not counted.
pub const AA: u8 = 2;
/// Mask value: inside an ignored area; not compared.
pub const IGNORED: u8 = 4;

/// The default per-pixel threshold (pixelmatch's).
pub const DEFAULT_PIXEL_THRESHOLD: f64 = 0.1;
/// The default side of the window of [`Comparison::window_percent`].
pub const DEFAULT_WINDOW: u32 = 64;

/// Rows compared per parallel task.
const ROWS_PER_TASK: usize = 32;

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// The exclusive right edge.
    pub fn right(&self) -> u32 {
        self.x.saturating_add(self.width)
    }

    /// The exclusive bottom edge.
    pub fn bottom(&self) -> u32 {
        self.y.saturating_add(self.height)
    }

    /// `x,y,w,h` as `aviary diff --ignore` takes it.
    pub fn parse(text: &str) -> Result<Rect, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let numbers: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        match numbers.as_slice() {
            [x, y, width, height] if parts.len() == 4 && *width > 0 && *height > 0 => {
                Ok(Rect { x: *x, y: *y, width: *width, height: *height })
            }
            _ => Err(format!(
                "expected x,y,width,height (4 whole numbers, width and height above 0), found `{text}`"
            )),
        }
    }
}

impl std::fmt::Display for Rect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{} at ({}, {})", self.width, self.height, self.x, self.y)
    }
}

/// How two images are compared.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per-pixel perceptual (YIQ) distance under which two pixels are alike, 0..1.
    pub pixel_threshold: f64,
    /// Side of the window of [`Comparison::window_percent`], in pixels.
    pub window: u32,
    /// Areas left out of the comparison (in both images).
    pub ignore: Vec<Rect>,
    /// Count anti-aliasing pixels as differences too.
    pub include_aa: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pixel_threshold: DEFAULT_PIXEL_THRESHOLD,
            window: DEFAULT_WINDOW,
            ignore: Vec::new(),
            include_aa: false,
        }
    }
}

/// A size change between the two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeChange {
    /// The first image's width and height.
    pub from: (u32, u32),
    /// The second image's.
    pub to: (u32, u32),
}

impl std::fmt::Display for SizeChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{} → {}×{}", self.from.0, self.from.1, self.to.0, self.to.1)
    }
}

/// What a comparison found.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The compared area: both images' common width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Set when the images differ in size; only the common area is compared pixel by pixel.
    pub size_change: Option<SizeChange>,
    /// Differing pixels of the common area (anti-aliasing and ignored areas left out).
    pub diff_pixels: u64,
    /// Pixels that differ but are anti-aliasing.
    pub aa_pixels: u64,
    /// Pixels of the common area inside ignored areas.
    pub ignored_pixels: u64,
    /// Pixels only one image has (outside the common area, not ignored): all count as differing.
    pub strip_pixels: u64,
    /// Differing pixels (strip included) per 100 compared pixels (ignored ones left out).
    pub diff_percent: f64,
    /// Differing pixels per 100 pixels of the worst window.
    pub window_percent: f64,
    /// The worst window, when a pixel differs.
    pub window: Option<Rect>,
    /// Bounding boxes of the changed regions, largest first (at most [`regions::MAX_REGIONS`]).
    pub regions: Vec<regions::Region>,
    /// Per pixel of the common area: [`SAME`], [`DIFF`], [`AA`] or [`IGNORED`].
    pub mask: Vec<u8>,
}

/// The limits a comparison is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Over this share of differing pixels (percent), the images differ.
    pub threshold_percent: f64,
    /// Over this share of differing pixels in the worst window (percent), they differ.
    pub window_threshold_percent: f64,
}

impl Comparison {
    /// Why the images count as different under `limits`, one reason a line; empty when they
    /// count as the same.
    pub fn differences(&self, limits: Limits) -> Vec<String> {
        let mut why = Vec::new();
        if let Some(change) = self.size_change {
            why.push(format!("size changed {change}"));
        }
        if self.diff_percent > limits.threshold_percent {
            why.push(format!(
                "{} of the pixels differ (threshold {}%)",
                percent(self.diff_percent),
                limits.threshold_percent
            ));
        }
        if self.window_percent > limits.window_threshold_percent
            && let Some(at) = self.window
        {
            why.push(format!(
                "{} of the {}×{} window at ({}, {}) differs (window threshold {}%)",
                percent(self.window_percent),
                at.width,
                at.height,
                at.x,
                at.y,
                limits.window_threshold_percent
            ));
        }
        why
    }

    /// 100 − [`Self::diff_percent`]: CloudWatch's `VisualMonitoringSuccessPercent`.
    pub fn success_percent(&self) -> f64 {
        round3(100.0 - self.diff_percent)
    }
}

/// A percentage as reports show it: up to 3 decimals, `%` appended.
pub fn percent(value: f64) -> String {
    let text = format!("{:.3}", round3(value));
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// Rounded to 3 decimals.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Compares `baseline` with `current` over their common area, in parallel over rows.
pub fn compare(baseline: &RgbaImage, current: &RgbaImage, options: &Options) -> Comparison {
    let (w1, h1) = baseline.dimensions();
    let (w2, h2) = current.dimensions();
    let (width, height) = (w1.min(w2) as usize, h1.min(h2) as usize);
    let size_change = ((w1, h1) != (w2, h2)).then_some(SizeChange { from: (w1, h1), to: (w2, h2) });
    let a = Pixels { data: baseline.as_raw(), stride: w1 as usize };
    let b = Pixels { data: current.as_raw(), stride: w2 as usize };
    let max_delta = MAX_YIQ_DELTA * options.pixel_threshold * options.pixel_threshold;
    let mut mask = vec![SAME; width * height];

    let ignore = &options.ignore;
    let identical = size_change.is_none() && ignore.is_empty() && baseline.as_raw() == current.as_raw();
    let (mut diff_pixels, mut aa_pixels, mut ignored_pixels) = (0u64, 0u64, 0u64);
    if !identical && width > 0 {
        let counts = mask
            .par_chunks_mut(width * ROWS_PER_TASK)
            .enumerate()
            .map(|(task, rows)| {
                let mut counts = (0u64, 0u64, 0u64);
                let mut spans = Vec::new();
                for (r, row) in rows.chunks_exact_mut(width).enumerate() {
                    let y = task * ROWS_PER_TASK + r;
                    ignored_spans(ignore, y as u32, width as u32, &mut spans);
                    for &(from, to) in &spans {
                        row[from as usize..to as usize].fill(IGNORED);
                        counts.2 += u64::from(to - from);
                    }
                    compare_row(a, b, y, width, height, max_delta, options.include_aa, row, &mut counts);
                }
                counts
            })
            .reduce(|| (0, 0, 0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
        (diff_pixels, aa_pixels, ignored_pixels) = counts;
    }

    let strip_pixels = strip_pixels(ignore, (w1.max(w2), h1.max(h2)), (width as u32, height as u32));
    let compared = (width * height) as u64 - ignored_pixels + strip_pixels;
    let diff_percent =
        if compared == 0 { 0.0 } else { (diff_pixels + strip_pixels) as f64 * 100.0 / compared as f64 };
    let worst = window::worst(&mask, width, height, options.window as usize);
    let window_percent =
        worst.map_or(0.0, |w| f64::from(w.count) * 100.0 / (f64::from(w.at.width) * f64::from(w.at.height)));
    let regions = if diff_pixels > 0 { regions::find(&mask, width, height) } else { Vec::new() };
    Comparison {
        width: width as u32,
        height: height as u32,
        size_change,
        diff_pixels,
        aa_pixels,
        ignored_pixels,
        strip_pixels,
        diff_percent,
        window_percent,
        window: worst.map(|w| w.at),
        regions,
        mask,
    }
}

/// One row of the common area: marks [`DIFF`] and [`AA`] pixels in `row` (ignored ones are
/// already marked) and counts them.
#[allow(clippy::too_many_arguments)]
fn compare_row(
    a: Pixels<'_>,
    b: Pixels<'_>,
    y: usize,
    width: usize,
    height: usize,
    max_delta: f64,
    include_aa: bool,
    row: &mut [u8],
    counts: &mut (u64, u64, u64),
) {
    let (ra, rb) = (&a.data[a.at(0, y)..a.at(width, y)], &b.data[b.at(0, y)..b.at(width, y)]);
    if ra == rb {
        return;
    }
    for (x, (m, (pa, pb))) in row.iter_mut().zip(ra.chunks_exact(4).zip(rb.chunks_exact(4))).enumerate() {
        if *m == IGNORED || pa == pb {
            continue;
        }
        let delta = color_delta(a.data, b.data, a.at(x, y), b.at(x, y), false);
        if delta.abs() <= max_delta {
            continue;
        }
        if !include_aa && (antialiased(a, b, x, y, width, height) || antialiased(b, a, x, y, width, height)) {
            *m = AA;
            counts.1 += 1;
        } else {
            *m = DIFF;
            counts.0 += 1;
        }
    }
}

/// The ignored column ranges `[from, to)` of row `y`, merged and sorted, within `width`.
fn ignored_spans(ignore: &[Rect], y: u32, width: u32, spans: &mut Vec<(u32, u32)>) {
    spans.clear();
    for r in ignore.iter().filter(|r| r.y <= y && y < r.bottom() && r.x < width) {
        spans.push((r.x, r.right().min(width)));
    }
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
    for &(from, to) in spans.iter() {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    *spans = merged;
}

/// Pixels of the `outer` box outside the `common` one that no ignored area covers.
fn strip_pixels(ignore: &[Rect], outer: (u32, u32), common: (u32, u32)) -> u64 {
    if outer == common {
        return 0;
    }
    let mut total = 0u64;
    let mut spans = Vec::new();
    for y in 0..outer.1 {
        let from = if y < common.1 { common.0 } else { 0 };
        ignored_spans(ignore, y, outer.0, &mut spans);
        let covered: u32 = spans.iter().map(|&(f, t)| t.saturating_sub(f.max(from))).sum();
        total += u64::from(outer.0 - from - covered.min(outer.0 - from));
    }
    total
}

#[cfg(test)]
mod tests {
    use image::Rgba;

    use super::*;

    const WHITE: Rgba<u8> = Rgba([255, 255, 255, 255]);
    const BLACK: Rgba<u8> = Rgba([0, 0, 0, 255]);

    fn blank(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_pixel(width, height, WHITE)
    }

    fn fill(img: &mut RgbaImage, r: Rect, colour: Rgba<u8>) {
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                img.put_pixel(x, y, colour);
            }
        }
    }

    #[test]
    fn identical_images_do_not_differ() {
        let a = blank(300, 200);
        let cmp = compare(&a, &a.clone(), &Options::default());
        assert_eq!((cmp.diff_pixels, cmp.diff_percent, cmp.window_percent), (0, 0.0, 0.0));
        assert!(cmp.regions.is_empty() && cmp.window.is_none() && cmp.size_change.is_none());
        assert_eq!(cmp.success_percent(), 100.0);
    }

    #[test]
    fn a_block_counts_on_the_page_and_in_its_window() {
        let a = blank(200, 100);
        let mut b = a.clone();
        let block = Rect { x: 50, y: 20, width: 16, height: 8 };
        fill(&mut b, block, BLACK);
        let cmp = compare(&a, &b, &Options::default());
        assert_eq!(cmp.diff_pixels, 128);
        assert!((cmp.diff_percent - 128.0 * 100.0 / 20000.0).abs() < 1e-9);
        assert!((cmp.window_percent - 128.0 * 100.0 / 4096.0).abs() < 1e-9, "{}", cmp.window_percent);
        assert_eq!(cmp.regions.len(), 1);
        assert_eq!(cmp.regions[0].rect, block);
        let limits = Limits { threshold_percent: 1.0, window_threshold_percent: 10.0 };
        assert_eq!(cmp.differences(limits).len(), 0, "0.64% of the page, 3.1% of a window");
        let strict = Limits { threshold_percent: 0.5, window_threshold_percent: 3.0 };
        assert_eq!(cmp.differences(strict).len(), 2, "{:?}", cmp.differences(strict));
    }

    #[test]
    fn a_faint_change_stays_under_the_pixel_threshold() {
        let a = RgbaImage::from_pixel(50, 50, Rgba([200, 200, 200, 255]));
        let b = RgbaImage::from_pixel(50, 50, Rgba([204, 204, 204, 255]));
        assert_eq!(compare(&a, &b, &Options::default()).diff_pixels, 0);
        let strict = Options { pixel_threshold: 0.0, ..Options::default() };
        assert_eq!(compare(&a, &b, &strict).diff_pixels, 2500);
    }

    #[test]
    fn ignored_areas_are_not_compared() {
        let a = blank(100, 100);
        let mut b = a.clone();
        let clock = Rect { x: 10, y: 10, width: 30, height: 10 };
        fill(&mut b, clock, BLACK);
        let options =
            Options { ignore: vec![Rect { x: 5, y: 5, width: 40, height: 20 }], ..Options::default() };
        let cmp = compare(&a, &b, &options);
        assert_eq!(cmp.diff_pixels, 0);
        assert_eq!(cmp.ignored_pixels, 800);
        assert_eq!(cmp.mask[12 * 100 + 20], IGNORED);
        // Overlapping and out-of-bounds areas are counted once, within the image.
        let options = Options {
            ignore: vec![
                Rect { x: 90, y: 0, width: 50, height: 1 },
                Rect { x: 95, y: 0, width: 2, height: 1 },
            ],
            ..Options::default()
        };
        assert_eq!(compare(&a, &b, &options).ignored_pixels, 10);
    }

    #[test]
    fn a_one_pixel_shift_of_an_antialiased_edge_is_not_a_difference() {
        // A dark bar with grey (anti-aliased) edge columns, moved right by one pixel.
        let draw = |left: u32| {
            let mut img = blank(60, 30);
            fill(&mut img, Rect { x: left, y: 5, width: 1, height: 20 }, Rgba([170, 170, 170, 255]));
            fill(&mut img, Rect { x: left + 1, y: 5, width: 10, height: 20 }, BLACK);
            fill(&mut img, Rect { x: left + 11, y: 5, width: 1, height: 20 }, Rgba([85, 85, 85, 255]));
            img
        };
        let cmp = compare(&draw(20), &draw(21), &Options::default());
        assert!(cmp.aa_pixels > 0);
        // Only the two rows' ends (where the AA test has fewer flat neighbours) may count.
        assert!(cmp.diff_pixels <= 4, "{} pixels differ", cmp.diff_pixels);
        let counted = compare(&draw(20), &draw(21), &Options { include_aa: true, ..Options::default() });
        assert!(counted.diff_pixels >= 40);
    }

    #[test]
    fn a_size_change_is_its_own_outcome_and_its_strip_differs() {
        let a = blank(100, 130);
        let b = blank(100, 142);
        let cmp = compare(&a, &b, &Options::default());
        assert_eq!(cmp.size_change.unwrap().to_string(), "100×130 → 100×142");
        assert_eq!((cmp.width, cmp.height, cmp.diff_pixels, cmp.strip_pixels), (100, 130, 0, 1200));
        let why = cmp.differences(Limits { threshold_percent: 100.0, window_threshold_percent: 100.0 });
        assert_eq!(why, ["size changed 100×130 → 100×142"]);
        // An ignored area over the strip leaves it out.
        let options =
            Options { ignore: vec![Rect { x: 0, y: 130, width: 100, height: 12 }], ..Options::default() };
        assert_eq!(compare(&a, &b, &options).strip_pixels, 0);
    }

    #[test]
    fn rect_parsing() {
        assert_eq!(Rect::parse("1, 2,3,4").unwrap(), Rect { x: 1, y: 2, width: 3, height: 4 });
        for bad in ["1,2,3", "1,2,3,0", "a,b,c,d", "1,2,3,4,5", "-1,2,3,4"] {
            assert!(Rect::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(percent(12.3456), "12.346%");
        assert_eq!(percent(1.0), "1%");
    }
}
