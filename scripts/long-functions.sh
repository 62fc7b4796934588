#!/usr/bin/env bash
# No function over 80 lines in src/ and tools/ (issue 16): one that reads on
# one screen can be checked by eye.  A function, for this check: a line that
# starts at column 0 with an identifier and holds '(' (the signature, perhaps
# continued on indented lines), then a line that is exactly '{', to the next
# line that is exactly '}'; its length counts from the signature's first line
# to that brace.  Functions still too long today are listed below as known,
# each to be split; a new one fails, and so does a known one that is short
# now (delete its line).
set -eu
cd "$(dirname "$0")/.."
limit=80
# file                    function
known='
'
# FILE NAME LINES for every function over the limit
files=$(find src tools -name '*.c' | grep -E '^(src/.*|tools/[^/]*)\.c$' | sort)
long=$(awk -v limit=$limit '
    FNR == 1 { name = ""; body = 0 }
    body && $0 == "}" {
        if (FNR - start + 1 > limit) print FILENAME, name, FNR - start + 1
        body = 0; name = ""; next
    }
    body { next }
    /^[A-Za-z_]/ && index($0, "(") {
        s = substr($0, 1, index($0, "(") - 1)
        sub(/[ \t]+$/, "", s)
        n = split(s, w, /[^A-Za-z0-9_]+/)
        name = w[n]; start = FNR; next
    }
    name != "" && $0 == "{" { body = 1; next }
    name != "" && !/^[ \t]/ { name = "" }
' $files)
bad=0 seen=""
while read -r f name n; do
    [ -n "$f" ] || continue
    if grep -Eq "^$f +$name\$" <<< "$known"; then
        seen="$seen $f:$name"
        continue
    fi
    echo "long-functions: $f: $name $n lines" >&2
    bad=1
done <<< "$long"
while read -r f name; do
    [ -n "$f" ] || continue
    [[ " $seen " == *" $f:$name "* ]] || { echo "long-functions: $f: $name is no longer over $limit lines: remove it from the known list" >&2; bad=1; }
done <<< "$known"
left=$(wc -w <<< "$seen")
[ $bad = 0 ] && echo "long-functions: no function is over $limit lines$([ "$left" = 0 ] || echo " but the $left known ones")"
exit $bad
