# cnn bench --infer-only, bench/ort_ref.js and bench/run.sh's table: the
# inference figures are there and positive, ONNX Runtime runs the exported
# graph, and the table's cnn/ORT ratios and targets follow from the lines
# it is given (cnn at 2x ORT's best images/s passes; a median latency above
# ORT's best fails); cnn bench --int8 adds the int8 figures, and the int8
# targets (within 0.3 points of float, at least 2x its images/s) follow too.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
"$CNN" bench --infer-only --int8 --json --net seed --threads 1 --lat-n 50 --infer-reps 1 \
    --data "$CNN_TEST_DATA" > cnn.jsonl
python3 - cnn.jsonl <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["peer"] == "cnn" and r["mode"] == "infer" and r["net"] == "seed" and r["threads"] == 1, r
assert r["test_images"] == 1000 and r["infer_b256_ips_best"] > 0 and r["lat_b1_us_median"] > 0, r
assert r["lat_b1_us_p90"] >= r["lat_b1_us_median"] and "train_ips" not in r, r
assert r["infer_b256_ips_best_int8"] > 0 and r["lat_b1_us_median_int8"] > 0, r
assert "acc_test_int8" not in r, r  # untrained: no accuracy to speak of
PY

# a full run with --int8: its int8 accuracy is the trained net's (the
# profile after it may move the weights; int8 must be measured before)
"$CNN" bench --int8 --json --net lenet --threads 1 --train-n 2000 --lat-n 20 --infer-reps 1 \
    --data "$CNN_TEST_DATA" > full.jsonl
python3 - full.jsonl <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["acc_test"] > 0.5 and abs(r["acc_test_int8"] - r["acc_test"]) <= 0.01, r
assert r["infer_b256_ips_best_int8"] > 0 and r["lat_b1_us_median_int8"] > 0, r
PY

cat > made.jsonl <<'EOF'
{"peer":"cnn","mode":"infer","net":"lenet","threads":2,"infer_b256_ips_best":200000,"lat_b1_us_median":12,"lat_b1_us_p90":13,"load1":0.1}
{"peer":"ort","runtime":"onnxruntime-node 1.30.0","net":"lenet","threads":1,"infer_b256_ips_best":100000,"lat_b1_us_median":30,"lat_b1_us_p90":35,"load1":0.1}
{"peer":"ort","runtime":"onnxruntime-node 1.30.0","net":"lenet","threads":2,"infer_b256_ips_best":90000,"lat_b1_us_median":10,"lat_b1_us_p90":11,"load1":0.1}
{"peer":"cnn","net":"lenet","threads":1,"simd":"avx512","train_ips":20000,"acc_test":0.98,"acc_test_int8":0.978,"infer_b256_ips_best":100000,"infer_b256_ips_best_int8":150000,"lat_b1_us_median_int8":20,"load1":0.1}
{"peer":"cnn","net":"convnet","threads":1,"simd":"avx512","train_ips":2000,"acc_test":0.99,"acc_test_int8":0.985,"infer_b256_ips_best":5000,"infer_b256_ips_best_int8":11000,"lat_b1_us_median_int8":200,"load1":0.1}
{"peer":"ort","runtime":"onnxruntime-node 1.30.0","net":"probe","threads":1,"infer_b256_ips_best":1,"lat_b1_us_median":12.5,"lat_b1_us_p90":13,"load1":0.1}
EOF
"$repo/bench/run.sh" --table made.jsonl > table.txt
grep -q "PASS O lenet inference b256 vs ORT  *2.00x >= 1.5x" table.txt
grep -q "FAIL O lenet latency b1 vs ORT  *0.83x >= 1x" table.txt
grep -q "lenet    infer b256 img/s  *200000 2t  *100000 1t  *2.00x" table.txt
grep -q "call overhead through node): 12.5 us" table.txt
grep -q "PASS Q lenet int8 accuracy  *0.20 points from float" table.txt
grep -q "FAIL Q lenet int8 b256 vs float  *1.50x >= 2x" table.txt
grep -q "FAIL Q convnet int8 accuracy  *0.50 points from float" table.txt
grep -q "PASS Q convnet int8 b256 vs float  *2.20x >= 2x" table.txt

if node -e "require('$repo/tests/onnx/node_modules/onnxruntime-node')" 2>/dev/null; then
    "$CNN" train --net seed --data "$CNN_TEST_DATA" --limit 64 --test-limit 16 --epochs 1 --quiet \
        --out seed.cnn
    "$CNN" export seed.cnn --onnx seed.onnx
    node "$repo/bench/ort_ref.js" seed.onnx --net seed --shape 1,28,28 --threads 2 --test-n 300 \
        --reps 2 --lat-n 20 > ort.jsonl
    python3 - ort.jsonl <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["peer"] == "ort" and r["net"] == "seed" and r["threads"] == 2 and r["test_images"] == 300, r
assert r["runtime"].startswith("onnxruntime-node ") and "call overhead" in r["note"], r
assert r["infer_b256_ips_best"] >= r["infer_b256_ips_median"] > 0, r
assert r["lat_b1_us_p90"] >= r["lat_b1_us_median"] > 0, r
PY
    if node "$repo/bench/ort_ref.js" seed.cnn --net seed --shape 1,28,28 2> err.txt; then
        echo "ort_ref.js ran a file that is not ONNX"; exit 1
    fi
    grep -q "^ort_ref: seed.cnn is not a model onnxruntime can load" err.txt
else
    echo "onnxruntime-node is not installed: ort_ref.js not run (scripts/deps.sh test)"
fi
