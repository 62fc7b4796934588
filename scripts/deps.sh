#!/usr/bin/env bash
# Installs the Debian packages cnn needs, only those missing.
#   scripts/deps.sh            build + run: compiler, zlib, libpng, stb, Fashion-MNIST
#   scripts/deps.sh ci         also what the full test run needs (clang for the
#                              fuzzers, chromium for the report test, valgrind)
#   scripts/deps.sh bench      also the PyTorch peer for bench/run.sh
set -eu
pkgs="build-essential pkg-config zlib1g-dev libpng-dev libjpeg-dev libstb-dev dataset-fashion-mnist python3"
case "${1:-}" in
    ci) pkgs="$pkgs clang libclang-rt-14-dev chromium valgrind" ;;
    bench) pkgs="$pkgs python3-torch python3-numpy libopenblas0-pthread" ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
