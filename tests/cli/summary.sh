# summary: the shape table of each preset, with the totals a person can check.
set -eu
"$CNN" summary lenet | grep -q "total: 61706 parameters"
"$CNN" summary seed | grep -q "13x13x8\|8x13x13"
"$CNN" summary "input 9x9; conv 3 3x3 nobias; relu; maxpool 2 ceil; maxpool 2 ceil; dense 2; softmax" > s.txt
grep -q "3x4x4" s.txt && grep -q "3x2x2" s.txt
"$CNN" summary convnet --json | python3 -c 'import json,sys; s = json.load(sys.stdin); assert s["params"] == 1199882, s["params"]'
