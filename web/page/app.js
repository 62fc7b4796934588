// The page: everything it shows is computed by the cnn library (cnn.js,
// built from web/api.c), here or in the training worker (worker.js).
'use strict';

const $ = id => document.getElementById(id);
const KIND = ['input', 'conv', 'relu', 'leaky relu', 'sigmoid', 'tanh', 'maxpool', 'avgpool',
  'sumpool', 'dense', 'dropout', 'flatten', 'softmax'];
const CONV = 1, MAXPOOL = 6, SUMPOOL = 8, DENSE = 9, FLATTEN = 11, SOFTMAX = 12;

// ---- the library, seen from JavaScript ------------------------------------

// One handle of web/api.c: a network, its scratch input, its error text.
class Net {
  constructor(M) { this.M = M; this.h = M._web_new(); }
  check(rc) {
    if (rc) throw new Error(this.M.UTF8ToString(this.M._web_error(this.h)));
  }
  withBytes(bytes, fn) {
    const p = this.M._malloc(Math.max(1, bytes.length));
    this.M.HEAPU8.set(bytes, p);
    try { return fn(p); } finally { this.M._free(p); }
  }
  openPreset(name, seed) {
    const s = new TextEncoder().encode(name + '\0');
    this.check(this.withBytes(s, p => this.M._web_open_preset(this.h, p, 1, seed, 1)));
    return this.describe();
  }
  openModel(bytes) {
    this.check(this.withBytes(bytes, p => this.M._web_open_model(this.h, p, bytes.length, 1, 1)));
    return this.describe();
  }
  openXo() { this.check(this.M._web_open_xo(this.h)); return this.describe(); }
  str(p) { return this.M.UTF8ToString(p); }
  // Every layer's kind, shape, window, stride and padding (web_layer_info).
  describe() {
    const M = this.M, n = M._web_layers(this.h);
    this.layers = [];
    for (let i = -1; i < n; i++) {
      const q = M._web_layer_info(this.h, i) >> 2, v = M.HEAP32.subarray(q, q + 16);
      this.layers.push({
        index: i, kind: v[0], c: v[1], h: v[2], w: v[3], filters: v[4], kh: v[5], kw: v[6],
        sh: v[7], sw: v[8], ph: v[9], pw: v[10], params: v[14],
        text: this.str(M._web_layer_text(this.h, i)),
      });
    }
    this.classes = M._web_classes(this.h);
    const names = this.str(M._web_class_names(this.h));
    this.names = names ? names.split('\n') : null;
    this.about = this.str(M._web_model_text(this.h));
    return this;
  }
  floats(p, n) { return p ? this.M.HEAPF32.subarray(p >> 2, (p >> 2) + n) : null; }
  input(n) { return this.floats(this.M._web_input(this.h), n); }
  forwardPixels(bytes) {
    this.check(this.withBytes(bytes, p => this.M._web_forward_pixels(this.h, p, 1)));
  }
  forward() { this.check(this.M._web_forward(this.h, 1)); }
  // Layer i's output of the last forward (i = -1: the input), one image.
  activation(i) {
    const l = this.layers[i + 1];
    return this.floats(this.M._web_activation(this.h, i), l.c * l.h * l.w);
  }
  weights(i) {
    const l = this.layers[i + 1], inC = this.layers[i].c;
    return this.floats(this.M._web_weights(this.h, i), l.filters * inC * l.kh * l.kw);
  }
  setParams(params) {
    const M = this.M, n = M._web_param_count(this.h);
    if (params.length !== n) throw new Error(`${params.length} parameters for a net of ${n}`);
    this.check(this.withBytes(new Uint8Array(params.buffer, params.byteOffset, params.byteLength),
      p => M._web_set_params(this.h, p, n)));
  }
  predicted() { return this.M._web_predicted(this.h, 0); }
}

// ---- colour and maps ------------------------------------------------------

