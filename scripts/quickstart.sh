#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing (including
# what the test suite needs, so that `make test` passes next), build, train
# the tutorial network (conv 3x3 x 8, max-pool 2, softmax 10; plain SGD,
# lr 0.005, batch 1, 3 epochs), evaluate it, save the model, and classify one
# test image written to a file.
#   scripts/quickstart.sh [DATA_DIR] [MODEL]
# DATA_DIR defaults to Fashion-MNIST from Debian's dataset-fashion-mnist;
# MODEL to seed.cnn.  Relative paths are taken from where you stand.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/usr/share/datasets/fashion-mnist}
model=${2:-seed.cnn}
[ "$repo" = "$PWD" ] && cnn=./cnn || cnn=$repo/cnn
"$repo/scripts/deps.sh" test
make -s -C "$repo" -j"$(nproc)"
"$cnn" summary seed
"$cnn" train --net seed --data "$data" --out "$model"
"$cnn" eval "$model" --data "$data"

# One test image as a PGM file, and the line that classifies it: the first of
# the test images the model gets right (IDX folders only).
images=$data/t10k-images-idx3-ubyte.gz labels=$data/t10k-labels-idx1-ubyte.gz
[ -f "$images" ] && [ -f "$labels" ] || { echo "model saved to $model"; exit 0; }
sample=$(dirname "$model")/sample.pgm
[ "$(dirname "$model")" = . ] && sample=sample.pgm
for i in $(seq 0 19); do
    { printf 'P5\n28 28\n255\n'; zcat "$images" | tail -c +$((17 + 784 * i)) | head -c 784; } > "$sample"
    label=$(zcat "$labels" | tail -c +$((9 + i)) | head -c 1 | od -An -tu1 | tr -d ' ')
    got=$("$cnn" predict "$model" "$sample" --json)
    name=$(sed -n 's/.*"name":"\([^"]*\)".*/\1/p' <<< "$got")
    [ "$(sed -n 's/.*"class":\([0-9]*\).*/\1/p' <<< "$got")" = "$label" ] && break
done
echo
echo "model saved to $model; test image $i (a $name) written to $sample; try:"
echo "  $cnn predict $model $sample"
