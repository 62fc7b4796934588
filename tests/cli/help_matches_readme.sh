# The README's usage block and every command's --help cannot drift: each
# command's usage line (its --help's first line, less "usage: ") is in the
# README's tool block, word for word, and the block names no other command.
set -eu
repo=$(cd "$(dirname "$CNN")/.." && pwd)
block=$(sed -n '/^## The tool/,/^NET is/p' "$repo/README.md" | sed -n 's/^    \(cnn [a-z]*.*\)/\1/p')
[ -n "$block" ] || { echo "README has no usage block under '## The tool'"; exit 1; }
cmds=$("$CNN" --help | sed -n 's/^  \([a-z][a-z]*\) \+[a-z].*/\1/p')
[ -n "$cmds" ] || { echo "cnn --help lists no commands"; exit 1; }
for c in $cmds; do
    usage=$("$CNN" "$c" --help | head -n 1 | sed 's/^usage: //')
    grep -qxF "$usage" <<< "$block" || { echo "README lacks: $usage"; echo "README has:"; echo "$block"; exit 1; }
done
while read -r line; do
    c=$(awk '{print $2}' <<< "$line")
    grep -qx "$c" <<< "$cmds" || { echo "README names a command cnn does not have: $line"; exit 1; }
done <<< "$block"
echo "usage lines agree for: $(echo $cmds)"