// The diverging scale of cnn show (tools/viz.c, viz_diverging): white at 0,
// red (178, 24, 43) at +scale, blue (33, 102, 172) at -scale.
function diverging(v, scale) {
  if (Number.isNaN(v)) return [150, 150, 150];
  let t = scale > 0 ? v / scale : 0;
  t = t > 1 ? 1 : t < -1 ? -1 : t;
  const to = t >= 0 ? [178, 24, 43] : [33, 102, 172], a = Math.abs(t);
  return to.map(c => Math.round(255 + (c - 255) * a));
}

function maxAbs(v) {
  let m = 0;
  for (const x of v) if (Number.isFinite(x) && Math.abs(x) > m) m = Math.abs(x);
  return m > 0 ? m : 1;
}

// values[offset ..] as an h x w picture on canvas (one pixel a value).
function drawMap(canvas, values, offset, h, w, scale) {
  const ctx = canvas.getContext('2d'), im = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = diverging(values[offset + i], scale);
    im.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(im, 0, 0);
}

function drawGray(canvas, bytes) {
  const ctx = canvas.getContext('2d'), im = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) im.data.set([bytes[i], bytes[i], bytes[i], 255], 4 * i);
  ctx.putImageData(im, 0, 0);
}

const fmt = v => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

// ---- the drawing pad: MNIST's preparation ---------------------------------

// The pad's ink as MNIST prepared its digits: the bounding box scaled to fit
// 20x20 (its aspect kept, each target pixel the mean of the area it covers),
// then placed in 28x28 with its centre of mass at the centre.
function prepare(ctx) {
  const W = ctx.canvas.width, H = ctx.canvas.height, src = ctx.getImageData(0, 0, W, H).data;
  const ink = new Float32Array(W * H);
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = src[4 * (y * W + x)] / 255;
      ink[y * W + x] = v;
      if (v > 0.1) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  const out = new Uint8Array(784);
  if (x1 < 0) return out;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1, f = Math.max(bw, bh) / 20;
  const tw = Math.max(1, Math.round(bw / f)), th = Math.max(1, Math.round(bh / f));
  const small = new Float32Array(tw * th);
  let mass = 0, mx = 0, my = 0;
  for (let ty = 0; ty < th; ty++)
    for (let tx = 0; tx < tw; tx++) {
      const v = boxMean(ink, W, x0 + tx * f, y0 + ty * f, f, x1 + 1, y1 + 1);
      small[ty * tw + tx] = v;
      mass += v; mx += v * (tx + 0.5); my += v * (ty + 0.5);
    }
  const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
  const ox = clamp(Math.round(14 - mx / mass), 28 - tw), oy = clamp(Math.round(14 - my / mass), 28 - th);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++)
      out[(oy + y) * 28 + ox + x] = Math.round(255 * Math.min(1, small[y * tw + x]));
  return out;
}

// The mean of ink over the square [sx, sx + f) x [sy, sy + f), cut at xe, ye.
function boxMean(ink, W, sx, sy, f, xe, ye) {
  let sum = 0;
  const ex = Math.min(sx + f, xe), ey = Math.min(sy + f, ye);
  for (let y = Math.floor(sy); y < ey; y++) {
    const wy = Math.min(y + 1, ey) - Math.max(y, sy);
    for (let x = Math.floor(sx); x < ex; x++)
      sum += ink[y * W + x] * wy * (Math.min(x + 1, ex) - Math.max(x, sx));
  }
  return sum / (f * f);
}

// ---- the layers view ------------------------------------------------------

// A map's size on screen: about 84 pixels, whole pixels per value.
function cellSize(l) {
  if (l.h * l.w === 1) return Math.max(3, Math.min(16, Math.floor(960 / l.c)));
  return Math.max(2, Math.floor(84 / Math.max(l.h, l.w)));
}

function mapCanvas(w, h, cell, parent) {
  const box = document.createElement('div'), c = document.createElement('canvas');
  box.className = 'map';
  c.width = w; c.height = h;
  c.style.width = `${w * cell}px`; c.style.height = `${(h === 1 && w > 1 ? 16 : h * cell)}px`;
  const win = document.createElement('div');
  win.className = 'win';
  box.append(c, win);
  parent.append(box);
  return box;
}

