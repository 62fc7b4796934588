#!/usr/bin/env node
// Runs an ONNX model through onnxruntime-node, the reference the ONNX tests
// hold cnn's exporter and importer to: the model's first input is fed an
// NxCxHxW float32 tensor read from a file, and its first output is written
// out.  CPU execution provider, every graph optimisation on.
//   node tests/onnx/ort_run.js MODEL.onnx INPUT.bin N C H W [--threads T]
//        [--json | --bench N_ITER]
// INPUT.bin holds N*C*H*W little-endian float32 values.  The output goes to
// stdout as little-endian float32 (binary); with --json as
// {"dims":[...],"data":[...]}; with --bench N_ITER, after one warm-up run,
// N_ITER timed runs are summed up as JSON: images/s (N*N_ITER over the time
// of all timed runs) and the median time of one run.  T: intra-op threads,
// 1 by default.  Exit status 1 on a model or input that does not fit, with
// a one-line message on stderr; 2 on bad arguments.
// onnxruntime-node comes from tests/onnx/node_modules (scripts/deps.sh onnx).
'use strict';
const fs = require('fs');
const path = require('path');

const usage = 'usage: node tests/onnx/ort_run.js MODEL.onnx INPUT.bin N C H W ' +
    '[--threads T] [--json | --bench N_ITER]';

function fail(msg, status = 1) {
    process.stderr.write(`ort_run: ${String(msg).replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(status);
}

function positive(s, what) {
    if (!/^[1-9][0-9]*$/.test(s)) fail(`${what} must be a positive integer, not '${s}'`, 2);
    return Number(s);
}

function parseArgs(argv) {
    const pos = [], opt = { threads: 1, json: false, bench: 0 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--threads') opt.threads = positive(argv[++i] ?? '', '--threads');
        else if (a === '--bench') opt.bench = positive(argv[++i] ?? '', '--bench');
        else if (a === '--json') opt.json = true;
        else if (a.startsWith('--')) fail(`unknown option '${a}'`, 2);
        else pos.push(a);
    }
    if (pos.length !== 6) fail(usage, 2);
    if (opt.json && opt.bench) fail('--json and --bench do not go together', 2);
    const dims = ['N', 'C', 'H', 'W'].map((d, i) => positive(pos[2 + i], d));
    return { model: pos[0], input: pos[1], dims, ...opt };
}

// The input file as float32, read as little-endian whatever this machine is.
function readInput(file, dims) {
    let buf;
    try { buf = fs.readFileSync(file); } catch (e) { fail(`cannot read ${file}: ${e.message}`); }
    const n = dims.reduce((a, b) => a * b, 1);
    if (buf.length !== 4 * n)
        fail(`${file} holds ${buf.length} bytes, but ${dims.join('x')} float32 values take ${4 * n}`);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = buf.readFloatLE(4 * i);
    return x;
}

// The model's declared input shape against NxCxHxW: a clearer message than
// the runtime's, which names neither the file nor both shapes.
function checkInput(meta, model, dims) {
    if (!meta.isTensor) fail(`${model}: input '${meta.name}' is not a tensor`);
    if (meta.type !== 'float32') fail(`${model}: input '${meta.name}' is ${meta.type}, not float32`);
    const shape = meta.shape;
    if (shape.length === 0) return;
    const fits = shape.length === 4 &&
        shape.every((d, i) => typeof d !== 'number' || d <= 0 || d === dims[i]);
    if (!fits)
        fail(`${model}: input '${meta.name}' is [${shape.join(',')}], the data given is [${dims.join(',')}]`);
}

function median(xs) {
    const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    let ort;
    try {
        ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
    } catch (e) {
        fail(`onnxruntime-node is not installed in ${__dirname} (scripts/deps.sh onnx): ${e.message}`);
    }
    ort.env.logLevel = 'fatal';
    if (!fs.existsSync(args.model)) fail(`${args.model}: no such file`);
    const x = readInput(args.input, args.dims);
    let session;
    try {
        session = await ort.InferenceSession.create(args.model, {
            executionProviders: ['cpu'], graphOptimizationLevel: 'all',
            intraOpNumThreads: args.threads, interOpNumThreads: 1, executionMode: 'sequential',
            logSeverityLevel: 4,  // fatal only: its errors come back to us, to say once
        });
    } catch (e) {
        fail(`${args.model} is not a model onnxruntime can load: ${e.message}`);
    }
    checkInput(session.inputMetadata[0], args.model, args.dims);
    const inName = session.inputNames[0], outName = session.outputNames[0];
    const feeds = { [inName]: new ort.Tensor('float32', x, args.dims) };
    const run = async () => {
        try { return (await session.run(feeds, [outName]))[outName]; } catch (e) {
            fail(`${args.model}: running it on [${args.dims.join(',')}] failed: ${e.message}`);
        }
    };
    const y = await run();
    if (y.type !== 'float32') fail(`${args.model}: output '${outName}' is ${y.type}, not float32`);

    if (args.bench) {
        const times = [];
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < args.bench; i++) {
            const t = process.hrtime.bigint();
            await run();
            times.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        const total = Number(process.hrtime.bigint() - t0) / 1e9;
        console.log(JSON.stringify({
            runtime: `onnxruntime-node ${ort.env.versions.node}`, model: args.model,
            batch: args.dims[0], threads: args.threads, iterations: args.bench,
            images_per_s: args.dims[0] * args.bench / total, median_ms: median(times),
        }));
    } else if (args.json) {
        console.log(JSON.stringify({ dims: y.dims, data: Array.from(y.data) }));
    } else {
        const out = Buffer.alloc(4 * y.data.length);
        y.data.forEach((v, i) => out.writeFloatLE(v, 4 * i));
        process.stdout.write(out);
    }
}

main();
