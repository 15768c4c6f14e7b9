#!/usr/bin/env bash
# The issue's whole Android path, on this x86_64 machine: the static
# aarch64 binary (make static ARCH=aarch64), run under qemu-aarch64-static
# as the unprivileged test user, bootstraps an aarch64 userland made from
# Debian's busybox-static:arm64 and the miniature Nix, both served from
# 127.0.0.1, into a prefix; the launcher then runs commands inside it
# through Debian's proot with -q qemu-aarch64-static. tests/integration/
# prefix.sh does the judging (nix-store, owners, device nodes, links,
# nothing outside the prefix, the handoff's and the launcher's markers).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
QEMU=$(command -v qemu-aarch64-static) || { not_ok "qemu-aarch64-static is installed" "missing (build/deps.sh)"; exit 1; }
make --no-print-directory static ARCH=aarch64 >"$TMP/make.log" 2>&1 ||
	{ not_ok "make static ARCH=aarch64" "$(tail -n 20 "$TMP/make.log")"; exit 1; }
BIN=$ROOT/microvisor-static-aarch64
readelf -hW "$BIN" | grep -q 'Machine: *AArch64' && ! readelf -lW "$BIN" | grep -q INTERP &&
	ok "microvisor-static-aarch64 is a static aarch64 binary" || not_ok "microvisor-static-aarch64 is a static aarch64 binary" "$(file "$BIN")"

# Debian's busybox-static:arm64, fetched with apt-get download (apt checks
# it) and kept in obj/ for the next run.
debs=$ROOT/obj/arm64-debs
mkdir -p "$debs"
deb=$(ls "$debs"/busybox-static_*_arm64.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
	(cd "$debs" && { apt-get download busybox-static:arm64 || { apt-get update -qq && apt-get download busybox-static:arm64; }; }) >"$TMP/apt.log" 2>&1
	deb=$(ls "$debs"/busybox-static_*_arm64.deb 2>/dev/null | head -n 1)
fi
[ -n "$deb" ] || { not_ok "busybox-static:arm64 is downloaded" "$(tail -n 5 "$TMP/apt.log")"; exit 1; }
dpkg-deb -x "$deb" "$TMP/bb"
file -L "$TMP/bb/bin/busybox" | grep -q 'ARM aarch64' && ok "the userland's busybox is Debian's arm64 one" ||
	not_ok "the userland's busybox is Debian's arm64 one" "$(file -L "$TMP/bb/bin/busybox")"

MV=$BIN BOOTSTRAP_RUN=$QEMU BOOTSTRAP_BUSYBOX=$TMP/bb/bin/busybox BOOTSTRAP_ARCH=aarch64 \
	bash tests/integration/prefix.sh 2>&1 | sed -E 's/^(not )?ok - /&aarch64: /'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || not_ok "aarch64: prefix.sh" "exited $rc"