// One row per layer (the input first): its line of network text, its
// shape, one canvas per map (a layer of 1x1 maps: one strip of values),
// and under the first convolution its filters.
function buildLayers(view) {
  const root = $('layers'), net = view.net;
  root.textContent = '';
  view.rows = net.layers.map(l => {
    const row = document.createElement('div'), title = document.createElement('h3');
    row.className = 'layer';
    const name = l.index < 0 ? 'input' : `layer ${l.index}`;
    title.innerHTML = `${name}: <b>${l.text}</b> → ${l.c}×${l.h}×${l.w} <span class="note"></span>`;
    const maps = document.createElement('div');
    maps.className = 'maps';
    row.append(title, maps);
    root.append(row);
    const vector = l.h * l.w === 1, cell = cellSize(l);
    const boxes = vector ? [mapCanvas(l.c, 1, cell, maps)]
      : Array.from({ length: l.c }, () => mapCanvas(l.w, l.h, cell, maps));
    boxes.forEach((b, k) => hoverable(view, b, l, k));
    return { layer: l, boxes, scale: title.querySelector('span') };
  });
  const first = net.layers.find(l => l.kind === CONV);
  view.filters = first ? buildFilters(root.children[first.index + 1], net, first) : null;
}

function buildFilters(row, net, l) {
  const title = document.createElement('h3'), maps = document.createElement('div');
  const inC = net.layers[l.index].c;
  title.innerHTML = `its ${l.filters} filters, ${l.kh}×${l.kw}${inC > 1 ? ` × ${inC} channels` : ''} <span class="note"></span>`;
  maps.className = 'maps filters';
  row.append(title, maps);
  const boxes = Array.from({ length: l.filters * inC }, () => mapCanvas(l.kw, l.kh, Math.floor(60 / l.kh), maps));
  return { layer: l, boxes, scale: title.querySelector('span') };
}

function drawFilters(net, f) {
  if (!f) return;
  const l = f.layer, w = net.weights(l.index), s = maxAbs(w), per = l.kh * l.kw;
  f.boxes.forEach((b, k) => drawMap(b.firstChild, w, k * per, l.kh, l.kw, s));
  f.scale.textContent = `scale ±${fmt(s)}`;
}

// Every layer's maps from the last forward, each layer on its own scale.
function drawLayers(view) {
  const net = view.net;
  for (const r of view.rows) {
    const l = r.layer, v = net.activation(l.index);
    if (!v) { r.scale.textContent = '(computed within the layer before)'; continue; }
    const s = maxAbs(v), per = l.h * l.w;
    if (per === 1) drawMap(r.boxes[0].firstChild, v, 0, 1, l.c, s);
    else r.boxes.forEach((b, k) => drawMap(b.firstChild, v, k * per, l.h, l.w, s));
    r.scale.textContent = `scale ±${fmt(s)}`;
  }
  drawFilters(net, view.filters);
}

// The window of layer i-1 that cell (k, y, x) of layer i was computed
// from: rows y0..y1, columns x0..x1 of the maps in `maps` (null: all).
function windowBelow(net, l, k, y, x) {
  const below = net.layers[l.index];
  const all = { y0: 0, y1: below.h - 1, x0: 0, x1: below.w - 1, maps: null };
  if (l.kind === CONV || (l.kind >= MAXPOOL && l.kind <= SUMPOOL)) {
    const y0 = y * l.sh - l.ph, x0 = x * l.sw - l.pw;
    const w = { y0: Math.max(0, y0), y1: Math.min(below.h - 1, y0 + l.kh - 1),
      x0: Math.max(0, x0), x1: Math.min(below.w - 1, x0 + l.kw - 1), maps: l.kind === CONV ? null : [k] };
    w.padded = y0 < 0 || x0 < 0 || y0 + l.kh > below.h || x0 + l.kw > below.w;
    return w;
  }
  if (l.kind === DENSE || l.kind === SOFTMAX) return all;
  if (l.kind === FLATTEN || below.h * below.w !== l.h * l.w) {
    const per = below.h * below.w, j = k * l.h * l.w + y * l.w + x, r = j % per;
    const yy = Math.floor(r / below.w), xx = r % below.w;
    return { y0: yy, y1: yy, x0: xx, x1: xx, maps: [Math.floor(j / per)] };
  }
  return { y0: y, y1: y, x0: x, x1: x, maps: [k] }; // elementwise: the same cell
}

