#!/usr/bin/env bash
# A team of processes against threads, on the same cores: cnn train on
# 2 processes x 1 thread (mpirun, the MPI build) against 1 process x 2
# threads, for lenet and convnet, in alternating rounds; then the
# reduction's own cost (bench/exchange.c: one round of the gradient sum on
# this machine's transport, at each net's gradient size).  Figures for
# docs/distributed.md.
#
#   bench/team.sh [--rounds R] [--nets "lenet convnet"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=3 nets="lenet convnet"
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --nets) nets=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "team.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
data=$repo/../shared/data/mnist
[ -d "$data" ] || data=/usr/share/datasets/fashion-mnist
make -s -C "$repo" >/dev/null
make -s -C "$repo" MPI=1 >/dev/null
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -Is) $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); data $data"
ips() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["images_per_second"])'; }
for net in $nets; do
    limit=60000
    [ "$net" = convnet ] && limit=20000
    args="--net $net --data $data --limit $limit --test-limit 1000 --epochs 1 --quiet --json"
    for r in $(seq 1 "$rounds"); do
        one=$("$repo/build/cnn" train $args --threads 2 --out "$work/one.cnn" | ips)
        two=$(mpirun --oversubscribe --bind-to none -np 2 "$repo/build-mpi/cnn" train $args \
              --threads 1 --out "$work/two.cnn" | ips)
        echo "{\"net\":\"$net\",\"round\":$r,\"threads_1x2_ips\":$one,\"team_2x1_ips\":$two,\"ratio\":$(echo "scale=3; $two / $one" | bc)}"
    done
done
mpicc -O2 "$here/exchange.c" -o "$work/exchange"
# lenet's and convnet's gradients (floats), and the pieces a big layer goes in
mpirun --oversubscribe --bind-to none -np 2 "$work/exchange" 61706 147472 1199882 4194304
