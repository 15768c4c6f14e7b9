#!/usr/bin/env bash
# The arm64 UEFI demo image boots: AAVMF (EDK II for QEMU's virt machine)
# starts BOOTAA64.EFI from our ESP, systemd-boot (Debian's
# systemd-boot-efi:arm64) picks our entry, the arm64 kernel and initrd come
# from the ESP, the root is found by its GPT PARTUUID, and the guest prints a
# marker from the root filesystem plus LoaderEntrySelected from efivarfs.
# Without BOOTAA64.EFI the same test fails in the UEFI shell.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo-arm64 arm64 >"$TMP/assets.log" 2>&1 || { not_ok "arm64 demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
U=obj/demo-arm64/userland.tar.gz
kver=$(tar tzf $U | sed -n 's|^boot/vmlinuz-||p' | sort -V | tail -1)

marker="marker-$RANDOM-$RANDOM"
echo "$marker" >"$TMP/marker"
cat >"$TMP/a64.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo-aarch64.conf

[Files]
Copy=marker root:/etc/microvisor-marker 0644
CONF
expect_exit "image of the arm64 UEFI demo profile" 0 "$MV" image -q "$TMP/a64.conf" -o "$TMP/a64.img"
start=$(date +%s)
expect_exit "it boots under qemu-system-aarch64 -M virt with AAVMF" 0 \
	bash tests/boot/qemu.sh uefi-aarch64 "$TMP/a64.img" 'reboot: Power down' 100 "$TMP/serial.log"
echo "# aarch64 UEFI boot: $(($(date +%s) - start)) s"
log=$(tr -d '\r' <"$TMP/serial.log")
expect_match "the guest prints the marker from the root filesystem" "$log" "marker: $marker\$"
expect_match "systemd-boot selected our entry" "$log" "LoaderEntrySelected=demo-$kver.conf"
expect_match "the kernel and initrd are Debian's arm64 ones" "$log" "booted $kver "

export MTOOLS_SKIP_CHECK=1
parts=$(sfdisk --json "$TMP/a64.img")
E="$TMP/a64.img@@$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['partitiontable']['partitions'][0]['start']*512)" "$parts")"
expect_match "the root partition has the arm64 root type" "$parts" '"type": "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"'
tar xzf $U -O usr/lib/systemd/boot/efi/systemd-bootaa64.efi >"$TMP/ref.efi"
mtype -i "$E" ::/EFI/BOOT/BOOTAA64.EFI >"$TMP/b.efi" 2>/dev/null
mtype -i "$E" ::/EFI/systemd/systemd-bootaa64.efi >"$TMP/a.efi" 2>/dev/null
cmp -s "$TMP/a.efi" "$TMP/ref.efi" && cmp -s "$TMP/b.efi" "$TMP/ref.efi" \
	&& ok "systemd-bootaa64.efi in EFI/systemd and EFI/BOOT/BOOTAA64.EFI, from the userland" \
	|| not_ok "systemd-bootaa64.efi in EFI/systemd and EFI/BOOT/BOOTAA64.EFI" "missing or differs"
entry=$(mtype -i "$E" "::/loader/entries/demo-$kver.conf")
expect_match "the entry names its architecture" "$entry" '^architecture aa64$'
expect_match "the entry uses the virt console" "$entry" '^options root=PARTUUID=.* console=ttyAMA0 panic=-1$'

# No BOOTAA64.EFI: AAVMF finds nothing to boot and starts its shell.
cp "$TMP/a64.img" "$TMP/broken.img"
mdel -i "$TMP/broken.img@@${E##*@@}" ::/EFI/BOOT/BOOTAA64.EFI
expect_exit "a broken ESP fails the boot test" 1 \
	bash tests/boot/qemu.sh uefi-aarch64 "$TMP/broken.img" 'reboot: Power down' 60 "$TMP/broken.log"
expect_match "and shows why" "$(cat "$TMP/broken.log")" 'UEFI Interactive Shell'