function hoverable(view, box, l, k) {
  const canvas = box.firstChild;
  canvas.addEventListener('mousemove', e => {
    const net = view.net, vector = l.h * l.w === 1;
    const x = Math.min(canvas.width - 1, Math.floor(e.offsetX / canvas.clientWidth * canvas.width));
    const y = Math.min(canvas.height - 1, Math.floor(e.offsetY / canvas.clientHeight * canvas.height));
    const ch = vector ? x : k, cy = vector ? 0 : y, cx = vector ? 0 : x;
    const v = net.activation(l.index);
    const value = v ? v[(ch * l.h + cy) * l.w + cx] : NaN;
    let text = `${l.index < 0 ? 'input' : `layer ${l.index}, ${l.text}`}\n` +
      `map ${ch}${vector ? '' : `, row ${cy}, column ${cx}`}: ${v ? value.toPrecision(6) : '?'}`;
    clearWindows(view);
    if (l.index >= 0) {
      const w = windowBelow(net, l, ch, cy, cx), below = net.layers[l.index];
      text += `\nfrom ${below.h * below.w === 1 ? `values ${w.x0}..${w.x1}` : `rows ${w.y0}-${w.y1}, columns ${w.x0}-${w.x1}`}` +
        ` of ${w.maps ? `map ${w.maps[0]}` : 'every map'} of ${below.index < 0 ? 'the input' : `layer ${below.index}`}` +
        `${w.padded ? ' (and zero padding)' : ''}`;
      showWindow(view, below, w);
    }
    mark(box, x, x, y, y); // the cell itself
    const tip = $('tip');
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = `${e.clientX + 14}px`;
    tip.style.top = `${e.clientY + 14}px`;
  });
  canvas.addEventListener('mouseleave', () => { $('tip').hidden = true; clearWindows(view); });
}

function clearWindows(view) {
  for (const b of document.querySelectorAll('.map.hit')) b.classList.remove('hit');
}

function showWindow(view, below, w) {
  const r = view.rows[below.index + 1], vector = below.h * below.w === 1;
  const boxes = vector ? r.boxes : w.maps ? w.maps.map(m => r.boxes[m]) : r.boxes;
  for (const b of boxes) {
    const W = b.firstChild.width;
    if (vector) mark(b, w.maps ? w.maps[0] : 0, w.maps ? w.maps[0] : W - 1, 0, 0);
    else mark(b, w.x0, w.x1, w.y0, w.y1);
  }
}

// A rectangle over columns x0..x1, rows y0..y1 of a map.
function mark(box, x0, x1, y0, y1) {
  const c = box.firstChild, W = c.width, H = c.height, s = box.lastChild.style;
  s.left = `${x0 / W * 100}%`; s.width = `${(x1 - x0 + 1) / W * 100}%`;
  s.top = `${y0 / H * 100}%`; s.height = `${(y1 - y0 + 1) / H * 100}%`;
  box.classList.add('hit');
}

// ---- the probabilities ----------------------------------------------------

function buildProbs(net) {
  const root = $('probs');
  root.textContent = '';
  for (let k = 0; k < net.classes; k++) {
    const row = document.createElement('div');
    row.className = 'prob';
    row.innerHTML = `<span class="name"></span><span class="bar"></span><span class="pct"></span>`;
    row.firstChild.textContent = net.names && net.names[k] ? net.names[k] : String(k);
    root.append(row);
  }
}

function drawProbs(net) {
  const l = net.layers[net.layers.length - 1], p = net.activation(l.index), best = net.predicted();
  const root = $('probs');
  [...root.children].forEach((row, k) => {
    row.classList.toggle('top', k === best);
    row.children[1].style.width = `${Math.round(180 * p[k])}px`;
    row.children[2].textContent = `${(100 * p[k]).toFixed(1)}%`;
  });
  root.dataset.values = JSON.stringify(Array.from(p));
  root.dataset.predicted = best;
}

// ---- the draw section -----------------------------------------------------

