# Sourced by tests/run.sh, tests/leaks.sh and .ci/run: exports CNN_TEST_DATA,
# the MNIST fixture the suite reads: the small MNIST the repository carries
# (tests/data/mnist, 6,000 + 1,000 images; see its README), unless
# CNN_TEST_DATA is set already.  The suite needs nothing outside the checkout.
if [ -z "${CNN_TEST_DATA:-}" ]; then
    CNN_TEST_DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data/mnist" && pwd)
fi
export CNN_TEST_DATA
