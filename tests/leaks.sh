#!/usr/bin/env bash
# Leaks and memory errors: the unit tests and every command-line error path
# (tests/cli/errors.sh) under AddressSanitizer with LeakSanitizer, then a few
# commands (success and failure) under valgrind memcheck on the ordinary
# build.  A definite leak fails.  A few minutes on 2 cores.
#   tests/leaks.sh            (make leakcheck would call this)
# Environment: LEAK_BUILD (default build-leak), SKIP_VALGRIND=1.
set -u
cd "$(dirname "$0")/.."
build=${LEAK_BUILD:-build-leak}
. tests/test_data.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
failed=0

echo "== building with ASan + LSan in $build/"
make -s BUILD="$build" OPT=-O1 CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer" \
    LDFLAGS="-fsanitize=address" "$build/unit" "$build/cnn" >/dev/null || exit 1
# libgomp's thread pool is not a leak; anything else at exit is.
export ASAN_OPTIONS=detect_leaks=1:exitcode=23:abort_on_error=0
export LSAN_OPTIONS=exitcode=23

echo "== unit tests under LSan"
"$build/unit" >"$build/leak-unit.log" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -q "LeakSanitizer\|AddressSanitizer" "$build/leak-unit.log"; then
    echo "FAIL unit (exit $rc)"; grep -A15 "Sanitizer" "$build/leak-unit.log" | head -40
    failed=1
else
    tail -1 "$build/leak-unit.log"
fi

echo "== command-line error paths under LSan"
tmp=$(mktemp -d)
if (cd "$tmp" && CNN="$(cd "$OLDPWD" && pwd)/$build/cnn" bash "$OLDPWD/tests/cli/errors.sh") \
        >"$build/leak-cli.log" 2>&1; then
    tail -1 "$build/leak-cli.log"
else
    echo "FAIL cli errors"; grep -v '^ok' "$build/leak-cli.log" | head -40
    failed=1
fi
rm -rf "$tmp"

if [ "${SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
    echo "== valgrind memcheck on the ordinary build"
    make -s build/cnn >/dev/null || exit 1
    tmp=$(mktemp -d)
    cnn="$(pwd)/build/cnn"
    vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
        --error-exitcode=99)
    run() { # run EXPECTED_EXIT CMD...: any exit but 99 (valgrind's) is the command's own
        local want=$1; shift
        (cd "$tmp" && OMP_NUM_THREADS=1 "${vg[@]}" "$@") >"$tmp/vg.out" 2>"$tmp/vg.err"
        local rc=$?
        if [ $rc -ne "$want" ]; then
            echo "FAIL (exit $rc, expected $want): ${*#"$cnn"}"; grep '^==' "$tmp/vg.err" | head -30
            failed=1
        else
            echo "ok   ${*#"$cnn"}"
        fi
    }
    M=$CNN_TEST_DATA
    run 0 "$cnn" train --net xo --data xo --limit 64 --test-limit 16 --epochs 2 --quiet --out xo.cnn
    run 0 "$cnn" train --net xo --data xo --limit 64 --test-limit 16 --epochs 3 --quiet --out xo.cnn --resume
    run 0 "$cnn" summary xo.cnn
    run 0 "$cnn" eval xo.cnn --data xo --limit 32
    run 0 "$cnn" train --net "input 28x28; conv 2 3x3; maxpool 2; dense 10; softmax" --data "$M" \
        --limit 100 --test-limit 20 --epochs 1 --quiet --out m.cnn
    run 1 "$cnn" eval xo.cnn --data "$M" --limit 20
    run 1 "$cnn" eval no-such.cnn --data "$M"
    head -c 500 "$tmp/m.cnn" > "$tmp/t.cnn"
    run 1 "$cnn" summary t.cnn
    run 1 "$cnn" summary "input 28x28; conv 8 3x3; frobnicate; softmax"
    run 1 "$cnn" train --net xo --data xo --limit 64 --epochs 1 --quiet --out "$tmp/m.cnn/x.cnn"
    run 1 "$cnn" train --net seed --data "$M" --limit 100 --test-limit 20 --batch 1 --lr 100 \
        --epochs 1 --quiet --out nan.cnn
    run 2 "$cnn" train --lr abc
    rm -rf "$tmp"
fi

[ $failed -eq 0 ] && echo "no leaks" || echo "LEAKS OR MEMORY ERRORS"
exit $failed
