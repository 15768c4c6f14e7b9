#!/usr/bin/env bash
# `microvisor image`, as an unprivileged user, judged only by outside tools:
# sfdisk, blkid, fsck.fat, mtools, e2fsck and debugfs.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
user_dir
U="$TMP/u"
export SOURCE_DATE_EPOCH=1700000000
export MTOOLS_SKIP_CHECK=1

# The userland: the generated tree (every entry type) plus busybox.
python3 tests/fixtures/mktar.py tree "$U/tree.tar"
mkdir -p "$TMP/bb/bin" && cp /bin/busybox "$TMP/bb/bin/busybox"
truncate -s 64M "$TMP/bb/sparse"
printf data | dd of="$TMP/bb/sparse" bs=1 seek=4096 conv=notrunc status=none
printf tail | dd of="$TMP/bb/sparse" bs=1 seek=$((64 * 1048576 - 4)) conv=notrunc status=none
touch -d @1700000000 "$TMP/bb/sparse"
tar --owner=0 --group=0 -C "$TMP/bb" -rf "$U/tree.tar" bin/busybox
# Its own archive: appended to a PAX one, GNU tar would store it dense.
tar --owner=0 --group=0 --sparse -C "$TMP/bb" -cf "$U/sparse.tar" sparse
gzip -9n "$U/tree.tar"
mkdir -p "$U/files" && printf 'hello from the host\n' >"$U/files/hello.txt"
cat >"$U/disk.conf" <<'CONF'
[Profile]
Name=imagetest
Architecture=x86_64

[Disk]
Table=gpt
Size=400M

[Partition esp]
Type=esp
Size=100M
Label=EFITEST

[Partition swap]
Type=swap
Size=16M
Label=swp

[Partition root]
Type=root
Size=Grow
Label=rootfs
GrowFileSystem=yes

[Userland]
Source=tree.tar.gz
Source=sparse.tar

[Files]
Copy=files/hello.txt esp:/notes/hello.txt 0644
Copy=files/hello.txt root:/etc/motd 0640 0:1000
CONF
chmod -R a+rX "$U"

expect_exit "image builds as $TEST_USER" 0 as_user "$UMV" image "$U/disk.conf" -o "$U/disk.img" --seed s1
img="$U/disk.img"
[ "$(stat -c %U "$img")" = "$TEST_USER" ] || [ "$(id -u)" -ne 0 ] && ok "the image belongs to the user who built it" || not_ok "the image belongs to the user who built it" "$(stat -c %U "$img")"
ls -A "$U" | grep -q '^\.disk' && not_ok "no temporary file is left" "$(ls -A "$U")" || ok "no temporary file is left"

"$MV" plan "$U/disk.conf" --image "$img" --seed s1 --json >"$TMP/plan.json"
sfdisk --json "$img" >"$TMP/sfdisk.json"
cat >"$TMP/table.py" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1])); table = json.load(open(sys.argv[2]))["partitiontable"]
assert table["label"] == "gpt" and table["id"] == plan["target"]["disk_id"].upper(), table
for want, got in zip(plan["partitions"], table["partitions"], strict=True):
    assert got["start"] * 512 == want["start"] and got["size"] * 512 == want["size"], (want, got)
    assert got["type"] == want["type"].upper() and got["uuid"] == want["partuuid"].upper(), (want, got)
    assert got["name"] == want["label"], (want, got)
assert table["partitions"][2].get("attrs") == "GUID:59", table["partitions"][2]
PY
python3 "$TMP/table.py" "$TMP/plan.json" "$TMP/sfdisk.json" >"$TMP/py" 2>&1 && ok "sfdisk reads the planned table" || not_ok "sfdisk reads the planned table" "$(cat "$TMP/py")"
sfdisk --verify "$img" >"$TMP/verify" 2>&1 && ok "sfdisk --verify" || not_ok "sfdisk --verify" "$(cat "$TMP/verify")"

off() { python3 -c "import json,sys; print([p for p in json.load(open('$TMP/plan.json'))['partitions'] if p['name']=='$1'][0]['$2'])"; }
esp=$(off esp start); esp_size=$(off esp size); swap=$(off swap start); root=$(off root start)
blkid_of() { blkid -p -o export -O "$1" "$img"; }
B=$(blkid_of "$esp"); expect_match "blkid: the ESP is FAT32" "$B" '^VERSION=FAT32$'
expect_match "blkid: the ESP's label" "$B" '^LABEL=EFITEST$'
expect_match "blkid: the ESP's volume id" "$B" "^UUID=$(off esp filesystem_id)\$"
B=$(blkid_of "$swap"); expect_match "blkid: swap" "$B" '^TYPE=swap$'
expect_match "blkid: the swap's UUID" "$B" "^UUID=$(off swap filesystem_id)\$"
B=$(blkid_of "$root"); expect_match "blkid: the root is ext4" "$B" '^TYPE=ext4$'
expect_match "blkid: the root's UUID" "$B" "^UUID=$(off root filesystem_id)\$"
expect_match "blkid: the root's label" "$B" '^LABEL=rootfs$'

