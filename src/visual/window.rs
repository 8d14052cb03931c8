//! The worst N×N window: the most differing pixels any N×N square of the compared area holds
//! (a sliding window, every position), so a small local change stands out on a large page.

use super::{DIFF, Rect};

/// The worst window found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worst {
    /// Differing pixels in it.
    pub count: u32,
    /// Where it is (its side is the window size, clamped to the compared area).
    pub at: Rect,
}

/// The window with the most [`DIFF`] pixels of `mask` (`width` × `height`, one byte a pixel),
/// of side `n` clamped to the mask's size; `None` when no pixel differs.
pub fn worst(mask: &[u8], width: usize, height: usize, n: usize) -> Option<Worst> {
    let n = n.clamp(1, width.min(height).max(1));
    if width == 0 || height == 0 {
        return None;
    }
    let first = mask.chunks_exact(width).position(|row| row.contains(&DIFF))?;
    let last = height - 1 - mask.chunks_exact(width).rev().position(|row| row.contains(&DIFF))?;
    // colsum[x]: differing pixels of column x over the last n rows; band: their total. Rows
    // before `first` hold none, so starting there (and subtracting them) keeps the sums right.
    let mut colsum = vec![0u32; width];
    let mut band = 0u32;
    let mut best: Option<Worst> = None;
    let end = (last + n - 1).min(height - 1);
    for y in first..=end {
        let row = &mask[y * width..(y + 1) * width];
        if y >= n {
            let leaving = &mask[(y - n) * width..(y - n + 1) * width];
            for x in 0..width {
                let d = u32::from(row[x] == DIFF);
                let l = u32::from(leaving[x] == DIFF);
                colsum[x] = colsum[x] + d - l;
                band = band + d - l;
            }
        } else {
            for (sum, &m) in colsum.iter_mut().zip(row) {
                let d = u32::from(m == DIFF);
                *sum += d;
                band += d;
            }
        }
        if y + 1 < n || band <= best.map_or(0, |b| b.count) {
            continue;
        }
        let mut sum: u32 = colsum[..n - 1].iter().sum();
        for x in n - 1..width {
            sum += colsum[x];
            if sum > best.map_or(0, |b| b.count) {
                let at =
                    Rect { x: (x + 1 - n) as u32, y: (y + 1 - n) as u32, width: n as u32, height: n as u32 };
                best = Some(Worst { count: sum, at });
            }
            sum -= colsum[x + 1 - n];
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(width: usize, height: usize, diffs: &[(usize, usize)]) -> Vec<u8> {
        let mut m = vec![0u8; width * height];
        for &(x, y) in diffs {
            m[y * width + x] = DIFF;
        }
        m
    }

    /// Every window, counted the slow way.
    fn brute(mask: &[u8], width: usize, height: usize, n: usize) -> u32 {
        let n = n.min(width).min(height);
        let mut best = 0;
        for y in 0..=height - n {
            for x in 0..=width - n {
                let mut c = 0;
                for yy in y..y + n {
                    for xx in x..x + n {
                        c += u32::from(mask[yy * width + xx] == DIFF);
                    }
                }
                best = best.max(c);
            }
        }
        best
    }

    #[test]
    fn no_difference_no_window() {
        assert_eq!(worst(&mask(10, 10, &[]), 10, 10, 4), None);
    }

    #[test]
    fn a_cluster_is_found_where_it_is() {
        let diffs: Vec<(usize, usize)> = (20..24).flat_map(|x| (30..33).map(move |y| (x, y))).collect();
        let m = mask(100, 80, &diffs);
        let w = worst(&m, 100, 80, 8).unwrap();
        assert_eq!(w.count, 12);
        let r = w.at;
        assert!(r.x <= 20 && r.x + 8 >= 24 && r.y <= 30 && r.y + 8 >= 33, "{r:?}");
    }

    #[test]
    fn matches_counting_every_window() {
        // A pseudo-random scatter, several window sizes, one larger than the image.
        let (width, height) = (37, 29);
        let mut seed = 7u32;
        let mut diffs = Vec::new();
        for _ in 0..150 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            diffs.push(((seed >> 8) as usize % width, (seed >> 20) as usize % height));
        }
        let m = mask(width, height, &diffs);
        for n in [1, 3, 8, 16, 64] {
            assert_eq!(
                worst(&m, width, height, n).map_or(0, |w| w.count),
                brute(&m, width, height, n),
                "n={n}"
            );
        }
    }

    #[test]
    fn ignored_and_antialiased_pixels_do_not_count() {
        let mut m = mask(10, 10, &[(1, 1)]);
        m[2] = super::super::AA;
        m[3] = super::super::IGNORED;
        assert_eq!(worst(&m, 10, 10, 4).unwrap().count, 1);
    }
}
