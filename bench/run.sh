#!/usr/bin/env bash
# cnn against PyTorch and ONNX Runtime, in one go: `cnn bench --json` for
# seed, lenet and convnet on 2 threads and on 1, the PyTorch peer
# (../shared/bench/torch_ref.py) on 1 and 2 threads, NCHW and channels-last,
# then inference alone: `cnn bench --infer-only` and ONNX Runtime
# (bench/ort_ref.js, on the graph `cnn export` writes) taking turns on each
# thread count; the cnn runs also quantize their trained net to int8
# (--int8: its accuracy and speed beside the float one's); then a table of
# ratios and the issue's targets, each PASS or FAIL.  Raw JSON lines:
# bench/results/.
#
#   bench/run.sh [--quick] [--repeat R] [--nets "seed lenet convnet"]
#                [--threads "2 1"] [--no-torch] [--no-ort] [--train-n N]
#                [--table FILE.jsonl]
#
#   --quick      10000 training images instead of 60000 (about 3 min with the
#                peer instead of about 9; cnn alone ~1 min vs ~2)
#   --repeat R   run every configuration R times; the table keeps the best
#   --table F    only print the table of an earlier run's JSON lines
#   --no-ort     leave ONNX Runtime out (also left out, with a note, when
#                onnxruntime-node is not in tests/onnx: scripts/deps.sh test)
#
# Figures drift on a shared machine: the load average is recorded with every
# line; run when `uptime` shows the machine idle, or use --repeat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
train_n=60000 repeat=1 nets="seed lenet convnet" threads="2 1" torch=1 ort=1 table_only=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) train_n=10000 ;;
    --train-n) train_n=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --nets) nets=$2; shift ;;
    --threads) threads=$2; shift ;;
    --no-torch) torch= ;;
    --no-ort) ort= ;;
    --table) table_only=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# The table: per net, cnn on 2 threads (if run) against PyTorch's best
# configuration for each figure (its fastest, its smallest), then the targets.
# cnn's peak RSS is that of training (cnn bench's rss_kb); PyTorch's is its
# whole process, from time(1).
table() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def best(rs, key, low=False):
    rs = [r for r in rs if key in r]
    if not rs:
        return None, None
    r = (min if low else max)(rs, key=lambda r: r[key])
    return r[key], r
def cfg(r):
    if r is None:
        return "-"
    return "%dt%s" % (r["threads"], " cl" if r.get("layout") == "channels_last" else "")
def fmt(v, unit=""):
    return "-" if v is None else ("%.0f%s" % (v, unit) if v >= 100 else "%.3g%s" % (v, unit))
results = []
def target(name, ok, text):
    results.append((name, ok, text))
