// Training in a Web Worker, so the page stays responsive: a preset network
// learns from the images the page sends, in slices of about 100 ms; after
// each the worker posts the loss, the accuracy and every parameter (the page
// shows them), and between slices it hears a stop.
'use strict';
importScripts('cnn.js');

const EPOCHS = 100; // then it stops by itself
const ready = createCnn();
let M = null, h = 0, stop = false;

function check(rc) {
  if (rc) throw new Error(M.UTF8ToString(M._web_error(h)));
}

function withBytes(bytes, fn) {
  const p = M._malloc(Math.max(1, bytes.length));
  M.HEAPU8.set(bytes, p);
  try { return fn(p); } finally { M._free(p); }
}

function params() {
  const p = M._web_params(h) >> 2;
  return M.HEAPF32.slice(p, p + M._web_param_count(h));
}

// Accuracy on the test images (web_evaluate).
function test() {
  check(M._web_evaluate(h));
  return M._web_test_accuracy(h);
}

function start(m) {
  if (h) M._web_free(h);
  h = M._web_new();
  const name = new TextEncoder().encode(m.net + '\0');
  check(withBytes(name, p => M._web_open_preset(h, p, 128, m.seed, 0)));
  for (const [which, set] of [[0, m.train], [1, m.test]])
    check(withBytes(set.images, pi => withBytes(set.labels,
      pl => M._web_set_data(h, which, pi, pl, set.count))));
  check(M._web_train_setup(h));
  const p = params();
  postMessage({ type: 'progress', images: 0, epoch: 0, seen: 0, rate: 0, test: test(), params: p },
    [p.buffer]);
  stop = false;
  const run = { images: 0, batches: 1, lastTest: performance.now(), begun: performance.now() };
  later(run);
}

// The next slice, after whatever messages have come (a stop).
function later(run) {
  setTimeout(() => {
    try { slice(run); } catch (err) { postMessage({ type: 'error', message: err.message }); }
  }, 0);
}

// Training steps for about 100 ms, then the figures and the parameters.
function slice(run) {
  if (stop || M._web_epoch(h) >= EPOCHS) {
    postMessage({ type: 'stopped', images: run.images, asked: stop });
    return;
  }
  const t0 = performance.now(), epoch = M._web_epoch(h);
  check(M._web_train(h, run.batches));
  const dt = performance.now() - t0, seen = M._web_seen(h);
  run.images += seen;
  run.batches = Math.max(1, Math.min(run.batches * 2, Math.round(run.batches * 100 / Math.max(dt, 1))));
  const msg = {
    type: 'progress', images: run.images, epoch: M._web_epoch(h), seen,
    loss: M._web_loss(h), accuracy: M._web_correct(h) / seen,
    rate: run.images / ((performance.now() - run.begun) / 1000),
  };
  if (performance.now() - run.lastTest > 2000 || M._web_epoch(h) !== epoch) {
    msg.test = test();
    run.lastTest = performance.now();
  }
  msg.params = params();
  postMessage(msg, [msg.params.buffer]);
  later(run);
}

onmessage = async e => {
  M = await ready;
  try {
    if (e.data.type === 'stop') stop = true;
    if (e.data.type === 'start') start(e.data);
  } catch (err) {
    postMessage({ type: 'error', message: err.message });
  }
};