dd if="$img" of="$TMP/esp.img" bs=1M skip=$((esp / 1048576)) count=$((esp_size / 1048576)) status=none
fsck.fat -n "$TMP/esp.img" >"$TMP/fsck" 2>&1 && ! grep -qi 'differ\|error\|fix' "$TMP/fsck" && ok "fsck.fat -n: the ESP is clean" || not_ok "fsck.fat -n: the ESP is clean" "$(cat "$TMP/fsck")"
expect_match "mtools reads the copied file" "$(mtype -i "$img@@$esp" ::/notes/hello.txt 2>&1)" '^hello from the host$'
e2fsck -fn "$img?offset=$root" >"$TMP/e2fsck" 2>&1 && ok "e2fsck -fn: the root is clean" || not_ok "e2fsck -fn: the root is clean" "$(tail -5 "$TMP/e2fsck")"

# Every file of the tarball, dumped out by debugfs, is what the tarball says.
R="$img?offset=$root"
mkdir -p "$TMP/dump"
debugfs -R "rdump / $TMP/dump" "$R" >/dev/null 2>&1
python3 tests/fixtures/compare_tree.py "$U/tree.tar.gz" "$TMP/dump" lost+found etc/motd sparse >"$TMP/cmp" 2>&1 \
	&& ok "debugfs rdump matches the tarball: types, owners, modes, sizes, contents, mtimes, links" \
	|| not_ok "debugfs rdump matches the tarball" "$(head -20 "$TMP/cmp")"
S=$(debugfs -R "stat /etc/epoch1" "$R" 2>/dev/null); expect_match "mtime 1 is kept" "$S" 'mtime: 0x00000001'
S=$(debugfs -R "stat /etc/epoch0" "$R" 2>/dev/null); expect_match "mtime 0 is kept" "$S" 'mtime: 0x00000000'
expect_match "hard links share an inode" "$S" 'Links: 2'
S=$(debugfs -R "stat /dev/null" "$R" 2>/dev/null); expect_match "device nodes" "$S" 'Type: character special'
expect_match "device numbers" "$S" 'major/minor number: 01:03'
S=$(debugfs -R "stat /bin/su" "$R" 2>/dev/null); expect_match "setuid is kept" "$S" 'Mode:  04755'
S=$(debugfs -R "stat /sparse" "$R" 2>/dev/null); expect_match "a sparse file keeps its size" "$S" 'Size: 67108864'
expect_match "and its holes (2 blocks of data, not 16384)" "$S" 'Blockcount: (16|24)$'
cmp -s "$TMP/dump/sparse" "$TMP/bb/sparse" && ok "the sparse file's bytes" || not_ok "the sparse file's bytes" "differ"
S=$(debugfs -R "stat /lib" "$R" 2>/dev/null); expect_match "a symlink keeps its mtime" "$S" 'mtime: 0x6553f100'
S=$(debugfs -R "stat /tmp" "$R" 2>/dev/null); expect_match "the sticky bit is kept" "$S" 'Mode:  01777'
S=$(debugfs -R "ea_list /caps" "$R" 2>/dev/null); expect_match "security.capability is kept" "$S" 'security.capability'
expect_match "user xattrs are kept" "$S" 'user.comment.*hello'
S=$(debugfs -R "stat /home/user/notes" "$R" 2>/dev/null); expect_match "owners are kept" "$S" 'User:  1000   Group:  1000'
S=$(debugfs -R "stat /etc/motd" "$R" 2>/dev/null); expect_match "[Files] sets mode and owner" "$S" 'Mode:  0640'
expect_match "[Files] sets the group" "$S" 'Group:  1000'

# Same inputs, same bytes; another seed, other identifiers.
as_user "$UMV" image -q "$U/disk.conf" -o "$U/again.img" --seed s1 && cmp -s "$img" "$U/again.img" && ok "two builds are byte-identical" || not_ok "two builds are byte-identical" "images differ"
as_user "$UMV" image -q "$U/disk.conf" -o "$U/other.img" --seed s2
[ "$(blkid -p -o value -s UUID -O "$root" "$U/other.img")" != "$(blkid -p -o value -s UUID -O "$root" "$img")" ] && ok "another seed, another filesystem UUID" || not_ok "another seed, another filesystem UUID" "same UUID"
rm -f "$U/again.img" "$U/other.img"

# Unwritten space stays sparse: far fewer blocks than the image's size.
alloc=$(( $(stat -c %b "$img") * 512 ))
[ "$alloc" -lt $((100 * 1048576)) ] && ok "the image is sparse ($alloc bytes allocated of 400 MiB)" || not_ok "the image is sparse" "$alloc bytes allocated"

# Content that does not fit: a clear error, nothing at OUT, no temporary file.
head -c $((300 * 1048576)) /dev/zero >"$TMP/big" && tar -C "$TMP" -cf "$U/big.tar" big && rm "$TMP/big"
sed 's/tree.tar.gz/big.tar/; s/^Size=400M/Size=200M/' "$U/disk.conf" >"$U/big.conf"
chmod a+r "$U/big.tar" "$U/big.conf"
expect_exit "content that does not fit fails" 1 as_user "$UMV" image -q "$U/big.conf" -o "$U/big.img"
expect_match "the error names the partition and the member" "$ERR" 'root.*big'
[ ! -e "$U/big.img" ] && ! ls -A "$U" | grep -q '^\.big' && ok "nothing is left at OUT" || not_ok "nothing is left at OUT" "$(ls -A "$U")"
