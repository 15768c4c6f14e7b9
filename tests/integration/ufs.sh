#!/usr/bin/env bash
# A FreeBSD-like image from synthetic distribution sets made here (base.txz
# then kernel.txz, ./-prefixed like FreeBSD's), built as an unprivileged
# user and judged by tools nobody here wrote: sfdisk --json (types, GPT
# labels), mtools (the ESP), blkid, cmp (raw boot code), and Linux's own
# ufs and vfat drivers in a QEMU guest (tests/boot/fs-guest.py,
# ../shared/notes/ufs-validation.md): every path's type, mode, owner, size,
# link count, mtime, link target and content must match the archives, and
# dmesg must show no ufs error. Corrupted copies make the same judge fail.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo >"$TMP/assets.log" 2>&1 || { not_ok "guest assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
python3 tests/boot/fs-guest.py obj/demo/debs obj/fs-guest >"$TMP/guest.log" 2>&1 || { not_ok "fs-guest" "$(tail -5 "$TMP/guest.log")"; exit 0; }
user_dir
U="$TMP/u"
export SOURCE_DATE_EPOCH=1700000000
export MTOOLS_SKIP_CHECK=1

# base.txz: the tree; kernel.txz: /boot/kernel with a sparse file (GNU
# tar --sparse stores only its data).
python3 tests/fixtures/mktar.py freebsd "$TMP/base.tar"
xz -T1 -c "$TMP/base.tar" >"$U/base.txz"
mkdir -p "$TMP/k/boot/kernel"
head -c 3000000 /dev/urandom >"$TMP/k/boot/kernel/kernel"
truncate -s 40M "$TMP/k/boot/kernel/sparse.ko"
printf data | dd of="$TMP/k/boot/kernel/sparse.ko" bs=1 seek=70000 conv=notrunc status=none
printf tail | dd of="$TMP/k/boot/kernel/sparse.ko" bs=1 seek=$((40 * 1048576 - 4)) conv=notrunc status=none
# A directory past UFS's 12 direct blocks (32 KiB each): 1,900 names of
# 200 bytes, two to a 512-byte chunk, ~15 blocks; the rest through the
# single indirect block.
mkdir -p "$TMP/k/boot/kernel/long"
(cd "$TMP/k/boot/kernel/long" && for i in $(seq -w 1 1900); do : >"$i-$(printf '%0195d' 0)"; done)
touch -d @1700000000 "$TMP/k/boot/kernel" "$TMP/k/boot/kernel"/* "$TMP/k/boot/kernel/long"/*
tar --owner=0 --group=0 --sparse -C "$TMP/k" -cf "$TMP/kernel.tar" ./boot/kernel
xz -T1 -c "$TMP/kernel.tar" >"$U/kernel.txz"
mkdir -p "$U/files"
head -c 3145728 /dev/urandom >"$U/files/big.bin"
cat >"$U/fb.conf" <<'CONF'
[Profile]
Name=fbtest
Architecture=x86_64

[Disk]
Table=gpt
Size=256M

[Partition efi]
Type=esp
Size=40M
Label=efiboot0

[Partition boot]
Type=freebsd-boot
Size=512K
Label=gptboot0

[Partition swap]
Type=freebsd-swap
Size=8M
Label=swap0

[Partition root]
Type=freebsd-ufs
Size=Grow
Label=rootfs

[Userland]
Source=base.txz
Source=kernel.txz

[Bootloader]
Kind=freebsd

[Files]
Copy=files/big.bin efi:/Notes/grüße-långt-namn-über-acht.bin 0644
CONF
chmod -R a+rX "$U"
img="$U/fb.img"
expect_exit "image of a FreeBSD layout builds as $TEST_USER" 0 as_user "$UMV" image -q "$U/fb.conf" -o "$img" --seed s1
expect_exit "the same profile and seed give the same bytes" 0 as_user "$UMV" image -q "$U/fb.conf" -o "$U/again.img" --seed s1
cmp -s "$img" "$U/again.img" && ok "the image is reproducible" || not_ok "the image is reproducible" "$(cmp "$img" "$U/again.img" | head -1)"
rm -f "$U/again.img"

# The table: types and GPT labels as sfdisk reads them.
sfdisk --json "$img" >"$TMP/sfdisk.json" 2>&1
got=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["partitiontable"]
print(t["label"], " ".join("%s:%s:%d" % (p["type"].lower(), p.get("name", ""), p["size"] * 512) for p in t["partitions"]))' "$TMP/sfdisk.json")
want="gpt c12a7328-f81f-11d2-ba4b-00a0c93ec93b:efiboot0:41943040 83bd6b9d-7f41-11dc-be0b-001560b84f0f:gptboot0:524288 516e7cb5-6ecf-11d6-8ff8-00022d09712b:swap0:8388608 516e7cb6-6ecf-11d6-8ff8-00022d09712b:rootfs:"
[[ "$got" == "$want"* ]] && ok "sfdisk: efi, freebsd-boot (512 KiB), freebsd-swap, freebsd-ufs with their labels" || not_ok "sfdisk: types and labels" "$got"
start() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["partitiontable"]["partitions"][int(sys.argv[2])]["start"] * 512)' "$TMP/sfdisk.json" "$1"; }
esp="$img@@$(start 0)" p2=$(start 1) p4=$(start 3)

# Raw boot code, as gpart bootcode -b pmbr -p gptboot writes it.
tar -xf "$TMP/base.tar" -C "$TMP" ./boot/pmbr ./boot/gptboot ./boot/loader.efi 2>/dev/null
cmp -s -n 440 "$img" "$TMP/boot/pmbr" && ok "pmbr is the protective MBR's boot code" || not_ok "pmbr is the protective MBR's boot code" "$(cmp -n 440 "$img" "$TMP/boot/pmbr")"
[ "$(xxd -s 450 -l 1 -p "$img")" = ee ] && [ "$(xxd -s 510 -l 2 -p "$img")" = 55aa ] && ok "the protective MBR's entry and signature stay" || not_ok "the protective MBR's entry and signature stay" "$(xxd -s 446 -l 66 "$img")"
gb=$(stat -c %s "$TMP/boot/gptboot")
dd if="$img" bs=512 skip=$((p2 / 512)) count=1024 status=none >"$TMP/p2"
cmp -s -n "$gb" "$TMP/p2" "$TMP/boot/gptboot" && [ -z "$(tail -c +$((gb + 1)) "$TMP/p2" | tr -d '\0' | head -c 1)" ] &&
	ok "gptboot fills freebsd-boot from its first byte, zeros after" || not_ok "gptboot in freebsd-boot" "$(cmp -n "$gb" "$TMP/p2" "$TMP/boot/gptboot")"

# The ESP, read by mtools.
for f in EFI/freebsd/loader.efi EFI/BOOT/BOOTX64.EFI; do
	mtype -i "$esp" "::/$f" >"$TMP/got.efi" 2>"$TMP/mt.err"
	cmp -s "$TMP/got.efi" "$TMP/boot/loader.efi" && ok "mtools: $f is root:/boot/loader.efi" || not_ok "mtools: $f" "$(cat "$TMP/mt.err")"
done

# blkid and inspect name the filesystem; plan promised its id.
bid=$(blkid -p -o export --offset "$p4" "$img" 2>&1)
expect_match "blkid: ufs, version 2, label rootfs" "$bid" "TYPE=ufs"
expect_match "blkid: the label" "$bid" "LABEL=rootfs"
"$MV" plan "$U/fb.conf" --image x.img --seed s1 --json >"$TMP/plan.json"
fsid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["partitions"][3]["filesystem_id"].replace("-", "")[:16])' "$TMP/plan.json" 2>&1)
expect_match "the UFS id is the one plan shows (its first 16 hex digits)" "$bid" "UUID=$fsid\$"
expect_match "inspect shows the ufs root" "$("$MV" inspect "$img" 2>&1)" "ufs label rootfs"

# What the installed system reads: fstab, loader.conf, rc.conf.
printf '# Device\tMountpoint\tFStype\tOptions\tDump\tPass#\n/dev/gpt/rootfs\t/\t\tufs\trw\t1\t1\n/dev/gpt/swap0\tnone\t\tswap\tsw\t0\t0\n/dev/gpt/efiboot0\t/boot/efi\tmsdosfs\trw\t2\t2\n' >"$TMP/fstab"
printf 'vfs.root.mountfrom="ufs:/dev/gpt/rootfs"\n' >"$TMP/loader.conf"
printf 'sshd_enable="YES"\nhostname="fbtest"\ngrowfs_enable="YES"\n' >"$TMP/rc.conf"
gen=(--file etc/fstab="$TMP/fstab" --file boot/loader.conf="$TMP/loader.conf" --file etc/rc.conf="$TMP/rc.conf"
     --extra etc/fstab --extra boot/loader.conf)

# Linux's own drivers: the UFS2 root and the FAT ESP, in one guest.
expect_exit "the guest reads the image" 0 bash tests/boot/fs-judge.sh obj/fs-guest "$img" "$TMP/report" ufs=vda4 vfat=vda1
expect_exit "Linux's ufs driver reads every path as the archives say" 0 \
	python3 tests/fixtures/fs_report.py "$TMP/report" ufs "${gen[@]}" "$TMP/base.tar" "$TMP/kernel.tar"
[ "$(grep -c '^[0-9a-f]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9]* \./usr/share/many/' "$TMP/report")" -eq 2000 ] &&
	ok "2,000 files in one directory" || not_ok "2,000 files in one directory" "$(grep -c usr/share/many/ "$TMP/report")"
[ "$(grep -c '^[0-9a-f]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9]* \./boot/kernel/long/' "$TMP/report")" -eq 1900 ] &&
	ok "a directory past 12 blocks (1,900 names of 200 bytes)" || not_ok "a directory past 12 blocks" "$(grep -c boot/kernel/long/ "$TMP/report")"
expect_exit "Linux's vfat driver reads the ESP's loaders and a long UTF-8 name" 0 python3 tests/fixtures/fs_report.py "$TMP/report" vfat \
	--file EFI/freebsd/loader.efi="$TMP/boot/loader.efi" --file EFI/BOOT/BOOTX64.EFI="$TMP/boot/loader.efi" \
	--file "Notes/grüße-långt-namn-über-acht.bin=$U/files/big.bin"

# The judge can fail: a zeroed superblock magic ...
cp --sparse=always "$img" "$TMP/bad.img"
printf '\0\0\0\0' | dd of="$TMP/bad.img" bs=1 seek=$((p4 + 65536 + 1372)) conv=notrunc status=none
bash tests/boot/fs-judge.sh obj/fs-guest "$TMP/bad.img" "$TMP/bad.report" ufs=vda4 >/dev/null 2>&1
expect_exit "a zeroed superblock magic fails the judge" 1 python3 tests/fixtures/fs_report.py "$TMP/bad.report" ufs "${gen[@]}" "$TMP/base.tar" "$TMP/kernel.tar"
expect_match "... because Linux does not mount it" "$ERR" "did not mount"
# ... and a directory entry with d_reclen 3 plus one flipped data byte.
cp --sparse=always "$img" "$TMP/bad.img"
python3 - "$TMP/bad.img" "$p4" <<'PY'
import sys
path, start = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(start)
    part = f.read(256 << 20)
    e = part.find(bytes([8, 9]) + b"file-1000")   # d_type, d_namlen, d_name
    d = part.find(b"MZ loader.efi placeholder")
    assert e > 0 and d > 0, (e, d)
    f.seek(start + e - 2); f.write((3).to_bytes(2, "little"))   # d_reclen
    f.seek(start + d); f.write(b"N")
PY
bash tests/boot/fs-judge.sh obj/fs-guest "$TMP/bad.img" "$TMP/bad.report" ufs=vda4 >/dev/null 2>&1
expect_exit "a bad d_reclen and a flipped byte fail the judge" 1 python3 tests/fixtures/fs_report.py "$TMP/bad.report" ufs "${gen[@]}" "$TMP/base.tar" "$TMP/kernel.tar"
expect_match "... dmesg shows the ufs error" "$ERR" "dmesg: .*(bad entry|UFS-fs)"
expect_match "... the entries past it go missing" "$ERR" "usr/share/many/file-1[0-9]*: missing"
expect_match "... the flipped byte changes a hash" "$ERR" "boot/loader.efi: content differs"

# A reused disk (install): random bytes and an old ext4 where the UFS2
# root goes. Every metadata block must be written: the same judge.
D=$TMP/disk
head -c $((256 * 1048576)) /dev/urandom >"$D"
if new_loop "$D"; then
	printf 'label: gpt\nstart=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' $((p4 / 512)) | sfdisk -q "$LOOP" >/dev/null 2>&1
	partx -a "$LOOP" 2>/dev/null
	mkfs.ext4 -q -L oldroot "${LOOP}p1" 2>/dev/null
	partx -d "$LOOP" 2>/dev/null
	expect_exit "install onto a reused disk" 0 "$MV" install -q "$U/fb.conf" --disk "$LOOP" --yes --seed s1
	sync
	expect_exit "the guest reads the installed disk" 0 bash tests/boot/fs-judge.sh obj/fs-guest "$D" "$TMP/disk.report" ufs=vda4
	expect_exit "Linux's ufs driver reads the reused disk as the archives say" 0 \
		python3 tests/fixtures/fs_report.py "$TMP/disk.report" ufs "${gen[@]}" "$TMP/base.tar" "$TMP/kernel.tar"
	bid=$(blkid -p -o export --offset "$p4" "$D" 2>&1)
	expect_match "blkid sees only ufs there (no ext4 left over)" "$bid" "^TYPE=ufs$"
else
	not_ok "a loop device for the reused disk" "losetup failed"
fi

# Nix on FreeBSD: the store and its registration file seeded as on Linux;
# the accounts (pw), the registration and nix-daemon left to an rc.d
# script that runs once on first boot. No Linux account files appear.
if tests/fixtures/mknixtar.sh "$U/nix.tar.xz" >"$TMP/paths" 2>"$TMP/mknix.err"; then
	chmod a+r "$U/nix.tar.xz"
	printf '\n[Nix]\nTarball=nix.tar.xz\n' >>"$U/fb.conf"
	expect_exit "image of the FreeBSD layout with Nix" 0 as_user "$UMV" image -q "$U/fb.conf" -o "$U/nix.img" --seed s1
	expect_exit "the guest reads it" 0 bash tests/boot/fs-judge.sh obj/fs-guest "$U/nix.img" "$TMP/nix.report" ufs=vda4
	printf 'sshd_enable="YES"\nmicrovisor_nix_enable="YES"\nhostname="fbtest"\ngrowfs_enable="YES"\n' >"$TMP/rc.conf"
	expect_exit "the tree, rc.conf enabling the first-boot script" 0 python3 tests/fixtures/fs_report.py "$TMP/nix.report" ufs \
		"${gen[@]}" --extra nix --extra nix-path-registration --extra usr/local --extra root --extra etc/nix "$TMP/base.tar" "$TMP/kernel.tar"
	rep=$(cat "$TMP/nix.report")
	expect_match "the rc.d script is there, 0555" "$rep" "^816d 0 0 [0-9]+ 1 [0-9]+ [0-9]+ \./usr/local/etc/rc\.d/microvisor_nix$"
	expect_match "/nix/store is 1775 root:nixbld (30000)" "$rep" "^43fd 0 30000 .* \./nix/store$"
	expect_match "the registration waits for the first boot" "$rep" " \./nix-path-registration$"
	grep -Eq ' \./etc/(shadow|passwd|group)$' "$TMP/nix.report" && not_ok "no Linux account files" "$(grep -E ' \./etc/(shadow|passwd|group)$' "$TMP/nix.report")" || ok "no Linux account files (pw makes the accounts on FreeBSD)"
else
	not_ok "a miniature Nix tarball" "$(tail -3 "$TMP/mknix.err")"
fi
