#!/usr/bin/env bash
# Size=auto and a directory of 100,000 files: the survey sizes the root and
# its inode count from the tarball, and linking stays linear (libext2fs
# 1.47.0 alone takes minutes). The time is printed, not asserted.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
python3 tests/fixtures/mktar.py many "$TMP/many.tar"
cat >"$TMP/auto.conf" <<'CONF'
[Profile]
Name=auto
Architecture=x86_64
[Partition esp]
Type=esp
Size=64M
[Partition root]
Type=root
Size=auto
[Userland]
Source=many.tar
CONF
start=$(date +%s.%N)
expect_exit "100,000 files in one directory, Size=auto" 0 "$MV" image -q "$TMP/auto.conf" -o "$TMP/auto.img"
echo "# image of 100,000 files in one directory: $(echo "$(date +%s.%N) - $start" | bc) s"
root=$((65 * 1048576))
e2fsck -fn "$TMP/auto.img?offset=$root" >"$TMP/fsck" 2>&1 && ok "e2fsck -fn is clean" || not_ok "e2fsck -fn is clean" "$(tail -5 "$TMP/fsck")"
expect_match "every file is there" "$(tail -1 "$TMP/fsck")" ': 1000(1[0-9]|2[0-9])/'
expect_match "the last one reads back" "$(debugfs -R 'cat /store/099999-file' "$TMP/auto.img?offset=$root" 2>/dev/null)" '^99999$'
size=$(sfdisk --json "$TMP/auto.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["size"]*512)')
[ "$size" -ge $((100000 * 4096)) ] && [ "$size" -lt $((2 * 1024 * 1048576)) ] && ok "the root is sized from the content ($size bytes)" || not_ok "the root is sized from the content" "$size bytes"

# The ESP cannot be automatic when the boot loader fills it.
cat >"$TMP/esp.conf" <<'CONF'
[Profile]
Name=auto
Architecture=x86_64
[Partition esp]
Type=esp
Size=auto
[Partition root]
Type=root
Size=1G
[Userland]
Source=many.tar
[Bootloader]
Kind=systemd-boot
Kernel=root:/boot/vmlinuz-*
CONF
expect_exit "an automatic ESP for the boot loader is refused" 2 "$MV" image -q "$TMP/esp.conf" -o "$TMP/esp.img"
expect_match "saying why" "$ERR" "Size=auto cannot size the boot loader's files"
[ ! -e "$TMP/esp.img" ] && ok "and writes nothing" || not_ok "and writes nothing" "esp.img exists"
