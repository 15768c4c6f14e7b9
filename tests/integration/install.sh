#!/usr/bin/env bash
# microvisor install onto loop devices. The refusals (a mounted ext4
# partition, the device holding the running root, no --yes without a
# terminal, a partition instead of a disk) leave the disk's bytes as they
# were (sha256 before and after). Installed over a disk that held other
# filesystems and random bytes, the result passes fsck.fat -n, e2fsck -fn,
# blkid -p (one unambiguous filesystem per partition) and sfdisk --verify,
# and the loop's backing file boots under OVMF to the marker. A failed
# install leaves no partition table and a second run starts over cleanly.
# [Handoff] Mode=chroot runs its command inside the installed root. Needs
# root (losetup, mount).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
demo_profile "$TMP/boot.conf"
kver=$KVER marker=$MARKER

# A disk that held other things: random bytes, then an old GPT whose first
# partition (ext4) starts where the new ESP will and whose second (vfat)
# starts where the new root will (ext4 over vfat is the "ambivalent" trap),
# then swap.
D=$TMP/disk
head -c $((256 * 1048576)) /dev/urandom >"$D"
new_loop "$D"
L=$LOOP
sfdisk -q "$L" <<'SF' >/dev/null 2>&1
label: gpt
start=2048, size=131072, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
start=133120, size=262144, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
start=395264, size=65536, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
SF
partx -a "$L"
mkfs.ext4 -q -L oldroot "${L}p1" && mkfs.vfat -n OLDDATA "${L}p2" >/dev/null && mkswap -L oldswap "${L}p3" >/dev/null \
	&& ok "the old disk: ext4, vfat and swap" || not_ok "the old disk" "mkfs failed"
sync
expect_exit "plan --disk" 0 "$MV" plan "$TMP/boot.conf" --disk "$L"
expect_match "plan --disk shows what the install destroys" "$OUT" 'Destroyed by the install'
expect_match "naming the old filesystems" "$OUT" 'vfat "OLDDATA"'

# The same for programs: plan --json names the old table, partitions and
# filesystems as libblkid and sfdisk see them, and whether install refuses.
plan_json() { # PYTHON_CHECK: run on the JSON plan's target as t; prints what differs
	"$MV" plan "$TMP/boot.conf" --disk "$L" --json >"$TMP/plan.json" 2>"$TMP/plan.err" || { echo "plan exited $?: $(cat "$TMP/plan.err")"; return; }
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))["target"]
'"$1" "$TMP/plan.json" "$@"
}
want=$(for p in 1 2 3; do printf '%s %s %s %s %s\n' "$(($(cat /sys/class/block/${L#/dev/}p$p/start) * 512))" \
	"$(($(cat /sys/class/block/${L#/dev/}p$p/size) * 512))" "$(blkid -p -o value -s TYPE "${L}p$p")" \
	"$(blkid -p -o value -s LABEL "${L}p$p")" "$(blkid -p -o value -s UUID "${L}p$p")"; done)
