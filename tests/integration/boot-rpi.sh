#!/usr/bin/env bash
# The demo Raspberry Pi image boots under QEMU's raspi3b. QEMU cannot run
# the VideoCore firmware, so tests/boot/qemu.sh plays its part with what it
# reads OUT of the image's FAT partition (config.txt, the kernel= and
# initramfs files, cmdline.txt, the DTB): the boot proves that partition
# carries them. The root is found by PARTUUID (MBR signature + partition
# number) on the SD card, busybox init prints a marker from the root
# filesystem, and bcm2835_wdt powers QEMU off. Broken images fail.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo-arm64 arm64 >"$TMP/assets.log" 2>&1 || { not_ok "arm64 demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
U=obj/demo-arm64/userland.tar.gz
kver=$(tar tzf $U | sed -n 's|^boot/vmlinuz-||p' | sort -V | tail -1)

marker="marker-$RANDOM-$RANDOM"
echo "$marker" >"$TMP/marker"
cat >"$TMP/rpi.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo-rpi.conf

[Files]
Copy=marker root:/etc/microvisor-marker 0644
CONF
expect_exit "image of the demo Pi profile" 0 "$MV" image -q "$TMP/rpi.conf" -o "$TMP/rpi.img"
start=$(date +%s)
expect_exit "it boots under qemu-system-aarch64 -M raspi3b and powers off" 0 \
	bash tests/boot/qemu.sh raspi3b "$TMP/rpi.img" 'reboot: Power down' 100 "$TMP/serial.log"
echo "# raspi3b boot: $(($(date +%s) - start)) s"
log=$(tr -d '\r' <"$TMP/serial.log")
expect_match "the guest prints the marker from the root filesystem" "$log" "marker: $marker\$"
expect_match "the kernel is Debian's arm64 one" "$log" "booted $kver "
expect_match "the root is the SD card's second partition" "$log" 'EXT4-fs \(mmcblk0p2\): mounted'

# What qemu.sh booted is what the FAT partition holds, and that is the
# userland's kernel, initramfs and DTB and the raspi-firmware package's blobs.
export MTOOLS_SKIP_CHECK=1
parts=$(sfdisk --json "$TMP/rpi.img")
F="$TMP/rpi.img@@$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['partitiontable']['partitions'][0]['start']*512)" "$parts")"
sig=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['partitiontable']['id'][2:].lower().zfill(8))" "$parts")
same() { # NAME FAT-PATH REFERENCE-FILE
	mtype -i "$F" "::/$2" >"$TMP/got" 2>/dev/null && cmp -s "$TMP/got" "$3" && ok "$1" || not_ok "$1" "::/$2 differs from $3"
}
tar xzf $U -O "boot/vmlinuz-$kver" >"$TMP/k"
tar xzf $U -O "boot/initrd.img-$kver" >"$TMP/i"
tar xzf $U -O "usr/lib/linux-image-$kver/broadcom/bcm2837-rpi-3-b.dtb" >"$TMP/d"
same "kernel8.img is the userland's kernel" kernel8.img "$TMP/k"
same "initramfs8 is the userland's initramfs" initramfs8 "$TMP/i"
same "the 3B's DTB is the kernel package's" bcm2837-rpi-3-b.dtb "$TMP/d"
for f in bootcode.bin start.elf fixup.dat; do
	same "$f is raspi-firmware's" $f obj/demo-arm64/raspi-firmware/$f
done
expect_match "cmdline.txt roots by the MBR PARTUUID" "$(mtype -i "$F" ::/cmdline.txt)" "^root=PARTUUID=$sig-02 rw .*rootwait"
expect_match "fstab mounts the firmware partition" "$(debugfs -R 'cat /etc/fstab' "$TMP/rpi.img?offset=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['partitiontable']['partitions'][1]['start']*512)" "$parts")" 2>/dev/null)" \
	"^PARTUUID=$sig-01 /boot/firmware vfat defaults 0 2\$"

# A cmdline.txt naming partition 3: the initramfs finds no root and says
# so, and the test fails (fast: qemu.sh stops on the initramfs's message).
cp "$TMP/rpi.img" "$TMP/badroot.img"
mtype -i "$F" ::/cmdline.txt | sed "s/PARTUUID=$sig-02/PARTUUID=$sig-03/" >"$TMP/cmdline.txt"
mcopy -o -i "$TMP/badroot.img@@${F##*@@}" "$TMP/cmdline.txt" ::/cmdline.txt
start=$(date +%s)
expect_exit "a wrong root PARTUUID fails the boot test" 1 \
	bash tests/boot/qemu.sh raspi3b "$TMP/badroot.img" 'reboot: Power down' 100 "$TMP/badroot.log"
echo "# raspi3b broken boot: $(($(date +%s) - start)) s"
expect_match "and shows why" "$(tr -d '\r' <"$TMP/badroot.log")" "no partition with PARTUUID=$sig-03"

# No DTB for the 3B: the firmware has nothing to hand the kernel.
cp "$TMP/rpi.img" "$TMP/nodtb.img"
mdel -i "$TMP/nodtb.img@@${F##*@@}" ::/bcm2837-rpi-3-b.dtb
expect_exit "a missing DTB fails the boot test" 1 \
	bash tests/boot/qemu.sh raspi3b "$TMP/nodtb.img" 'reboot: Power down' 30 "$TMP/nodtb.log"
expect_match "and says which" "$(cat "$TMP/nodtb.log")" 'no bcm2837-rpi-3-b.dtb'
