// The reference replayer: runs a Chrome DevTools Recorder flow with @puppeteer/replay and
// puppeteer-core on Debian's Chromium (headless), as `npx @puppeteer/replay` would, and prints
// one JSON line: {"ok": true|false, "ms": wall time of the replay, "error": "..."}.
// Used by tests/flow.rs (each test flow must also pass here) and bench/flow.sh.
//   node bench/replay.js FLOW.json [--timeout MS]
const fs = require('fs');
const path = require('path');

async function main() {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) throw new Error('usage: node bench/replay.js FLOW.json [--timeout MS]');
  const timeoutAt = rest.indexOf('--timeout');
  const timeout = timeoutAt >= 0 ? Number(rest[timeoutAt + 1]) : 5000;
  const { createRunner, parse, PuppeteerRunnerExtension } = await import('@puppeteer/replay');
  const puppeteer = require('puppeteer-core');
  const flow = parse(JSON.parse(fs.readFileSync(path.resolve(file), 'utf8')));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const started = Date.now();
  try {
    const page = await browser.newPage();
    const runner = await createRunner(flow, new PuppeteerRunnerExtension(browser, page, { timeout }));
    const ok = await runner.run();
    return { ok, ms: Date.now() - started };
  } finally {
    await browser.close();
  }
}

main().then(
  (result) => { console.log(JSON.stringify(result)); process.exit(result.ok ? 0 : 1); },
  (error) => { console.log(JSON.stringify({ ok: false, error: String(error && error.message || error) })); process.exit(1); },
);
