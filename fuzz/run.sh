#!/usr/bin/env bash
# Builds the libFuzzer targets from the library sources and runs each for
# SECONDS (default 60) on a corpus generated here.  Fails if any target
# crashes, leaks, times out or runs out of memory.
#   fuzz/run.sh [SECONDS] [TARGET...]      targets: idx image spec model
# Environment: CC (default clang), FUZZ_DIR (work folder, default
# build-fuzz), FUZZ_JOBS (targets run at once, default 2), FUZZ_SEED (libFuzzer
# -seed, default 1: the same mutations on every run of the same corpus).
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=${*:-idx image spec model}
cc=${CC:-clang}
out=${FUZZ_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
mkdir -p "$out"

# The generic kernels only (no -DCNN_HAVE_X86_KERNELS): the SIMD files need
# their own -m flags and are tested against the generic path elsewhere.
# CNN_NET_MAX_BYTES lowers the library's cap on a network's memory so that a
# spec of huge layers is refused well inside libFuzzer's 2 GB limit.
lib=$(ls src/*.c src/data/*.c src/kernels/*.c | grep -v -e '_avx2\.c$' -e '_avx512\.c$')
flags="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unknown-pragmas
       -Iinclude -Isrc -I/usr/include/stb -DCNN_NET_MAX_BYTES=((size_t)256<<20)
       -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
san="-fsanitize=fuzzer,address,undefined"

echo "building in $out/"
# the library once, instrumented, then each target
objs=()
for f in $lib fuzz/stb_impl.c; do
    o="$out/obj/${f//\//_}.o"
    mkdir -p "$out/obj"
    if [ ! -e "$o" ] || [ "$f" -nt "$o" ] || [ include/cnn.h -nt "$o" ]; then
        # stb's own code is not ours to hold to -Werror; and stb_image 2.27
        # adds 0 to, and copies 0 bytes to, a NULL pointer on an empty first
        # IDAT chunk (harmless, but UBSan stops there).  ASan still watches
        # every access stb makes.
        extra=""; [ "$f" = fuzz/stb_impl.c ] && extra="-w -fno-sanitize=pointer-overflow,nonnull-attribute"
        $cc $flags -fsanitize=fuzzer-no-link,address,undefined $extra -c "$f" -o "$o" || exit 1
    fi
    objs+=("$o")
done
for t in $targets; do
    $cc $flags $san "fuzz/fuzz_$t.c" "${objs[@]}" -lz -ljpeg -lm -o "$out/fuzz_$t" || exit 1
done
$cc $flags fuzz/make_corpus.c $lib -lz -ljpeg -lstb -lm -o "$out/make_corpus" || exit 1
rm -rf "$out/seeds"
"$out/make_corpus" "$out/seeds" || exit 1

run_one() {
    local t=$1 corpus="$out/corpus/$1"
    mkdir -p "$corpus" "$out/crashes/$t"
    # -rss_limit_mb: an input that makes the library allocate more is a bug.
    "$out/fuzz_$t" "$corpus" "$out/seeds/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -seed="${FUZZ_SEED:-1}" \
        -timeout=20 -max_len=$([ "$t" = model ] && echo 65536 || echo 8192) \
        -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 >"$out/$t.log" 2>&1
    local rc=$?
    local execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -1)
    if [ $rc -eq 0 ]; then
        echo "ok   $t: ${execs:-?} executions in ${secs}s"
    else
        echo "FAIL $t (exit $rc): see $out/$t.log and $out/crashes/$t/"
        grep -m1 -E "ERROR|SUMMARY|runtime error" "$out/$t.log" | sed 's/^/  /'
    fi
    return $rc
}

failed=0 running=0 pids=()
for t in $targets; do
    run_one "$t" > "$out/$t.result" &
    pids+=($!)
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait -n; running=$((running - 1))
    fi
done
wait
for t in $targets; do
    cat "$out/$t.result"
    grep -q '^ok ' "$out/$t.result" || failed=1
done
exit $failed