print()
print("%-8s %-22s %14s %-6s %14s %-7s %8s" % ("net", "figure", "cnn", "", "pytorch best", "", "ratio"))
for net in ("seed", "lenet", "convnet"):
    c_all = [r for r in rows if r.get("peer") == "cnn" and r["net"] == net and r.get("mode") != "infer"]
    t = [r for r in rows if r.get("peer") == "pytorch" and r["net"] == net]
    if not c_all:
        continue
    # the issue's rule: cnn on 2 threads against PyTorch's best configuration
    c = [r for r in c_all if r["threads"] == 2] or c_all
    figs = [("train img/s", "train_ips", False), ("infer b256 img/s", "infer_b256_ips_best", False),
            ("latency b1 us (med)", "lat_b1_us_median", True), ("latency b1 us (p90)", "lat_b1_us_p90", True),
            ("peak RSS MiB", "rss_kb", True), ("test accuracy", "acc_test", False),
            ("train GFLOP/s", "train_gflops", False), ("infer GFLOP/s", "infer_gflops", False)]
    ratio = {}
    for label, key, low in figs:
        cv, cr = best(c, key, low)
        tv, tr = best(t, key, low)
        scale = 1 / 1024 if key == "rss_kb" else 1
        rt = None
        if cv and tv:
            rt = tv / cv if low else cv / tv
        ratio[key] = rt
        print("%-8s %-22s %14s %-6s %14s %-7s %8s" % (
            net, label, fmt(cv and cv * scale), cfg(cr), fmt(tv and tv * scale), cfg(tr),
            "-" if rt is None else "%.2fx" % rt))
    pk, pr = best(c, "peak_gflops")
    cp, cr = best(c, "conv_peak_pct")
    print("%-8s %-22s %14s %-6s (FP32 FMA peak %s GFLOP/s, %s; conv layers in training %s%% of peak)" % (
        net, "simd", c[0]["simd"], "", fmt(pk), cfg(pr), fmt(cp)))
    by_t = {}
    for r in c_all:
        by_t[r["threads"]] = max(by_t.get(r["threads"], 0), r["train_ips"])
    scal = by_t[2] / by_t[1] if 1 in by_t and 2 in by_t else None
    if scal:
        print("%-8s %-22s %14s" % (net, "train 2t/1t scaling", "%.2fx" % scal))
    loads = sorted(r.get("load1", 0) for r in rows if r["net"] == net)
    print("%-8s %-22s %14s" % (net, "load avg (min..max)", "%.2f..%.2f" % (loads[0], loads[-1])))
    print()
    def tgt(name, key, want):
        v = ratio.get(key)
        target(name, None if v is None else v >= want, "%s >= %gx" % ("-" if v is None else "%.2fx" % v, want))
    if net == "seed":
        tgt("N1 seed training vs PyTorch", "train_ips", 20)
        tgt("N1 seed latency vs PyTorch", "lat_b1_us_median", 8)
    if net == "lenet":
        tgt("N2 lenet training vs PyTorch", "train_ips", 4)
    if net == "convnet":
        tgt("N3 convnet training vs PyTorch", "train_ips", 2.5)  # issue 20: 2.5x
        target("N3 convnet conv layers % of FP32 peak", None if cp is None else cp >= 50,
               "%s%% >= 50%%" % fmt(cp))
        tgt("N3 convnet inference b256 vs PyTorch", "infer_b256_ips_best", 2.5)
        tgt("N3 convnet peak memory vs PyTorch", "rss_kb", 5)
    if net in ("lenet", "convnet"):
        target("%s training 2t/1t scaling" % net, None if scal is None else scal >= 1.8,
               "%s >= 1.8x" % ("-" if scal is None else "%.2fx" % scal))
# Inference alone against ONNX Runtime: cnn bench --infer-only on 2 threads
# (if run) against ORT's faster of its thread counts, figure by figure.
ort_rows = [r for r in rows if r.get("peer") == "ort"]
if ort_rows:
    print("against %s (graph optimisation all, sequential, best of its intra-op thread counts;"
          % ort_rows[0].get("runtime", "ONNX Runtime"))
    print("its batch-1 latency includes node's call overhead): cnn bench --infer-only, taking turns")
    probe = [r for r in ort_rows if r["net"] == "probe"]
    if probe:
        print("ORT's batch-1 median on a 9x9 -> 2 dense net (its call overhead through node): %.1f us"
              % probe[0]["lat_b1_us_median"])
    print("%-8s %-22s %14s %-6s %14s %-7s %8s" % ("net", "figure", "cnn", "", "ORT best", "", "ratio"))
for net in ("seed", "lenet", "convnet") if ort_rows else ():
    c_all = [r for r in rows if r.get("peer") == "cnn" and r["net"] == net and r.get("mode") == "infer"]
    o = [r for r in ort_rows if r["net"] == net]
    if not c_all or not o:
        continue
    c = [r for r in c_all if r["threads"] == 2] or c_all
    for label, key, low, want in (("infer b256 img/s", "infer_b256_ips_best", False, 1.5),
                                  ("latency b1 us (med)", "lat_b1_us_median", True, 1.0),
                                  ("latency b1 us (p90)", "lat_b1_us_p90", True, None)):
        cv, cr = best(c, key, low)
        ov, orr = best(o, key, low)
        rt = (ov / cv if low else cv / ov) if cv and ov else None
        print("%-8s %-22s %14s %-6s %14s %-7s %8s" % (
            net, label, fmt(cv), cfg(cr), fmt(ov), cfg(orr), "-" if rt is None else "%.2fx" % rt))
        if want:
            target("O %s %s vs ORT" % (net, "inference b256" if not low else "latency b1"),
                   None if rt is None else rt >= want,
                   "%s >= %gx" % ("-" if rt is None else "%.2fx" % rt, want))
    print()
