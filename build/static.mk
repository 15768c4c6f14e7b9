# `make static ARCH=x86_64|aarch64`: ./microvisor-static-ARCH, a fully
# static, stripped musl binary of the same sources, linked against the
# libraries build/static-deps.sh builds from Debian's source packages into
# a cache outside the work tree. Included by the Makefile.
ARCH ?= x86_64
STATIC_BIN := microvisor-static-$(ARCH)

.PHONY: static static-link
# The dependency script prints its prefix (building what is missing), then
# the link runs in a sub-make that knows it.
static: $(DEPS_STAMP)
	@prefix=$$(bash build/static-deps.sh $(ARCH)) && \
		$(MAKE) --no-print-directory static-link ARCH=$(ARCH) STATIC_PREFIX="$$prefix"

ifdef STATIC_PREFIX
# Objects per dependency key (the prefix is CACHE/KEY/ARCH): new libraries
# or headers rebuild and relink everything.
STATIC_OBJ := obj-static/$(notdir $(patsubst %/,%,$(dir $(STATIC_PREFIX))))/$(ARCH)
S_CC := $(STATIC_PREFIX)/bin/$(ARCH)-linux-musl-gcc
S_PKG := PKG_CONFIG_LIBDIR=$(STATIC_PREFIX)/lib/pkgconfig PKG_CONFIG_PATH= pkg-config --static
S_CFLAGS := $(STD) $(WARN) -O2 -ffunction-sections -fdata-sections $(shell $(S_PKG) --cflags $(PKGS))
S_LIBS := $(shell $(S_PKG) --libs $(PKGS)) -lmbedcrypto
S_OBJS := $(LIB_SRC:%.c=$(STATIC_OBJ)/%.o) $(STATIC_OBJ)/bootstrap/main.o

static-link: $(STATIC_BIN)

# Stripped (-s), unused sections dropped: the size that ships. The last
# dependency's marker is newer than the binary when the libraries were
# rebuilt (a new key): relink then, though the Makefile's .SECONDARY lets
# make skip missing objects otherwise.
S_READY := $(STATIC_PREFIX)/.done-libarchive
$(STATIC_BIN): $(S_OBJS) $(S_READY)
	$(S_CC) -static -s -Wl,--gc-sections -o $@ $(S_OBJS) $(S_LIBS)

$(STATIC_OBJ)/bootstrap/main.o: S_CFLAGS += -DMICROVISOR_VERSION='"$(VERSION)"'
$(STATIC_OBJ)/bootstrap/main.o: $(wildcard .git/HEAD .git/refs/heads/*)

$(STATIC_OBJ)/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(S_CC) $(S_CFLAGS) -c -o $@ $<
endif
