# A team of K processes (mpirun) trains to the same weights, bit for bit,
# as one process at the same global batch: K = 2, 4, 8, any threads each,
# SGD, momentum and Adam, a net with dropout and a Winograd conv, batches
# that do not divide by K or by 8 (37 images, and a last batch of 19).
set -eu
. "$(dirname "$0")/../mpi_env.sh"
net="input 28x28 mean 0.1307 std 0.3081; conv 16 3x3; relu; conv 16 3x3; relu; maxpool 2;"
net="$net dropout 0.3; dense 32; relu; dense 10; softmax"
for opt in sgd momentum adam; do
    args="--data $CNN_TEST_DATA --limit 500 --test-limit 100 --batch 37 --epochs 2 --seed 9
          --optimizer $opt --lr 0.01 --quiet"
    "$CNN" train --net "$net" $args --threads 2 --out one.cnn
    want=$(weights one.cnn)
    for kt in 2x1 2x2 4x1 8x1; do
        k=${kt%x*} threads=${kt#*x}
        team "$k" train --net "$net" $args --threads "$threads" --out team.cnn
        got=$(weights team.cnn)
        echo "$opt: $k processes x $threads threads: $got (one process: $want)"
        [ "$got" = "$want" ]
    done
done
# several steps, not an epoch's end: 5 batches of 32, then the test figures
# (the eval under the team) equal too
args="--net lenet --data $CNN_TEST_DATA --limit 160 --test-limit 100 --batch 32 --epochs 1
      --optimizer adam --json --quiet"
"$CNN" train $args --out one.cnn > one.json
team 4 train $args --threads 1 --out team.cnn > team.json
[ "$(weights one.cnn)" = "$(weights team.cnn)" ]
python3 - <<'PY'
import json
one, team = (json.loads(open(f).read()) for f in ("one.json", "team.json"))
for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
    assert one[k] == team[k], (k, one[k], team[k])
print("the team's loss and accuracy are one process's:", one["train_loss"], one["test_loss"])
PY
