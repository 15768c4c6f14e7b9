#!/usr/bin/env bash
# build/static-deps.sh ARCH: build every library microvisor links, from
# pinned Debian 12 source packages, as static musl archives for ARCH
# (x86_64 or aarch64), and print the prefix holding them (lib/, include/,
# lib/pkgconfig/, bin/ARCH-linux-musl-gcc).
#
# Each dependency is built once into a cache outside the work tree,
#   ${MICROVISOR_STATIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvisor-static}/KEY/ARCH
# where KEY is a hash of this script (which holds the version list), so a
# new pin or a new flag builds afresh and a warm run only checks markers.
# Downloaded source packages are kept in .../src, shared by every key.
# Why from source: Debian's -dev packages cannot link statically (no
# libfdisk.a; libcurl.a wants gssapi and ldap). Facts behind the flags:
# /work/shared/notes/static-build.md.
set -euo pipefail

# Source package = version, exactly as `apt-cache showsrc` lists it.
# Debian's point releases replace +deb12uN versions: when one vanishes from
# the mirror, the download step says so; move the pin and rebuild.
PINS=(
	musl=1.2.3-1
	zlib=1:1.2.13.dfsg-1
	xz-utils=5.4.1-1+deb12u1
	libzstd=1.5.4+dfsg2-5
	util-linux=2.38.1-5+deb12u3
	e2fsprogs=1.47.0-2
	libinih=55-1
	mbedtls=2.28.3-1
	c-ares=1.18.1-3
	curl=7.88.1-10+deb12u15
	libarchive=3.6.2-1+deb12u4
)

usage() { echo "usage: $0 x86_64|aarch64" >&2; exit 2; }
[ $# -eq 1 ] || usage
ARCH=$1
case "$ARCH" in
x86_64) GNU=x86_64-linux-gnu DEB_ARCH=amd64 ;;
aarch64) GNU=aarch64-linux-gnu DEB_ARCH=arm64 ;;
*) usage ;;
esac
HOST=$ARCH-linux-musl

self=$(readlink -f "$0")
ROOT=${MICROVISOR_STATIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvisor-static}
KEY=$(sha256sum "$self" | cut -c1-16)
P=$ROOT/$KEY/$ARCH
SRC=$ROOT/src
mkdir -p "$P/bin" "$P/lib/pkgconfig" "$P/include" "$P/log" "$SRC"

# One build per prefix at a time (make check and a hand-run `make static`).
exec 9>"$P/.lock"
flock 9

JOBS=${JOBS:-$(nproc)}
CFLAGS="-O2 -ffunction-sections -fdata-sections"
export PATH="$P/bin:$PATH"
export PKG_CONFIG_LIBDIR="$P/lib/pkgconfig" PKG_CONFIG_PATH=""
export CC="$P/bin/$HOST-gcc" AR="$GNU-ar" RANLIB="$GNU-ranlib" CFLAGS
export CPPFLAGS="-I$P/include" LDFLAGS="-L$P/lib"
CONF=(--host="$HOST" --prefix="$P" --disable-shared --enable-static)

log() { echo "static-deps[$ARCH]: $*" >&2; }

# version_of NAME: the pinned version.
version_of() {
	local p
	for p in "${PINS[@]}"; do
		[ "${p%%=*}" = "$1" ] && { echo "${p#*=}"; return; }
	done
	echo "static-deps: no pin for $1" >&2
	exit 1
}

