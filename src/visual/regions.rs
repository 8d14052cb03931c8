//! Bounding boxes of the changed regions: differing pixels grouped by 32×32 cells, touching
//! cells (8 directions) joined, each group's exact bounding box.

use serde::Serialize;

use super::{DIFF, Rect};

/// Side of a cell, in pixels: changes closer than about this join into one region.
const CELL: usize = 32;
/// Regions reported at most (the largest).
pub const MAX_REGIONS: usize = 50;

/// One changed region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    /// Its bounding box.
    #[serde(flatten)]
    pub rect: Rect,
    /// Differing pixels in it.
    pub pixels: u64,
}

#[derive(Clone, Copy)]
struct Cell {
    pixels: u64,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

/// The changed regions of `mask` (`width` × `height`), largest first, at most [`MAX_REGIONS`].
pub fn find(mask: &[u8], width: usize, height: usize) -> Vec<Region> {
    let (cols, rows) = (width.div_ceil(CELL), height.div_ceil(CELL));
    let mut cells: Vec<Option<Cell>> = vec![None; cols * rows];
    for (y, row) in mask.chunks_exact(width).enumerate() {
        for (x, _) in row.iter().enumerate().filter(|&(_, &m)| m == DIFF) {
            let cell = cells[(y / CELL) * cols + x / CELL].get_or_insert(Cell {
                pixels: 0,
                x0: x,
                y0: y,
                x1: x,
                y1: y,
            });
            cell.pixels += 1;
            cell.x0 = cell.x0.min(x);
            cell.x1 = cell.x1.max(x);
            cell.y1 = y;
        }
    }
    // Union-find over marked cells, joining each with its marked neighbours.
    let mut parent: Vec<usize> = (0..cells.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for cy in 0..rows {
        for cx in 0..cols {
            let i = cy * cols + cx;
            if cells[i].is_none() {
                continue;
            }
            let neighbours = [(cx + 1, cy), (cx.wrapping_sub(1), cy + 1), (cx, cy + 1), (cx + 1, cy + 1)];
            for (nx, ny) in neighbours {
                if nx < cols && ny < rows && cells[ny * cols + nx].is_some() {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, ny * cols + nx));
                    parent[a] = b;
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Cell> = std::collections::BTreeMap::new();
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = *cell else { continue };
        let r = root(&mut parent, i);
        groups
            .entry(r)
            .and_modify(|g| {
                g.pixels += cell.pixels;
                g.x0 = g.x0.min(cell.x0);
                g.y0 = g.y0.min(cell.y0);
                g.x1 = g.x1.max(cell.x1);
                g.y1 = g.y1.max(cell.y1);
            })
            .or_insert(cell);
    }
    let mut regions: Vec<Region> = groups
        .into_values()
        .map(|g| Region {
            rect: Rect {
                x: g.x0 as u32,
                y: g.y0 as u32,
                width: (g.x1 - g.x0 + 1) as u32,
                height: (g.y1 - g.y0 + 1) as u32,
            },
            pixels: g.pixels,
        })
        .collect();
    regions
        .sort_by(|a, b| b.pixels.cmp(&a.pixels).then(a.rect.y.cmp(&b.rect.y)).then(a.rect.x.cmp(&b.rect.x)));
    regions.truncate(MAX_REGIONS);
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(width: usize, height: usize, rects: &[Rect]) -> Vec<u8> {
        let mut m = vec![0u8; width * height];
        for r in rects {
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    m[y as usize * width + x as usize] = DIFF;
                }
            }
        }
        m
    }

    #[test]
    fn separate_changes_are_separate_regions_with_exact_boxes() {
        let a = Rect { x: 5, y: 5, width: 10, height: 3 };
        let b = Rect { x: 150, y: 90, width: 4, height: 20 };
        let found = find(&mask(200, 150, &[a, b]), 200, 150);
        assert_eq!(found, [Region { rect: b, pixels: 80 }, Region { rect: a, pixels: 30 }]);
    }

    #[test]
    fn a_change_across_cells_is_one_region() {
        let long = Rect { x: 10, y: 30, width: 100, height: 5 };
        let found = find(&mask(128, 64, &[long]), 128, 64);
        assert_eq!(found, [Region { rect: long, pixels: 500 }]);
        // Diagonal neighbours join too.
        let d = [Rect { x: 31, y: 31, width: 1, height: 1 }, Rect { x: 32, y: 32, width: 1, height: 1 }];
        assert_eq!(find(&mask(64, 64, &d), 64, 64).len(), 1);
        let anti = [Rect { x: 32, y: 31, width: 1, height: 1 }, Rect { x: 31, y: 32, width: 1, height: 1 }];
        assert_eq!(find(&mask(64, 64, &anti), 64, 64).len(), 1);
    }
}
