#!/usr/bin/env bash
# Boots an image in QEMU (TCG: this machine's /dev/kvm cannot run
# full-system guests; KVM only where kvm_intel or kvm_amd is loaded) and
# waits for a line on the serial console. Used by `make demo` and the boot
# tests (../shared/notes/boot-tests.md).
#
#   qemu.sh uefi-x86_64 IMAGE MARKER [TIMEOUT] [LOG]
#
# Exit 0 when MARKER appears; 1 on a kernel panic, the UEFI shell, QEMU's
# own errors, or the timeout (the log's tail is printed). QEMU ends itself:
# the guest powers off or panics (-no-reboot), and we kill only our PID.
set -u
kind=$1 image=$2 marker=$3 timeout=${4:-120} log=${5:-}
[ -n "$log" ] || log=$(mktemp)
show=${QEMU_SHOW:-0}

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
*)
	echo "qemu.sh: unknown kind $kind" >&2
	exit 2
	;;
esac

: >"$log"
"${cmd[@]}" 2>>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "${vars:-}"' EXIT
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
	if grep -aqE 'Kernel panic|UEFI Interactive Shell|Shell> |qemu-system-[a-z0-9_]*: ' "$log"; then
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
