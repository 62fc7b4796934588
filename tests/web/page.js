// The page (build-web/site, make web) in a real browser: Debian's chromium,
// headless, driven by puppeteer-core; the site served from 127.0.0.1 by a
// small server started here, and every request for anything else refused,
// so the page must work offline.  One test a run:
//   node tests/web/page.js draw  OUT                   (digits drawn with the mouse)
//   node tests/web/page.js xo    OUT XO_JSON          (cnn xo --json)
//   node tests/web/page.js train OUT [NET]           (seed, or lenet)
//   node tests/web/page.js load  OUT MODEL IMAGE PREDICT_JSON
// OUT receives the screenshots.  Prints one line; exits 1 on failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const puppeteer = require('puppeteer-core');

const SITE = path.resolve(__dirname, '../../build-web/site');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

function serve() {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(SITE, name === '/' ? 'index.html' : name);
    if (!file.startsWith(SITE + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise(ok => server.listen(0, '127.0.0.1', () => ok(server)));
}

function fail(msg) { throw new Error(msg); }

// The page at its address, with requests anywhere else refused and noted.
async function open(browser, port, refused, errors) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', r => {
    const u = new URL(r.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || (u.hostname === '127.0.0.1' && u.port === String(port)))
      r.continue();
    else { refused.push(r.url()); r.abort(); }
  });
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.ready, { timeout: 60000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== 'yes') fail(`the page did not start: ${await page.$eval('#status', e => e.textContent)}`);
  return page;
}

async function shot(page, out, name, selector) {
  const file = path.join(out, name);
  if (selector) await (await page.$(selector)).screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: true });
}

const sleep = ms => new Promise(ok => setTimeout(ok, ms));
const frame = page => page.evaluate(() => new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok))));

// Every canvas under selector: how many, and how many have a pixel not drawn.
const blanks = (page, selector) => page.$$eval(`${selector} canvas`, cs => {
  let blank = 0;
  for (const c of cs) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) { blank++; break; }
  }
  return [cs.length, blank];
});

// ---- the tests ------------------------------------------------------------

// Digits as mouse strokes on the 280x280 pad, each a list of points.
const ring = [...Array(25)].map((_, i) => [140 + 60 * Math.sin(i / 24 * 2 * Math.PI),
  140 - 90 * Math.cos(i / 24 * 2 * Math.PI)]);
const DIGITS = {
  0: [ring],
  1: [[[150, 40], [140, 240]]],
  2: [[[80, 90], [110, 50], [170, 50], [195, 95], [90, 230], [210, 230]]],
  3: [[[80, 60], [190, 60], [130, 130], [200, 180], [150, 235], [80, 220]]],
  4: [[[150, 40], [70, 170], [210, 170]], [[170, 100], [170, 250]]],
  5: [[[200, 50], [100, 50], [90, 130], [180, 130], [190, 210], [90, 230]]],
  6: [[[180, 40], [100, 140], [110, 230], [180, 220], [180, 160], [100, 170]]],
  8: [[[140, 135], [80, 90], [140, 40], [200, 90], [140, 135], [70, 190], [140, 240], [210, 190], [140, 135]]],
  9: [[[190, 90], [140, 40], [90, 90], [140, 130], [190, 90], [180, 240]]],
  // a bar along the top, a stroke down to the left
  7: [[[70, 60], [210, 58], [120, 235]]],
};

// Strokes drawn with real mouse events; the page's answer.
async function drawDigit(page, strokes) {
  const box = await (await page.$('#pad')).boundingBox();
  const at = ([x, y]) => [box.x + x * box.width / 280, box.y + y * box.height / 280];
  await page.click('#clear');
  for (const s of strokes) {
    await page.mouse.move(...at(s[0]));
    await page.mouse.down();
    for (const p of s.slice(1)) await page.mouse.move(...at(p), { steps: 12 });
    await page.mouse.up();
  }
  await frame(page);
  return Number(await page.$eval('#probs', e => e.dataset.predicted));
}

