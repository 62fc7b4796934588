# A newcomer's first hour: the quickstart run from elsewhere with a relative
# model path, its closing predict line run exactly as printed; eval without
# --data; class names kept in the model and shown; a note when the data's
# classes are not the model's.
set -eu
repo=$(cd "$(dirname "$CNN")/.." && pwd)
mkdir -p out
bash "$repo/scripts/quickstart.sh" "" out/seed.cnn > qs.log
[ -f out/seed.cnn ] && [ -f out/sample.pgm ] || { echo "the quickstart wrote no out/seed.cnn"; exit 1; }
line=$(tail -n 1 qs.log)
case "$line" in "  "*"predict out/seed.cnn out/sample.pgm") ;;
*) echo "unexpected closing line: $line"; exit 1 ;; esac
sed -n 's/.*(a \(.*\)) written to.*/\1/p' qs.log > want.txt
eval "$line" > got.txt
grep -q "^out/sample.pgm: $(cat want.txt) (" got.txt || { cat qs.log got.txt; exit 1; }
grep -q "^classes: 0 T-shirt/top, 1 Trouser" qs.log || { echo "eval shows no class names"; exit 1; }

# A tiny IDX set with Fashion-MNIST's first sixteen labels is named as
# Fashion-MNIST (by content), and one with other labels is not.
python3 - <<'PY'
import gzip, os, struct
def idx(d, labels):
    os.makedirs(d, exist_ok=True)
    n = len(labels)
    for split in ("train", "t10k"):
        img = bytes((i * 7 + j) % 256 for i in range(n) for j in range(784))
        open(f"{d}/{split}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + img)
        open(f"{d}/{split}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + bytes(labels))
fm_train = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 4, 6, 8]
idx("fashionish", fm_train)
idx("digits", [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9])
PY
# (the test split of "fashionish" has the train split's labels: not Fashion's test)
"$CNN" train --net seed --data fashionish --epochs 1 --quiet --out f.cnn
"$CNN" predict f.cnn out/sample.pgm | grep -Eq "T-shirt/top [0-9.]+ Trouser" ||
    { echo "predict shows no class names"; exit 1; }
"$CNN" predict f.cnn out/sample.pgm --json | grep -q '"name":"' || exit 1
"$CNN" eval f.cnn --data digits 2> note.txt > /dev/null
grep -q "^cnn: note: the data's classes (0, 1, 2, ...) are not the model's (T-shirt/top, Trouser, Pullover, ...)" note.txt ||
    { cat note.txt; echo "no note on other data"; exit 1; }

# eval and report without --data: the recorded data when it is here, else a
# question, never another data set.
"$CNN" train --net seed --data digits --epochs 1 --quiet --out d.cnn
"$CNN" eval d.cnn > e.txt 2> e.err
grep -q "^cnn: eval: on $PWD/digits, the data the model was trained on" e.err || { cat e.err; exit 1; }
grep -q "(20 of 20)\|of 20)" e.txt
mv digits gone
rc=0; "$CNN" eval d.cnn > /dev/null 2> e.err || rc=$?
[ "$rc" = 2 ] && grep -q "which data? the model was trained on '$PWD/digits', which is not here; give --data DIR" e.err ||
    { echo "rc $rc"; cat e.err; exit 1; }
rc=0; "$CNN" report d.cnn --out r > /dev/null 2> e.err || rc=$?
[ "$rc" = 2 ] && grep -q "which data?" e.err || { echo "rc $rc"; cat e.err; exit 1; }
echo "first hour: ok"
