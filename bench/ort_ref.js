#!/usr/bin/env node
// The ONNX Runtime peer of `cnn bench --infer-only`: the graph `cnn export`
// writes, run by onnxruntime-node (tests/onnx/node_modules, the version
// tests/onnx/package-lock.json pins) at its best settings: every graph
// optimisation, sequential execution, intra-op threads as given.  Measured
// as cnn bench measures itself, inside this process after a warm-up, so
// node's start-up and the session's creation are not timed:
//   batch 256: passes over TEST_N images (batches of 256 and the rest), best
//              and median of REPS after one warm-up pass
//   batch 1:   LAT_N single-image runs after 100 warm-up, median and p90.
//              Each run is one await of session.run from JavaScript, so
//              node's call overhead (the tensor wrapping, the promise) is
//              in the figure.
// The pixels are a fixed pseudo-random draw of 0..255 (the graph normalises
// them itself): the speed of these dense float kernels does not depend on
// the values.
//   node bench/ort_ref.js MODEL.onnx --net NAME --shape C,H,W [--threads T]
//        [--test-n 10000] [--reps 5] [--lat-n 2000]
// One JSON line on stdout, keyed as cnn bench's.  Exit status 1 with one
// line on stderr when onnxruntime-node or the model cannot be loaded.
'use strict';
const path = require('path');

function fail(msg, status = 1) {
    process.stderr.write(`ort_ref: ${String(msg).replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(status);
}

function parseArgs(argv) {
    const opt = { threads: 1, testN: 10000, reps: 5, latN: 2000, net: '', shape: null, model: '' };
    const num = (s, what) => /^[1-9][0-9]*$/.test(s ?? '') ? Number(s) : fail(`${what}: '${s}'`, 2);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--threads') opt.threads = num(argv[++i], a);
        else if (a === '--test-n') opt.testN = num(argv[++i], a);
        else if (a === '--reps') opt.reps = num(argv[++i], a);
        else if (a === '--lat-n') opt.latN = num(argv[++i], a);
        else if (a === '--net') opt.net = argv[++i] ?? '';
        else if (a === '--shape') opt.shape = (argv[++i] ?? '').split(',').map(d => num(d, a));
        else if (a.startsWith('--')) fail(`unknown option '${a}'`, 2);
        else opt.model = a;
    }
    if (!opt.model || !opt.shape || opt.shape.length !== 3)
        fail('usage: node bench/ort_ref.js MODEL.onnx --net NAME --shape C,H,W [--threads T]', 2);
    return opt;
}

const sorted = xs => [...xs].sort((a, b) => a - b);
function median(xs) {
    const s = sorted(xs), m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const seconds = t0 => Number(process.hrtime.bigint() - t0) / 1e9;

// n images of C x H x W, the same draw every run (a 32-bit LCG).
function pixels(n, per) {
    const x = new Float32Array(n * per);
    let s = 12345;
    for (let i = 0; i < x.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        x[i] = s >>> 24;
    }
    return x;
}

// Seconds of each pass over testN images at batch 256, after a warm-up pass.
async function timeBatches(ort, session, opt, per) {
    const name = session.inputNames[0], batches = [];
    for (let first = 0; first < opt.testN; first += 256) {
        const n = Math.min(256, opt.testN - first);
        batches.push({ [name]: new ort.Tensor('float32', pixels(n, per), [n, ...opt.shape]) });
    }
    const passes = [];
    for (let pass = -1; pass < opt.reps; pass++) {
        const t0 = process.hrtime.bigint();
        for (const feeds of batches) await session.run(feeds);
        if (pass >= 0) passes.push(seconds(t0));
    }
    return passes;
}

// Microseconds of each single-image run after 100 warm-up runs.
async function timeSingles(ort, session, opt, per) {
    const name = session.inputNames[0], x = pixels(100, per), us = [];
    const feeds = Array.from({ length: 100 }, (_, i) =>
        ({ [name]: new ort.Tensor('float32', x.subarray(i * per, (i + 1) * per), [1, ...opt.shape]) }));
    for (let i = 0; i < 100 + opt.latN; i++) {
        const t0 = process.hrtime.bigint();
        await session.run(feeds[i % 100]);
        if (i >= 100) us.push(seconds(t0) * 1e6);
    }
    return sorted(us);
}

async function main() {
    const opt = parseArgs(process.argv.slice(2));
    const dir = path.join(__dirname, '..', 'tests', 'onnx', 'node_modules');
    let ort, version;
    try {
        ort = require(path.join(dir, 'onnxruntime-node'));
        version = require(path.join(dir, 'onnxruntime-node', 'package.json')).version;
    } catch (e) {
        fail(`onnxruntime-node is not installed in ${dir} (scripts/deps.sh test): ${e.message}`);
    }
    ort.env.logLevel = 'fatal';
    let session;
    try {
        session = await ort.InferenceSession.create(opt.model, {
            executionProviders: ['cpu'], graphOptimizationLevel: 'all',
            intraOpNumThreads: opt.threads, interOpNumThreads: 1, executionMode: 'sequential',
            logSeverityLevel: 4,
        });
    } catch (e) {
        fail(`${opt.model} is not a model onnxruntime can load: ${e.message}`);
    }
    const per = opt.shape.reduce((a, b) => a * b, 1);
    const passes = await timeBatches(ort, session, opt, per);
    const us = await timeSingles(ort, session, opt, per);
    console.log(JSON.stringify({
        peer: 'ort', runtime: `onnxruntime-node ${version}`, net: opt.net, threads: opt.threads,
        test_images: opt.testN,
        infer_b256_ips_best: opt.testN / Math.min(...passes),
        infer_b256_ips_median: opt.testN / median(passes),
        lat_b1_us_median: us[us.length >> 1], lat_b1_us_p90: us[Math.floor(us.length * 0.9)],
        note: "batch-1 latency includes node's call overhead",
    }));
}

main().catch(e => fail(e.message));