got=$(plan_json 'd = t["destroys"]
print(d["table"], d["path"], d["size"])
for p in d["partitions"]:
    f = p["filesystem"]
    print(p["start"], p["size"], f["type"], f["label"], f["uuid"])
print(p["type"], t["refused"], t["refused_because"])')
expect_match "plan --json: what the install destroys (table, partitions, filesystems as blkid -p sees them)" "$got" \
	"^gpt $L $((256 * 1048576))
$want
0657FD6D-A4AB-43C4-84E5-0933C84B4F4F False None\$"

hash() { sha256sum <"$D" | cut -d' ' -f1; }
before=$(hash)

# Refusals, each with a clear message and the disk untouched.
mkdir -p "$TMP/mnt"
if mount -o ro "${L}p1" "$TMP/mnt"; then # read-only: mounting writes nothing
	expect_exit "a disk with a mounted ext4 partition is refused" 1 "$MV" install "$TMP/boot.conf" --disk "$L" --yes
	expect_match "naming the mount" "$ERR" "refused: $L is in use: ${L#/dev/}p1 is mounted at $TMP/mnt; unmount it first"
	expect_match "plan --json says install would refuse it, and why" "$(plan_json 'print(t["refused"], t["refused_because"])')" \
		"^True $L is in use: ${L#/dev/}p1 is mounted at $TMP/mnt; unmount it first"
	umount "$TMP/mnt"
else
	not_ok "mounting the old ext4 partition" "mount failed"
fi
[ "$(hash)" = "$before" ] && ok "the mounted disk is untouched" || not_ok "mounted: untouched" "the disk changed"

rootdev=$(awk '$5 == "/" { print $3 }' /proc/self/mountinfo | head -1)
rootnode=/dev/block/$rootdev
[ -b "$rootnode" ] || rootnode=$(for b in /sys/class/block/*; do [ "$(cat "$b/dev")" = "$rootdev" ] && echo "/dev/${b##*/}"; done | head -1)
if [ -n "$rootnode" ] && [ -b "$rootnode" ]; then
	rhash() { head -c 1048576 "$rootnode" 2>/dev/null | sha256sum; }
	rbefore=$(rhash)
	expect_exit "the device holding the running root is refused" 1 "$MV" install "$TMP/boot.conf" --disk "$rootnode" --yes
	expect_match "saying so" "$ERR" "holds the running system's root"
	[ "$(rhash)" = "$rbefore" ] && ok "the root device's first MiB is untouched" || not_ok "root: untouched" "its first MiB changed"
else
	not_ok "the device holding the running root" "no block device node for $rootdev"
fi

expect_exit "without --yes and without a terminal: refused" 2 "$MV" install "$TMP/boot.conf" --disk "$L" </dev/null
expect_match "saying why" "$ERR" "standard input is not a terminal"
expect_match "after showing what is on the disk" "$ERR" "ext4 \"oldroot\""
expect_exit "a partition instead of the whole disk is refused" 1 "$MV" install "$TMP/boot.conf" --disk "${L}p1" --yes
expect_match "naming the disk" "$ERR" "is a partition .* of $L: give the whole disk"
if swapon "${L}p3" 2>/dev/null; then
	expect_exit "a disk with active swap is refused" 1 "$MV" install "$TMP/boot.conf" --disk "$L" --yes
	expect_match "saying which" "$ERR" "is active swap; turn it off first"
	swapoff "${L}p3"
fi
[ "$(hash)" = "$before" ] && ok "after every refusal the disk is untouched" || not_ok "refusals: untouched" "the disk changed"

# A damaged userland is found by the survey, before anything is written.
head -c 200000 obj/demo/userland.tar.gz >"$TMP/broken.tar.gz"
sed "s|^Source=.*|Source=$TMP/broken.tar.gz|" profiles/demo.conf >"$TMP/damaged.conf"
expect_exit "a damaged userland fails the install" 1 "$MV" install -q "$TMP/damaged.conf" --disk "$L" --yes
expect_match "before anything is written" "$ERR" "nothing was written to $L"
[ "$(hash)" = "$before" ] && ok "and the disk is untouched" || not_ok "damaged userland: untouched" "the disk changed"

# A failure half-way (a symlink for the ESP, which FAT cannot store, in the
# files stage) leaves a plainly unpartitioned disk; the next run starts over.
ln -s /etc/hostname "$TMP/link"
cat >"$TMP/broken.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo.conf
[Files]
Copy=$TMP/link esp:/link
CONF
partx -d "$L"
expect_exit "an install that fails half-way" 1 "$MV" install -q "$TMP/broken.conf" --disk "$L" --yes
expect_match "says the disk has no table now" "$ERR" "has no partition table now; run the install again"
if sfdisk -d "$L" >/dev/null 2>&1 || [ -n "$(blkid -p -o value -s PTTYPE "$L")" ]; then
	not_ok "the failed install left no partition table" "$(sfdisk -d "$L" 2>&1 | head -3)"
else
	ok "the failed install left no partition table (not even the backup GPT)"
fi

expect_exit "install over the old disk" 0 "$MV" install -q "$TMP/boot.conf" --disk "$L" --yes
partx -a "$L" 2>/dev/null || partx -u "$L"
why=""
fsck.fat -n "${L}p1" >"$TMP/fsck.log" 2>&1 || why="fsck.fat -n: $(tail -3 "$TMP/fsck.log")"
e2fsck -fn "${L}p2" >"$TMP/e2fsck.log" 2>&1 || why="$why e2fsck -fn: $(tail -3 "$TMP/e2fsck.log")"
[ -z "$why" ] && ok "fsck.fat -n and e2fsck -fn are clean" || not_ok "fsck" "$why"
expect_match "blkid -p finds one vfat in partition 1" "$(blkid -p -o value -s TYPE "${L}p1" 2>&1; echo "exit $?")" $'^vfat\nexit 0$'
expect_match "blkid -p finds one ext4 in partition 2" "$(blkid -p -o value -s TYPE "${L}p2" 2>&1; echo "exit $?")" $'^ext4\nexit 0$'
expect_match "no third partition remains" "$(sfdisk -d "$L")" '^/dev/[a-z0-9]+p2 '
sfdisk --verify "$L" >"$TMP/verify.log" 2>&1 && ok "sfdisk --verify" || not_ok "sfdisk --verify" "$(cat "$TMP/verify.log")"
expect_match "the marker is in the root" "$(debugfs -R 'cat /etc/microvisor-marker' "${L}p2" 2>/dev/null)" "^$marker\$"
expect_match "an image of the same profile has the same layout" "$(sfdisk -d "$L" | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p' | tr '\n' ' ')" '^2048 131072 133120 389120 $'
partx -d "$L"
losetup -d "$L"
expect_exit "the installed disk boots under OVMF" 0 bash tests/boot/qemu.sh uefi-x86_64 "$D" 'microvisor-demo: LoaderEntrySelected' 150 "$TMP/serial.log"
log=$(tr -d '\r' <"$TMP/serial.log")
expect_match "the guest prints the marker from the installed root" "$log" "marker: $marker"
expect_match "systemd-boot selected our entry" "$log" "LoaderEntrySelected=demo-$kver.conf"

# [Handoff] Mode=chroot: the command runs inside the installed root.
cat >"$TMP/chroot.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo.conf

[Handoff]
Mode=chroot
Command=echo "ran in \$(cat /etc/microvisor-handoff-probe 2>/dev/null || echo the installed root)" >/etc/handoff-ran
CONF
new_loop "$D"
L=$LOOP
expect_exit "install with [Handoff] Mode=chroot" 0 "$MV" install -q "$TMP/chroot.conf" --disk "$L" --yes
partx -a "$L" 2>/dev/null || partx -u "$L"
expect_match "the command ran inside the installed root" "$(debugfs -R 'cat /etc/handoff-ran' "${L}p2" 2>/dev/null)" '^ran in the installed root$'
[ ! -e /etc/handoff-ran ] && ok "and wrote nothing on the host" || not_ok "chroot: host untouched" "/etc/handoff-ran exists on the host"
grep -q microvisor-chroot /proc/self/mountinfo && not_ok "nothing stays mounted" "$(grep microvisor-chroot /proc/self/mountinfo)" || ok "nothing stays mounted"
e2fsck -fn "${L}p2" >"$TMP/e2fsck.log" 2>&1 && ok "the root is clean after the handoff" || not_ok "root after handoff" "$(tail -3 "$TMP/e2fsck.log")"
sed -i 's|^Command=.*|Command=exit 3|' "$TMP/chroot.conf"
partx -d "$L"
expect_exit "a failing handoff command fails the install" 1 "$MV" install -q "$TMP/chroot.conf" --disk "$L" --yes
expect_match "with its status" "$ERR" "handoff \(chroot\).*exited with status 3"
losetup -d "$L"
