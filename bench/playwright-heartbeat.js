// The peer side of bench/heartbeat.sh: N heartbeat checks with Playwright, one at a time, in one
// browser — a fresh context with recordHar per check, goto, a 1920×1080 screenshot, close
// (which writes the HAR).
// usage: node playwright-heartbeat.js URL COUNT OUTDIR
const { chromium } = require('playwright-core');
const path = require('path');

(async () => {
  const [url, count, out] = [process.argv[2], Number(process.argv[3] || 20), process.argv[4]];
  const browser = await chromium.launch({
    executablePath: process.env.CHROME || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const context = await browser.newContext({
      viewport: { width: 1920, height: 1080 },
      recordHar: { path: path.join(out, `check-${i}.har`) },
    });
    const page = await context.newPage();
    const response = await page.goto(url);
    if (!response || response.status() >= 400) failed++;
    await page.screenshot({ path: path.join(out, `check-${i}.png`) });
    await context.close();
  }
  await browser.close();
  if (failed) { console.error(`${failed} checks failed`); process.exit(1); }
})().catch((e) => { console.error(e); process.exit(2); });
