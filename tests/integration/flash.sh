#!/usr/bin/env bash
# microvisor flash onto loop devices filled with random bytes, judged by
# tools nobody here wrote: the image's mapped ranges (its .bmap) compared
# byte for byte, fsck.fat -n, e2fsck -fn, blkid -p (one unambiguous
# filesystem per partition), sfdisk --verify, mtools (the ESP's files), and
# bmaptool copy with our .bmap. Raw, .gz, .xz and .zst, with and without a
# block map; a corrupted write, a too-small device and a device with other
# sectors are reported. Needs root (losetup).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo >"$TMP/assets.log" 2>&1 || { not_ok "demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
export MTOOLS_SKIP_CHECK=1
I=$TMP/img
mkdir -p "$I"
expect_exit "image of the demo profile (with its .bmap)" 0 "$MV" image -q profiles/demo.conf -o "$I/demo.img"
gzip -k "$I/demo.img" && xz -k -T2 "$I/demo.img" && zstd -q -k "$I/demo.img" || not_ok "compressing the image" "gzip/xz/zstd failed"
SIZE=$(stat -c %s "$I/demo.img")
# The same image (reproducible) elsewhere, without a .bmap beside it: the
# raw image's own data ranges (SEEK_DATA) decide what is written.
mkdir -p "$TMP/nomap"
"$MV" image -q profiles/demo.conf -o "$TMP/nomap/demo.img" && rm "$TMP/nomap/demo.img.bmap"
cmp -s "$I/demo.img" "$TMP/nomap/demo.img" && ok "the image is reproducible" || not_ok "the image is reproducible" "two builds differ"

fill_random() { # FILE BYTES
	head -c "$2" /dev/urandom >"$1"
}

# The ranges the image's .bmap lists are byte for byte the image's.
same_mapped() { # DEV_OR_FILE
	python3 - "$I/demo.img.bmap" "$I/demo.img" "$1" <<'PY'
import os, re, sys
bmap = open(sys.argv[1]).read()
bs = int(re.search(r"<BlockSize>\s*(\d+)", bmap).group(1))
size = int(re.search(r"<ImageSize>\s*(\d+)", bmap).group(1))
img, dev = open(sys.argv[2], "rb"), open(sys.argv[3], "rb")
skip = os.environ.get("SKIP_GPT") == "1"
lo, hi = (4096, size - 34 * 512) if skip else (0, size)
for m in re.finditer(r"<Range[^>]*>\s*(\d+)(?:-(\d+))?\s*</Range>", bmap):
    a = int(m.group(1)); b = int(m.group(2) or a)
    off, end = max(a * bs, lo), min((b + 1) * bs, size, hi)
    if off >= end: continue
    img.seek(off); dev.seek(off)
    if img.read(end - off) != dev.read(end - off):
        print("range %d-%d differs" % (a, b)); sys.exit(1)
PY
}

# The judges, on a loop device holding the flashed image.
judge() { # NAME LOOPDEV
	local name=$1 dev=$2
	partx -a "$dev" 2>/dev/null || partx -u "$dev"
	local p1=${dev}p1 p2=${dev}p2 why="" i
	# devtmpfs makes the nodes as the kernel adds the partitions; give a
	# loaded machine a moment before calling them missing.
	for i in 1 2 3 4 5 6 7 8 9 10; do [ -b "$p1" ] && [ -b "$p2" ] && break; sleep 0.2; done
	[ -b "$p1" ] && [ -b "$p2" ] || why="no partition nodes after partx"
	[ -z "$why" ] && { fsck.fat -n "$p1" >"$TMP/fsck.log" 2>&1 || why="fsck.fat -n: $(tail -3 "$TMP/fsck.log")"; }
	[ -z "$why" ] && { e2fsck -fn "$p2" >"$TMP/e2fsck.log" 2>&1 || why="e2fsck -fn: $(tail -3 "$TMP/e2fsck.log")"; }
	[ -z "$why" ] && { [ "$(blkid -p -o value -s TYPE "$p1")" = vfat ] || why="blkid -p $p1: $(blkid -p "$p1" 2>&1)"; }
	[ -z "$why" ] && { [ "$(blkid -p -o value -s TYPE "$p2")" = ext4 ] || why="blkid -p $p2: $(blkid -p "$p2" 2>&1)"; }
	[ -z "$why" ] && { sfdisk --verify "$dev" >"$TMP/verify.log" 2>&1 && ! grep -qi 'not on the end\|mismatch' "$TMP/verify.log" || why="sfdisk --verify: $(cat "$TMP/verify.log")"; }
	if [ -z "$why" ]; then
		rm -rf "$TMP/esp-img" "$TMP/esp-dev" && mkdir -p "$TMP/esp-img" "$TMP/esp-dev"
		local start=$(($(cat "/sys/class/block/${p1#/dev/}/start") * 512))
		mcopy -s -n -i "$I/demo.img@@$start" ::/ "$TMP/esp-img/" && mcopy -s -n -i "$(losetup -nO BACK-FILE "$dev" | sed 's/ *$//')@@$start" ::/ "$TMP/esp-dev/" \
			&& diff -r "$TMP/esp-img" "$TMP/esp-dev" >/dev/null || why="the ESP's files differ from the image's"
	fi
	partx -d "$dev" 2>/dev/null
	if [ -z "$why" ]; then ok "$name: fsck.fat, e2fsck, blkid -p, sfdisk and the ESP's files agree"; else not_ok "$name" "$why"; fi
}