# unpack NAME: the patched source tree in a fresh build directory; cd there.
unpack() {
	local name=$1 ver dsc
	ver=$(version_of "$name")
	dsc=$SRC/${name}_${ver#*:}.dsc
	if [ ! -f "$dsc" ]; then
		(cd "$SRC" && apt-get source --download-only -qq "$name=$ver" >"$P/log/$name.fetch" 2>&1) || {
			echo "static-deps: cannot download source $name=$ver: $(tail -n 3 "$P/log/$name.fetch")" >&2
			echo "static-deps: available: $(apt-cache showsrc "$name" 2>/dev/null | awk '/^Version:/ {print $2}' | tr '\n' ' ')" >&2
			echo "static-deps: apt needs a deb-src entry (build/deps.sh adds it); a vanished point release means: update PINS in $self" >&2
			exit 1
		}
	fi
	rm -rf "$P/build/$name"
	mkdir -p "$P/build"
	dpkg-source --no-check -x "$dsc" "$P/build/$name" >"$P/log/$name.unpack" 2>&1
	cd "$P/build/$name"
}

# The toolchain: a compiler named for the musl host triplet (configure finds
# it and its ar/ranlib by --host), and the kernel headers util-linux and
# e2fsprogs include, which musl's -nostdinc hides.
build_toolchain() {
	local kinc=/usr/include arch_inc=/usr/include/$GNU specs
	if [ "$ARCH" = x86_64 ]; then
		specs=/usr/lib/x86_64-linux-musl/musl-gcc.specs
		[ -f "$specs" ] || { echo "static-deps: musl-gcc missing: install musl-tools (build/deps.sh)" >&2; exit 1; }
	else
		command -v "$GNU-gcc" >/dev/null || { echo "static-deps: $GNU-gcc missing: install gcc-$GNU (build/deps.sh)" >&2; exit 1; }
		kinc=/usr/$GNU/include
		arch_inc=/usr/$GNU/include
		# Debian ships musl for the host only: build it for the target.
		unpack musl
		# The wrapper's specs file (not its script) is what we use; musl
		# skips it when the cross compiler alone cannot compile (no libc).
		./configure --target=aarch64 CROSS_COMPILE="$GNU-" --prefix="$P/musl" --disable-shared --enable-wrapper=gcc \
			CC="$GNU-gcc" CFLAGS="$CFLAGS" AR="$AR" RANLIB="$RANLIB"
		make -j"$JOBS"
		make install
		specs=$P/musl/lib/musl-gcc.specs
	fi
	rm -rf "$P/kinc"
	mkdir -p "$P/kinc"
	cp -r "$kinc/linux" "$kinc/asm-generic" "$P/kinc/"
	cp -r "$arch_inc/asm" "$P/kinc/asm"
	cat >"$P/bin/$HOST-gcc" <<EOF
#!/bin/sh
exec $GNU-gcc "\$@" -specs "$specs" -isystem "$P/kinc"
EOF
	chmod +x "$P/bin/$HOST-gcc"
	local t
	for t in ar ranlib nm strip objcopy ld; do
		ln -sf "$(command -v "$GNU-$t")" "$P/bin/$HOST-$t"
	done
}

build_zlib() {
	unpack zlib
	CHOST=$HOST ./configure --static --prefix="$P"
	make -j"$JOBS" libz.a
	make install
}

build_xz() {
	unpack xz-utils
	./configure "${CONF[@]}" --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
		--disable-lzma-links --disable-scripts --disable-doc --disable-nls
	make -C src/liblzma -j"$JOBS" install
}

build_zstd() {
	unpack libzstd
	make -C lib -j"$JOBS" libzstd.a
	make -C lib install-static install-includes install-pc PREFIX="$P"
}

build_util_linux() {
	unpack util-linux
	./configure "${CONF[@]}" --disable-all-programs --enable-libuuid --enable-libblkid --enable-libfdisk \
		--disable-nls --disable-bash-completion --disable-asciidoc --disable-poman \
		--disable-makeinstall-chown --disable-makeinstall-setuid --without-systemd --without-udev \
		--without-ncurses --without-ncursesw --without-tinfo --without-readline --without-python \
		--without-selinux --without-cryptsetup --without-libmagic --without-audit --without-smack \
		--without-cap-ng --without-btrfs --without-user --without-econf --without-libz
	make -j"$JOBS"
	make install
}

# Only libcom_err and libext2fs; libuuid comes from util-linux.
build_e2fsprogs() {
	unpack e2fsprogs
	./configure --host="$HOST" --prefix="$P" --disable-elf-shlibs --disable-nls --disable-libuuid --disable-libblkid \
		--disable-fsck --disable-uuidd --disable-defrag --disable-imager --disable-debugfs \
		--disable-resizer --disable-e2initrd-helper --disable-fuse2fs --disable-tdb \
		--with-crond-dir=no --with-systemd-unit-dir=no --with-udev-rules-dir=no
	make -j"$JOBS" subs
	make -C lib/et -j"$JOBS"
	make -C lib/ext2fs -j"$JOBS"
	make -C lib/et install
	make -C lib/ext2fs install
}

# Debian's mirror serves no source for libinih (its orig tarball answers
# 404), so this one library comes from Debian's binary libinih-dev of the
# pinned version, for the target architecture: its libinih.a is the very
# code the dynamic build links, compiled with Debian's options (the handler
# is called on each new section, which profile.c relies on). It is plain C
# calling fopen64/fgets/malloc/ctype, all of which musl provides (with
# glibc's __ctype_b_loc and fopen64 names), so it links into the musl binary.
build_libinih() {
	local ver deb dir
	ver=$(version_of libinih)
	deb=$SRC/libinih-dev_${ver}_$DEB_ARCH.deb
	if [ ! -f "$deb" ]; then
		(cd "$SRC" && apt-get download -qq "libinih-dev:$DEB_ARCH=$ver") || {
			echo "static-deps: cannot download libinih-dev:$DEB_ARCH=$ver (apt needs the $DEB_ARCH architecture: build/deps.sh adds it)" >&2
			exit 1
		}
	fi
	dir=$P/build/libinih
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir"
	cp "$dir/usr/lib/$GNU/libinih.a" "$P/lib/"
	cp "$dir/usr/include/ini.h" "$P/include/"
	cat >"$P/lib/pkgconfig/inih.pc" <<EOF
prefix=$P
Name: inih
Description: simple .INI file parser (Debian's libinih-dev $ver, $DEB_ARCH)
Version: ${ver%%-*}
Libs: -L\${prefix}/lib -linih
Cflags: -I\${prefix}/include
EOF
}

build_mbedtls() {
	unpack mbedtls
	make -C library -j"$JOBS" CC="$CC" AR="$AR" CFLAGS="$CFLAGS" static
	cp -r include/mbedtls include/psa "$P/include/"
	cp library/libmbedcrypto.a library/libmbedx509.a library/libmbedtls.a "$P/lib/"
}

build_c_ares() {
	unpack c-ares
	./configure "${CONF[@]}" --disable-tests
	make -C src/lib -j"$JOBS" install
	make -C include install
	make install-pkgconfigDATA
}

# HTTP and HTTPS only, TLS by mbedTLS, DNS by c-ares (CURLOPT_DNS_SERVERS:
# Android has no /etc/resolv.conf). No CA bundle baked in: mv_ca_bundle
# probes the running system's.
build_curl() {
	unpack curl
	./configure "${CONF[@]}" --with-mbedtls="$P" --with-zlib="$P" --enable-ares="$P" \
		--without-zstd --without-brotli --without-libpsl --without-libidn2 --without-nghttp2 \
		--without-nghttp3 --without-ngtcp2 --without-libssh2 --without-libssh --without-gssapi \
		--without-librtmp --without-ca-bundle --without-ca-path --without-ca-fallback \
		--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
		--disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
		--disable-ftp --disable-file --disable-manual
	make -C lib -j"$JOBS"
	make -C lib install
	make -C include install
	make install-pkgconfigDATA
}

# Debian's patches touch configure.ac: regenerate, or libtool refuses.
build_libarchive() {
	unpack libarchive
	autoreconf -fi >/dev/null 2>&1
	./configure "${CONF[@]}" --disable-bsdtar --disable-bsdcpio --disable-bsdcat --disable-acl \
		--disable-xattr --without-xml2 --without-expat --without-openssl --without-nettle \
		--without-mbedtls --without-lz4 --without-lzo2 --without-bz2lib --without-cng \
		--without-iconv --with-zlib --with-lzma --with-zstd
	make -j"$JOBS" libarchive.la
	make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
}

# step NAME FUNCTION: run once per prefix; the marker makes a warm run free.
step() {
	local name=$1 fn=$2 t0 rc
	[ -f "$P/.done-$name" ] && return 0
	log "building $name (log: $P/log/$name.log)"
	t0=$(date +%s%N)
	rc=0
	# In the background so that set -e holds inside (it is ignored in a
	# subshell on the left of ||).
	("$fn") >"$P/log/$name.log" 2>&1 &
	wait $! || rc=$?
	if [ $rc -ne 0 ]; then
		echo "static-deps[$ARCH]: building $name failed (exit $rc); the end of $P/log/$name.log:" >&2
		tail -n 25 "$P/log/$name.log" >&2
		exit 1
	fi
	rm -rf "$P/build"
	local ms=$((($(date +%s%N) - t0) / 1000000))
	printf '%s %d.%d s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100)) | tee -a "$P/log/times" >&2
	touch "$P/.done-$name"
}

step toolchain build_toolchain
step zlib build_zlib
step xz build_xz
step zstd build_zstd
step util-linux build_util_linux
step e2fsprogs build_e2fsprogs
step libinih build_libinih
step mbedtls build_mbedtls
step c-ares build_c_ares
step curl build_curl
step libarchive build_libarchive
rm -rf "$P/build"
echo "$P"
