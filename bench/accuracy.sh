#!/usr/bin/env bash
# Reproduces the accuracy table of the README: each line trains one network
# with its preset's settings and prints the final test accuracy.
#   bench/accuracy.sh [MNIST_DIR] [FASHION_DIR]
set -eu
cd "$(dirname "$0")/.."
mnist=${1:-../shared/data/mnist}
fashion=${2:-/usr/share/datasets/fashion-mnist}
out=${OUT:-bench/results}
mkdir -p "$out"
run() { # name, then cnn train arguments
    local name=$1; shift
    local start=$SECONDS
    ./cnn train "$@" --out "$out/$name.cnn" --json --quiet > "$out/$name.jsonl"
    python3 - "$out/$name.jsonl" "$name" $((SECONDS - start)) <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = rows[-1]
print(f"{sys.argv[2]:<28} epochs {last['epoch']}  test accuracy {100 * last['test_accuracy']:.2f}%"
      f"  ({sys.argv[3]} s, {last['images_per_second']:.0f} img/s in the last epoch)")
PY
}
make -s
run tutorial-seed-1k    --net seed --data "$mnist" --limit 1000 --test-limit 1000
run seed-mnist          --net seed --data "$mnist"
run lenet-mnist         --net lenet --data "$mnist"
run convnet-mnist       --net convnet --data "$mnist"
run convnet-fashion     --net convnet --data "$fashion"
run xo                  --net xo --data xo
