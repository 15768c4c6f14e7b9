#!/usr/bin/env bash
# [Handoff] Mode=firstboot on a real systemd: a small Debian 12 userland
# (mmdebstrap, cached outside the clone by tests/boot/debian-systemd.sh)
# booted with systemd-boot under QEMU+OVMF, as the shipped x86_64-uefi
# profile would be. The hooks that run are the ones microvisor wrote:
# microvisor-handoff.service and, with the miniature Nix tarball (its
# `real` variant, Debian's nix-store bundled), microvisor-nix-registration
# .service, ordered before nix-daemon.socket.
#
# One disk, three boots. The command fails on its first run and succeeds
# on its second (it counts its runs in /var/lib), so:
#   boot 1: the registration loads before nix-daemon.socket, the command
#           runs, fails, its unit stays enabled;
#   boot 2: the command runs again, succeeds (the guest's nix-store lists
#           the closure), the unit is disabled;
#   boot 3: the command does not run.
# The guest has no network card (qemu.sh: -nic none). Debian's first boot
# (machine-id "uninitialized") applies systemd's presets, which enable
# systemd-networkd and with it systemd-networkd-wait-online.service; the
# hand-off wants network-online.target, so with no link to wait for every
# boot that runs it would wait the wait-online timeout (2 minutes, measured
# here) first. The kernel command line masks that one service: the
# hand-off keeps its real ordering, the target is simply reached at once.
# After the hand-off, the test's own unit (a [Files] copy, pulled in by
# systemd.wants= on the kernel command line) prints what systemctl says
# about the hand-off units, then powers the guest off; QEMU exits with it.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

t0=$(date +%s)
userland=$(bash tests/boot/debian-systemd.sh 2>"$TMP/mmdebstrap.log") ||
	{ not_ok "a Debian userland with systemd (mmdebstrap)" "$(tail -5 "$TMP/mmdebstrap.log")"; exit 0; }
echo "# userland: $userland, ready in $(($(date +%s) - t0)) s"
if ! tests/fixtures/mknixtar.sh "$TMP/nix.tar" real >"$TMP/nixpaths" 2>"$TMP/mknix.err"; then
	not_ok "the Nix tarball with Debian's nix is made" "$(cat "$TMP/mknix.err")"
	exit 0
fi
NIXP=$(sed -n 1p "$TMP/nixpaths") CFGP=$(sed -n 2p "$TMP/nixpaths")

nonce=$RANDOM$RANDOM
# The test's report, after the hand-off units and nix-daemon.socket. It
# writes to /dev/console itself, ends with a line the log is judged
# complete by, and powers off. The hand-off's own output reaches the
# console through the journal (its unit's StandardOutput=journal+console),
# as "[ TIME] handoff[PID]: LINE": the checks below accept that prefix.
cat >"$TMP/report" <<'SH'
#!/bin/sh
exec >/dev/console 2>&1 # whole lines on ttyS0, without the journal's prefix
say() { echo "mvtest: $*"; }
say "handoff-enabled=$(systemctl is-enabled microvisor-handoff.service 2>&1)"
say "registration-enabled=$(systemctl is-enabled microvisor-nix-registration.service 2>&1)"
for u in microvisor-handoff.service microvisor-nix-registration.service; do
	say "$u: $(systemctl show -p ActiveState -p Result -p ExecMainExitTimestampMonotonic "$u" | tr '\n' ' ')"
done
say "nix-daemon.socket: $(systemctl show -p ActiveState -p ActiveEnterTimestampMonotonic nix-daemon.socket | tr '\n' ' ')"
# What the hand-off units logged, and whether the network wait ran (not
# judged: the checks read the console without these lines).
journalctl -b -o short-monotonic --no-pager -u microvisor-handoff.service -u microvisor-nix-registration.service \
	-u systemd-networkd-wait-online.service 2>&1 | sed 's/^/mvtest-diag: /'
say "report done"
SH
cat >"$TMP/mvtest-report.service" <<'UNIT'
[Unit]
Description=microvisor test: report the hand-off's state, then power off
After=microvisor-handoff.service microvisor-nix-registration.service nix-daemon.socket

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/mvtest-report
ExecStartPost=/bin/systemctl --no-block poweroff
UNIT
# The command fails on its first run and succeeds from the second (it
# counts its runs, a line each, in /var/lib/mvtest-runs); the printf
# format keeps the marker out of the script's "running: ..." echo of this
# text. Indented lines continue it (joined with a space).
cat >"$TMP/sd.conf" <<CONF
[Profile]
Name=sdtest
Description=Debian 12 with systemd, for the systemd hand-off boot test
Architecture=x86_64

[Disk]
Table=gpt
Size=2G

[Partition esp]
Type=esp
Size=200M
Format=vfat
Label=ESP
Mount=/boot

[Partition root]
Type=root
Size=Grow
Format=ext4
Label=root

[Userland]
Source=$userland

[Bootloader]
Kind=systemd-boot
Kernel=root:/boot/vmlinuz-*
Initrd=root:/boot/initrd.img-*
Options=console=ttyS0,115200 systemd.wants=mvtest-report.service
	systemd.mask=systemd-networkd-wait-online.service
Timeout=0

[Nix]
Tarball=$TMP/nix.tar

[Files]
Copy=$TMP/report root:/usr/local/sbin/mvtest-report 0755
Copy=$TMP/mvtest-report.service root:/etc/systemd/system/mvtest-report.service 0644