// What the draw section shows: a network, its source, the input.
const view = { net: null, rows: [], filters: null, source: 'pad', sample: -1, times: [] };

function setNet(net, label) {
  view.net = net;
  $('net-name').textContent = label;
  buildLayers(view);
  buildProbs(net);
  update();
}

// Forward of the pad's digit or the picked image, then every picture redrawn;
// the time of it all is the frame's.
function update() {
  if (!view.net) return;
  const t0 = performance.now();
  const pixels = view.source === 'sample' ? data.test.images.subarray(view.sample * 784, view.sample * 784 + 784)
    : prepare(pad.ctx);
  view.net.forwardPixels(pixels);
  const t1 = performance.now();
  drawGray($('seen'), pixels);
  drawProbs(view.net);
  drawLayers(view);
  const t2 = performance.now();
  view.times.push([t1 - t0, t2 - t0]);
  if (view.times.length > 30) view.times.shift();
  const med = k => view.times.map(t => t[k]).sort((a, b) => a - b)[view.times.length >> 1];
  $('frame').textContent = `forward ${med(0).toFixed(2)} ms, with every map redrawn ${med(1).toFixed(2)} ms` +
    ` (median of the last ${view.times.length} frames)`;
  $('frame').dataset.forwardMs = med(0);
  $('frame').dataset.frameMs = med(1);
}

let pending = false;
function requestUpdate() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; update(); });
}

const pad = { ctx: null, down: false, last: null };

function setupPad() {
  const c = $('pad'), ctx = c.getContext('2d', { willReadFrequently: true });
  pad.ctx = ctx;
  const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, c.width, c.height); };
  clear();
  const at = e => [e.offsetX * c.width / c.clientWidth, e.offsetY * c.height / c.clientHeight];
  c.addEventListener('pointerdown', e => {
    if (view.source === 'sample') { clear(); view.source = 'pad'; markSample(-1); $('truth').textContent = ''; }
    c.setPointerCapture(e.pointerId);
    pad.down = true;
    pad.last = at(e);
    stroke(pad.last, pad.last);
  });
  c.addEventListener('pointermove', e => {
    if (!pad.down) return;
    const p = at(e);
    stroke(pad.last, p);
    pad.last = p;
  });
  const up = () => { pad.down = false; };
  c.addEventListener('pointerup', up);
  c.addEventListener('pointercancel', up);
  $('clear').addEventListener('click', () => {
    clear(); view.source = 'pad'; markSample(-1); $('truth').textContent = ''; requestUpdate();
  });
  function stroke(a, b) {
    ctx.strokeStyle = '#fff'; ctx.lineWidth = 22; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    requestUpdate();
  }
}

// Test image k on the pad, scaled, and as the input.
function pickSample(k) {
  view.source = 'sample';
  view.sample = k;
  markSample(k);
  const c = document.createElement('canvas');
  c.width = c.height = 28;
  drawGray(c, data.test.images.subarray(k * 784, k * 784 + 784));
  pad.ctx.imageSmoothingEnabled = false;
  pad.ctx.drawImage(c, 0, 0, 280, 280);
  $('truth').textContent = `MNIST test image ${k}: a ${data.test.labels[k]}`;
  update();
}

function markSample(k) {
  [...$('samples').children].forEach((c, i) => c.classList.toggle('on', i === k));
}

function setupSamples() {
  const root = $('samples');
  for (let k = 0; k < 30; k++) {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    c.dataset.index = k;
    drawGray(c, data.test.images.subarray(k * 784, k * 784 + 784));
    c.addEventListener('click', () => pickSample(k));
    root.append(c);
  }
  let next = 30;
  $('another').addEventListener('click', () => {
    pickSample(next);
    next = (next * 37 + 11) % data.test.count;
  });
}

// ---- training in a worker -------------------------------------------------

const train = { worker: null, points: [], tests: [], net: '' };

function setupTraining() {
  $('train-start').addEventListener('click', startTraining);
  $('train-stop').addEventListener('click', () => {
    if (train.worker) train.worker.postMessage({ type: 'stop' });
    $('train-stop').disabled = true;
    $('train-status').textContent += ' (stopping)';
  });
  drawCurves();
}

