#!/usr/bin/env bash
# Installs the Debian packages cnn needs, only those missing, with one line
# saying what and why.
#   scripts/deps.sh            build + run: compiler, zlib, libpng, libjpeg, stb,
#                              protobuf-c and onnx.proto (ONNX export and
#                              import), Fashion-MNIST (the default data)
#   scripts/deps.sh test       also what `make test` needs: python3 (the
#                              command-line tests check JSON with it),
#                              chromium (the report page is opened in it) and
#                              OpenMPI (the tests of teams of processes)
#   scripts/deps.sh ci         also clang (fuzzing) and valgrind (leak checks)
#   scripts/deps.sh bench      also the PyTorch peer for bench/run.sh
# As root it runs apt-get itself; otherwise through sudo when there is one,
# else it names the packages to install and stops.
set -eu
pkgs="build-essential pkg-config zlib1g-dev libpng-dev libjpeg-dev libstb-dev dataset-fashion-mnist"
pkgs="$pkgs libprotobuf-c-dev protobuf-c-compiler libonnx-dev"
why="to build cnn (with ONNX: protobuf-c and Debian's onnx.proto) and train on Fashion-MNIST"
case "${1:-}" in
    "") ;;
    test) pkgs="$pkgs python3 chromium openmpi-bin libopenmpi-dev"
        why="$why, and for the test suite (python3, chromium, OpenMPI)" ;;
    ci) pkgs="$pkgs python3 chromium openmpi-bin libopenmpi-dev clang libclang-rt-14-dev valgrind"
        why="$why, and for CI (the suite, clang's fuzzers, valgrind)" ;;
    bench) pkgs="$pkgs python3 python3-torch python3-numpy libopenblas0-pthread"
        why="$why, and PyTorch for the benchmarks" ;;
    *) echo "usage: scripts/deps.sh [test|ci|bench]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "cnn needs these Debian packages$missing ($why);" >&2
        echo "install them as root: apt-get install$missing" >&2
        exit 1
    fi
    sudo="sudo"
fi
echo "installing:$missing ($why)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
