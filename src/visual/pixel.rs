//! pixelmatch's per-pixel tests, ported from `mapbox/pixelmatch` 7.x (`index.js`): the YIQ
//! colour distance of Kotsarenko and Ramos ("Measuring perceived color difference using YIQ NTSC
//! transmission color space in mobile applications") and the anti-aliasing detector of
//! Vysniauskas ("Anti-aliased Pixel and Intensity Slope Detector", 2009).
//!
//! Images are RGBA bytes, each with its own row stride (in pixels), so that two screenshots of
//! different heights can be compared over their common area.

/// pixelmatch's bound of [`color_delta`] over all colour pairs: a threshold `t` in 0..1 accepts
/// deltas up to `MAX_YIQ_DELTA * t * t`, as pixelmatch does.
pub const MAX_YIQ_DELTA: f64 = 35215.0;

/// An RGBA image's bytes and row stride.
#[derive(Clone, Copy)]
pub struct Pixels<'a> {
    /// `stride * rows * 4` bytes.
    pub data: &'a [u8],
    /// Pixels per row.
    pub stride: usize,
}

impl Pixels<'_> {
    /// The byte offset of pixel (x, y).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> usize {
        (y * self.stride + x) * 4
    }

    /// Pixel (x, y) as one word, for equality tests.
    #[inline]
    pub fn word(&self, x: usize, y: usize) -> u32 {
        let i = self.at(x, y);
        u32::from_ne_bytes([self.data[i], self.data[i + 1], self.data[i + 2], self.data[i + 3]])
    }
}

/// The squared YIQ distance between pixel `k` of `img1` and pixel `m` of `img2` (byte offsets),
/// negative when the second is darker (as pixelmatch encodes it); with `y_only`, the signed brightness difference alone.
/// Semi-transparent pixels are blended over pixelmatch's checkerboard background.
#[inline]
pub fn color_delta(img1: &[u8], img2: &[u8], k: usize, m: usize, y_only: bool) -> f64 {
    let (r1, g1, b1, a1) = (img1[k], img1[k + 1], img1[k + 2], img1[k + 3]);
    let (r2, g2, b2, a2) = (img2[m], img2[m + 1], img2[m + 2], img2[m + 3]);
    let mut dr = f64::from(r1) - f64::from(r2);
    let mut dg = f64::from(g1) - f64::from(g2);
    let mut db = f64::from(b1) - f64::from(b2);
    let da = f64::from(a1) - f64::from(a2);
    if dr == 0.0 && dg == 0.0 && db == 0.0 && da == 0.0 {
        return 0.0;
    }
    if a1 < 255 || a2 < 255 {
        // pixelmatch truncates `k / φ` and `k / φ²` to pick each channel's background.
        let rb = 48.0 + 159.0 * (k % 2) as f64;
        let gb = 48.0 + 159.0 * ((k as f64 / 1.618_033_988_749_895) as u64 % 2) as f64;
        let bb = 48.0 + 159.0 * ((k as f64 / 2.618_033_988_749_895) as u64 % 2) as f64;
        let (a1, a2) = (f64::from(a1), f64::from(a2));
        dr = (f64::from(r1) * a1 - f64::from(r2) * a2 - rb * da) / 255.0;
        dg = (f64::from(g1) * a1 - f64::from(g2) * a2 - gb * da) / 255.0;
        db = (f64::from(b1) * a1 - f64::from(b2) * a2 - bb * da) / 255.0;
    }
    let y = dr * 0.298_895_31 + dg * 0.586_622_47 + db * 0.114_482_23;
    if y_only {
        return y;
    }
    let i = dr * 0.595_977_99 - dg * 0.274_176_10 - db * 0.321_801_89;
    let q = dr * 0.211_470_17 - dg * 0.522_617_11 + db * 0.311_146_94;
    let delta = 0.5053 * y * y + 0.299 * i * i + 0.1957 * q * q;
    if y > 0.0 { -delta } else { delta }
}

/// Whether pixel (x1, y1) of `img` is likely part of anti-aliasing: among its 8 neighbours it
/// has both a darker and a brighter one, at most 2 equal ones, and the darkest or the brightest
/// neighbour sits inside a flat area (3+ equal neighbours) in both `img` and `other`.
/// `width` and `height` bound the neighbourhood (the compared area).
pub fn antialiased(
    img: Pixels<'_>,
    other: Pixels<'_>,
    x1: usize,
    y1: usize,
    width: usize,
    height: usize,
) -> bool {
    let x0 = x1.saturating_sub(1);
    let y0 = y1.saturating_sub(1);
    let x2 = (x1 + 1).min(width - 1);
    let y2 = (y1 + 1).min(height - 1);
    let pos = img.at(x1, y1);
    let mut zeroes = u32::from(x1 == x0 || x1 == x2 || y1 == y0 || y1 == y2);
    let (mut min, mut max) = (0.0_f64, 0.0_f64);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (0, 0, 0, 0);
    for x in x0..=x2 {
        for y in y0..=y2 {
            if x == x1 && y == y1 {
                continue;
            }
            let delta = color_delta(img.data, img.data, pos, img.at(x, y), true);
            if delta == 0.0 {
                zeroes += 1;
                if zeroes > 2 {
                    return false;
                }
            } else if delta < min {
                min = delta;
                (min_x, min_y) = (x, y);
            } else if delta > max {
                max = delta;
                (max_x, max_y) = (x, y);
            }
        }
    }
    if min == 0.0 || max == 0.0 {
        return false;
    }
    (has_many_siblings(img, min_x, min_y, width, height)
        && has_many_siblings(other, min_x, min_y, width, height))
        || (has_many_siblings(img, max_x, max_y, width, height)
            && has_many_siblings(other, max_x, max_y, width, height))
}

