#!/usr/bin/env bash
# The house map, checked: every #include "..." in src/ and tools/ must follow
# an allowed arrow (data flows down: tools -> library API -> net (plan,
# executor, step) -> layers (which know nothing of the net) ->
# kernels; kernels know arrays only).  Arrows that go against it today are
# listed below as known, each to be removed by the core redesign (issue 16);
# a new one fails, and so does a known one that is gone (delete its line).
set -eu
cd "$(dirname "$0")/.."
# part of the tree        what it may include ("..." headers only; cnn.h always;
#                         - for nothing else: model files go through the API)
allowed='
src/kernels/             src/kernels/
src/data/                src/data/ src/kernels/
src/                     src/net.h src/layer.h src/kernels/ src/data/data.h
src/model.c              src/file.h
src/file.c               src/file.h
src/onnx_none.c          -
src/onnx/                src/file.h src/onnx/ onnx.pb-c.h
src/activation.c         src/layer.h src/kernels/
src/conv.c               src/layer.h src/kernels/
src/dense.c              src/layer.h src/kernels/
src/dropout.c            src/layer.h src/kernels/
src/flatten.c            src/layer.h src/kernels/
src/pool.c               src/layer.h src/kernels/
src/softmax.c            src/layer.h src/kernels/
tools/                   tools/
'
# from-file               to-header                  why it is still there
known='
'
resolve() { # FILE HEADER -> path of the header from the repo root
    local dir; dir=$(dirname "$1")
    for d in "$dir" src include; do
        [ -f "$d/$2" ] && { realpath --relative-to=. "$d/$2"; return; }
    done
    echo "$2"
}
part_of() { # the longest part in $allowed that FILE is under
    awk -v f="$1" 'NF { if (index(f, $1) == 1 && length($1) > length(best)) { best = $1; line = $0 } }
        END { print line }' <<< "$allowed"
}
bad=0 seen=""
for f in $(git ls-files 'src/*.c' 'src/*.h' 'tools/*.c' 'tools/*.h'); do
    rule=$(part_of "$f")
    for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
        to=$(resolve "$f" "$h")
        [ "$to" = include/cnn.h ] && continue
        ok=0
        for a in $(cut -d' ' -f2- <<< "$rule"); do
            case "$to" in "$a"*) ok=1 ;; esac
        done
        [ $ok = 1 ] && continue
        if grep -Eq "^$f +$to " <<< "$known"; then
            seen="$seen $f>$to"
            continue
        fi
        echo "check-arrows: $f includes $to, against the house map" >&2
        bad=1
    done
done
while read -r f to _; do
    [ -n "$f" ] || continue
    [[ " $seen " == *" $f>$to "* ]] || { echo "check-arrows: $f no longer includes $to: remove it from the known list" >&2; bad=1; }
done <<< "$known"
[ $bad = 0 ] && echo "check-arrows: every include follows the house map ($(wc -w <<< "$seen") known exceptions left)"
exit $bad
