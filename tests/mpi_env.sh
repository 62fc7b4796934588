# Sourced by tests/cli/mpi_*.sh: $CNN_MPI (the MPI build's cnn, which
# tests/run.sh exports when there is one), `team K ARGS...` (mpirun with K
# local processes, more than the cores allow: --oversubscribe), and
# `weights MODEL` (the parameters of a model file, for bit-for-bit checks).
# OpenMPI refuses to run as root unless told (CI is root): its documented
# variables say it.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# the processes share this machine: shared memory only (no fabric probing)
export OMPI_MCA_btl=self,vader
team() {
    local k=$1
    shift
    timeout 120 mpirun --oversubscribe -np "$k" "$CNN_MPI" "$@"
}
weights() {
    python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"PARM")
n = int.from_bytes(b[i + 4:i + 12], "little")
sys.stdout.buffer.write(b[i + 12:i + 12 + n])' "$1" | sha256sum | cut -c1-16
}
