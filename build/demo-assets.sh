#!/usr/bin/env bash
# The demo profiles' userland: Debian's kernel, busybox-static and
# systemd-boot, fetched with apt-get download (apt verifies them) and packed
# by build/demo-userland.py. Idempotent: the packages and the tarball are
# kept in OUT and reused.
#
#   demo-assets.sh [OUT] [amd64|arm64]
#
# amd64 (default OUT obj/demo): profiles/demo.conf. arm64 (default OUT
# obj/demo-arm64): profiles/demo-rpi.conf and demo-aarch64.conf; it also
# extracts Debian's raspi-firmware (non-free-firmware) to OUT/raspi-firmware,
# the Pi profile's Firmware= directory. arm64 packages need
# `dpkg --add-architecture arm64` (build/deps.sh --with-tests does it).
set -euo pipefail
arch=${2:-amd64}
case $arch in
amd64) out=${1:-obj/demo} ;;
arm64) out=${1:-obj/demo-arm64} ;;
*) echo "demo-assets: unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# Foreign packages are named pkg:arm64; the native ones need no suffix.
sfx=""
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
	sfx=":$arch"
	dpkg --print-foreign-architectures | grep -qx "$arch" || {
		echo "demo-assets: apt does not know $arch packages; run: dpkg --add-architecture $arch && apt-get update" >&2
		exit 1
	}
fi
kernel_pkg() { apt-cache depends "linux-image-$arch$sfx" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
kpkg=$(kernel_pkg)
[ -n "$kpkg" ] || { apt-get update -qq && kpkg=$(kernel_pkg); }
[ -n "$kpkg" ] || { echo "demo-assets: cannot find Debian's $arch kernel package" >&2; exit 1; }
kpkg=${kpkg%:*}
kver=${kpkg#linux-image-}
tarball="$out/userland.tar.gz"
stamp="$out/.built-$kver"
if [ -f "$tarball" ] && [ -f "$stamp" ] && [ "$stamp" -nt "$here/demo-userland.py" ] && [ "$stamp" -nt "$0" ]; then
	exit 0
fi
pkgs=("$kpkg$sfx" "busybox-static$sfx" "systemd-boot-efi$sfx")
[ "$arch" = arm64 ] && pkgs+=(raspi-firmware)
cd "$out/debs"
for p in "${pkgs[@]}"; do
	n=${p%:*}
	ls "${n}"_*.deb >/dev/null 2>&1 || apt-get download "$p" 2>/dev/null || { apt-get update -qq && apt-get download "$p"; }
done
rm -rf "$out/x" && mkdir -p "$out/x"
for d in *.deb; do dpkg-deb -x "$d" "$out/x"; done
python3 "$here/demo-userland.py" "$out/x" "$kver" "$tarball.tmp" "$arch"
if [ "$arch" = arm64 ]; then
	# The package's own layout: every blob flat in /usr/lib/raspi-firmware.
	rm -rf "$out/raspi-firmware"
	cp -a "$out/x/usr/lib/raspi-firmware" "$out/raspi-firmware"
fi
mv "$tarball.tmp" "$tarball"
rm -rf "$out/x" "$out"/.built-*
touch "$stamp"
