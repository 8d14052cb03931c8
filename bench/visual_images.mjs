// Writes a pair of page-like PNG screenshots for bench/visual.sh: OUT/a.png and OUT/b.png,
// WIDTH x HEIGHT. The page: a header bar, paragraphs of anti-aliased "words", photo-like noisy
// gradients, buttons; b differs by a recoloured button, a paragraph moved by one pixel, a
// changed word and a new badge. Deterministic (a seeded PRNG).
// usage: node visual_images.mjs OUT WIDTH HEIGHT
import fs from 'node:fs';
import { PNG } from 'pngjs';

const [out, width, height] = [process.argv[2], +process.argv[3], +process.argv[4]];
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);

function page(changed) {
  const png = new PNG({ width, height });
  const d = png.data;
  const set = (x, y, r, g, b) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 4;
    d[i] = r; d[i + 1] = g; d[i + 2] = b; d[i + 3] = 255;
  };
  const rect = (x, y, w, h, c) => { for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) set(i, j, ...c); };
  // A word: a dark block with a lighter one-pixel rim (anti-aliasing).
  const word = (x, y, w, h) => { rect(x - 1, y - 1, w + 2, h + 2, [170, 170, 175]); rect(x, y, w, h, [40, 40, 48]); };
  rect(0, 0, width, height, [255, 255, 255]);
  seed = 12345;
  rect(0, 0, width, 64, [20, 90, 160]);
  let y = 100, block = 0;
  while (y < height - 120) {
    block++;
    if (block % 4 === 0) {
      // A photo: a gradient with noise.
      const h = 240;
      for (let j = 0; j < h && y + j < height; j++) for (let i = 200; i < 200 + 640; i++) {
        const n = rand() * 24;
        set(i, y + j, (i * 0.3 + n) & 255, (j + n) & 255, (120 + n) & 255);
      }
      y += h + 40;
      continue;
    }
    const shift = changed && block === 3 ? 1 : 0;
    for (let line = 0; line < 6; line++) {
      let x = 200;
      while (x < width - 400) {
        const w = 8 + Math.floor(rand() * 60);
        const swap = changed && block === 5 && line === 2 && x > 400 && x < 480;
        word(x + shift, y + shift, swap ? w + 9 : w, 10);
        x += w + 8;
      }
      y += 22;
    }
    const button = changed && block === 2 ? [200, 40, 40] : [30, 160, 90];
    rect(200, y + 10, 140, 36, button);
    y += 80;
  }
  if (changed) rect(width - 300, 20, 60, 24, [240, 200, 0]);
  return PNG.sync.write(png);
}

fs.writeFileSync(`${out}/a.png`, page(false));
fs.writeFileSync(`${out}/b.png`, page(true));
