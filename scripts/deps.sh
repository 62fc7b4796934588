#!/usr/bin/env bash
# Installs the Debian packages cnn needs, only those missing, with one line
# saying what and why.
#   scripts/deps.sh            build + run: compiler, zlib, libpng, libjpeg, stb,
#                              protobuf-c and onnx.proto (ONNX export and
#                              import), Fashion-MNIST (the default data)
#   scripts/deps.sh test       also what `make test` needs: python3 (the
#                              command-line tests check JSON with it),
#                              chromium (the report page is opened in it),
#                              OpenMPI (the tests of teams of processes), and
#                              what `onnx` installs (the ONNX tests)
#   scripts/deps.sh ci         also clang (fuzzing) and valgrind (leak checks)
#   scripts/deps.sh bench      also the PyTorch peer for bench/run.sh
#   scripts/deps.sh web        also emscripten (make web: the library in
#                              WebAssembly), chromium, node and npm, then
#                              puppeteer-core, pinned in tests/web's
#                              package-lock.json, into tests/web/node_modules
#                              (the browser tests of the page drive chromium
#                              with it)
#   scripts/deps.sh onnx       also the ONNX part: protobuf-c (the C reader
#                              and writer), Debian's ONNX (headers, its test
#                              models, the Python checker), then
#                              onnxruntime-node, pinned in tests/onnx's
#                              package-lock.json, into tests/onnx/node_modules
#                              (the reference runtime of the tests)
# As root it runs apt-get itself; otherwise through sudo when there is one,
# else it names the packages to install and stops.
set -eu
pkgs="build-essential pkg-config zlib1g-dev libpng-dev libjpeg-dev libstb-dev dataset-fashion-mnist"
pkgs="$pkgs libprotobuf-c-dev protobuf-c-compiler libonnx-dev"
why="to build cnn (with ONNX: protobuf-c and Debian's onnx.proto) and train on Fashion-MNIST"
case "${1:-}" in
    "") ;;
    test|ci) pkgs="$pkgs python3 chromium openmpi-bin libopenmpi-dev"
        pkgs="$pkgs libonnx-testdata python3-onnx python3-numpy"
        command -v node >/dev/null || pkgs="$pkgs nodejs"
        command -v npm >/dev/null || pkgs="$pkgs npm"
        why="$why, and for the test suite (python3, chromium, OpenMPI, ONNX's checker and tests, node)"
        if [ "$1" = ci ]; then
            pkgs="$pkgs clang libclang-rt-14-dev valgrind"
            why="$why, and for CI (clang's fuzzers, valgrind)"
        fi ;;
    bench) pkgs="$pkgs python3 python3-torch python3-numpy libopenblas0-pthread"
        why="$why, and PyTorch for the benchmarks" ;;
    onnx) pkgs="$pkgs libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata python3-onnx python3-numpy"
        # node and npm from Debian only when there are none (NodeSource's
        # nodejs carries its own npm, which Debian's npm would conflict with)
        command -v node >/dev/null || pkgs="$pkgs nodejs"
        command -v npm >/dev/null || pkgs="$pkgs npm"
        why="$why, and for the ONNX export and import (protobuf-c, ONNX, node)" ;;
    web) pkgs="$pkgs emscripten chromium"
        command -v node >/dev/null || pkgs="$pkgs nodejs"
        command -v npm >/dev/null || pkgs="$pkgs npm"
        why="$why, and emscripten for the WebAssembly build (make web), chromium and npm for its browser tests" ;;
    *) echo "usage: scripts/deps.sh [test|ci|bench|onnx|web]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
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
fi
# A package from npm at the version DIR/package-lock.json pins, into
# DIR/node_modules, unless that one is there and loads (npm ci: the lock's
# exact tree).  ENV is the environment npm runs with.
npm_pinned() { # DIR PACKAGE WHY ENV...
    local dir=$1 pkg=$2 why=$3 want have
    shift 3
    want=$(node -p "require('$dir/package-lock.json').packages['node_modules/$pkg'].version")
    have=$(cd "$dir" && node -p "require('$pkg/package.json').version" 2>/dev/null) || have=""
    if [ "$have" != "$want" ] || ! (cd "$dir" && node -e "require('$pkg')" 2>/dev/null); then
        echo "installing: $pkg $want into ${dir#"$root"/}/node_modules ($why)"
        (cd "$dir" && env "$@" npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        (cd "$dir" && node -e "require('$pkg')") ||
            { echo "$pkg $want installed in $dir but does not load" >&2; exit 1; }
    fi
}
root=$(cd "$(dirname "$0")/.." && pwd)
# puppeteer-core drives the chromium installed above and downloads no browser
if [ "${1:-}" = web ]; then
    npm_pinned "$root/tests/web" puppeteer-core "the browser tests of the page" \
        PUPPETEER_SKIP_DOWNLOAD=1
fi
case "${1:-}" in onnx|test|ci) ;; *) exit 0 ;; esac

# onnxruntime-node, at the version package-lock.json pins, unless that one is
# there and loads.  ONNXRUNTIME_NODE_INSTALL=skip: its post-install step would
# fetch the CUDA provider; the CPU one ships in the package, so once
# installed it runs offline.
npm_pinned "$root/tests/onnx" onnxruntime-node "the reference runtime of the ONNX tests" \
    ONNXRUNTIME_NODE_INSTALL=skip
