# cnn report, opened in a real browser (headless Chromium): the page's own
# check script must find every <img> decoded (naturalWidth > 0) and every table
# filled, and the page must not reach for the network.
set -eu
browser=${CHROMIUM:-/usr/bin/chromium}
if ! [ -x "$browser" ]; then
    echo "report_chromium: $browser not found: install Debian's chromium (apt-get install chromium)" >&2
    exit 1
fi
"$CNN" train --net seed --data "$CNN_TEST_DATA" --limit 500 --test-limit 200 --epochs 2 \
    --out m.cnn --quiet
"$CNN" report m.cnn --data "$CNN_TEST_DATA" --limit 200 --out rep > out.txt
grep -q "^wrote rep/report.html" out.txt
if grep -Eq '(src|href)="(https?:)?//' rep/report.html; then
    echo "the report links outside itself" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --dump-dom "file://$PWD/rep/report.html" > dom.html 2> browser.log || {
    echo "chromium failed:" >&2; tail -5 browser.log >&2; exit 1; }
verdict=$(sed -n 's:.*<div id="check">\([^<]*\)</div>.*:\1:p' dom.html)
echo "page says: $verdict"
case "$verdict" in
OK:*) ;;
*) echo "the page's check did not pass (or did not run)" >&2; exit 1 ;;
esac
# the seed net: curves, 1 filter grid, 3 x 5 feature maps, confusion, mistakes
python3 - <<'PY'
import re
v = open("dom.html").read()
n = int(re.search(r'<div id="check">OK: (\d+) images', v).group(1))
assert n == 1 + 1 + 3 * 5 + 1 + 1, n
for t in ("layers", "history", "confusion", "mistakes"):
    assert f'<table id="{t}">' in v, t
PY
