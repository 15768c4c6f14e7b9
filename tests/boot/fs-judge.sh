#!/usr/bin/env bash
# Boots the fs-guest (tests/boot/fs-guest.py) on IMAGE and writes its
# report to REPORT: every path of the partitions named by ARGS (ufs=vdaN,
# vfat=vdaM: the guest's names for IMAGE's partitions), as Linux's own
# drivers read them, and the guest's dmesg.
#
#   fs-judge.sh GUEST_DIR IMAGE REPORT ARGS... 
#
# The image is attached read-only (a QEMU snapshot): the guest cannot change
# what it judges. Exit 1 when the guest writes no report in time.
set -u
guest=$1 image=$2 report=$3
shift 3
work=$(mktemp -d)
truncate -s 64M "$work/report.img"
timeout 300 qemu-system-x86_64 -M q35 -accel tcg -m 512 -smp 1 \
	-kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet $*" \
	-drive file="$image",format=raw,if=virtio,snapshot=on \
	-drive file="$work/report.img",format=raw,if=virtio \
	-nic none -display none -serial file:"$work/serial.log" -monitor none -no-reboot
tr -d '\000' <"$work/report.img" >"$report"
rc=0
grep -q '^== end' "$report" || { echo "fs-judge: no report from the guest; serial log:" >&2; tail -20 "$work/serial.log" >&2; rc=1; }
rm -rf "$work"
exit $rc
