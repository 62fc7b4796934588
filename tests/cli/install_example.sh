# make install puts the header, both libraries and cnn.pc in place; the
# example builds against the installed library with pkg-config and runs.
set -eu
root=$(cd "$(dirname "$CNN")/.." && pwd)
prefix=$PWD/prefix
# a sanitizer run passes its BUILD, CFLAGS... down through the environment:
# install the plain build
env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u BUILD -u CFLAGS -u LDFLAGS -u OPT make -s -C "$root" install PREFIX="$prefix" > /dev/null
test -f "$prefix/include/cnn.h" && test -f "$prefix/lib/libcnn.a" && test -f "$prefix/lib/libcnn.so"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror "$root/examples/train_xo.c" $(pkg-config --cflags --libs cnn) -o train_xo
# cnn.pc's rpath: the program finds the shared library with no LD_LIBRARY_PATH
env -u LD_LIBRARY_PATH ./train_xo | tee out.txt
grep -q "held-out images right" out.txt
# static linking works too
cc -std=c11 "$root/examples/train_xo.c" $(pkg-config --cflags cnn) "$prefix/lib/libcnn.a" \
    $(pkg-config --libs-only-other cnn) -lz -lpng -ljpeg -lstb -lm -o train_xo_static
./train_xo_static > /dev/null