/// Whether pixel (x1, y1) has 3+ neighbours of exactly its colour.
pub fn has_many_siblings(img: Pixels<'_>, x1: usize, y1: usize, width: usize, height: usize) -> bool {
    let x0 = x1.saturating_sub(1);
    let y0 = y1.saturating_sub(1);
    let x2 = (x1 + 1).min(width - 1);
    let y2 = (y1 + 1).min(height - 1);
    let value = img.word(x1, y1);
    let mut zeroes = u32::from(x1 == x0 || x1 == x2 || y1 == y0 || y1 == y2);
    for x in x0..=x2 {
        for y in y0..=y2 {
            if x == x1 && y == y1 {
                continue;
            }
            zeroes += u32::from(img.word(x, y) == value);
            if zeroes > 2 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(pixels: &[[u8; 4]]) -> Vec<u8> {
        pixels.iter().flatten().copied().collect()
    }

    #[test]
    fn black_against_white_is_pure_luma_and_the_sign_says_which_is_darker() {
        let img = px(&[[0, 0, 0, 255], [255, 255, 255, 255]]);
        let white_to_black = color_delta(&img, &img, 4, 0, false);
        assert!((white_to_black.abs() - 0.5053 * 255.0 * 255.0).abs() < 1.0, "{white_to_black}");
        assert!(white_to_black.abs() < MAX_YIQ_DELTA);
        // The sign says whether the second pixel is darker (negative) or brighter (positive).
        assert!(white_to_black < 0.0);
        assert!(color_delta(&img, &img, 0, 4, false) > 0.0);
        assert_eq!(color_delta(&img, &img, 0, 0, false), 0.0);
    }

    #[test]
    fn yiq_delta_matches_pixelmatch_figures() {
        // Red against pure blue, as pixelmatch 7.1 computes it (by hand from its formula).
        let img = px(&[[255, 0, 0, 255], [0, 0, 255, 255]]);
        let (dr, dg, db) = (255.0_f64, 0.0, -255.0);
        let y = dr * 0.29889531 + dg * 0.58662247 + db * 0.11448223;
        let i = dr * 0.59597799 - dg * 0.27417610 - db * 0.32180189;
        let q = dr * 0.21147017 - dg * 0.52261711 + db * 0.31114694;
        let expected = -(0.5053 * y * y + 0.299 * i * i + 0.1957 * q * q);
        assert!((color_delta(&img, &img, 0, 4, false) - expected).abs() < 1e-6);
        // A small change of grey stays under the default threshold 0.1; a visible one does not.
        let grey = px(&[[200, 200, 200, 255], [203, 203, 203, 255], [150, 150, 150, 255]]);
        let limit = MAX_YIQ_DELTA * 0.1 * 0.1;
        assert!(color_delta(&grey, &grey, 0, 4, false).abs() <= limit);
        assert!(color_delta(&grey, &grey, 0, 8, false).abs() > limit);
    }

    #[test]
    fn transparent_pixels_blend_over_the_checkerboard() {
        // Fully transparent black and fully transparent white are the same background.
        let img = px(&[[0, 0, 0, 0], [255, 255, 255, 0]]);
        assert_eq!(color_delta(&img, &img, 0, 4, false), 0.0);
        let half = px(&[[0, 0, 0, 128], [0, 0, 0, 255]]);
        assert_ne!(color_delta(&half, &half, 0, 4, false), 0.0);
    }

    /// A 5×5 image: white left half, black right half, with a grey edge pixel column at x = 2.
    fn edge(grey: u8) -> Vec<u8> {
        let mut data = Vec::new();
        for _y in 0..5 {
            for x in 0..5 {
                let v = match x {
                    0 | 1 => 255,
                    2 => grey,
                    _ => 0,
                };
                data.extend_from_slice(&[v, v, v, 255]);
            }
        }
        data
    }

    #[test]
    fn an_edge_pixel_between_flat_areas_is_antialiasing() {
        let a = edge(128);
        let b = edge(200);
        let (a, b) = (Pixels { data: &a, stride: 5 }, Pixels { data: &b, stride: 5 });
        assert!(antialiased(a, b, 2, 2, 5, 5));
        assert!(antialiased(b, a, 2, 2, 5, 5));
        // A pixel inside a flat area is not.
        assert!(!antialiased(a, b, 0, 2, 5, 5));
        assert!(!antialiased(a, b, 4, 2, 5, 5));
    }

    #[test]
    fn a_lone_dot_in_a_flat_area_is_not_antialiasing() {
        let mut data = vec![255u8; 5 * 5 * 4];
        data[(2 * 5 + 2) * 4..(2 * 5 + 2) * 4 + 3].copy_from_slice(&[0, 0, 0]);
        let img = Pixels { data: &data, stride: 5 };
        // Every neighbour is brighter and equal to the others: no darker one, many equal ones.
        assert!(!antialiased(img, img, 2, 2, 5, 5));
        assert!(has_many_siblings(img, 0, 0, 5, 5));
        assert!(!has_many_siblings(img, 2, 2, 5, 5));
    }
}