# int8 (cnn bench --int8): the quantized net against the float one, in the
# same run of the same trained weights, thread count by thread count
int8_rows = [r for r in rows if r.get("peer") == "cnn" and "acc_test_int8" in r]
if int8_rows:
    print("int8 (cnn quantize on 500 training images) against float, the same process:")
    print("%-8s %-3s %16s %16s %9s %12s %12s" % ("net", "thr", "accuracy f/int8", "b256 img/s f",
                                               "int8", "x float", "b1 us int8"))
for net in ("seed", "lenet", "convnet") if int8_rows else ():
    rs = [r for r in int8_rows if r["net"] == net]
    for r in sorted(rs, key=lambda r: r["threads"]):
        ratio = r["infer_b256_ips_best_int8"] / r["infer_b256_ips_best"]
        print("%-8s %-3d %7.2f%% %6.2f%% %16s %9s %11.2fx %12.1f" % (
            net, r["threads"], 100 * r["acc_test"], 100 * r["acc_test_int8"],
            fmt(r["infer_b256_ips_best"]), fmt(r["infer_b256_ips_best_int8"]), ratio,
            r["lat_b1_us_median_int8"]))
    if rs and net != "seed":
        d = max(abs(r["acc_test_int8"] - r["acc_test"]) for r in rs)
        target("Q %s int8 accuracy" % net, d <= 0.003, "%.2f points from float (<= 0.3)" % (100 * d))
        q = max(r["infer_b256_ips_best_int8"] / r["infer_b256_ips_best"] for r in rs)
        target("Q %s int8 b256 vs float" % net, q >= 2.0, "%.2fx >= 2x" % q)
if int8_rows:
    print()
print("targets:")
for name, ok, text in results:
    print("  %-4s %-40s %s" % ("-" if ok is None else "PASS" if ok else "FAIL", name, text))
PY
}
if [ -n "$table_only" ]; then table "$table_only"; exit; fi

# the dataset: real MNIST next to the repository if present, else Fashion-MNIST
if [ -e "$repo/../shared/data/mnist/train-images-idx3-ubyte.gz" ] ||
   [ -e "$repo/../shared/data/mnist/train-images-idx3-ubyte" ]; then
    data_dir=$(cd "$repo/../shared/data/mnist" && pwd) torch_data=mnist
else
    data_dir=/usr/share/datasets/fashion-mnist torch_data=fashion
fi
peer=$repo/../shared/bench/torch_ref.py
ort_dir=$repo/tests/onnx/node_modules/onnxruntime-node
if [ -n "$ort" ] && ! (command -v node >/dev/null && node -e "require('$ort_dir')" 2>/dev/null); then
    echo "run.sh: ONNX Runtime is not installed (onnxruntime-node in tests/onnx/node_modules:" >&2
    echo "  scripts/deps.sh test): the ORT figures are skipped" >&2
    ort=