function startTraining() {
  const name = $('train-net').value;
  if (train.worker) train.worker.terminate();
  train.worker = new Worker('worker.js');
  train.points = []; train.tests = []; train.net = name; train.steps = 0;
  setNet(view.page.openPreset(name, 1), `${name}, training in the page`);
  $('train-filters').textContent = '';
  train.filters = buildFilters($('train-filters'), view.net, view.net.layers.find(l => l.kind === CONV));
  train.worker.onmessage = e => trainMessage(e.data);
  train.worker.postMessage({
    type: 'start', net: name, seed: 1,
    train: { images: data.train.images.slice(), labels: data.train.labels.slice(), count: data.train.count },
    test: { images: data.test.images.slice(), labels: data.test.labels.slice(), count: data.test.count },
  });
  $('train-start').disabled = true;
  $('train-stop').disabled = false;
  document.body.dataset.training = 'yes';
}

function trainMessage(m) {
  if (m.type === 'error') {
    $('train-status').textContent = `error: ${m.message}`;
    m.type = 'stopped';
  }
  if (m.params && view.net && train.net) {
    view.net.setParams(m.params);
    drawFilters(view.net, train.filters);
    requestUpdate();
  }
  if (m.type === 'progress') {
    if (m.seen > 0) train.points.push({ images: m.images, loss: m.loss, accuracy: m.accuracy });
    if (m.test !== undefined) train.tests.push({ images: m.images, accuracy: m.test });
    train.steps = m.images;
    const last = train.points[train.points.length - 1], test = train.tests[train.tests.length - 1];
    $('train-status').textContent = `${(m.images / data.train.count).toFixed(1)} epochs, ${m.images.toLocaleString('en')} images` +
      (last ? `, loss ${last.loss.toFixed(3)}, accuracy ${(100 * last.accuracy).toFixed(1)}%` : '') +
      (test ? `, on the test images ${(100 * test.accuracy).toFixed(1)}%` : '') +
      ` (${Math.round(m.rate)} images/s)`;
    const root = $('curves');
    root.dataset.losses = JSON.stringify(train.points.map(p => p.loss));
    root.dataset.images = m.images;
    drawCurves();
  }
  if (m.type === 'stopped') {
    $('train-start').disabled = false;
    $('train-stop').disabled = true;
    document.body.dataset.training = m.asked ? 'stopped' : 'done';
    $('net-name').textContent = `${train.net}, trained in the page on ${train.steps.toLocaleString('en')} images`;
    $('train-status').textContent = $('train-status').textContent.replace(' (stopping)', '') + ': stopped';
  }
}

// Loss (left axis) and accuracy in percent (right axis) against images seen.
function drawCurves() {
  const c = $('curves'), ctx = c.getContext('2d'), W = c.width, H = c.height;
  const L = 50, R = W - 50, T = 30, B = H - 30;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = '#888'; ctx.strokeRect(L, T, R - L, B - T);
  ctx.fillStyle = '#333'; ctx.font = '12px system-ui';
  const pts = train.points, n = pts.length ? pts[pts.length - 1].images : 1;
  const maxLoss = Math.max(0.5, ...pts.map(p => p.loss));
  const X = i => L + (R - L) * i / Math.max(1, n), YL = v => B - (B - T) * v / maxLoss, YA = a => B - (B - T) * a;
  ctx.textAlign = 'right'; ctx.fillText(maxLoss.toFixed(2), L - 4, T + 8); ctx.fillText('0', L - 4, B);
  ctx.textAlign = 'left'; ctx.fillText('100%', R + 4, T + 8); ctx.fillText('0%', R + 4, B);
  ctx.textAlign = 'center'; ctx.fillText(`images seen (${n.toLocaleString('en')})`, (L + R) / 2, H - 8);
  const line = (colour, list, y) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    list.forEach((p, i) => (i ? ctx.lineTo(X(p.images), y(p)) : ctx.moveTo(X(p.images), y(p))));
    ctx.stroke();
  };
  line('#2166ac', pts, p => YL(p.loss));
  line('#b2182b', pts, p => YA(p.accuracy));
  ctx.fillStyle = '#67001f';
  for (const t of train.tests) ctx.fillRect(X(t.images) - 3, YA(t.accuracy) - 3, 6, 6);
  ctx.textAlign = 'left';
  ctx.fillStyle = '#2166ac'; ctx.fillText('— loss', L, 16);
  ctx.fillStyle = '#b2182b'; ctx.fillText('— accuracy on the batches learned', L + 60, 16);
  ctx.fillStyle = '#67001f'; ctx.fillText('■ accuracy on the 500 test images', L + 280, 16);
}

