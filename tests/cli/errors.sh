#!/usr/bin/env bash
# Every error path of the command line: each must print exactly one line on
# stderr, starting "cnn: ", nothing on stdout, and exit 2 (the command line
# was wrong) or 1 (the work failed).  Runs in the current folder.
set -u
: "${CNN:?}" "${CNN_TEST_DATA:?}"
M=$CNN_TEST_DATA
bad=0

# expect CODE PATTERN CMD...: exit CODE, one "cnn: " line matching PATTERN
# (an extended regular expression, case-insensitive), empty stdout.
expect() {
    local code=$1 pattern=$2
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$? lines
    lines=$(wc -l <err.txt)
    local why=""
    [ $rc -eq "$code" ] || why="exit $rc, expected $code"
    [ "$lines" -eq 1 ] || why="$why; $lines lines on stderr"
    head -1 err.txt | grep -q '^cnn: ' || why="$why; stderr does not start with 'cnn: '"
    grep -qiE -- "$pattern" err.txt || why="$why; message does not match /$pattern/"
    [ -s out.txt ] && why="$why; output on stdout"
    if [ -n "$why" ]; then
        echo "FAIL: ${*#"$CNN"}"
        echo "      $why"
        sed 's/^/      stderr: /' err.txt | head -5
        sed 's/^/      stdout: /' out.txt | head -3
        bad=$((bad + 1))
    else
        echo "ok   [$code] ${*#"$CNN"}: $(cat err.txt)"
    fi
}

# ---- fixtures -----------------------------------------------------------
xo=(--net xo --data xo --limit 64 --test-limit 16 --epochs 1 --quiet)
"$CNN" train "${xo[@]}" --out xo.cnn >/dev/null || { echo "cannot train the xo fixture"; exit 1; }
"$CNN" train --net "input 28x28; dense 10; softmax" --data "$M" --limit 200 --test-limit 50 \
    --epochs 1 --quiet --out mnist.cnn >/dev/null || { echo "cannot train the MNIST fixture"; exit 1; }
size=$(stat -c %s mnist.cnn)
head -c $((size / 2)) mnist.cnn > truncated.cnn
cp mnist.cnn corrupt.cnn
printf '\x55' | dd of=corrupt.cnn bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
head -c 20 mnist.cnn > header-only.cnn
: > empty.cnn
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0' > picture.png
echo "this is not an image" > notes.png
mkdir -p textidx && for f in train-images-idx3-ubyte train-labels-idx1-ubyte \
    t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do echo "hello, world" > textidx/$f; done
