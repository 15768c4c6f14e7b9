#!/usr/bin/env bash
# make bench, flashing: the same image (the image bench's disk: 256 MiB ESP
# + 2 GiB ext4 root from the Debian userland) written to the same loop
# device, in one run, by `dd conv=fsync` (every byte), `bmaptool copy`
# (mapped blocks, checking the bmap's SHA-256 as it reads), and `microvisor
# flash` with verification off and on (mapped blocks; on: each range read
# back from the device behind the writes and hashed). The I/O floor writes
# the image's mapped bytes once with fsync. Each contender runs ROUNDS
# times (default 3), interleaved, caches dropped before each; the median
# wall time counts, so one run slowed by the shared machine does not
# decide a ratio. A loop device is backed by the page cache, not a card:
# these figures compare the tools' CPU and I/O patterns, not media speed.
# Ratios only; nothing here passes or fails on time.
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
B=obj/bench
tarball=$PWD/$B/rootfs.tar
[ -s "$tarball" ] || { echo "bench: run tests/bench/image.sh first (it makes $tarball)" >&2; exit 1; }
W=$(mktemp -d "$PWD/$B/flash.XXXXXX")
LOOP=""
trap '[ -n "$LOOP" ] && losetup -d "$LOOP"; rm -rf "$W"' EXIT
. tests/bench/lib.sh

bench_profile "$W/bench.conf" "$tarball"
"$MV" image -q "$W/bench.conf" -o "$W/mv.img"
size=$(stat -c %s "$W/mv.img")
mapped=$(( $(sed -n 's/.*<MappedBlocksCount> *\([0-9]*\).*/\1/p' "$W/mv.img.bmap") * 4096 ))
truncate -s "$size" "$W/dev"
LOOP=$(losetup -f --show "$W/dev")

ROUNDS=${ROUNDS:-3}
names=("dd conv=fsync" "bmaptool copy" "microvisor --no-verify" "microvisor --verify" "I/O floor")
run_one() { # INDEX: one contender, caches cold
	cold
	case $1 in
	0) measure "${names[0]}" dd if="$W/mv.img" of="$LOOP" bs=4M conv=fsync status=none ;;
	1) measure "${names[1]}" bmaptool -q copy --bmap "$W/mv.img.bmap" "$W/mv.img" "$LOOP" ;;
	2) measure "${names[2]}" "$MV" flash -q --yes --no-verify "$W/mv.img" "$LOOP" ;;
	3) measure "${names[3]}" "$MV" flash -q --yes --verify "$W/mv.img" "$LOOP" ;;
	4) measure "${names[4]}" dd if=/dev/zero of="$LOOP" bs=4M count=$((mapped / 4194304)) conv=fsync status=none ;;
	esac
}
declare -A runs
for ((r = 0; r < ROUNDS; r++)); do
	for i in 0 1 2 3 4; do
		runs[$i]+="$(run_one $i | awk '{print $(NF-2), $(NF-1)}')"$'\n'
	done
done
# The median round of contender INDEX, as "NAME wall cpu rss".
median() { printf '%s' "${runs[$1]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p" | sed "s|^|${names[$1]} |; s|\$| 0|"; }
dd_line=$(median 0) bt_line=$(median 1) nv_line=$(median 2) v_line=$(median 3) floor_line=$(median 4)
wall() { awk '{print $(NF-2)}' <<<"$1"; }
cpu() { awk '{print $(NF-1)}' <<<"$1"; }

{
	echo "flash bench: $((size >> 20)) MiB image, $((mapped >> 20)) MiB mapped, onto a loop device (page cache: compares tools, not card speed); median of $ROUNDS rounds"
	printf '%-24s %8s %8s %s\n' tool wall_s cpu_s "all rounds' wall_s"
	i=0
	for l in "$dd_line" "$bt_line" "$nv_line" "$v_line" "$floor_line"; do
		printf '%-24s %8s %8s %s\n' "$(awk '{NF-=3; print}' <<<"$l")" "$(wall "$l")" "$(cpu "$l")" "$(printf '%s' "${runs[$i]}" | awk '{print $1}' | tr '\n' ' ')"
		i=$((i + 1))
	done
	echo "bmaptool / microvisor --no-verify: $(ratio "$(wall "$bt_line")" "$(wall "$nv_line")")x (goal: at least 2x)"
	echo "bmaptool / microvisor --verify:    $(ratio "$(wall "$bt_line")" "$(wall "$v_line")")x (goal: above 1x)"
	echo "microvisor --no-verify / I/O floor: $(ratio "$(wall "$nv_line")" "$(wall "$floor_line")")x (goal: within 2x)"
	echo "dd / microvisor --no-verify:       $(ratio "$(wall "$dd_line")" "$(wall "$nv_line")")x"
} | tee "$B/flash-report.txt"
