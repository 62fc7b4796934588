#!/usr/bin/env bash
# The whole suite: the unit-test binary, then every tests/cli/*.sh script
# (each a command-line test; exit 0 = pass).  Ends with "N passed, N failed".
# usage: tests/run.sh [BUILD_DIR] [NAME_FILTER]
set -u
build=${1:-build}
filter=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
export CNN="$(cd "$build" && pwd)/cnn"
# the MPI build beside it (make test makes it when mpicc is there): the
# tests/cli/mpi_*.sh teams run it
if [ -x "$build-mpi/cnn" ]; then
    export CNN_MPI="$(cd "$build-mpi" && pwd)/cnn"
fi
. "$here/test_data.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
passed=0 failed=0
out=$(mktemp)
"$build/unit" $filter | tee "$out"
p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out" | tail -1)
f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out" | tail -1)
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
rm -f "$out"
for t in "$here"/cli/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    if [[ "$name" == mpi_* && -z "${CNN_MPI:-}" ]]; then
        echo "skip cli/$name (no MPI build: $build-mpi/cnn)"
        continue
    fi
    tmp=$(mktemp -d)
    if (cd "$tmp" && bash "$t") > "$tmp.log" 2>&1; then
        echo "ok   cli/$name"; passed=$((passed + 1))
    else
        echo "FAIL cli/$name"; sed 's/^/  /' "$tmp.log" | tail -20; failed=$((failed + 1))
    fi
    rm -rf "$tmp" "$tmp.log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