// ---- your own model -------------------------------------------------------

function setupLoad() {
  const drop = $('drop');
  const open = async file => {
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      stopTraining();
      const net = view.page.openModel(bytes), l = net.layers[0];
      if (l.c !== 1 || l.h !== 28 || l.w !== 28)
        throw new Error(`its input is ${l.h}x${l.w}x${l.c}; the page draws 28x28x1`);
      setNet(net, `${file.name}: ${net.about}`);
      $('load-status').textContent = `${file.name}: ${net.layers.length - 1} layers, ${net.about}`;
      $('load-status').className = '';
      document.body.dataset.model = file.name;
    } catch (err) {
      $('load-status').textContent = `${file.name}: ${err.message}`;
      $('load-status').className = 'error';
      setNet(view.page.openModel(data.lenet), shippedLabel);
    }
  };
  $('file').addEventListener('change', e => e.target.files[0] && open(e.target.files[0]));
  drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) open(e.dataTransfer.files[0]);
  });
  $('shipped').addEventListener('click', () => {
    stopTraining();
    setNet(view.page.openModel(data.lenet), shippedLabel);
    document.body.dataset.model = 'shipped';
  });
}

function stopTraining() {
  if (!train.worker) return;
  train.worker.terminate();
  train.worker = null;
  train.net = '';
  $('train-start').disabled = false;
  $('train-stop').disabled = true;
}

// ---- X or O ---------------------------------------------------------------

const xo = { net: null, pixels: new Float32Array(81) };

function setupXo(M) {
  xo.net = new Net(M).openXo();
  const grid = $('xo-grid');
  for (let i = 0; i < 81; i++) {
    const d = document.createElement('div');
    d.dataset.i = i;
    d.addEventListener('click', () => { xo.pixels[i] = -xo.pixels[i]; runXo(); });
    grid.append(d);
  }
  for (const b of document.querySelectorAll('[data-xo]'))
    b.addEventListener('click', () => canonical(b.dataset.xo));
  canonical('x');
}

function canonical(which) {
  M._web_xo_canonical(xo.net.h, which.charCodeAt(0));
  xo.pixels.set(xo.net.input(81));
  runXo();
}

// cells: a grid of values shown as numbers on the diverging scale.
function cells(values, h, w, label) {
  const box = document.createElement('div'), g = document.createElement('div');
  box.innerHTML = `<div class="label">${label}</div>`;
  g.className = 'cells';
  g.style.gridTemplateColumns = `repeat(${w}, auto)`;
  for (let i = 0; i < h * w; i++) {
    const d = document.createElement('div'), [r, gr, b] = diverging(values[i], 1);
    d.style.background = `rgb(${r},${gr},${b})`;
    d.textContent = values[i].toFixed(2);
    g.append(d);
  }
  box.append(g);
  return box;
}

function featureBox(f, k) {
  const box = document.createElement('div'), g = document.createElement('div');
  box.innerHTML = `<div class="label">feature ${'\\X/'[k]}</div>`;
  g.className = 'feature';
  for (let i = 0; i < 9; i++) {
    const d = document.createElement('div');
    d.style.background = f[k * 9 + i] > 0 ? '#fff' : '#000';
    g.append(d);
  }
  box.append(g);
  return box;
}

