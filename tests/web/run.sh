#!/usr/bin/env bash
# The library in WebAssembly (make web), run by node: the X-or-O example
# trains to 100% as the native build does, the SIMD128 GEMM matches the C
# reference, and lenet's speed in wasm beside the native build's on one
# thread (printed, not judged: the issue's 3x target is not met yet); then
# the page in a real browser: digits drawn with the mouse, the X-or-O walkthrough against
# cnn xo --json, training in its worker, a model file of the CLI's.
# .ci/run runs it after scripts/deps.sh web.  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0
check() { # NAME COMMAND... : passes when the command does
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok   $name: $(tail -n 1 <<< "$out")"; passed=$((passed + 1))
    else
        echo "FAIL $name"; sed 's/^/  /' <<< "$out" | tail -20; failed=$((failed + 1))
    fi
}
make -s web >/dev/null || { echo "make web failed"; echo "0 passed, 1 failed"; exit 1; }
check "xo in wasm" sh -c 'node build-web/train_xo.js | grep -x "X or O: 100.0% of 500 held-out images right"'
check "simd128 gemm" node build-web/test_kernels.js
make -s build/libcnn.a >/dev/null
cc -O2 -Iinclude web/speed.c build/libcnn.a -fopenmp -lz -lpng -ljpeg -lstb -lprotobuf-c -lm -o build/web_speed
# the issue's yardstick is native AVX2 on one thread (the CPU's widest path
# beside it); the ratios are printed, not judged
speed() {
    local avx2 wasm
    avx2=$(CNN_SIMD=avx2 build/web_speed 2048) && wasm=$(node build-web/speed.js 2048) || return 1
    echo "native $(build/web_speed 2048)"
    echo "native $avx2"
    echo "wasm   $wasm"
    node -e 'const [a, w] = process.argv.slice(1).map(JSON.parse);
        console.log(`${a.simd} / wasm ${w.simd}: training ${(a.train_ips / w.train_ips).toFixed(2)}x, ` +
            `inference ${(a.infer_b256_ips / w.infer_b256_ips).toFixed(2)}x, ` +
            `one image ${(w.latency_b1_us / a.latency_b1_us).toFixed(2)}x`)' "$avx2" "$wasm"
}
check "speed" speed
# The page (build-web/site) in headless chromium, offline (tests/web/page.js,
# through puppeteer-core: scripts/deps.sh web); screenshots into $shots
shots=build-web/screenshots
mkdir -p "$shots"
build/cnn xo --json > "$shots/xo.json"
check "page: drawn digits" node tests/web/page.js draw "$shots"
check "page: X or O" node tests/web/page.js xo "$shots" "$shots/xo.json"
check "page: training" node tests/web/page.js train "$shots"
# a model of the command line's, and its answer for test image 3 as a PGM
model() {
    build/cnn train --net seed --data tests/data/mnist --limit 1000 --test-limit 200 --epochs 1 \
        --out "$shots/seed.cnn" --quiet &&
        { printf 'P5\n28 28\n255\n'; dd if=build-web/site/test-images.bin bs=784 skip=3 count=1 status=none; } \
            > "$shots/test-3.pgm" &&
        build/cnn predict "$shots/seed.cnn" "$shots/test-3.pgm" --json > "$shots/predict.json" &&
        node tests/web/page.js load "$shots" "$shots/seed.cnn" 3 "$shots/predict.json"
}
check "page: your own model" model
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
