#!/usr/bin/env bash
# cnn train killed (SIGKILL) at random moments, again and again, and resumed
# each time with --resume.  After every kill the model and checkpoint on disk,
# when present, must load; a run finished through any number of kills must
# hold the same network, weights and training history as an uninterrupted
# run with the same seed.
#
# Only the wall-clock fields may differ: META's creation time and each
# epoch's seconds (and so the CRC).  Everything else is compared byte for
# byte.  Runs in the current folder; KILLS (default 24) kills in all, fewer
# (at least 12) when the machine is too busy to reach them in a minute.
set -u
: "${CNN:?}" "${CNN_TEST_DATA:?}"
kills_wanted=${KILLS:-24}
min_kills=$(( kills_wanted < 12 ? kills_wanted : 12 ))
fail() { echo "kill_resume: $*" >&2; exit 1; }

# A small MNIST (1500 + 200 images) cut from the real one, so that each
# restart loads its data in no time: big-endian IDX headers, then the bytes.
be32() { local i; for i in 24 16 8 0; do printf "\\$(printf %03o $(($1 >> i & 255)))"; done; }
cut_idx() { # SPLIT(train|t10k) N
    local src="$CNN_TEST_DATA/$1" n=$2
    { printf '\0\0\x08\x03'; be32 "$n"; be32 28; be32 28
      zcat "$src-images-idx3-ubyte.gz" | tail -c +17 | head -c $((n * 784)); } > mini/$1-images-idx3-ubyte
    { printf '\0\0\x08\x01'; be32 "$n"
      zcat "$src-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$n"; } > mini/$1-labels-idx1-ubyte
}
mkdir -p mini && cut_idx train 1500 && cut_idx t10k 200 || fail "cannot cut a small MNIST"
args=(--net lenet --data mini --epochs 3 --batch 32 --seed 7 --quiet)

# Little-endian u64 at an offset of a file.
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }

# Byte ranges (1-based, as cmp -l counts) allowed to differ between two runs:
# META's created (payload offset 76..83), each history record's seconds
# (payload 1184 + 20 r + 16..19), and the CRC (the last 4 bytes).
allowed_diffs() {
    local f=$1 spec meta start size
    spec=$(u64 "$f" 24)              # SPEC: tag at 20, length at 24, text at 32
    meta=$((32 + spec))              # META tag
    start=$((meta + 12))             # META payload
    size=$(stat -c %s "$f")
    echo "$((start + 77)) $((start + 84))"
    local count r
    count=$(od -An -tu4 -j $((start + 1180)) -N4 "$f" | tr -d ' ')
    [ "$count" -le 256 ] || fail "$f: $count history records"
    for ((r = 0; r < count; r++)); do
        echo "$((start + 1184 + 20 * r + 17)) $((start + 1184 + 20 * r + 20))"
    done
    echo "$((size - 3)) $size"
}

same_run() {
    local a=$1 b=$2
    [ "$(stat -c %s "$a")" = "$(stat -c %s "$b")" ] || return 1
    local ranges pos lo hi ok
    ranges=$(allowed_diffs "$a")
    while read -r pos _; do
        ok=0
        while read -r lo hi; do
            [ "$pos" -ge "$lo" ] && [ "$pos" -le "$hi" ] && { ok=1; break; }
        done <<< "$ranges"
        [ $ok = 1 ] || { echo "byte $pos differs" >&2; return 1; }
    done < <(cmp -l "$a" "$b")
    return 0
}

loads() {
    local f=$1 out
    [ -e "$f" ] || return 0
    out=$("$CNN" summary "$f" 2>&1 >/dev/null) || fail "after kill $kills: $f does not load: $out"
}

# The reference: one uninterrupted run, timed to spread the kills over it.
t0=$(date +%s%N)
"$CNN" train "${args[@]}" --out ref.cnn || fail "the uninterrupted run failed"
run_ms=$((($(date +%s%N) - t0) / 1000000))
[ -e ref.cnn.ckpt ] || fail "no checkpoint after the uninterrupted run"

kills=0 cycles=0 start=$SECONDS
while [ $kills -lt "$kills_wanted" ]; do
    # a busy machine: settle for fewer kills rather than run for minutes
    [ $((SECONDS - start)) -gt 60 ] && [ $kills -ge "$min_kills" ] && break
    [ $((SECONDS - start)) -gt 170 ] && fail "too slow: $kills kills in $((SECONDS - start)) s"
    rm -f run.cnn run.cnn.ckpt run.cnn.tmp*
    restarts=0
    while :; do
        resume=()
        [ -e run.cnn.ckpt ] && resume=(--resume)
        t0=$(date +%s%N)
        "$CNN" train "${args[@]}" --out run.cnn "${resume[@]}" 2>err.log &
        pid=$!
        # A moment anywhere from data loading to the last save; the window
        # grows with each restart so that every cycle ends.
        ms=$((RANDOM * run_ms * (2 + restarts) / 4 / 32768))
        sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
        if kill -KILL $pid 2>/dev/null; then
            wait $pid 2>/dev/null
            kills=$((kills + 1)) restarts=$((restarts + 1))
            loads run.cnn
            loads run.cnn.ckpt
            [ $restarts -gt 40 ] && fail "no progress after 40 restarts"
            continue
        fi
        wait $pid || fail "a run (resume: ${resume[*]:-no}) failed: $(cat err.log)"
        # a whole run ended before the kill: the machine is faster than the
        # reference run suggested, so aim the kills earlier
        [ $restarts -eq 0 ] && run_ms=$((($(date +%s%N) - t0) / 1000000))
        break
    done
    cycles=$((cycles + 1))
    [ -e run.cnn ] || fail "the run ended without a model"
    same_run ref.cnn run.cnn || fail "the model after $restarts kills differs from the uninterrupted one"
    same_run ref.cnn.ckpt run.cnn.ckpt ||
        fail "the checkpoint after $restarts kills differs from the uninterrupted one"
    echo "cycle $cycles: $restarts kills, same model and checkpoint as the uninterrupted run"
done
echo "$kills kills in $cycles runs, $((SECONDS - start)) s: every file loaded, every model the same"
