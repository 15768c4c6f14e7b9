#!/usr/bin/env bash
# make bench, UFS2: the same tree (the image bench's Debian userland) made
# into a 2 GiB UFS2 filesystem by our writer (microvisor image, one
# freebsd-ufs partition, streamed from the tarball) and by NetBSD's makefs
# (Debian's package: -t ffs -o version=2 with newfs's 32 KiB / 4 KiB,
# from the tarball extracted as root first, as makefs needs a directory).
# Wall time, CPU and peak RSS; figures are ratios, nothing passes or fails
# on time. 2 GiB: Debian's makefs 20190105 fails with EINVAL writing a 3 GiB
# image. (It also puts the UFS2 superblock at 8 KiB, so its
# image is no reference for correctness: ../shared/notes/ufs-validation.md.)
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
B=obj/bench
tarball=$B/rootfs.tar
[ -s "$tarball" ] || { echo "bench ufs: $tarball is missing: tests/bench/image.sh makes it" >&2; exit 1; }
command -v makefs >/dev/null || { echo "bench ufs: makefs is missing (build/deps.sh --with-bench)" >&2; exit 1; }
W=$(mktemp -d "$PWD/$B/ufs.XXXXXX")
trap 'rm -rf "$W"' EXIT
. tests/bench/lib.sh

cat >"$W/ufs.conf" <<CONF
[Profile]
Name=bench-ufs
Architecture=x86_64
[Disk]
Table=gpt
[Partition root]
Type=freebsd-ufs
Size=2G
Label=rootfs
[Userland]
Source=$PWD/$tarball
CONF
cold
mv_line=$(measure microvisor "$MV" image -q "$W/ufs.conf" -o "$W/mv.img")

mkdir -p "$W/tree"
cold
x_line=$(measure tar-x tar -xpf "$PWD/$tarball" -C "$W/tree")
sync
mk_line=$(measure makefs makefs -t ffs -o version=2,bsize=32768,fsize=4096 -s 2g "$W/makefs.img" "$W/tree")

read -r _ mw mc mr <<<"$mv_line"
read -r _ xw xc xr <<<"$x_line"
read -r _ kw kc kr <<<"$mk_line"
both=$(echo "$xw + $kw" | bc)
{
	echo "ufs bench: 2 GiB UFS2 from $(du -h "$tarball" | cut -f1) tarball of $(tar tf "$tarball" | wc -l) entries"
	printf '%-22s %8s %8s %10s\n' tool wall_s cpu_s peak_rss
	printf '%-22s %8s %8s %7s KiB\n' "microvisor (ufs)" "$mw" "$mc" "$mr"
	printf '%-22s %8s %8s %7s KiB\n' "tar -x (for makefs)" "$xw" "$xc" "$xr"
	printf '%-22s %8s %8s %7s KiB\n' "makefs -t ffs" "$kw" "$kc" "$kr"
	echo "(tar -x + makefs) / microvisor wall time: $(ratio "$both" "$mw")x"
	echo "makefs alone / microvisor wall time: $(ratio "$kw" "$mw")x"
	echo "makefs / microvisor peak RSS: $(ratio "$kr" "$mr")x"
} | tee "$B/ufs-report.txt"