[Handoff]
Mode=firstboot
Command=echo >>/var/lib/mvtest-runs; n=\$(wc -l </var/lib/mvtest-runs);
	printf 'handoff-ran-%s-%s\\n' $nonce \$n;
	nix-store -qR $CFGP; [ \$n -ge 2 ]
CONF

expect_exit "image with systemd, systemd-boot, Nix and Mode=firstboot" 0 "$MV" image -q "$TMP/sd.conf" -o "$TMP/sd.img"
[ -s "$TMP/sd.img" ] || exit 0
expect_match "the registration unit is linked into sysinit.target.wants" \
	"$(dbg_root "$TMP/sd.img" 'stat /etc/systemd/system/sysinit.target.wants/microvisor-nix-registration.service')" 'Type: symlink'

# boot N: until the kernel says it powered down (after systemd unmounted
# the root), the console in $TMP/bootN.log, the time in $TMP/bootN.time.
boot() {
	local s
	s=$(date +%s%N)
	bash tests/boot/qemu.sh uefi-x86_64 "$TMP/sd.img" 'reboot: Power down' 300 "$TMP/boot$1.log" >"$TMP/qemu$1.err" 2>&1
	local rc=$?
	local ds=$((($(date +%s%N) - s) / 100000000))
	echo "$((ds / 10)).$((ds % 10))" >"$TMP/boot$1.time"
	echo "# boot $1: $(cat "$TMP/boot$1.time") s (qemu.sh exit $rc)"
	tr -d '\r' <"$TMP/boot$1.log" | grep -av '^mvtest-diag: ' >"$TMP/boot$1.txt"
	[ -z "${KEEP_LOGS:-}" ] || cp "$TMP/boot$1.log" "$KEEP_LOGS/"
	grep -q '^mvtest: report done' "$TMP/boot$1.txt" && ok "boot $1: systemd ran the test's report and powered off" ||
		not_ok "boot $1: systemd ran the test's report and powered off" "$(tail -c 1500 "$TMP/boot$1.txt")"
}

boot 1
b1=$(cat "$TMP/boot1.txt")
expect_match "boot 1: systemd is PID 1 (not a test script)" "$b1" 'systemd\[1\]|Welcome to .*Debian'
expect_match "boot 1: the registration unit loaded the Nix registration" "$b1" \
	'microvisor-handoff: loading the Nix registration: nix-store --load-db < /nix-path-registration'
reg=$(sed -n 's/^mvtest: microvisor-nix-registration.service: .*ExecMainExitTimestampMonotonic=\([0-9]*\).*/\1/p' "$TMP/boot1.txt")
sock=$(sed -n 's/^mvtest: nix-daemon.socket: .*ActiveEnterTimestampMonotonic=\([0-9]*\).*/\1/p' "$TMP/boot1.txt")
[ -n "$reg" ] && [ -n "$sock" ] && [ "$reg" -gt 0 ] && [ "$sock" -ge "$reg" ] &&
	ok "boot 1: the registration finished (${reg} us) before nix-daemon.socket started (${sock} us)" ||
	not_ok "boot 1: the registration finished before nix-daemon.socket started" "$(grep '^mvtest:' "$TMP/boot1.txt")"
expect_match "boot 1: microvisor-handoff.service ran the command" "$b1" "(^|: )handoff-ran-$nonce-1\$"
expect_match "boot 1: the command failed, and the script says it runs again" "$b1" \
	'the command failed \(exit 1\): it runs again at the next boot'
expect_match "boot 1: the failed hand-off stays enabled" "$b1" '^mvtest: handoff-enabled=enabled$'
expect_match "boot 1: the loaded registration's unit is disabled" "$b1" '^mvtest: registration-enabled=disabled$'

boot 2
b2=$(cat "$TMP/boot2.txt")
expect_match "boot 2: the command runs again" "$b2" "(^|: )handoff-ran-$nonce-2\$"
expect_match "boot 2: the guest's nix-store lists the closure from the loaded database" "$b2" "(^|: )$NIXP\$"
grep -q 'loading the Nix registration' <<<"$b2" && not_ok "boot 2: the registration is not loaded again" "$(grep -n registration <<<"$b2")" ||
	ok "boot 2: the registration is not loaded again"
expect_match "boot 2: the hand-off succeeded and removed its hook" "$b2" 'microvisor-handoff: done: the boot hook is removed'
expect_match "boot 2: systemctl is-enabled microvisor-handoff.service says disabled" "$b2" '^mvtest: handoff-enabled=disabled$'

boot 3
b3=$(cat "$TMP/boot3.txt")
[ "$(cat "$TMP/boot1.txt" "$TMP/boot2.txt" "$TMP/boot3.txt" | grep -Ec "(^|: )handoff-ran-$nonce-")" = 2 ] && ! grep -q 'microvisor-handoff:' <<<"$b3" &&
	ok "boot 3: the command does not run again" || not_ok "boot 3: the command does not run again" "$(grep -n 'handoff' <<<"$b3")"
expect_match "boot 3: the hand-off stays disabled" "$b3" '^mvtest: handoff-enabled=disabled$'
expect_match "boot 3: its unit did not start" "$b3" '^mvtest: microvisor-handoff.service: .*ActiveState=inactive'
expect_match "the command counted two runs on the disk" "$(dbg_root "$TMP/sd.img" 'cat /var/lib/mvtest-runs' | wc -l)" '^2$'
