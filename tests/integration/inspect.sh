#!/usr/bin/env bash
# inspect reports what sfdisk and blkid report, on an image made by the
# standard tools (sfdisk, mkfs.vfat, mke2fs).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

img="$TMP/disk.img"
truncate -s 300M "$img"
printf 'label: gpt\nlabel-id: 11111111-2222-3333-4444-555555555555\nsize=64M, type=uefi, name=ESP\ntype=linux, name=root\n' | sfdisk -q "$img"
mkfs.vfat -F 32 -S 512 -s 1 --offset 2048 -n EFISYS -i 1234ABCD "$img" 65536 >/dev/null 2>&1
mke2fs -q -t ext4 -L rootfs -U 01234567-89ab-cdef-0123-456789abcdef -E offset=$((65 * 1048576)) "$img" 234M

expect_exit "inspect an image" 0 "$MV" inspect "$img"
expect_match "inspect names the ESP's filesystem" "$OUT" 'vfat label EFISYS uuid 1234-ABCD'
expect_match "inspect names the root's filesystem" "$OUT" 'ext4 label rootfs uuid 01234567-89ab-cdef-0123-456789abcdef'
expect_exit "inspect --json" 0 "$MV" inspect --json "$img"
sfdisk --json "$img" >"$TMP/sfdisk.json"
cat >"$TMP/check.py" <<'PY'
import json, sys
mine = json.load(sys.stdin)
theirs = json.load(open(sys.argv[1]))["partitiontable"]
assert mine["table"] == theirs["label"] and mine["disk_id"] == theirs["id"], (mine, theirs)
for m, t in zip(mine["partitions"], theirs["partitions"], strict=True):
    assert m["start"] == t["start"] * 512 and m["size"] == t["size"] * 512, (m, t)
    assert m["type"] == t["type"] and m["partuuid"] == t["uuid"] and m["name"] == t["name"], (m, t)
fs = [p["filesystem"] for p in mine["partitions"]]
assert fs[0]["type"] == "vfat" and fs[1]["type"] == "ext4", fs
PY
python3 "$TMP/check.py" "$TMP/sfdisk.json" <<<"$OUT" >"$TMP/py" 2>&1 \
	&& ok "inspect --json agrees with sfdisk --json" || not_ok "inspect --json agrees with sfdisk --json" "$(cat "$TMP/py")"

expect_exit "inspect of a missing file fails" 1 "$MV" inspect "$TMP/none.img"
expect_match "and names it" "$ERR" 'none.img: No such file'
