#!/usr/bin/env bash
# The newcomer's check: a new Debian 12 root (mmdebstrap, with only git and
# ca-certificates), the current commit cloned into it with nothing beside it,
# then the README's two commands run exactly as the README writes them, and
# the README's install example.  Prints each command's closing line, exit
# code and time, and the packages the project's scripts installed.
#   scripts/fresh-check.sh [--keep]       (as root; FRESH_ROOT=DIR reuses a root)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
keep=${1:-}
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root (it builds a chroot)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || {
    echo "installing: mmdebstrap (to build the fresh Debian root)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }

# The README's two commands: the first indented line under "## The two
# commands", and the indented "make test".
first=$(sed -n '/^## The two commands/,/^## /p' "$repo/README.md" | sed -n 's/^    \(.*\)/\1/p' | head -n 1)
second=$(sed -n '/^## The two commands/,/^## /p' "$repo/README.md" | sed -n 's/^    \(make test\)$/\1/p' | head -n 1)
[ -n "$first" ] && [ -n "$second" ] || { echo "fresh-check: README names no two commands" >&2; exit 1; }

# Mounts are lazily detached first, and the root removed without crossing
# into any file system still mounted in it: the host's /dev is never touched.
cleanup() {
    for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
    [ "$keep" = --keep ] || [ -n "${FRESH_ROOT:-}" ] ||
        rm -rf --one-file-system "$root" "$root.bootstrap.log"
}
root=${FRESH_ROOT:-}
if [ -z "$root" ]; then
    root=$(mktemp -d /var/tmp/cnn-fresh.XXXXXX)
    trap cleanup EXIT
    # the host's own Debian mirror, the only one reachable
    mirror=$(sed -n 's/^URIs: *\(.*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
    mirror=${mirror:-http://deb.debian.org/debian}
    start=$SECONDS
    mmdebstrap --quiet --variant=apt --include=git,ca-certificates bookworm "$root" "$mirror" \
        > "$root.bootstrap.log" 2>&1 || { tail -20 "$root.bootstrap.log"; exit 1; }
    echo "fresh-check: Debian 12 root in $((SECONDS - start)) s ($root)"
fi
trap cleanup EXIT
mount -t proc proc "$root/proc"; mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# and the host's own certificate authorities, as its resolver: where a proxy
# stands between this machine and the registries (npm's, for onnxruntime),
# it signs for them, and the root must trust what the host trusts
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi
rm -rf "$root/root/cnn"
git clone -q "$repo" "$root/root/cnn" && git -C "$root/root/cnn" checkout -q "$commit"
chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$root/before.txt"

run() { # NAME COMMAND: in the checkout inside the root, as a login shell would
    local name=$1 start=$SECONDS rc=0; shift
    local log=$root/log-${name//[^a-z]/_}.log
    chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        TERM=dumb bash -c "cd /root/cnn && $*" > "$log" 2>&1 || rc=$?
    printf '%-16s exit %d, %d s, last line: %s\n' "$name:" "$rc" $((SECONDS - start)) \
        "$(tail -n 1 "$log")" >> "$root/summary.txt"
    grep '^installing:' "$log" | sed 's/^/    /' >> "$root/summary.txt" || true
    return $rc
}
: > "$root/summary.txt"
status=0
run "$first" "$first" || status=1
run "$second" "$second" || status=1
run "install example" 'make -s install PREFIX=/usr/local >/dev/null && cc examples/train_xo.c $(pkg-config --cflags --libs cnn) -o /tmp/train_xo && /tmp/train_xo' || status=1
run "make web" 'scripts/deps.sh web && make -s web >/dev/null && tests/web/run.sh' || status=1
chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$root/after.txt"
echo "fresh-check: Debian $(cat "$root/etc/debian_version") root, commit ${commit:0:7}"
cat "$root/summary.txt"
echo "packages added to the root: $(comm -13 "$root/before.txt" "$root/after.txt" | wc -l)"
if [ $status != 0 ]; then
    for f in "$root"/*.log; do echo "== $f"; tail -n 25 "$f"; done
    echo "fresh-check: FAILED"
else
    echo "fresh-check: both README commands, the install example and the page passed on a fresh root"
fi
exit $status