// Every digit drawn is read right, the 7 last: then every map is drawn, and
// hovering a cell shows its window in the layer below.
async function draw(page, out) {
  const wrong = [];
  const order = [0, 1, 2, 3, 4, 5, 6, 8, 9, 7]; // (an object's integer keys come in ascending order)
  for (const d of order) {
    const strokes = DIGITS[d];
    const got = await drawDigit(page, strokes);
    if (got !== d) wrong.push(`a ${d} read as ${got}`);
  }
  const p = JSON.parse(await page.$eval('#probs', e => e.dataset.values));
  const predicted = Number(await page.$eval('#probs', e => e.dataset.predicted));
  await shot(page, out, 'draw-7.png');
  const top = await (await page.$('#draw')).boundingBox();
  await page.screenshot({ path: path.join(out, 'draw-7-top.png'),
    clip: { x: top.x - 8, y: top.y, width: top.width + 16, height: Math.min(top.height, 1080) } });
  if (predicted !== 7) fail(`drew a 7, the page says ${predicted} (${p.map(v => v.toFixed(3)).join(' ')})`);
  if (wrong.length) fail(`drawn digits misread: ${wrong.join(', ')}`);
  // the shipped lenet: the input, 6 x 3 maps, 16 x 3, six layers of 1x1
  // maps as strips, and conv1's 6 filters
  const [count, blank] = await blanks(page, '#layers');
  if (count !== 1 + 6 * 3 + 16 * 3 + 6 + 6) fail(`${count} canvases in the layers view, not 79`);
  if (blank) fail(`${blank} of ${count} map canvases not drawn`);
  // hovering a cell of layer 3 (conv 16 5x5): its 5x5 window in all 6 maps below
  const cell = await page.$$eval('.layer', rows => {
    const canvas = rows[4].querySelector('canvas');
    canvas.scrollIntoView({ block: 'center' });
    const c = canvas.getBoundingClientRect();
    return [c.x + c.width * 0.45, c.y + c.height * 0.45];
  });
  await page.mouse.move(...cell);
  const tip = await page.$eval('#tip', e => e.textContent);
  const hits = await page.$$eval('.layer:nth-child(4) .map.hit', bs => bs.map(b => b.querySelector('.win').style.width));
  await shot(page, out, 'hover.png', '#layers');
  if (!/rows \d+-\d+, columns \d+-\d+ of every map of layer 2/.test(tip)) fail(`hover says: ${tip}`);
  if (hits.length !== 6 || hits.some(w => Math.abs(parseFloat(w) - 500 / 14) > 0.01))
    fail(`hover marked ${hits.length} maps (${hits.join(', ')}), not 6 windows 5 of 14 wide`);
  const ms = await page.$eval('#frame', e => Number(e.dataset.frameMs));
  const fwd = await page.$eval('#frame', e => Number(e.dataset.forwardMs));
  return `digits 0-9 drawn and read right (the 7 at p ${p[7].toFixed(3)}), ${count} canvases drawn, hover window right; ` +
    `frame: forward ${fwd.toFixed(2)} ms, with every map ${ms.toFixed(2)} ms`;
}

// The canonical X turned into the deformed X by clicks, pixel by pixel; the
// page's numbers must be cnn xo --json's.
async function xo(page, out, jsonPath) {
  const want = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const flat = v => (Array.isArray(v) ? v.flat(Infinity) : [v]);
  const compare = async (w, what) => {
    const got = await page.$eval('#xo', e => ({ ...e.dataset }));
    const pairs = [['input', w.input], ['match', w.match], ['relu', w.relu], ['pool1', w.pool1],
      ['pool2', w.pool2], ['score', [w.vote.x, w.vote.o]], ['prob', w.probabilities],
      ['weights', [want.vote_weights.x, want.vote_weights.o]]];
    for (const [k, v] of pairs) {
      const a = JSON.parse(got[k]), b = flat(v);
      if (a.length !== b.length) fail(`${what}: ${k} has ${a.length} values, cnn xo ${b.length}`);
      a.forEach((x, i) => {
        if (!(Math.abs(x - b[i]) <= 1e-6)) fail(`${what}: ${k}[${i}] is ${x}, cnn xo says ${b[i]}`);
      });
    }
  };
  await page.click('[data-xo="x"]');
  await compare(want.x, 'the canonical X');
  const from = flat(want.x.input), to = flat(want.deformed.input);
  let clicks = 0;
  for (let i = 0; i < 81; i++)
    if (from[i] !== to[i]) { await page.click(`#xo-grid div[data-i="${i}"]`); clicks++; }
  await compare(want.deformed, `the deformed X (after ${clicks} clicks)`);
  await shot(page, out, 'xo-deformed.png', '#xo');
  await page.click('[data-xo="o"]');
  await compare(want.o, 'the canonical O');
  await shot(page, out, 'xo-o.png', '#xo');
  return `X, deformed X (${clicks} clicks) and O: every match, ReLU, pool, vote and probability equal to cnn xo --json's (1e-6)`;
}