# gzip files cut short: the training split's images (both splits broken:
# the two are read side by side, and the training split's problem is the
# one said), and the test split's alone; --limit reads only the first
# images, so the cut shows in the trailer's length
mkdir -p cutboth cuttest
for d in cutboth cuttest; do cp "$M"/*.gz $d/; done
for f in cutboth/train-images-idx3-ubyte.gz cutboth/t10k-images-idx3-ubyte.gz \
    cuttest/t10k-images-idx3-ubyte.gz; do
    head -c $(( $(stat -c %s "$f") - 100 )) "$f" > cut.tmp && mv cut.tmp "$f"
done
mkdir -p emptydir
echo "i am a file" > afile
printf 'input 28x28\nconv 8 3x3\nfrobnicate 3\nsoftmax\n' > typo.net

# ---- the command line (exit 2) --------------------------------------------
expect 2 "unknown command" "$CNN" frobnicate
expect 2 "unknown option '--bogus'" "$CNN" train --bogus
expect 2 "unknown option" "$CNN" eval mnist.cnn --bogus 1
expect 2 "--epochs.*0" "$CNN" train --epochs 0
expect 2 "--epochs" "$CNN" train --epochs 1.5
expect 2 "--lr.*abc" "$CNN" train --lr abc
expect 2 "--lr" "$CNN" train --lr -1
expect 2 "--lr" "$CNN" train --lr nan
expect 2 "--batch.*-1" "$CNN" train --batch -1
expect 2 "--batch" "$CNN" train --batch 99999999999999999999
expect 2 "--seed" "$CNN" train --seed -5
expect 2 "--threads" "$CNN" train --threads 0
expect 2 "--limit" "$CNN" eval mnist.cnn --data "$M" --limit 0
expect 2 "--momentum" "$CNN" train --momentum 2
expect 2 "--optimizer.*rmsprop" "$CNN" train --optimizer rmsprop
expect 2 "--schedule" "$CNN" train --schedule sometimes
expect 2 "--epochs needs a value" "$CNN" train --epochs
expect 2 "--data needs a value" "$CNN" eval mnist.cnn --data
expect 2 "takes no value" "$CNN" train --resume=yes
expect 2 "unexpected argument" "$CNN" train extra
expect 2 "unexpected argument" "$CNN" eval mnist.cnn other.cnn
expect 2 "which model" "$CNN" eval
expect 2 "which network" "$CNN" summary
expect 2 "predict" "$CNN" predict mnist.cnn
expect 1 "neither a preset" "$CNN" summary no-such-net
expect 1 "neither a preset" "$CNN" train --net no-such-net

# ---- files that are missing, of the wrong kind, truncated or corrupt (1) --
expect 1 "no-such.cnn.*no such file" "$CNN" eval no-such.cnn --data "$M"
expect 1 "no-such.cnn.*no such file" "$CNN" predict no-such.cnn picture.png
expect 1 "not a file" "$CNN" summary emptydir
expect 1 "not a cnn model" "$CNN" eval picture.png --data "$M"
expect 1 "not a cnn model" "$CNN" eval empty.cnn --data "$M"
expect 1 "not a cnn model|truncated" "$CNN" eval header-only.cnn --data "$M"
expect 1 "truncated" "$CNN" eval truncated.cnn --data "$M"
expect 1 "truncated" "$CNN" summary truncated.cnn
expect 1 "corrupt|checksum" "$CNN" eval corrupt.cnn --data "$M"
expect 1 "corrupt|checksum" "$CNN" train --net corrupt.cnn --data "$M"
expect 1 "line 3.*frobnicate" "$CNN" summary typo.net
expect 1 "line 2.*conv" "$CNN" summary "input 28x28; conv 8 30x30; softmax"
expect 1 "no such folder" "$CNN" eval mnist.cnn --data no-such-dir
expect 1 "no such folder" "$CNN" train --data no-such-dir --quiet
expect 1 "not an IDX|IDX" "$CNN" eval mnist.cnn --data textidx
expect 1 "cutboth/train-images.*(truncated|gzip trailer)" "$CNN" train --data cutboth --quiet \
    --threads 2
expect 1 "cutboth/train-images.*truncated or not one gzip stream" "$CNN" train --data cutboth \
    --limit 10 --quiet --threads 2
expect 1 "cuttest/t10k-images.*truncated" "$CNN" train --data cuttest --limit 10 --quiet
expect 1 "no such file" "$CNN" predict mnist.cnn no-such.png
expect 1 "notes.png.*not a png" "$CNN" predict mnist.cnn notes.png
expect 1 "picture.png" "$CNN" predict mnist.cnn picture.png

# ---- sizes from hostile text are refused, never allocated (1) ------------
expect 1 "input 16384x16384x4096" "$CNN" summary "input 16384x16384x4096; maxpool 1024; softmax"
expect 1 "too large" "$CNN" summary "input 28x28; dense 16777216; softmax"
expect 1 "too large" "$CNN" summary "input 1x1; dense 16777216; dense 16777216; softmax"
expect 1 "1\.\.16384" "$CNN" summary "input 99999x28; softmax"

# ---- shapes that do not fit together (1) ---------------------------------
expect 1 "9x9|28x28|shape|size" "$CNN" eval xo.cnn --data "$M" --limit 50
expect 1 "9x9|28x28|shape|size" "$CNN" train --net xo.cnn --data "$M" --limit 50 --quiet
expect 1 "class|label" "$CNN" train --net "input 28x28; dense 2; softmax" --data "$M" --limit 50 --quiet
expect 1 "different network" sh -c "cp xo.cnn.ckpt r.ckpt && exec \"$CNN\" train --net lenet --data xo \
    --checkpoint r.ckpt --resume --quiet --out r.cnn"
expect 1 "resume.*no such file" "$CNN" train "${xo[@]}" --out fresh.cnn --resume

# ---- outputs that cannot be written (1) ----------------------------------
expect 1 "afile/x.cnn.*not a directory" "$CNN" train "${xo[@]}" --out afile/x.cnn
expect 1 "no-such-dir/x.cnn.*no such file" "$CNN" train "${xo[@]}" --out no-such-dir/x.cnn

# ---- the NaN guard: a diverging run stops and keeps the last checkpoint ----
seed=(--net seed --data "$M" --limit 300 --test-limit 50 --batch 1 --quiet --out nan.cnn)
"$CNN" train "${seed[@]}" --epochs 1 >/dev/null || { echo "cannot train the NaN fixture"; exit 1; }
cp nan.cnn.ckpt good.ckpt
expect 1 "epoch 2.*(nan|infinite|finite).*nan.cnn.ckpt" \
    "$CNN" train "${seed[@]}" --epochs 3 --resume --lr 100
cmp -s nan.cnn.ckpt good.ckpt || { echo "FAIL: the diverging run replaced the checkpoint"; bad=$((bad + 1)); }
"$CNN" summary nan.cnn.ckpt >/dev/null || { echo "FAIL: the kept checkpoint does not load"; bad=$((bad + 1)); }
expect 1 "epoch 1.*(nan|infinite|finite).*none" "$CNN" train "${seed[@]}" --epochs 1 --lr 100 \
    --out nan2.cnn
[ -e nan2.cnn ] || [ -e nan2.cnn.ckpt ] && { echo "FAIL: a diverged run saved a model"; bad=$((bad + 1)); }

echo "$bad failed"
[ $bad -eq 0 ]
