//! A structural-similarity figure (mean SSIM over 8×8 windows, `image-compare`'s
//! `MSSIMSimple`) of the common area, computed on a grey copy scaled down to at most
//! [`MAX_WIDTH`] pixels wide (box filter) so that it stays cheap on full-page shots. It is
//! reported, not judged: the thresholds apply to the pixel diff.

use image::{GrayImage, RgbaImage};

/// Width of the grey copies compared.
pub const MAX_WIDTH: u32 = 480;

/// The mean SSIM of the two images' common area (1: identical), or `None` when it is smaller
/// than a window.
pub fn mean_ssim(a: &RgbaImage, b: &RgbaImage) -> Option<f64> {
    let width = a.width().min(b.width());
    let height = a.height().min(b.height());
    let factor = width.div_ceil(MAX_WIDTH).max(1);
    let (ga, gb) = (grey(a, width, height, factor), grey(b, width, height, factor));
    if ga.width() < 8 || ga.height() < 8 {
        return None;
    }
    let similarity =
        image_compare::gray_similarity_structure(&image_compare::Algorithm::MSSIMSimple, &ga, &gb).ok()?;
    Some((similarity.score * 10_000.0).round() / 10_000.0)
}

/// The top-left `width` × `height` of `img` in grey, each `factor` × `factor` block averaged.
fn grey(img: &RgbaImage, width: u32, height: u32, factor: u32) -> GrayImage {
    let (w, h) = (width / factor, height / factor);
    let stride = img.width() as usize;
    let raw = img.as_raw();
    GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0u32;
        for yy in y * factor..(y + 1) * factor {
            let row = (yy as usize * stride + (x * factor) as usize) * 4;
            for p in raw[row..row + factor as usize * 4].chunks_exact(4) {
                sum += (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
            }
        }
        image::Luma([(sum / (factor * factor)) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_one_and_a_change_is_less() {
        let a = RgbaImage::from_fn(1000, 300, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 0, 255]));
        assert_eq!(mean_ssim(&a, &a), Some(1.0));
        let mut b = a.clone();
        for x in 100..600 {
            for y in 50..250 {
                b.put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
            }
        }
        assert!(mean_ssim(&a, &b).unwrap() < 0.9);
        assert_eq!(mean_ssim(&RgbaImage::new(4, 4), &RgbaImage::new(4, 4)), None);
    }
}
