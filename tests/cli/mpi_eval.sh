# cnn eval under mpirun: each process a share of the test images, one
# result, equal to one process's to the last digit (the loss too: the
# team adds it along the same tree).
set -eu
. "$(dirname "$0")/../mpi_env.sh"
"$CNN" train --net lenet --data "$CNN_TEST_DATA" --limit 1000 --epochs 1 --quiet --out m.cnn
"$CNN" eval m.cnn --data "$CNN_TEST_DATA" --json > one.json
for k in 2 4; do
    team "$k" eval m.cnn --data "$CNN_TEST_DATA" --json > team.json
    cmp one.json team.json
done
cat one.json | cut -c1-80
