#!/usr/bin/env bash
# The demo profile's userland (profiles/demo.conf): Debian's kernel,
# busybox-static and systemd-boot, fetched with apt-get download (apt
# verifies them) and packed by build/demo-userland.py. Idempotent: the
# packages and the tarball are kept in obj/demo/ and reused.
set -euo pipefail
out=${1:-obj/demo}
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { apt-get update -qq && kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
[ -n "$kpkg" ] || { echo "demo-assets: cannot find Debian's amd64 kernel package" >&2; exit 1; }
kver=${kpkg#linux-image-}
tarball="$out/userland.tar.gz"
stamp="$out/.built-$kver"
if [ -f "$tarball" ] && [ -f "$stamp" ] && [ "$stamp" -nt "$here/demo-userland.py" ]; then
	exit 0
fi
cd "$out/debs"
for p in "$kpkg" busybox-static systemd-boot-efi; do
	ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" 2>/dev/null || { apt-get update -qq && apt-get download "$p"; }
done
rm -rf "$out/x" && mkdir -p "$out/x"
for d in *.deb; do dpkg-deb -x "$d" "$out/x"; done
python3 "$here/demo-userland.py" "$out/x" "$kver" "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
rm -rf "$out/x" "$out"/.built-*
touch "$stamp"
