#!/usr/bin/env bash
# make bench, image building: the same GPT disk (256 MiB ESP, 2 GiB ext4
# root filled from a real Debian userland made with mmdebstrap) built by
# microvisor and by genimage (the tarball extracted as root, then genimage
# with mkdosfs and mke2fs), in the same run, plus the I/O floor: reading the
# tarball once and writing the image's allocated bytes once with fsync.
# Figures are ratios; nothing here passes or fails on time.
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
B=obj/bench
mkdir -p "$B"
tarball=$B/rootfs.tar
if [ ! -s "$tarball" ]; then
	echo "bench: making a Debian userland with mmdebstrap (once; cached in $B)" >&2
	mmdebstrap --quiet --mode=unshare --variant=standard --include=systemd,systemd-sysv,linux-image-amd64,locales-all \
		--format=tar bookworm "$tarball.tmp" >&2
	mv "$tarball.tmp" "$tarball"
fi
entries=$(tar tf "$tarball" | wc -l)
W=$(mktemp -d "$PWD/$B/run.XXXXXX")
trap 'rm -rf "$W"' EXIT

. tests/bench/lib.sh
bench_profile "$W/bench.conf" "$PWD/$tarball"
cat >>"$W/bench.conf" <<CONF
[Files]
Copy=$W/hello.txt esp:/hello.txt
CONF
echo "one file on the ESP, for both tools" >"$W/hello.txt"
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
mv_line=$(measure microvisor "$MV" image -q "$W/bench.conf" -o "$W/mv.img")
mv_alloc=$(( $(stat -c %b "$W/mv.img") * 512 ))

cat >"$W/genimage.cfg" <<'CFG'
image esp.vfat {
	vfat { label = "ESP" }
	size = 256M
	mountpoint = "/boot/efi"
}
image root.ext4 {
	ext4 { use-mke2fs = true label = "root" }
	size = 2G
	mountpoint = "/"
}
image disk.img {
	hdimage { partition-table-type = "gpt" }
	partition esp { image = "esp.vfat" partition-type-uuid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" }
	partition root { image = "root.ext4" partition-type-uuid = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" }
}
CFG
cat >"$W/genimage.sh" <<SH
set -e
mkdir -p "$W/rootpath" "$W/gi-out" "$W/gi-in"
tar -xpf "$PWD/$tarball" -C "$W/rootpath"
mkdir -p "$W/rootpath/boot/efi" # the ESP: one file, as microvisor's
cp "$W/hello.txt" "$W/rootpath/boot/efi/"
genimage --config "$W/genimage.cfg" --rootpath "$W/rootpath" --tmppath "$W/gi-tmp" --inputpath "$W/gi-in" --outputpath "$W/gi-out"
sync -f "$W/gi-out/disk.img"
SH
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
gi_line=$(measure genimage bash "$W/genimage.sh")
gi_alloc=$(( $(stat -c %b "$W/gi-out/disk.img") * 512 ))

# The I/O floor: the tarball read once, the image's allocated bytes written once.
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read_line=$(measure "read-tarball" cat "$PWD/$tarball")
write_line=$(measure "write-allocated" dd if=/dev/zero of="$W/floor" bs=1M count=$((mv_alloc / 1048576)) conv=fsync status=none)

read -r _ mw mc mr <<<"$mv_line"
read -r _ gw gc gr <<<"$gi_line"
read -r _ rw _ _ <<<"$read_line"
read -r _ ww _ _ <<<"$write_line"
floor=$(echo "$rw + $ww" | bc)
{
	echo "image bench: GPT, 256 MiB ESP + 2 GiB ext4 root, from $(du -h "$tarball" | cut -f1) tarball of $entries entries"
	printf '%-16s %8s %8s %10s %14s\n' tool wall_s cpu_s peak_rss allocated
	printf '%-16s %8s %8s %7s KiB %14s\n' microvisor "$mw" "$mc" "$mr" "$mv_alloc"
	printf '%-16s %8s %8s %7s KiB %14s\n' genimage "$gw" "$gc" "$gr" "$gi_alloc"
	printf '%-16s %8s\n' "I/O floor" "$floor"
	echo "genimage / microvisor wall time: $(ratio "$gw" "$mw")x (goal: at least 4x)"
	echo "microvisor / I/O floor: $(ratio "$mw" "$floor")x (goal: within 5x)"
	echo "microvisor peak RSS: $((mr / 1024)) MiB (goal: under 64 MiB)"
} | tee "$B/image-report.txt"
