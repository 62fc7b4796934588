# A member of a team that fails ends the whole team within seconds, with
# one message naming the rank and the cause, and the command's exit status
# (1: the work failed, 2: the command line was wrong): a data folder
# missing on one rank, an invalid option, a team of 3, a diverged loss, a
# rank out of memory; and a cnn built without MPI refuses to be one of
# several processes.
set -u
. "$(dirname "$0")/../mpi_env.sh"
fail() { echo "mpi_faults: $*"; exit 1; }
args="--net lenet --limit 300 --test-limit 50 --batch 32 --epochs 1 --quiet --out m.cnn"
# expect STATUS PATTERN COMMAND...: the status, one line of ours matching,
# within 20 s
expect() {
    local want=$1 pattern=$2 start status
    shift 2
    start=$(date +%s)
    "$@" > out.log 2>&1
    status=$?
    local took=$(($(date +%s) - start)) ours
    ours=$(grep -c '^cnn: ' out.log)
    echo "[$status in ${took}s] $(grep '^cnn: ' out.log)"
    [ "$status" = "$want" ] || { cat out.log; fail "exit $status, expected $want"; }
    [ "$ours" = 1 ] || { cat out.log; fail "$ours messages of cnn's, expected 1"; }
    grep -q "^cnn: $pattern" out.log || { cat out.log; fail "no message like '$pattern'"; }
    [ "$took" -lt 20 ] || fail "took ${took}s"
}
mpi() { timeout 60 mpirun --oversubscribe "$@"; }
expect 1 "rank 1: /no/such/folder: no such folder" \
    mpi -np 1 "$CNN_MPI" train $args --data "$CNN_TEST_DATA" \
        : -np 1 "$CNN_MPI" train $args --data /no/such/folder
expect 2 "rank 0: --batch: expected a whole number" \
    mpi -np 2 "$CNN_MPI" train $args --data "$CNN_TEST_DATA" --batch 0
expect 2 "rank 0: a team of 3: it must be 1, 2, 4 or 8" \
    mpi -np 3 "$CNN_MPI" train $args --data "$CNN_TEST_DATA"
expect 1 "rank 0: epoch 1: the loss is .*nan" \
    mpi -np 2 "$CNN_MPI" train $args --data "$CNN_TEST_DATA" --lr 90 --optimizer sgd
# rank 1 with too little address space for a batch of 4096 convnet images
expect 1 "rank 1: .*out of memory" \
    mpi -np 1 "$CNN_MPI" train $args --net convnet --batch 4096 --data "$CNN_TEST_DATA" \
        : -np 1 sh -c "ulimit -v 1500000; exec $CNN_MPI train $args --net convnet \
              --batch 4096 --data $CNN_TEST_DATA"
expect 2 "rank 0: cnn predict runs in one process" \
    mpi -np 2 "$CNN_MPI" predict m.cnn x.png
expect 2 "rank 0: this cnn was built without MPI" \
    mpi -np 2 "$CNN" train $args --data "$CNN_TEST_DATA"
[ ! -e m.cnn ] || fail "a failed team left a model"
echo "every failure ended the team with its rank and cause"
