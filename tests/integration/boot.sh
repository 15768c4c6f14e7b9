#!/usr/bin/env bash
# The demo image boots: systemd-boot picks our entry, the kernel and initrd
# come from our ESP, the root is found by PARTUUID and mounted, busybox init
# runs, and the guest prints a marker read from the root filesystem plus
# LoaderEntrySelected from efivarfs. A broken ESP makes the same test fail.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
demo_profile "$TMP/boot.conf"
kver=$KVER marker=$MARKER
# Customised as one machine of a fleet: its hostname and an SSH key, which
# the guest prints back (the demo's init lists every authorized_keys).
host="node-$RANDOM"
ssh-keygen -q -t ed25519 -N '' -C "boot-test@$host" -f "$TMP/key"
custom=(--hostname "$host" --ssh-key "$TMP/key.pub")
expect_exit "image of the demo profile" 0 "$MV" image -q "$TMP/boot.conf" -o "$TMP/demo.img" "${custom[@]}"
expect_exit "it boots under OVMF" 0 bash tests/boot/qemu.sh uefi-x86_64 "$TMP/demo.img" 'microvisor-demo: LoaderEntrySelected' 150 "$TMP/serial.log"
log=$(tr -d '\r' <"$TMP/serial.log")
expect_match "the guest prints the marker from the root filesystem" "$log" "marker: $marker"
expect_match "systemd-boot selected our entry" "$log" "LoaderEntrySelected=demo-$kver.conf"
expect_match "the kernel and initrd are Debian's" "$log" "booted $kver"
expect_match "the guest has the hostname given on the command line" "$log" "booted $kver on $host;"
expect_match "the guest finds the SSH key in root's authorized_keys" "$log" \
	"microvisor-demo: authorized key in /root/.ssh/authorized_keys: $(cut -d' ' -f1-2 "$TMP/key.pub" | sed 's/[+]/[+]/g') boot-test@$host"

# The layout bootctl install makes, read with mtools and debugfs.
export MTOOLS_SKIP_CHECK=1
"$MV" plan "$TMP/boot.conf" --image x.img --json "${custom[@]}" >"$TMP/plan.json"
root_uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["partitions"][1]["partuuid"])' "$TMP/plan.json")
esp_uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["partitions"][0]["partuuid"])' "$TMP/plan.json")
parts=$(sfdisk --json "$TMP/demo.img")
off() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['partitiontable']['partitions'][$1]['start']*512)" "$parts"; }
E="$TMP/demo.img@@$(off 0)"
R="$TMP/demo.img?offset=$(off 1)"
mtype -i "$E" ::/EFI/systemd/systemd-bootx64.efi >"$TMP/a.efi" 2>/dev/null
mtype -i "$E" ::/EFI/BOOT/BOOTX64.EFI >"$TMP/b.efi" 2>/dev/null
tar xzf obj/demo/userland.tar.gz -O usr/lib/systemd/boot/efi/systemd-bootx64.efi >"$TMP/c.efi"
cmp -s "$TMP/a.efi" "$TMP/c.efi" && cmp -s "$TMP/b.efi" "$TMP/c.efi" && ok "systemd-boot in EFI/systemd and EFI/BOOT, from the userland" || not_ok "systemd-boot in EFI/systemd and EFI/BOOT" "copies differ"
expect_match "loader.conf" "$(mtype -i "$E" ::/loader/loader.conf)" '^default demo-\*$'
expect_match "loader.conf turns the editor off" "$(mtype -i "$E" ::/loader/loader.conf)" '^editor no$'
expect_match "entries.srel says type1" "$(mtype -i "$E" ::/loader/entries.srel)" '^type1$'
entry=$(mtype -i "$E" "::/loader/entries/demo-$kver.conf")
expect_match "the entry boots the root by PARTUUID" "$entry" "^options root=PARTUUID=$root_uuid rw console=ttyS0 panic=-1\$"
expect_match "the entry names its kernel" "$entry" "^linux /demo/$kver/linux\$"
expect_match "the entry names its initrd" "$entry" "^initrd /demo/$kver/initrd\$"
expect_match "the entry names its architecture" "$entry" '^architecture x64$'
mtype -i "$E" "::/demo/$kver/linux" >"$TMP/linux" && tar xzf obj/demo/userland.tar.gz -O "boot/vmlinuz-$kver" | cmp -s - "$TMP/linux" \
	&& ok "the kernel on the ESP is the userland's" || not_ok "the kernel on the ESP is the userland's" "differs"
mdir -i "$E" ::/loader/random-seed >/dev/null 2>&1 && not_ok "no random seed in an image" "loader/random-seed exists" || ok "no random seed in an image"
expect_match "machine-id is uninitialized" "$(debugfs -R 'cat /etc/machine-id' "$R" 2>/dev/null)" '^uninitialized$'
expect_match "the entry token matches the entries" "$(debugfs -R 'cat /etc/kernel/entry-token' "$R" 2>/dev/null)" '^demo$'
expect_match "kernel-install keeps the bls layout" "$(debugfs -R 'cat /etc/kernel/install.conf' "$R" 2>/dev/null)" '^layout=bls$'
expect_match "fstab mounts the ESP by PARTUUID" "$(debugfs -R 'cat /etc/fstab' "$R" 2>/dev/null)" "^PARTUUID=$esp_uuid /boot vfat umask=0077 0 2\$"
expect_match "fstab keeps the userland's lines" "$(debugfs -R 'cat /etc/fstab' "$R" 2>/dev/null)" '^# written by microvisor$'
expect_match "the root grows on first boot (GPT flag 59)" "$(sfdisk --json "$TMP/demo.img")" '"attrs": "GUID:59"'

# No BOOTX64.EFI: the firmware finds nothing to boot, and the test says so.
cp "$TMP/demo.img" "$TMP/broken.img"
esp=$(sfdisk --json "$TMP/broken.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"]*512)')
MTOOLS_SKIP_CHECK=1 mdel -i "$TMP/broken.img@@$esp" ::/EFI/BOOT/BOOTX64.EFI
expect_exit "a broken ESP fails the boot test" 1 bash tests/boot/qemu.sh uefi-x86_64 "$TMP/broken.img" 'microvisor-demo: LoaderEntrySelected' 60 "$TMP/broken.log"
expect_match "and shows why" "$(cat "$TMP/broken.log")" 'UEFI Interactive Shell'
