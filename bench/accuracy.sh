#!/usr/bin/env bash
# Reproduces the accuracy table of the README: each line trains one network
# with its preset's settings and prints the final test accuracy.
#   bench/accuracy.sh [MNIST_DIR] [FASHION_DIR]
# The full MNIST is not in the repository (tests/data/mnist is a small cut for
# the suite): put its four IDX files in ../shared/data/mnist or name the folder.
set -eu
here=$PWD
cd "$(dirname "$0")/.."
abs() { case "$1" in /*) echo "$1" ;; *) echo "$here/$1" ;; esac; }
mnist=$(abs "${1:-$PWD/../shared/data/mnist}")
fashion=$(abs "${2:-/usr/share/datasets/fashion-mnist}")
[ -f "$mnist/train-images-idx3-ubyte.gz" ] || [ -f "$mnist/train-images-idx3-ubyte" ] || {
    echo "bench/accuracy.sh: no MNIST in $mnist: put the four IDX files (train-images-idx3-ubyte.gz ...)" >&2
    echo "there, or give their folder: bench/accuracy.sh MNIST_DIR [FASHION_DIR]" >&2
    exit 1; }
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