// The picture through the library's walkthrough network, every stage shown.
function runXo() {
  const net = xo.net;
  net.input(81).set(xo.pixels);
  net.forward();
  const a = i => Array.from(net.activation(i));
  const s = { input: Array.from(xo.pixels), match: a(0), relu: a(1), pool1: a(2), pool2: a(3), score: a(4), prob: a(5),
    weights: Array.from(net.floats(M._web_weights(net.h, 4), 24)) };
  [...$('xo-grid').children].forEach((d, i) => d.classList.toggle('on', xo.pixels[i] > 0));
  const f = net.floats(M._web_xo_features(net.h), 27), stages = $('xo-stages');
  stages.textContent = '';
  for (let k = 0; k < 3; k++) {
    const row = document.createElement('div');
    row.className = 'stage';
    row.append(featureBox(f, k), cells(s.match.slice(49 * k), 7, 7, 'match (sum of products / 9)'),
      cells(s.relu.slice(49 * k), 7, 7, 'ReLU'), cells(s.pool1.slice(16 * k), 4, 4, 'max pool 2'),
      cells(s.pool2.slice(4 * k), 2, 2, 'max pool 2 again'));
    stages.append(row);
  }
  drawVote(net, s);
  for (const [k, v] of Object.entries(s)) $('xo').dataset[k] = JSON.stringify(v);
}

function drawVote(net, s) {
  const w = s.weights, row = (name, v) => `<tr><th>${name}</th>${v.map(x => `<td>${x}</td>`).join('')}</tr>`;
  const head = Array.from({ length: 12 }, (_, i) => `${'\\X/'[i >> 2]} ${i & 3}`);
  const rows = row('', head) + row('pooled value', s.pool2.map(v => v.toFixed(3))) +
    row('weight for X', Array.from(w.slice(0, 12), v => v.toFixed(4))) +
    row('weight for O', Array.from(w.slice(12), v => v.toFixed(4)));
  $('xo-vote').innerHTML = '<div class="label">the vote: the 12 pooled values (feature, quarter), each weighted by how ' +
    'strongly the canonical X and the canonical O light it up (each row of weights sums to 1)</div>' +
    `<table>${rows}</table><p>vote for X = Σ value × weight = <b>${s.score[0].toFixed(4)}</b>, ` +
    `for O <b>${s.score[1].toFixed(4)}</b>; softmax turns the votes into odds: ` +
    `X ${(100 * s.prob[0]).toFixed(1)}%, O ${(100 * s.prob[1]).toFixed(1)}%</p>`;
  const x = s.prob[0] >= s.prob[1];
  $('xo-verdict').innerHTML = `<div class="big">${x ? 'X' : 'O'}</div>` +
    `<div>X ${(100 * s.prob[0]).toFixed(1)}%, O ${(100 * s.prob[1]).toFixed(1)}%</div>` +
    `<div class="note">votes: X ${s.score[0].toFixed(4)}, O ${s.score[1].toFixed(4)}</div>`;
}

// ---- start ----------------------------------------------------------------

const data = {};
let M = null;
const shippedLabel = 'LeNet, trained by cnn train on 6,000 MNIST images (shipped with the page)';

async function fetchBytes(name) {
  const r = await fetch(name);
  if (!r.ok) throw new Error(`${name}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function main() {
  try {
    const [mod, lenet, ti, tl, ri, rl] = await Promise.all([createCnn(), fetchBytes('lenet.cnn'),
      fetchBytes('test-images.bin'), fetchBytes('test-labels.bin'),
      fetchBytes('train-images.bin'), fetchBytes('train-labels.bin')]);
    M = mod;
    data.lenet = lenet;
    data.test = { images: ti, labels: tl, count: tl.length };
    data.train = { images: ri, labels: rl, count: rl.length };
    $('version').textContent = M.UTF8ToString(M._web_version());
    view.page = new Net(M);
    setupPad();
    setupSamples();
    setupTraining();
    setupLoad();
    setupXo(M);
    setNet(view.page.openModel(lenet), shippedLabel);
    pickSample(0);
    $('status').textContent = `ready: ${data.test.count} test images and ${data.train.count.toLocaleString('en')} training images loaded`;
    document.body.dataset.ready = 'yes';
  } catch (err) {
    $('status').textContent = `could not start: ${err.message}`;
    $('status').className = 'error';
    document.body.dataset.ready = 'error';
    throw err;
  }
}

main();
