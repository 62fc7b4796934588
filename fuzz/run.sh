#!/usr/bin/env bash
# Builds the libFuzzer targets from the library sources and runs each for
# SECONDS (default 60) on a corpus generated here.  Fails if any target
# crashes, leaks, times out or runs out of memory.
#   fuzz/run.sh [SECONDS] [TARGET...]      targets: idx image spec model onnx
# Environment: CC (default clang), FUZZ_DIR (work folder, default
# build-fuzz), FUZZ_JOBS (targets run at once, default 2), FUZZ_SEED (libFuzzer
# -seed, default 1: the same mutations on every run of the same corpus).
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=${*:-idx image spec model onnx}
cc=${CC:-clang}
out=${FUZZ_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
mkdir -p "$out"

# The generic kernels only (no -DCNN_HAVE_X86_KERNELS): the SIMD files need
# their own -m flags and are tested against the generic path elsewhere.
# CNN_NET_MAX_BYTES lowers the library's cap on a network's memory so that a
# spec of huge layers is refused well inside libFuzzer's 2 GB limit.
# ONNX as in the Makefile's default build: src/onnx/ on protobuf-c's code
# for Debian's onnx.proto, generated into $out/gen, and without
# src/onnx_none.c (the stubs of a build without ONNX).
lib=$(ls src/*.c src/data/*.c src/kernels/*.c src/onnx/*.c |
      grep -v -e '_avx2\.c$' -e '_avx512\.c$' -e '_vnni\.c$' -e '^src/onnx_none\.c$')
flags="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unknown-pragmas
       -Iinclude -Isrc -I/usr/include/stb -I$out/gen -DCNN_ONNX
       -DCNN_NET_MAX_BYTES=((size_t)256<<20)
       -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
san="-fsanitize=fuzzer,address,undefined"
libs="-lprotobuf-c -lz -ljpeg -lm"

echo "building in $out/"
proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
gen="$out/gen/onnx.pb-c.c"
if [ ! -e "$gen" ] || [ "$proto" -nt "$gen" ]; then
    mkdir -p "$out/gen"
    cp "$proto" "$out/gen/onnx.proto" && (cd "$out/gen" && protoc-c --c_out=. onnx.proto) || exit 1
fi
# the library once, instrumented, then each target
objs=()
for f in $lib fuzz/stb_impl.c "$gen"; do
    o="$out/obj/${f//\//_}.o"
    mkdir -p "$out/obj"
    newer=("$f" include/cnn.h)
    [ "$f" != "${f#src/onnx/}" ] && newer+=(src/onnx/onnx.h "$gen")
    stale=0
    for d in "${newer[@]}"; do [ "$d" -nt "$o" ] && stale=1; done
    if [ ! -e "$o" ] || [ $stale = 1 ]; then
        # stb's own code is not ours to hold to -Werror; and stb_image 2.27
        # adds 0 to, and copies 0 bytes to, a NULL pointer on an empty first
        # IDAT chunk (harmless, but UBSan stops there).  ASan still watches
        # every access stb makes.
        # protoc-c's output is not ours either: -w, but fully instrumented.
        extra=""; [ "$f" = fuzz/stb_impl.c ] && extra="-w -fno-sanitize=pointer-overflow,nonnull-attribute"
        [ "$f" = "$gen" ] && extra="-w"
        $cc $flags -fsanitize=fuzzer-no-link,address,undefined $extra -c "$f" -o "$o" || exit 1
    fi
    objs+=("$o")
done
for t in $targets; do
    $cc $flags $san "fuzz/fuzz_$t.c" "${objs[@]}" $libs -o "$out/fuzz_$t" || exit 1
done
# make_corpus: the library without instrumentation (the generated code,
# again with -w, as its own object)
$cc $flags -w -c "$gen" -o "$out/gen/onnx.pb-c.o" || exit 1
$cc $flags fuzz/make_corpus.c $lib "$out/gen/onnx.pb-c.o" $libs -lstb -o "$out/make_corpus" || exit 1
rm -rf "$out/seeds"
"$out/make_corpus" "$out/seeds" || exit 1

run_one() {
    local t=$1 corpus="$out/corpus/$1"
    mkdir -p "$corpus" "$out/crashes/$t"
    # -rss_limit_mb: an input that makes the library allocate more is a bug.
    # -max_len: model and onnx files carry weights (the seed preset's ONNX
    # export is 55 KB, convbn.onnx 30 KB; make_corpus.c leaves out the
    # 248 KB lenet5.onnx); the other inputs are small.
    local max_len=8192
    case $t in model | onnx) max_len=65536 ;; esac
    "$out/fuzz_$t" "$corpus" "$out/seeds/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -seed="${FUZZ_SEED:-1}" \
        -timeout=20 -max_len=$max_len \
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
