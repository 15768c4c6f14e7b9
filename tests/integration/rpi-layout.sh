#!/usr/bin/env bash
# The Raspberry Pi 4 and 5 layouts, which QEMU has no model for, checked
# structurally against boot-spec.md §3 with tools nobody here wrote
# (sfdisk, fsck.fat, blkid, mtools): per model the firmware blobs and
# device trees the boot partition must (and must not) carry, config.txt's
# sections and keys, cmdline.txt's single line, the MBR types.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo-arm64 arm64 >"$TMP/assets.log" 2>&1 || { not_ok "arm64 demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
export MTOOLS_SKIP_CHECK=1
U=$ROOT/obj/demo-arm64/userland.tar.gz
kver=$(tar tzf "$U" | sed -n 's|^boot/vmlinuz-||p' | sort -V | tail -1)
# Firmware= as Debian's package extracts (usr/lib/raspi-firmware/...), the
# form a user gets from `dpkg-deb -x raspi-firmware_*.deb DIR`.
dpkg-deb -x "$(ls obj/demo-arm64/debs/raspi-firmware_*.deb | head -1)" "$TMP/fwdeb"
FW=$TMP/fwdeb/usr/lib/raspi-firmware
mkdir -p "$TMP/dtb"
tar xzf "$U" -C "$TMP/dtb" "usr/lib/linux-image-$kver/broadcom"
DT=$TMP/dtb/usr/lib/linux-image-$kver/broadcom

# profile NAME MODELS [DeviceTree=...]: an image like demo-rpi.conf's.
profile() {
	cat >"$TMP/$1.conf" <<CONF
[Profile]
Name=$1
Architecture=aarch64
[Disk]
Table=mbr
Size=256M
[Partition firmware]
Type=fat32
Size=64M
Format=vfat
Label=bootfs
[Partition root]
Type=linux
Size=Grow
Format=ext4
[Userland]
Source=$U
[Bootloader]
Kind=raspberrypi
Models=$2
Firmware=$TMP/fwdeb
Kernel=root:/boot/vmlinuz-*
Initrd=root:/boot/initrd.img-*
${3:-}
CONF
	"$MV" image -q "$TMP/$1.conf" -o "$TMP/$1.img" >"$TMP/$1.out" 2>&1
}

