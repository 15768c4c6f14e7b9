# Microvisor. `make` builds ./microvisor against Debian's shared libraries;
# `make check` runs every test; see README.md.
CC ?= gcc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
PKGS := fdisk blkid libarchive libcurl ext2fs com_err zlib inih
STD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lmbedcrypto
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) $(PKG_CFLAGS)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

MODULES := bootstrap partition bootloader images
LIB_SRC := $(filter-out bootstrap/main.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
HEADERS := $(wildcard $(addsuffix /*.h,$(MODULES)) tests/unit/*.h)
LIB_OBJ := $(LIB_SRC:%.c=obj/%.o)
SAN_OBJ := $(LIB_SRC:%.c=obj-san/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=obj/tests/%)
UNIT_SAN := $(UNIT_SRC:tests/unit/%.c=obj-san/tests/%)
CHECK_LIBS = $(shell pkg-config --libs check) -lcrypt # glibc's crypt(3) judges our $6$ hashes

DEPS_STAMP := obj/.deps-build
TEST_DEPS_STAMP := obj/.deps-tests

.PHONY: all deps test-deps bench-deps check clean demo bench
# Keep objects make considers intermediate (the sanitized ones): no rebuilds.
.SECONDARY:
all: microvisor

# The dependency step: installs what is missing (apt-get), then remembers
# it did so until build/deps.sh changes.
deps: $(DEPS_STAMP)
test-deps: $(TEST_DEPS_STAMP)
$(DEPS_STAMP): build/deps.sh
	@mkdir -p $(@D)
	bash build/deps.sh
	@touch $@
$(TEST_DEPS_STAMP): build/deps.sh $(DEPS_STAMP)
	bash build/deps.sh --with-tests
	@touch $@

microvisor: obj/bootstrap/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Only main.c knows the version, so a new commit rebuilds one file.
obj/bootstrap/main.o: ALL_CFLAGS += -DMICROVISOR_VERSION='"$(VERSION)"'
# In a git worktree .git is a file: depend on these only when they exist.
obj/bootstrap/main.o: $(wildcard .git/HEAD .git/refs/heads/*)

obj/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

obj-san/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -c -o $@ $<

obj/tests/%: obj/tests/%.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

obj-san/tests/%: obj-san/tests/%.o $(SAN_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

obj/tests/%.o: tests/unit/%.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

obj-san/tests/%.o: tests/unit/%.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -c -o $@ $<

# Unit tests twice (plain, then ASan+UBSan), then the integration tests
# against the real binary and again against the static x86_64 one
# (build/static.mk); one summary line at the end.
check: microvisor $(UNIT_BIN) $(UNIT_SAN) $(TEST_DEPS_STAMP)
	$(MAKE) --no-print-directory static ARCH=x86_64
	MV_STATIC=$(CURDIR)/microvisor-static-x86_64 bash tests/run.sh

# The README's main command: fetch Debian's kernel, busybox and systemd-boot,
# build the default profile's image, and boot it in QEMU, showing the serial
# console until the guest says it booted.
demo: microvisor $(TEST_DEPS_STAMP)
	bash build/demo-assets.sh obj/demo
	./microvisor plan profiles/demo.conf --image obj/demo/demo.img
	./microvisor image profiles/demo.conf -o obj/demo/demo.img
	QEMU_SHOW=1 bash tests/boot/qemu.sh uefi-x86_64 obj/demo/demo.img 'microvisor-demo: LoaderEntrySelected' 180

# Benchmarks: each against its peer tool in the same run, as ratios.
bench: microvisor $(TEST_DEPS_STAMP)
	bash build/deps.sh --with-bench
	bash tests/bench/run.sh

# make static ARCH=x86_64|aarch64: the fully static musl binary.
include build/static.mk

clean:
	rm -rf obj obj-san obj-static microvisor microvisor-static-*
