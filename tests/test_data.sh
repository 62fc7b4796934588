# Sourced by tests/run.sh, tests/leaks.sh and .ci/run: exports CNN_TEST_DATA,
# the MNIST fixture (IDX gz files), unless it is set already.  It lives next
# to the checkout, in ../shared/data/mnist, and is never copied into the
# repository; a clone made elsewhere (git clone . /tmp/x) finds it next to
# the checkout it was cloned from.
if [ -z "${CNN_TEST_DATA:-}" ]; then
    _repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    CNN_TEST_DATA=$_repo/../shared/data/mnist
    _origin=$(git -C "$_repo" remote get-url origin 2>/dev/null || true)
    if [ ! -d "$CNN_TEST_DATA" ] && [ -d "$_origin" ] &&
        [ -d "$_origin/../shared/data/mnist" ]; then
        CNN_TEST_DATA=$_origin/../shared/data/mnist
    fi
    CNN_TEST_DATA=$(cd "$CNN_TEST_DATA" 2>/dev/null && pwd || echo "$CNN_TEST_DATA")
    unset _repo _origin
fi
export CNN_TEST_DATA