# The checks every Pi image must pass, whatever the models.
common() { # NAME
	local n=$1 img=$TMP/$1.img parts start sig
	parts=$(sfdisk --json "$img")
	expect_match "$n: MBR" "$parts" '"label": "dos"'
	read -r start sig t1 t2 < <(python3 -c '
import json, sys
t = json.loads(sys.argv[1])["partitiontable"]; p = t["partitions"]
print(p[0]["start"] * 512, t["id"][2:].lower().zfill(8), p[0]["type"], p[1]["type"])' "$parts")
	[ "$t1" = c ] && ok "$n: partition 1 is FAT32 LBA (0x0c)" || not_ok "$n: partition 1 is FAT32 LBA (0x0c)" "type 0x$t1"
	[ "$t2" = 83 ] && ok "$n: partition 2 is Linux (0x83)" || not_ok "$n: partition 2 is Linux (0x83)" "type 0x$t2"
	F="$img@@$start"
	dd if="$img" of="$TMP/p1" bs=1M skip=$((start / 1048576)) count=64 conv=sparse status=none
	expect_exit "$n: fsck.fat -n finds the boot partition clean" 0 fsck.fat -n "$TMP/p1"
	expect_match "$n: the boot partition is FAT32" "$(blkid -p -o export "$TMP/p1")" '^VERSION=FAT32$'
	mtype -i "$F" ::/cmdline.txt >"$TMP/cmdline" 2>/dev/null
	[ "$(wc -l <"$TMP/cmdline")" = 1 ] && [ "$(tail -c 1 "$TMP/cmdline" | od -An -c | tr -d ' ')" = '\n' ] \
		&& ok "$n: cmdline.txt is one LF-terminated line" || not_ok "$n: cmdline.txt is one LF-terminated line" "$(od -c "$TMP/cmdline" | tail -3)"
	grep -q $'\r' "$TMP/cmdline" && not_ok "$n: no CR in cmdline.txt" "found one" || ok "$n: no CR in cmdline.txt"
	expect_match "$n: cmdline.txt roots by PARTUUID=<signature>-02 and waits" "$(cat "$TMP/cmdline")" "(^| )root=PARTUUID=$sig-02( .*)? rootwait( |\$)"
	mtype -i "$F" ::/config.txt >"$TMP/config" 2>/dev/null || not_ok "$n: config.txt exists" "missing"
	CONFIG=$(cat "$TMP/config")
	for k in arm_64bit=1 enable_uart=1 upstream_kernel=1 kernel=kernel8.img 'initramfs initramfs8 followkernel'; do
		expect_match "$n: config.txt has $k" "$CONFIG" "^$k\$"
	done
	expect_match "$n: config.txt ends in [all]" "$(tail -n 1 "$TMP/config")" '^\[all\]$'
	awk 'length > 98 || /\r/ {bad=1} END {exit bad}' "$TMP/config" && ok "$n: config.txt lines are at most 98 characters, no CR" \
		|| not_ok "$n: config.txt lines are at most 98 characters, no CR" "$(awk 'length > 98' "$TMP/config" | head -1)"
	mtype -i "$F" ::/kernel8.img >"$TMP/k" 2>/dev/null && tar xzf "$U" -O "boot/vmlinuz-$kver" | cmp -s - "$TMP/k" \
		&& ok "$n: kernel8.img is the userland's kernel" || not_ok "$n: kernel8.img is the userland's kernel" "missing or differs"
	mdir -b -i "$F" ::/ >"$TMP/list" 2>/dev/null
	LIST=$(sed 's|^::/||' "$TMP/list")
	# The "no FILE" checks below read this listing: it must be real.
	expect_match "$n: the boot partition lists config.txt and kernel8.img" "$(grep -cxE 'config.txt|kernel8.img' <<<"$LIST")" '^2$'
}
has() { # NAME FILE REFERENCE|-
	if [ "$3" = - ]; then
		grep -qx -- "$2" <<<"$LIST" && not_ok "$1: no $2" "it is there" || ok "$1: no $2"
	else
		mtype -i "$F" "::/$2" >"$TMP/got" 2>/dev/null && cmp -s "$TMP/got" "$3" && ok "$1: $2" || not_ok "$1: $2" "missing or differs from $3"
	fi
}
sections() { grep -E '^\[' "$TMP/config" | tr '\n' ' '; }

# Pi 4: the EEPROM loads start4.elf/fixup4.dat; bootcode.bin is not used.
profile pi4 pi4 && ok "pi4: image built" || not_ok "pi4: image built" "$(cat "$TMP/pi4.out")"
common pi4
has pi4 start4.elf "$FW/start4.elf"
has pi4 fixup4.dat "$FW/fixup4.dat"
for d in bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2711-rpi-cm4-io.dtb; do has pi4 $d "$DT/$d"; done
for f in bootcode.bin start.elf fixup.dat bcm2837-rpi-3-b.dtb; do has pi4 $f -; done
expect_match "pi4: config.txt sections are [pi4] [all]" "$(sections)" '^\[pi4\] \[all\] $'

# Pi 5: the firmware is in the EEPROM, so no blobs; config.txt must exist.
# Debian 12's kernel has no bcm2712 DTBs: none written, and plan says why.
profile pi5 pi5 && ok "pi5: image built" || not_ok "pi5: image built" "$(cat "$TMP/pi5.out")"
common pi5
for f in bootcode.bin start.elf fixup.dat start4.elf fixup4.dat bcm2711-rpi-4-b.dtb bcm2712-rpi-5-b.dtb; do has pi5 $f -; done
expect_match "pi5: no firmware blob at all" "$(grep -E '\.(elf|dat|bin)$' <<<"$LIST")" '^$'
expect_match "pi5: config.txt sections are [pi5] [all]" "$(sections)" '^\[pi5\] \[all\] $'
expect_match "pi5: plan says why there are no Pi 5 DTBs" "$("$MV" plan "$TMP/pi5.conf" --image x.img 2>&1)" 'no bcm2712 DTBs'

# Pi 5 with a device-tree directory that has them (and overlays/): written.
mkdir -p "$TMP/dt5/overlays"
cp "$DT"/*.dtb "$TMP/dt5/"
for d in bcm2712-rpi-5-b.dtb bcm2712d0-rpi-5-b.dtb bcm2712-rpi-500.dtb; do echo "fake $d" >"$TMP/dt5/$d"; done
echo "fake overlay" >"$TMP/dt5/overlays/bcm2712d0.dtbo"
echo "overlays" >"$TMP/dt5/overlays/README"
profile pi5dt pi5 "DeviceTree=$TMP/dt5" && ok "pi5 with bcm2712 DTBs: image built" || not_ok "pi5 with bcm2712 DTBs: image built" "$(cat "$TMP/pi5dt.out")"
common pi5dt
for d in bcm2712-rpi-5-b.dtb bcm2712d0-rpi-5-b.dtb bcm2712-rpi-500.dtb; do has pi5dt $d "$TMP/dt5/$d"; done
has pi5dt overlays/bcm2712d0.dtbo "$TMP/dt5/overlays/bcm2712d0.dtbo"
has pi5dt overlays/README "$TMP/dt5/overlays/README"

# One card for all three: every model's files, sections in order.
profile all "pi3 pi4 pi5" && ok "pi3+pi4+pi5: image built" || not_ok "pi3+pi4+pi5: image built" "$(cat "$TMP/all.out")"
common all
for f in bootcode.bin start.elf fixup.dat start4.elf fixup4.dat; do has all $f "$FW/$f"; done
for d in bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2711-rpi-4-b.dtb; do has all $d "$DT/$d"; done
expect_match "all: config.txt sections are [pi3] [pi4] [pi5] [all]" "$(sections)" '^\[pi3\] \[pi4\] \[pi5\] \[all\] $'

# A model nobody knows is a profile error.
profile bad "pi3 pi6"
expect_match "an unknown model is refused" "$(cat "$TMP/bad.out")" 'unknown model pi6'

# Growing the root on first boot, the Raspberry Pi OS way: MBR has no grow
# flag, so cmdline.txt names the userland's firstboot init, and only when
# the userland has it.
mkdir -p "$TMP/pios/usr/lib/raspberrypi-sys-mods"
printf '#!/bin/sh\n# stands in for raspberrypi-sys-mods firstboot\n' >"$TMP/pios/usr/lib/raspberrypi-sys-mods/firstboot"
tar --owner=0 --group=0 -C "$TMP/pios" -cf "$TMP/pios.tar" usr
profile grow-pios pi4 "$(printf '[Userland]\nSource=%s\n[Partition root]\nGrowFileSystem=yes' "$TMP/pios.tar")"
expect_match "grow, Raspberry Pi OS: cmdline.txt names its firstboot" \
	"$(mtype -i "$TMP/grow-pios.img@@1048576" ::/cmdline.txt)" 'rootwait init=/usr/lib/raspberrypi-sys-mods/firstboot$'
[ "$(mtype -i "$TMP/grow-pios.img@@1048576" ::/cmdline.txt | wc -l)" = 1 ] && ok "grow, Raspberry Pi OS: still one line" || not_ok "grow, Raspberry Pi OS: still one line" "more lines"
profile grow-other pi4 "$(printf '[Partition root]\nGrowFileSystem=yes')"
c=$(mtype -i "$TMP/grow-other.img@@1048576" ::/cmdline.txt)
case $c in *init=*) not_ok "grow, another userland: no init= it lacks" "$c" ;; *) ok "grow, another userland: no init= it lacks" ;; esac
expect_match "grow: the plan says who grows the root" "$("$MV" plan "$TMP/grow-other.conf" --image x.img)" 'MBR has no grow flag, so the userland grows the root'
