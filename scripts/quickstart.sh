#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build,
# train the tutorial network (conv 3x3 x 8, max-pool 2, softmax 10; plain SGD,
# lr 0.005, batch 1, 3 epochs), evaluate it and save the model.
#   scripts/quickstart.sh [DATA_DIR] [MODEL]
# DATA_DIR defaults to Fashion-MNIST from Debian's dataset-fashion-mnist.
set -eu
cd "$(dirname "$0")/.."
data=${1:-/usr/share/datasets/fashion-mnist}
model=${2:-seed.cnn}
scripts/deps.sh
make -s -j"$(nproc)"
./cnn summary seed
./cnn train --net seed --data "$data" --out "$model"
./cnn eval "$model" --data "$data"
echo "model saved to $model; try: ./cnn predict $model some-digit.png --invert"
