// pixelmatch on two PNG files, as `aviary diff` and odiff are run by bench/visual.sh: decode both
// (pngjs), compare (threshold 0.1, anti-aliasing excluded), encode the diff PNG; prints the
// number of differing pixels.
// usage: node pixelmatch-diff.mjs A.png B.png DIFF.png
import fs from 'node:fs';
import { PNG } from 'pngjs';
import pixelmatch from 'pixelmatch';

const [a, b, out] = process.argv.slice(2);
const img1 = PNG.sync.read(fs.readFileSync(a));
const img2 = PNG.sync.read(fs.readFileSync(b));
const { width, height } = img1;
const diff = new PNG({ width, height });
const count = pixelmatch(img1.data, img2.data, diff.data, width, height, { threshold: 0.1 });
fs.writeFileSync(out, PNG.sync.write(diff));
console.log(count);
