# A team (mpirun) resumes from its checkpoint to the same weights as an
# uninterrupted run; a member killed with SIGKILL mid-epoch ends the whole
# team within seconds, with mpirun naming the rank and the signal, and the
# last checkpoint (written by rank 0 only) loads and resumes, here with
# another number of processes, to one process's weights.
set -eu
. "$(dirname "$0")/../mpi_env.sh"
args="--net convnet --data $CNN_TEST_DATA --limit 1500 --test-limit 100 --batch 32 --seed 4
      --quiet --threads 1"
"$CNN" train $args --epochs 3 --threads 2 --out full.cnn
want=$(weights full.cnn)

# stopped after epoch 1, resumed by a team of 2
team 2 train $args --epochs 1 --out part.cnn
team 2 train $args --epochs 3 --out part.cnn --resume
[ "$(weights part.cnn)" = "$want" ] || { echo "resumed team: other weights"; exit 1; }
echo "resumed under a team: bit-identical to one process"

# killed: rank 1, once the first checkpoint is there
team 2 train $args --epochs 3 --out killed.cnn > killed.log 2>&1 &
launcher=$!
for _ in $(seq 1 600); do [ -s killed.cnn.ckpt ] && break; sleep 0.05; done
[ -s killed.cnn.ckpt ] || { echo "no checkpoint to kill after"; exit 1; }
rank1=""
for p in $(pgrep -f "$CNN_MPI train"); do
    tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && rank1=$p
done
[ -n "$rank1" ] || { echo "rank 1 not found"; exit 1; }
start=$(date +%s%N)
kill -9 "$rank1"
status=0
wait "$launcher" || status=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
cat killed.log
echo "mpirun exited $status, $took_ms ms after the kill"
[ "$status" -ne 0 ]
grep -q "rank 1 .*signal 9" killed.log
[ "$took_ms" -lt 10000 ]
[ ! -e killed.cnn ] # no model: the run did not finish
"$CNN" eval killed.cnn.ckpt --data "$CNN_TEST_DATA" --limit 100 > /dev/null
team 4 train $args --epochs 3 --out killed.cnn --resume
[ "$(weights killed.cnn)" = "$want" ] || { echo "resumed after the kill: other weights"; exit 1; }
echo "killed, resumed by 4 processes: bit-identical to one process"
