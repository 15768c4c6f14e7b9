#!/usr/bin/env bash
# Boots an image in QEMU (TCG: this machine's /dev/kvm cannot run
# full-system guests; KVM only where kvm_intel or kvm_amd is loaded) and
# waits for a line on the serial console. Used by `make demo` and the boot
# tests (../shared/notes/boot-tests.md).
#
#   qemu.sh KIND IMAGE MARKER [TIMEOUT] [LOG]
#
# KIND:
#   uefi-x86_64   q35 + OVMF, the image as a virtio disk
#   uefi-aarch64  virt (cortex-a57) + AAVMF, the image as a virtio-mmio disk
#   raspi3b       QEMU's Raspberry Pi 3B. QEMU cannot run the VideoCore
#                 firmware, so this plays its part: it reads config.txt from
#                 the image's first partition (which must be MBR type 0x0c
#                 and hold the Pi 3's bootcode.bin, start.elf and fixup.dat),
#                 then the kernel= and initramfs files, cmdline.txt and the
#                 3B's upstream DTB from that partition with mtools, and
#                 boots them with the image as the SD card.
#
# Exit 0 when MARKER appears; 1 on a kernel panic, the UEFI shell, the
# demo initramfs giving up, QEMU's own errors, or the timeout (the log's
# tail is printed); 1 also when the raspi3b kind finds the boot partition
# incomplete. QEMU ends itself: the guest powers off or panics (-no-reboot),
# and we kill only our PID.
set -u
kind=$1 image=$2 marker=$3 timeout=${4:-120} log=${5:-}
[ -n "$log" ] || log=$(mktemp)
show=${QEMU_SHOW:-0}
work=$(mktemp -d)

accel=tcg
if [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; then
	[ -w /dev/kvm ] && accel=kvm
fi

case $kind in
uefi-x86_64)
	code=/usr/share/OVMF/OVMF_CODE.fd
	vars=$(mktemp)
	cp /usr/share/OVMF/OVMF_VARS.fd "$vars" # fresh: stale variables drop OVMF into its shell
	cmd=(qemu-system-x86_64 -M q35 -accel "$accel" -m 512 -smp 1
	     -drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
	     -drive if=pflash,format=raw,unit=1,file="$vars"
	     -drive file="$image",format=raw,if=virtio
	     -nic none -display none -serial file:"$log" -monitor none -no-reboot)
	;;
uefi-aarch64)
	# AAVMF's pflash images are 64 MiB each; a fresh VARS copy every boot,
	# as with OVMF.
	code=/usr/share/AAVMF/AAVMF_CODE.fd
	vars="$work/vars.fd"
	cp /usr/share/AAVMF/AAVMF_VARS.fd "$vars"
	cmd=(qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -m 1024 -smp 1
	     -drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
	     -drive if=pflash,format=raw,unit=1,file="$vars"
	     -drive file="$image",format=raw,if=none,id=hd0 -device virtio-blk-device,drive=hd0
	     -nic none -display none -serial file:"$log" -monitor none -no-reboot)
	;;
raspi3b)
	export MTOOLS_SKIP_CHECK=1
	: >"$log"
	fw_fail() { echo "qemu.sh: $image: $*" | tee -a "$log" >&2; rm -rf "$work"; exit 1; }
	# The boot ROM reads only an MBR primary partition 1 of type 0x0b/0x0c.
	p1=$(sfdisk --json "$image" 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
p = t["partitions"][0] if t.get("label") == "dos" and t["partitions"] else None
print("%d %s" % (p["start"] * 512, p["type"]) if p else "")') || true
	set -- $p1
	[ $# -eq 2 ] || fw_fail "no MBR partition 1"
	case $2 in b | c) ;; *) fw_fail "partition 1 has type 0x$2; the Pi 3 boot ROM reads 0x0b or 0x0c" ;; esac
	fat="$image@@$1"
	for f in bootcode.bin start.elf fixup.dat config.txt cmdline.txt; do
		mtype -i "$fat" "::/$f" >/dev/null 2>&1 || fw_fail "no $f on the boot partition"
	done
	# config.txt: the last kernel= and "initramfs FILE followkernel" win.
	mtype -i "$fat" ::/config.txt | tr -d '\r' >"$work/config.txt"
	kfile=$(sed -n 's/^kernel=//p' "$work/config.txt" | tail -1)
	ifile=$(sed -n 's/^initramfs[ \t]\{1,\}\([^ \t,]*\).*/\1/p' "$work/config.txt" | tail -1)
	grep -qx 'arm_64bit=1' "$work/config.txt" || fw_fail "config.txt lacks arm_64bit=1: a Pi 3 would start a 32-bit kernel"
	[ -n "$kfile" ] || kfile=kernel8.img
	mcopy -n -i "$fat" "::/$kfile" "$work/kernel" 2>/dev/null || fw_fail "no kernel $kfile on the boot partition"
	initrd=()
	if [ -n "$ifile" ]; then
		mcopy -n -i "$fat" "::/$ifile" "$work/initrd" 2>/dev/null || fw_fail "no initramfs $ifile on the boot partition"
		initrd=(-initrd "$work/initrd")
	fi
	# A 3B's DTB: the upstream name with upstream_kernel=1, else the
	# downstream one (boot-spec.md §3.3, §3.4).
	dtb=bcm2710-rpi-3-b.dtb
	grep -qx 'upstream_kernel=1' "$work/config.txt" && dtb=bcm2837-rpi-3-b.dtb
	mcopy -n -i "$fat" "::/$dtb" "$work/dtb" 2>/dev/null || fw_fail "no $dtb on the boot partition"
	cmdline=$(mtype -i "$fat" ::/cmdline.txt | head -1 | tr -d '\r\n')
	# The mini-UART is ttyS1 (serial1); add it if the image did not.
	case " $cmdline " in *" console=ttyS1"*) ;; *) cmdline="$cmdline console=ttyS1,115200" ;; esac
	cmd=(qemu-system-aarch64 -M raspi3b -kernel "$work/kernel" "${initrd[@]}" -dtb "$work/dtb"
	     -drive if=sd,format=raw,file="$image" -append "$cmdline"
	     -serial null -serial file:"$log" -display none -monitor none -no-reboot)
	;;
*)
	echo "qemu.sh: unknown kind $kind" >&2
	exit 2
	;;
esac

: >"$log"
"${cmd[@]}" 2>>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "${vars:-}"; rm -rf "$work"' EXIT
shown=0
result=1
for _ in $(seq $((timeout * 5))); do
	if [ "$show" = 1 ]; then
		total=$(wc -c <"$log")
		[ "$total" -gt "$shown" ] && tail -c +$((shown + 1)) "$log" | tr -d '\r' && shown=$total
	fi
	if grep -aq -- "$marker" "$log"; then
		result=0
		break
	fi
	if grep -aqE 'Kernel panic|UEFI Interactive Shell|Shell> |initramfs: no partition with|qemu-system-[a-z0-9_]*: ' "$log"; then
		break
	fi
	kill -0 "$pid" 2>/dev/null || { grep -aq -- "$marker" "$log" && result=0; break; }
	sleep 0.2
done
if [ "$result" -ne 0 ]; then
	echo "qemu.sh: no \"$marker\" from $image; the console's last lines:" >&2
	tail -n 15 "$log" | tr -d '\r' >&2
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $result