fi
if [ -n "$torch" ]; then
    missing=
    [ -f "$peer" ] || missing="$missing $peer"
    /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || missing="$missing python3-torch/python3-numpy"
    ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas*.so* >/dev/null 2>&1 ||
        ls /usr/lib/*/openblas-pthread/libopenblas*.so* >/dev/null 2>&1 || missing="$missing libopenblas0-pthread"
    [ -x /usr/bin/time ] || missing="$missing time"
    if [ -n "$missing" ]; then
        echo "run.sh: the PyTorch peer needs:$missing" >&2
        echo "  apt-get install -y python3-torch python3-numpy libopenblas0-pthread time" >&2
        echo "  (or run with --no-torch for cnn's figures alone)" >&2
        exit 1
    fi
fi

# a private copy of the binary: others may rebuild ./cnn while this runs
make -C "$repo" -s >/dev/null
mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M%S)
out="$here/results/run-$stamp.jsonl"
bin=$(mktemp -d)/cnn
cp "$repo/build/cnn" "$bin"
trap 'rm -rf "$(dirname "$bin")"' EXIT

# ORT's graphs: each net trained a little (the weights do not change the
# speed) and exported, with its input shape for the peer
ort_model() {
    local m="$(dirname "$bin")/$1"
    "$bin" train --net "$1" --data "$data_dir" --limit 512 --test-limit 256 --epochs 1 --quiet \
        --out "$m.cnn" && "$bin" export "$m.cnn" --onnx "$m.onnx" &&
        "$bin" summary "$m.cnn" | awk '$2 == "input" { gsub("x", ",", $3); print $3 }' >"$m.shape"
}
if [ -n "$ort" ]; then
    for net in $nets; do ort_model "$net"; done
    # what a call costs ORT through node alone: a net of 162 multiply-adds
    probe="$(dirname "$bin")/probe"
    "$bin" train --net "input 9x9; dense 2; softmax" --data xo --limit 64 --test-limit 16 \
        --epochs 1 --quiet --out "$probe.cnn" && "$bin" export "$probe.cnn" --onnx "$probe.onnx"
    node "$here/ort_ref.js" "$probe.onnx" --net probe --shape 1,9,9 --threads 1 --test-n 256 \
        --reps 1 >>"$out"
fi
load() { cut -d' ' -f1 /proc/loadavg; }
start=$(date +%s)
echo "# $(date -Is) $(uname -n) $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(load); data $data_dir; train-n $train_n" >&2

# Discarded runs first, on every thread count: on these VMs the first
# process after an idle spell ran 20-30% slow (the host's clocks and
# scheduling ramp up), which would fall on whichever configuration happens
# to come first.
echo "warm-up: cnn bench --net seed --threads ${threads// /,}, not recorded (load $(load))" >&2
"$bin" bench --json --net seed --threads "${threads// /,}" --data "$data_dir" --train-n 20000 \
    --no-layers --lat-n 100 --infer-reps 1 >/dev/null

for r in $(seq "$repeat"); do
    for net in $nets; do
        for t in $threads; do
            echo "cnn bench --net $net --threads $t (load $(load))" >&2
            "$bin" bench --json --int8 --net "$net" --threads "$t" --data "$data_dir" --train-n "$train_n" >>"$out"
        done
        # inference alone, cnn and ORT in turn on each thread count
        for t in $threads; do
            [ -n "$ort" ] || break
            echo "cnn bench --infer-only --net $net --threads $t (load $(load))" >&2
            "$bin" bench --json --infer-only --net "$net" --threads "$t" --data "$data_dir" >>"$out"
            echo "ort_ref.js --net $net --threads $t (load $(load))" >&2
            l0=$(load) m="$(dirname "$bin")/$net"
            line=$(node "$here/ort_ref.js" "$m.onnx" --net "$net" --shape "$(cat "$m.shape")" \
                   --threads "$t")
            echo "${line%\}}, \"load1\": $l0}" >>"$out"
        done
        [ -n "$torch" ] || continue
        for t in $threads; do
            for layout in "" --channels-last; do
                echo "torch_ref.py --net $net --threads $t $layout (load $(load))" >&2
                l0=$(load)
                tf=$(mktemp)
                line=$(/usr/bin/time -f %M -o "$tf" /usr/bin/python3 "$peer" --net "$net" --threads "$t" \
                       --data "$torch_data" --train-n "$train_n" $layout | tail -1)
                rss=$(tail -1 "$tf"); rm -f "$tf"
                # the peer reports no memory figure: its peak RSS comes from time(1)
                echo "${line%\}}, \"rss_kb\": $rss, \"load1\": $l0}" >>"$out"
            done
        done
    done
done
echo "# $(( $(date +%s) - start )) s, load $(load) at the end; raw: $out" >&2
table "$out"