// Training in the worker: the loss falls, the filters change, stop stops.
async function train(page, out, net = 'seed') {
  await page.select('#train-net', net);
  await page.click('#train-start');
  await page.waitForFunction(() => document.querySelectorAll('#train-filters canvas').length > 0 &&
    Number(document.getElementById('curves').dataset.images) > 0, { timeout: 30000 });
  const filters = () => page.$$eval('#train-filters canvas', cs => cs.map(c =>
    Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join(',')).join(';'));
  const before = await filters();
  // the page answers while the worker trains: a click on the X-or-O grid
  const t0 = Date.now();
  await page.click('#xo-grid div[data-i="40"]');
  const answer = Date.now() - t0;
  await sleep(5000);
  const losses = JSON.parse(await page.$eval('#curves', e => e.dataset.losses));
  await shot(page, out, 'train.png', '#train');
  await shot(page, out, 'train-page.png');
  const after = await filters();
  await page.click('#train-stop');
  await page.waitForFunction(() => document.body.dataset.training !== 'yes', { timeout: 30000 });
  const state = await page.evaluate(() => document.body.dataset.training);
  if (state !== 'stopped') fail(`training ended by itself (${state}), not by the stop button`);
  const stopped = Number(await page.$eval('#curves', e => e.dataset.images));
  await sleep(1500);
  const later = Number(await page.$eval('#curves', e => e.dataset.images));
  if (losses.length < 5) fail(`only ${losses.length} loss points in 5 s`);
  const head = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
  if (!(tail < 0.7 * head)) fail(`the loss did not fall: first ${head.toFixed(3)}, last ${tail.toFixed(3)}`);
  if (before === after) fail('the first-layer filters did not change as it learned');
  if (later !== stopped) fail(`still training after stop: ${stopped} then ${later} images`);
  return `${net} in the worker: loss ${head.toFixed(3)} -> ${tail.toFixed(3)} over ${losses.length} points, ` +
    `filters changed, stopped at ${stopped} images, a click answered in ${answer} ms`;
}

// A model made by cnn train, opened through the file input: its
// probabilities for a test image are cnn predict's for the same pixels.
async function load(page, out, model, image, predictPath) {
  const want = JSON.parse(fs.readFileSync(predictPath, 'utf8'))[0].probabilities;
  // dropped on the drop zone first (a drop event carrying the file) ...
  const bytes = fs.readFileSync(model).toString('base64');
  await page.$eval('#drop', (zone, b64) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'dropped.cnn'));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForFunction(() => document.body.dataset.model === 'dropped.cnn', { timeout: 30000 });
  const droppedRows = await page.$$eval('.layer', rs => rs.length);
  await page.click('#shipped');
  // ... then through the file input, after a file that is no model
  const input = await page.$('#file');
  const junk = path.join(out, 'not-a-model.cnn');
  fs.writeFileSync(junk, 'P5\n28 28\n255\n');
  await input.uploadFile(junk);
  await page.waitForFunction(() => document.getElementById('load-status').className === 'error', { timeout: 30000 });
  const refusal = await page.$eval('#load-status', e => e.textContent);
  await input.uploadFile(model);
  const name = path.basename(model);
  await page.waitForFunction(n => document.body.dataset.model === n, { timeout: 30000 }, name);
  await page.click(`#samples canvas[data-index="${image}"]`);
  await frame(page);
  const got = JSON.parse(await page.$eval('#probs', e => e.dataset.values));
  const rows = await page.$$eval('.layer', rs => rs.length);
  const [count, blank] = await blanks(page, '#layers');
  await shot(page, out, 'load.png');
  if (got.length !== want.length) fail(`${got.length} probabilities, cnn predict has ${want.length}`);
  let worst = 0;
  got.forEach((p, i) => { worst = Math.max(worst, Math.abs(p - want[i])); });
  if (!(worst <= 1e-5)) fail(`probabilities differ from cnn predict's by ${worst}: ${got} vs ${want}`);
  if (blank) fail(`${blank} of ${count} canvases not drawn`);
  if (!/^not-a-model\.cnn: .+/.test(refusal)) fail(`a file that is no model: "${refusal}"`);
  if (droppedRows !== rows) fail(`dropped, it showed ${droppedRows - 1} layers; opened, ${rows - 1}`);
  return `${name} dropped and opened from the file input: ${rows - 1} layers shown, probabilities of test image ${image} ` +
    `within ${worst.toExponential(1)} of cnn predict's; a file that is no model refused (${refusal})`;
}

// ---- the run --------------------------------------------------------------

async function main() {
  const [test, out, ...args] = process.argv.slice(2);
  const tests = { draw, xo, train, load };
  if (!tests[test] || !out) fail('usage: node tests/web/page.js draw|xo|train|load OUT [ARGS]');
  fs.mkdirSync(out, { recursive: true });
  const server = await serve(), port = server.address().port;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  const refused = [], errors = [];
  try {
    const page = await open(browser, port, refused, errors);
    const said = await tests[test](page, out, ...args);
    if (refused.length) fail(`the page reached outside 127.0.0.1: ${refused.join(', ')}`);
    if (errors.length) fail(`errors in the page: ${errors.join('; ')}`);
    console.log(said);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch(e => {
  console.log(`FAIL: ${e.message}`);
  process.exit(1);
});