D=$TMP/dev
flash_case() { # NAME IMAGE [flash options]
	local name=$1 image=$2
	shift 2
	fill_random "$D" "$SIZE"
	new_loop "$D"
	expect_exit "flash $name onto random bytes" 0 "$MV" flash -q "$image" "$LOOP" --yes "$@"
	same_mapped "$LOOP" >"$TMP/same.log" 2>&1 && ok "$name: the mapped ranges equal the image's" || not_ok "$name: mapped ranges" "$(cat "$TMP/same.log")"
	judge "$name" "$LOOP"
	losetup -d "$LOOP"
}
flash_case "raw, data ranges (SEEK_DATA)" "$TMP/nomap/demo.img"
flash_case "raw, with its .bmap" "$I/demo.img"
flash_case ".gz, whole stream" "$I/demo.img.gz" --no-bmap
flash_case ".xz, whole stream" "$I/demo.img.xz" --no-bmap
flash_case ".zst, whole stream" "$I/demo.img.zst" --no-bmap
flash_case ".zst, with the .bmap found beside it" "$I/demo.img.zst"
flash_case ".gz, --bmap" "$I/demo.img.gz" --bmap "$I/demo.img.bmap"

# Two devices from one read, the second one larger: its backup GPT moves
# to its end and nothing else grows.
fill_random "$D" "$SIZE"
fill_random "$TMP/big" $((SIZE + 64 * 1048576))
new_loop "$D"; A=$LOOP
new_loop "$TMP/big"; B=$LOOP
expect_exit "flash onto two devices at once" 0 "$MV" flash -q "$I/demo.img.xz" "$A" "$B" --yes
same_mapped "$A" >"$TMP/same.log" 2>&1 && ok "the first holds the image's mapped ranges" || not_ok "two devices" "$(cat "$TMP/same.log")"
# The second's GPT moved (sector 0's size field, the primary header, the
# old backup header): the rest of the mapped ranges is the image's.
SKIP_GPT=1 same_mapped "$B" >"$TMP/same.log" 2>&1 && ok "the second holds the mapped ranges beyond the GPT headers" || not_ok "two devices" "$(cat "$TMP/same.log")"
judge "first of two" "$A"
judge "second, larger device" "$B"
last=$(sfdisk -d "$B" | sed -n 's/^last-lba: //p')
[ "$last" -eq $(((SIZE + 64 * 1048576) / 512 - 34)) ] && ok "the backup GPT is at the larger device's end" || not_ok "backup GPT moved" "last-lba $last"
expect_match "the root partition did not grow" "$(sfdisk -d "$B" | grep 'name="root"')" "size= *$(sfdisk -d "$A" | sed -n 's/.*size= *\([0-9]*\),.*name="root".*/\1/p'),"
losetup -d "$A" "$B"

# A byte flipped on the device between writing and verifying is caught.
fill_random "$D" "$SIZE"
new_loop "$D"
MV_FLASH_TEST_CORRUPT=$((1048576 + 3)) expect_exit "a corrupted write fails verification" 1 "$MV" flash -q "$I/demo.img" "$LOOP" --yes
expect_match "and says which range" "$ERR" "verification failed: bytes [0-9]+-[0-9]+"
MV_FLASH_TEST_CORRUPT=$((1048576 + 3)) expect_exit "without --verify the same corruption goes unnoticed" 0 "$MV" flash -q "$I/demo.img" "$LOOP" --yes --no-verify
losetup -d "$LOOP"

