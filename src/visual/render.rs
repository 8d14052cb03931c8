//! The diff picture: a dimmed grey copy of the baseline with the differing pixels in the
//! highlight colour, ignored areas tinted blue, and — after a size change — the strip only one
//! image has striped in the highlight colour over that image's dimmed content.

use image::RgbaImage;
use rayon::prelude::*;

use super::{Comparison, DIFF, IGNORED};

/// How strongly the copy shows through (pixelmatch's `alpha`).
const DIM: f64 = 0.1;
/// The tint of ignored areas.
const IGNORED_TINT: [u8; 3] = [160, 190, 235];

/// An `#rrggbb` (or `#rgb`) colour.
pub fn parse_color(text: &str) -> Result<[u8; 3], String> {
    let hex = text.strip_prefix('#').unwrap_or("");
    let digits: Option<Vec<u8>> = hex.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect();
    match (hex.len(), digits) {
        (6, Some(d)) => Ok([d[0] * 16 + d[1], d[2] * 16 + d[3], d[4] * 16 + d[5]]),
        (3, Some(d)) => Ok([d[0] * 17, d[1] * 17, d[2] * 17]),
        _ => Err(format!("expected a colour like \"#fafa00\" or \"#f0f\", found `{text}`")),
    }
}

#[inline]
fn dimmed(p: &[u8]) -> [u8; 4] {
    let luma =
        f64::from(p[0]) * 0.298_895_31 + f64::from(p[1]) * 0.586_622_47 + f64::from(p[2]) * 0.114_482_23;
    let v = (255.0 + (luma - 255.0) * DIM * f64::from(p[3]) / 255.0) as u8;
    [v, v, v, 255]
}

/// Draws the diff of `cmp` (made from `baseline` and `current`) at the size of the larger of
/// the two in each direction.
pub fn draw(baseline: &RgbaImage, current: &RgbaImage, cmp: &Comparison, highlight: [u8; 3]) -> RgbaImage {
    let (w1, h1) = baseline.dimensions();
    let (w2, h2) = current.dimensions();
    let (width, height) = (w1.max(w2) as usize, h1.max(h2) as usize);
    let (cw, ch) = (cmp.width as usize, cmp.height as usize);
    let mark = [highlight[0], highlight[1], highlight[2], 255];
    let mut out = vec![0u8; width * height * 4];
    out.par_chunks_mut(width * 4).enumerate().for_each(|(y, row)| {
        for (x, px) in row.chunks_exact_mut(4).enumerate() {
            let value = if x < cw && y < ch {
                let source = &baseline.as_raw()[(y * w1 as usize + x) * 4..][..4];
                match cmp.mask[y * cw + x] {
                    DIFF => mark,
                    IGNORED => {
                        let d = dimmed(source);
                        let tint = |c: u8, t: u8| ((u16::from(c) + u16::from(t)) / 2) as u8;
                        [
                            tint(d[0], IGNORED_TINT[0]),
                            tint(d[1], IGNORED_TINT[1]),
                            tint(d[2], IGNORED_TINT[2]),
                            255,
                        ]
                    }
                    _ => dimmed(source),
                }
            } else if (x + y) / 8 % 2 == 0 {
                mark
            } else if x < w2 as usize && y < h2 as usize {
                dimmed(&current.as_raw()[(y * w2 as usize + x) * 4..][..4])
            } else if x < w1 as usize && y < h1 as usize {
                dimmed(&baseline.as_raw()[(y * w1 as usize + x) * 4..][..4])
            } else {
                [255, 255, 255, 255]
            };
            px.copy_from_slice(&value);
        }
    });
    RgbaImage::from_raw(width as u32, height as u32, out).expect("buffer sized to the image")
}

#[cfg(test)]
mod tests {
    use image::Rgba;

    use super::*;
    use crate::visual::{Options, Rect, compare};

    #[test]
    fn colours() {
        assert_eq!(parse_color("#fafa00").unwrap(), [250, 250, 0]);
        assert_eq!(parse_color("#F0f").unwrap(), [255, 0, 255]);
        for bad in ["fafa00", "#fafa0", "#ggg", ""] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_are_highlighted_over_a_dimmed_copy_and_a_new_strip_is_striped() {
        let a = RgbaImage::from_pixel(40, 30, Rgba([0, 0, 0, 255]));
        let mut b = RgbaImage::from_pixel(40, 50, Rgba([0, 0, 0, 255]));
        b.put_pixel(5, 5, Rgba([255, 255, 255, 255]));
        let options =
            Options { ignore: vec![Rect { x: 20, y: 0, width: 5, height: 5 }], ..Options::default() };
        let cmp = compare(&a, &b, &options);
        let img = draw(&a, &b, &cmp, [250, 250, 0]);
        assert_eq!(img.dimensions(), (40, 50));
        assert_eq!(img.get_pixel(5, 5).0, [250, 250, 0, 255]);
        // Black dimmed is a light grey.
        let grey = img.get_pixel(10, 10).0;
        assert!(grey[0] > 200 && grey[0] == grey[1] && grey[1] == grey[2], "{grey:?}");
        assert_ne!(img.get_pixel(21, 1).0, grey, "ignored area tinted");
        let strip: Vec<[u8; 4]> = (0..16).map(|x| img.get_pixel(x, 40).0).collect();
        assert!(strip.contains(&[250, 250, 0, 255]) && strip.contains(&grey), "{strip:?}");
    }
}
