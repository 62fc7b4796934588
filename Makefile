# cnn: build the library (static + shared), the tool, the tests.
#   make                 library and tools/cnn
#   make MPI=1           the same with MPI (in build-mpi/): cnn train and cnn
#                        eval run as a team under mpirun (docs/distributed.md)
#   make test            the whole test suite (unit + command line)
#   make sanitize        the suite under AddressSanitizer + UBSan
#   make install PREFIX=/usr/local
CC      ?= cc
PREFIX  ?= /usr/local
OPT     ?= -O3
CFLAGS  ?= $(OPT) -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wno-unknown-pragmas
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc $(shell pkg-config --cflags stb 2>/dev/null)
OMP     ?= -fopenmp
LIBS    := -lz -lpng -ljpeg $(shell pkg-config --libs stb 2>/dev/null || echo -lstb) -lm
ifeq ($(MPI),1)
  CC    := mpicc
  CPPFLAGS += -DCNN_MPI
  BUILD ?= build-mpi
endif
BUILD   ?= build

ARCH := $(shell $(CC) -dumpmachine)
SRC := $(wildcard src/*.c src/data/*.c src/kernels/*.c)
# WebAssembly (make web): emcc, one thread, no ONNX, and none of the file
# decoders that need zlib, libpng or libjpeg (the page gives the library
# pixels); SIMD128 on
ifeq ($(WEB),1)
  SRC := $(filter-out src/data/image.c src/data/folder.c src/data/idx.c src/data/source.c,$(SRC))
  ONNX := 0
  OMP :=
  LIBS :=
  CFLAGS += -msimd128
endif

# ONNX export and import (src/onnx/), on protobuf-c: the C code for
# Debian's onnx.proto is generated into $(BUILD)/gen.  make ONNX=0 leaves
# them out, and the library then needs nothing of protobuf.
ONNX ?= 1
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ifeq ($(ONNX),1)
  SRC := $(filter-out src/onnx_none.c,$(SRC)) $(wildcard src/onnx/*.c)
  GEN := $(BUILD)/gen/onnx.pb-c.c
  CPPFLAGS += -DCNN_ONNX -I$(BUILD)/gen
  LIBS_ONNX := -lprotobuf-c
endif
ifneq (,$(findstring x86_64,$(ARCH)))
  CPPFLAGS += -DCNN_HAVE_X86_KERNELS
else
  SRC := $(filter-out %_avx2.c %_avx512.c %_vnni.c,$(SRC))
endif
OBJ := $(SRC:%.c=$(BUILD)/%.o) $(GEN:%.c=%.o)
LIBS += $(LIBS_ONNX)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC := $(wildcard tools/*.c)

# ./cnn is the plain build's (the MPI build's is build-mpi/cnn)
all: $(BUILD)/libcnn.a $(BUILD)/libcnn.so $(BUILD)/cnn $(if $(filter 1,$(MPI)),,cnn)

$(BUILD)/%.o: %.c include/cnn.h $(wildcard src/*.h src/*/*.h tools/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(OMP) -fPIC $(XFLAGS) -c $< -o $@

# protoc-c's output, compiled without the house warnings (it is not ours)
$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	@echo "  GEN $@"
	@cp $< $(BUILD)/gen/onnx.proto && cd $(BUILD)/gen && protoc-c --c_out=. onnx.proto
$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -fPIC -w -I$(BUILD)/gen -c $< -o $@
$(patsubst %.c,$(BUILD)/%.o,$(wildcard src/onnx/*.c)): $(BUILD)/gen/onnx.pb-c.h

# the drawing tests read tools/viz.c's layout constants: they include it
$(BUILD)/tests/test_viz.o: tools/viz.c tools/viz.h

# SIMD kernels: compiled for their instruction set, chosen at run time.
$(BUILD)/%_avx2.o: XFLAGS = -mavx2 -mfma
$(BUILD)/%_avx512.o: XFLAGS = -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma
$(BUILD)/%_vnni.o: XFLAGS = -mavx512f -mavx512vl -mavx512bw -mavx512vnni

$(BUILD)/libcnn.a: $(OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libcnn.so: $(OBJ)
	$(CC) -shared $(OMP) -o $@ $^ $(LIBS)

$(BUILD)/cnn: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libcnn.a
	$(CC) $(OMP) $(LDFLAGS) -o $@ $^ $(LIBS)

cnn: $(BUILD)/cnn
	ln -sf $(BUILD)/cnn cnn

$(BUILD)/unit: $(TEST_OBJ) $(BUILD)/libcnn.a
	$(CC) $(OMP) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread

# with the MPI build beside it (BUILD-mpi), for the tests of teams, when
# mpicc is there (scripts/deps.sh test installs it); not under the
# sanitizers (MPI_TESTS=0), whose runtime OpenMPI's own allocations trip
MPI_TESTS ?= 1
# WebAssembly (issue 19, under way): the library through emcc into
# build-web/, and in node: the X-or-O example, the SIMD128 GEMM against the
# reference, the speed beside the native build's (tests/web/run.sh).
# Debian's emscripten needs its node modules on NODE_PATH.
WEB_JS := build-web/train_xo.js build-web/test_kernels.js build-web/speed.js
EMLINK := -O3 -msimd128 -Iinclude -Isrc -sALLOW_MEMORY_GROWTH=1 -sSINGLE_FILE=1
web:
	@$(MAKE) --no-print-directory CC=emcc AR=emar WEB=1 BUILD=build-web build-web/libcnn.a
	NODE_PATH=/usr/share/nodejs emcc $(EMLINK) examples/train_xo.c build-web/libcnn.a -o build-web/train_xo.js
	NODE_PATH=/usr/share/nodejs emcc $(EMLINK) web/test_kernels.c build-web/libcnn.a -o build-web/test_kernels.js
	NODE_PATH=/usr/share/nodejs emcc $(EMLINK) web/speed.c build-web/libcnn.a -o build-web/speed.js
	@$(MAKE) --no-print-directory web-site

# The page (issue 19) in build-web/site/, a folder of static files that
# works offline: web/page's sources, the library with web/api.c as one
# module (cnn.js: the page and its training worker both load it), LeNet
# trained by the native cnn on tests/data/mnist (deterministic, seed 1),
# the first 500 test and 4,000 training images there as raw bytes.
SITE := build-web/site
SITE_PAGE := $(patsubst web/page/%,$(SITE)/%,$(wildcard web/page/*))
SITE_DATA := $(SITE)/lenet.cnn $(SITE)/test-images.bin $(SITE)/test-labels.bin \
             $(SITE)/train-images.bin $(SITE)/train-labels.bin
MNIST := tests/data/mnist
SITE_LINK := -sMODULARIZE=1 -sEXPORT_NAME=createCnn -sENVIRONMENT=web,worker,node \
             -sEXPORTED_FUNCTIONS=_malloc,_free \
             -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
web-site: $(SITE)/cnn.js $(SITE_PAGE) $(SITE_DATA)
$(SITE)/cnn.js: web/api.c include/cnn.h build-web/libcnn.a
	@mkdir -p $(SITE)
	NODE_PATH=/usr/share/nodejs emcc $(EMLINK) $(WARN) $(SITE_LINK) web/api.c build-web/libcnn.a -o $@
$(SITE)/%: web/page/%
	@mkdir -p $(SITE)
	cp $< $@
$(SITE)/lenet.cnn: $(BUILD)/cnn $(wildcard $(MNIST)/*.gz)
	@mkdir -p $(SITE)
	$(BUILD)/cnn train --net lenet --data $(MNIST) --epochs 3 --seed 1 --quiet --out build-web/lenet.cnn
	cp build-web/lenet.cnn $@
# IDX: 16 header bytes before an image file's pixels, 8 before the labels
$(SITE)/test-images.bin: $(MNIST)/t10k-images-idx3-ubyte.gz
	@mkdir -p $(SITE)
	zcat $< | tail -c +17 | head -c $$((500 * 784)) > $@
$(SITE)/test-labels.bin: $(MNIST)/t10k-labels-idx1-ubyte.gz
	@mkdir -p $(SITE)
	zcat $< | tail -c +9 | head -c 500 > $@
$(SITE)/train-images.bin: $(MNIST)/train-images-idx3-ubyte.gz
	@mkdir -p $(SITE)
	zcat $< | tail -c +17 | head -c $$((4000 * 784)) > $@
$(SITE)/train-labels.bin: $(MNIST)/train-labels-idx1-ubyte.gz
	@mkdir -p $(SITE)
	zcat $< | tail -c +9 | head -c 4000 > $@

# the ONNX node tests' runner (tests/cli/onnx_*.sh)
$(BUILD)/onnx_conformance: tests/onnx/conformance.c $(BUILD)/libcnn.a
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(OMP) $(LDFLAGS) -o $@ $^ $(LIBS)

test: deps-test $(BUILD)/unit $(BUILD)/cnn $(if $(filter 1,$(ONNX)),$(BUILD)/onnx_conformance)
	@if [ "$(MPI_TESTS)" = 1 ] && command -v mpicc >/dev/null; then \
	    $(MAKE) --no-print-directory MPI=1 BUILD=$(BUILD)-mpi $(BUILD)-mpi/cnn; fi
	tests/run.sh $(BUILD)

# what the suite needs besides the build (python3, chromium), when missing
deps-test:
	@scripts/deps.sh test

# (the kill test does 6 kills here instead of 24: each restart is slower)
sanitize:
	KILLS=6 $(MAKE) MPI_TESTS=0 BUILD=build-san OPT=-O1 CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" test

# leaks: the unit tests and CLI error paths under LeakSanitizer, some commands
# under valgrind memcheck
leakcheck:
	tests/leaks.sh

install: $(BUILD)/libcnn.a $(BUILD)/libcnn.so $(BUILD)/cnn
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/cnn.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libcnn.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libcnn.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/cnn $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*CNN_VERSION "\(.*\)"/\1/p' include/cnn.h)|' \
	    cnn.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cnn.pc
	@# the loader's cache knows the new library at once (a program built with
	@# cnn.pc's rpath finds it anyway)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

clean:
	rm -rf build build-san build-mpi build-san-mpi build-noonnx build-web cnn

.PHONY: all deps-test test sanitize leakcheck install clean cnn web web-site