# A device too small: refused before writing (known size), or found at
# its end (a compressed stream without a map). Exit 1 either way.
fill_random "$TMP/small" $((100 * 1048576))
new_loop "$TMP/small"
before=$(sha256sum <"$TMP/small")
expect_exit "a device smaller than the image is refused" 1 "$MV" flash -q "$I/demo.img" "$LOOP" --yes
expect_match "saying so" "$ERR" "too small: the image is 256 MiB"
[ "$(sha256sum <"$TMP/small")" = "$before" ] && ok "and nothing was written to it" || not_ok "too small: untouched" "the device changed"
expect_exit "a compressed image runs off the end of a small device" 1 "$MV" flash -q "$I/demo.img.gz" "$LOOP" --yes --no-bmap
expect_match "reported as too small" "$ERR" "too small"
losetup -d "$LOOP"

# 4096-byte sectors under a 512-byte image: refused, untouched.
fill_random "$D" "$SIZE"
new_loop "$D" -b 4096
before=$(sha256sum <"$D")
expect_exit "a device with other logical sectors is refused" 1 "$MV" flash -q "$I/demo.img" "$LOOP" --yes
expect_match "naming both sizes" "$ERR" "logical sectors are 4096 bytes, but the image's GPT was made for 512-byte sectors"
[ "$(sha256sum <"$D")" = "$before" ] && ok "and nothing was written to it" || not_ok "other sectors: untouched" "the device changed"
losetup -d "$LOOP"

# An MBR-only image (a Raspberry Pi's) carries no sector size, but its
# entries count sectors: at 4096 bytes a sector its partitions would end
# 8x further, past the image. Refused, naming both sizes, whether the
# image's size is known (raw, a map) or only the device's (a stream).
cat >"$TMP/mbr.conf" <<'CONF'
[Profile]
Name=mbr
Architecture=x86_64
[Disk]
Table=mbr
Size=64M
[Partition boot]
Type=fat32
Size=16M
Format=vfat
[Partition root]
Type=linux
Size=Grow
Format=ext4
CONF
"$MV" image -q "$TMP/mbr.conf" -o "$I/mbr.img" && gzip -k "$I/mbr.img" || not_ok "an MBR image" "image failed"
fill_random "$TMP/mbrdev" $((64 * 1048576))
new_loop "$TMP/mbrdev" -b 4096
before=$(sha256sum <"$TMP/mbrdev")
for args in "$I/mbr.img" "$I/mbr.img --no-bmap" "$I/mbr.img.gz --no-bmap"; do
	expect_exit "an MBR image for 512-byte sectors onto 4096-byte sectors is refused ($args)" 1 "$MV" flash -q $args "$LOOP" --yes
	expect_match "naming both sizes" "$ERR" "logical sectors are 4096 bytes, but the image's MBR partition table only makes sense with 512-byte sectors"
done
[ "$(sha256sum <"$TMP/mbrdev")" = "$before" ] && ok "and nothing was written to it" || not_ok "MBR on 4096: untouched" "the device changed"
losetup -d "$LOOP"
new_loop "$TMP/mbrdev"
expect_exit "the same MBR image onto 512-byte sectors" 0 "$MV" flash -q "$I/mbr.img" "$LOOP" --yes
expect_match "sfdisk finds its two partitions" "$(sfdisk -d "$LOOP")" "start= *34816, size= *96256, type=83"
losetup -d "$LOOP"

# An image that does not match its block map is refused by the map's checksums.
cp --sparse=always "$I/demo.img" "$TMP/bad.img"
printf 'Q' | dd of="$TMP/bad.img" bs=1 seek=$((1048576 + 3)) conv=notrunc status=none
new_loop "$D"
expect_exit "an image that does not match its block map is reported" 1 "$MV" flash -q "$TMP/bad.img" "$LOOP" --yes --bmap "$I/demo.img.bmap"
expect_match "naming the range" "$ERR" "does not match its block map at bytes"

# The safety checks: no confirmation without a terminal, a mounted disk.
before=$(sha256sum <"$D")
expect_exit "no --yes and no terminal: refused" 2 "$MV" flash "$I/demo.img" "$LOOP" </dev/null
expect_match "saying why" "$ERR" "standard input is not a terminal"
[ "$(sha256sum <"$D")" = "$before" ] && ok "and nothing was written" || not_ok "no --yes: untouched" "the device changed"
losetup -d "$LOOP"

# bmaptool accepts the .bmap microvisor image wrote, and its copy passes
# the same judges.
fill_random "$D" "$SIZE"
new_loop "$D"
expect_exit "bmaptool copy accepts our .bmap" 0 bmaptool -q copy --bmap "$I/demo.img.bmap" "$I/demo.img" "$LOOP"
judge "bmaptool's copy" "$LOOP"
losetup -d "$LOOP"
