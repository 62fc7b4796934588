#!/usr/bin/env bash
# Checks the checking tools: ONNX's checker (check_model.py) passes the tiny
# model of tiny_model.py and rejects its broken twin; onnxruntime
# (ort_run.js) gives the output numpy gives, to 1e-5, rejects what it must
# with one line on stderr and exit status 1, and its --json, --threads and
# --bench work.  The fixtures (tests/onnx/fixtures) load and run as PyTorch
# ran them.  Needs scripts/deps.sh onnx; downloads nothing.
#   tests/onnx/selftest.sh          ends with "N passed, N failed"
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
no() { echo "FAIL $1"; sed 's/^/      /' "$tmp/err" 2>/dev/null | head -5; failed=$((failed + 1)); }

# expect NAME CODE PATTERN CMD...: exit CODE, nothing on stdout, one stderr
# line matching PATTERN (an extended regular expression)
expect() {
    local name=$1 code=$2 pattern=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq "$code" ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
        grep -qE -- "$pattern" "$tmp/err"; then
        ok "$name: $(sed "s#$tmp/##g" "$tmp/err")"
    else
        echo "      exit $rc, expected $code; stderr should match /$pattern/" >>"$tmp/err"
        no "$name"
    fi
}

# close A.bin B.bin: the same count of float32 values, none more than 1e-5 apart
close() {
    $py -c 'import sys, numpy as np
a, b = (np.fromfile(f, "<f4") for f in sys.argv[1:3])
sys.exit(0 if a.shape == b.shape and np.abs(a - b).max() <= 1e-5 else
         "%s vs %s values, max difference %s" % (a.size, b.size,
         np.abs(a - b).max() if a.shape == b.shape else "-"))' "$1" "$2" 2>"$tmp/err"
}

$py "$here/tiny_model.py" "$tmp" || { echo "tiny_model.py failed"; exit 1; }
ort() { node "$here/ort_run.js" "$@"; }
m=$tmp/tiny.onnx x=$tmp/input.bin

$py "$here/check_model.py" "$m" >"$tmp/out" 2>"$tmp/err" &&
    grep -qx "nodes: Conv Relu MaxPool Flatten Gemm Softmax" "$tmp/out" &&
    grep -q "opset 13" "$tmp/out" && grep -qF "output y: float ['N', 10]" "$tmp/out" &&
    ok "check_model passes the tiny model" || no "check_model passes the tiny model"
expect "check_model rejects a Gemm of 12 outputs declared 10" 1 \
    "InferenceError: .*Inferred shape and existing shape differ in dimension 1: \(12\) vs \(10\)" \
    $py "$here/check_model.py" "$tmp/broken-out.onnx"
printf 'not a model' >"$tmp/junk.onnx"
expect "check_model rejects a file that is not ONNX" 1 "DecodeError" $py "$here/check_model.py" "$tmp/junk.onnx"

ort "$m" "$x" 2 1 8 8 >"$tmp/y.bin" 2>"$tmp/err" && close "$tmp/y.bin" "$tmp/expected.bin" &&
    ok "ort_run gives numpy's output" || no "ort_run gives numpy's output"
ort "$m" "$x" 2 1 8 8 --threads 2 >"$tmp/y2.bin" 2>"$tmp/err" && cmp -s "$tmp/y.bin" "$tmp/y2.bin" &&
    ok "ort_run --threads 2 gives the same bits" || no "ort_run --threads 2 gives the same bits"
ort "$m" "$x" 2 1 8 8 --json 2>"$tmp/err" | $py -c 'import sys, json
o = json.load(sys.stdin); assert o["dims"] == [2, 10] and len(o["data"]) == 20' 2>>"$tmp/err" &&
    ok "ort_run --json" || no "ort_run --json"
ort "$m" "$x" 2 1 8 8 --bench 3 2>"$tmp/err" | $py -c 'import sys, json
o = json.load(sys.stdin); assert o["images_per_s"] > 0 and o["median_ms"] > 0 and o["batch"] == 2' 2>>"$tmp/err" &&
    ok "ort_run --bench" || no "ort_run --bench"
expect "ort_run: input file of the wrong size" 1 "holds 512 bytes, but 3x1x8x8 float32 values take 768" \
    ort "$m" "$x" 3 1 8 8
expect "ort_run: data of the wrong shape" 1 "input 'x' is \[N,1,8,8\], the data given is \[1,2,8,8\]" \
    ort "$m" "$x" 1 2 8 8
expect "ort_run: a Gemm whose K does not match (ONNX 1.12's checker lets it by)" 1 \
    "not a model onnxruntime can load: .*Gemm.*63 and 64" ort "$tmp/broken-k.onnx" "$x" 2 1 8 8
expect "ort_run: a Conv whose channels do not match (it loads, and fails as it runs)" 1 \
    "running it on \[2,1,8,8\] failed: .*Input channels C is not equal to kernel channels" \
    ort "$tmp/broken-c.onnx" "$x" 2 1 8 8
expect "ort_run: a file that is not ONNX" 1 "not a model onnxruntime can load: .*Protobuf parsing failed" \
    ort "$tmp/junk.onnx" "$x" 2 1 8 8
expect "ort_run: no model" 1 "nope.onnx: no such file" ort "$tmp/nope.onnx" "$x" 2 1 8 8
expect "ort_run: a bad dimension" 2 "W must be a positive integer, not '0'" ort "$m" "$x" 2 1 8 0

# the PyTorch fixtures: ONNX's checker passes them, onnxruntime reproduces them
for meta in "$here"/fixtures/*.json; do
    [ -e "$meta" ] || continue
    name=$(basename "$meta" .json)
    read -r n c h w < <($py -c 'import sys, json; print(*json.load(open(sys.argv[1]))["input"]["shape"])' "$meta")
    $py "$here/check_model.py" "${meta%.json}.onnx" >/dev/null 2>"$tmp/err" &&
        ort "${meta%.json}.onnx" "${meta%.json}.input.bin" "$n" "$c" "$h" "$w" >"$tmp/f.bin" 2>"$tmp/err" &&
        close "$tmp/f.bin" "${meta%.json}.output.bin" &&
        ok "fixture $name: checked, and onnxruntime gives PyTorch's output" ||
        no "fixture $name: checked, and onnxruntime gives PyTorch's output"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
