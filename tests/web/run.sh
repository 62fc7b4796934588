#!/usr/bin/env bash
# The library in WebAssembly (make web), run by node: the X-or-O example
# trains to 100% as the native build does, the SIMD128 GEMM matches the C
# reference, and lenet's speed in wasm beside the native build's on one
# thread (printed, not judged: the issue's 3x target is not met yet).
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
check "speed" sh -c 'echo "native $(build/web_speed 2048) wasm $(node build-web/speed.js 2048)"'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
