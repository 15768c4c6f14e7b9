#!/usr/bin/env bash
# [Handoff]: what `image` writes for each init (bootstrap/handoff.h), read
# back with debugfs and judged by tools nobody here wrote: systemd-analyze
# verify for the units (with Debian's own units beside them), dash and
# busybox sh for the script. The busybox path also boots
# (tests/integration/boot-handoff.sh). Mode=none prints the command; a
# flake reference goes into it; what cannot be done is refused by name.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
export SOURCE_DATE_EPOCH=1700000000
U="$TMP/u" && mkdir -p "$U"
tests/fixtures/mknixtar.sh "$U/nix.tar.xz" >"$TMP/paths" 2>"$TMP/mknix.err" ||
	{ not_ok "the miniature Nix tarball is made" "$(cat "$TMP/mknix.err")"; exit 0; }
NIXP=$(sed -n 1p "$TMP/paths")

# userland NAME: a root tree with what an init leaves to recognise it.
userland() {
	local d="$TMP/ul-$1"
	mkdir -p "$d/etc" "$d/sbin" "$d/bin" "$d/lib/systemd"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
	printf 'root:x:0:\n' >"$d/etc/group"
	case $1 in
	systemd) : >"$d/lib/systemd/systemd" && chmod 755 "$d/lib/systemd/systemd" && ln -s ../lib/systemd/systemd "$d/sbin/init" ;;
	openrc) mkdir -p "$d/etc/init.d" && : >"$d/sbin/openrc" && printf '#!/sbin/openrc-run\n' >"$d/etc/init.d/local" &&
		: >"$d/bin/busybox" && ln -s ../bin/busybox "$d/sbin/init" && printf '::sysinit:/sbin/openrc sysinit\n' >"$d/etc/inittab" ;;
	busybox) : >"$d/bin/busybox" && ln -s ../bin/busybox "$d/sbin/init" && printf '::sysinit:/etc/init.d/rcS\n' >"$d/etc/inittab" ;;
	noinittab) : >"$d/bin/busybox" && ln -s ../bin/busybox "$d/sbin/init" ;;
	unknown) : >"$d/sbin/init" ;;
	esac
	tar --owner=0 --group=0 --numeric-owner -C "$d" -cf "$U/$1.tar" .
}
profile() { # profile NAME USERLAND MODE COMMAND [EXTRA-NIX-LINES]
	{ disk_conf "$1" && cat <<CONF; } >"$U/$1.conf"
[Userland]
Source=$2.tar
[Handoff]
Mode=$3
Command=$4
${5:-}
CONF
}
dbg() { dbg_root "$@"; }
for u in systemd openrc busybox noinittab unknown; do userland $u; done

# systemd, with Nix and a flake reference.
profile sd systemd firstboot 'nix run "$MICROVISOR_FLAKE#apply"' "[Nix]
Tarball=nix.tar.xz
Flake=github:example/fleet"
expect_exit "image: systemd userland, Nix, a flake reference" 0 "$MV" image "$U/sd.conf" -o "$U/sd.img"
expect_match "the run names the init it found" "$ERR" 'handoff: systemd'
img="$U/sd.img"
R="$TMP/R-sd" && mkdir -p "$R/etc" "$R/usr/lib/systemd"
dbg "$img" "rdump /etc/systemd $R/etc" >/dev/null
dbg "$img" "rdump /etc/microvisor $R/etc" >/dev/null
link() { readlink "$R$1"; }
S=/etc/systemd/system
[ "$(link $S/multi-user.target.wants/microvisor-handoff.service)" = $S/microvisor-handoff.service ] &&
	ok "microvisor-handoff.service is enabled as systemctl enable links it" || not_ok "microvisor-handoff.service is enabled" "$(ls -lR "$R$S")"
[ "$(link $S/sysinit.target.wants/microvisor-nix-registration.service)" = $S/microvisor-nix-registration.service ] &&
	ok "the registration unit is enabled in sysinit.target.wants" || not_ok "the registration unit is enabled" "$(ls -lR "$R$S")"
expect_match "the registration unit runs before the Nix daemon" "$(cat "$R$S/microvisor-nix-registration.service")" \
	'^Before=sysinit.target nix-daemon.socket nix-daemon.service'
for u in microvisor-handoff.service microvisor-nix-registration.service; do # boot-systemd.sh reads them on ttyS0
	expect_match "$u logs to the journal and the console" "$(cat "$R$S/$u")" '^StandardOutput=journal\+console$'
done
expect_match "the hand-off runs after network-online.target and the registration" "$(cat "$R$S/microvisor-handoff.service")" \
	'^After=network-online.target microvisor-nix-registration.service nix-daemon.socket$'
expect_match "the script exports the flake reference to the command" "$(cat "$R/etc/microvisor/handoff")" \
	"^	export MICROVISOR_FLAKE='github:example/fleet'; nix run \"\\\$MICROVISOR_FLAKE#apply\"\$"
expect_match "the script is executable" "$(dbg "$img" 'stat /etc/microvisor/handoff')" 'Mode: +0755'
debugfs -R 'stat /etc/microvisor/flake' "$(root_fs "$img")" 2>&1 </dev/null | grep -q 'File not found' &&
	ok "a flake reference copies nothing" || not_ok "a flake reference copies nothing" "/etc/microvisor/flake exists"
# systemd judges the units, with Debian's units and the image's Nix beside them.
cp -a /lib/systemd/system "$R/usr/lib/systemd/"
dbg "$img" "rdump /nix $R" >/dev/null
# (the image's links point into /nix/store, absolute: copied into place)
rm -f "$R$S/nix-daemon.socket" "$R$S/nix-daemon.service" && cp "$R$NIXP/lib/systemd/system/nix-daemon."* "$R$S/"
if command -v systemd-analyze >/dev/null; then
	# With multi-user.target: the boot's whole transaction, cycles included.
	for unit in microvisor-handoff.service microvisor-nix-registration.service; do
		systemd-analyze verify --root="$R" "$S/$unit" multi-user.target >"$TMP/verify" 2>&1 && [ ! -s "$TMP/verify" ] &&
			ok "systemd-analyze verify accepts $unit" || not_ok "systemd-analyze verify accepts $unit" "$(cat "$TMP/verify")"
	done
	# The judge can fail, and this is why there are two units: the hand-off
	# unit (default dependencies, after the network) ordered before the
	# daemon's socket as well is a cycle through basic.target.
	sed 's/^After=network-online.target.*/After=network-online.target\nBefore=nix-daemon.socket nix-daemon.service/' \
		"$R$S/microvisor-handoff.service" >"$R$S/cyclic.service"
	systemd-analyze verify --root="$R" "$S/cyclic.service" multi-user.target >"$TMP/verify" 2>&1
	grep -q 'Found ordering cycle' "$TMP/verify" && ok "... and reports the cycle one unit doing both would make" ||
		not_ok "systemd-analyze reports a cycle" "$(cat "$TMP/verify")"
else
	not_ok "systemd-analyze is installed" "missing"
fi
for sh in dash "busybox sh"; do
	$sh -n "$R/etc/microvisor/handoff" 2>"$TMP/sh.err" && ok "$sh -n parses the script" || not_ok "$sh -n parses the script" "$(cat "$TMP/sh.err")"
done
"$MV" plan "$U/sd.conf" --image x.img --json >"$TMP/plan.json"
expect_match "plan --json gives the exact hand-off command" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["handoff"]["command"])' "$TMP/plan.json")" \
	"^export MICROVISOR_FLAKE='github:example/fleet'; nix run \"\\\$MICROVISOR_FLAKE#apply\"\$"
# Every path the handoff steps name for systemd (and every init) is in the image.
python3 - "$TMP/plan.json" >"$TMP/paths" <<'PY'
import json, sys
st = [s for s in json.load(open(sys.argv[1]))["stages"] if s["name"] == "handoff"][0]
for s in st["steps"]:
    if s.get("path") and (s["action"].startswith("systemd") or not s.get("deferred")):
        print(s["path"].split(" -> ")[0])
PY
missing=""
while read -r p; do dbg "$img" "stat $p" | grep -q '^Inode:' || missing+=" $p"; done <"$TMP/paths"
[ "$(wc -l <"$TMP/paths")" = 5 ] && [ -z "$missing" ] && ok "every path of the plan's systemd hand-off steps is in the image" ||
	not_ok "every path of the plan's systemd hand-off steps is in the image" "$(cat "$TMP/paths"); missing:$missing"

# OpenRC: the local.d script and the local service in the default runlevel.
profile rc openrc firstboot 'echo hi'
expect_exit "image: OpenRC userland" 0 "$MV" image "$U/rc.conf" -o "$U/rc.img"
expect_match "the run names OpenRC" "$ERR" 'handoff: OpenRC'
expect_match "local.d script runs the hand-off" "$(dbg "$U/rc.img" 'cat /etc/local.d/microvisor-handoff.start')" '^exec /etc/microvisor/handoff$'
expect_match "... and is executable" "$(dbg "$U/rc.img" 'stat /etc/local.d/microvisor-handoff.start')" 'Mode: +0755'
expect_match "local is in the default runlevel" "$(dbg "$U/rc.img" 'stat /etc/runlevels/default/local')" 'Fast link dest: "/etc/init.d/local"'
expect_match "OpenRC's inittab is left alone" "$(dbg "$U/rc.img" 'cat /etc/inittab')" '^::sysinit:/sbin/openrc sysinit$'
dbg "$U/rc.img" 'cat /etc/inittab' | grep -q handoff && not_ok "no inittab hook under OpenRC" "added" || ok "no inittab hook under OpenRC"

# Refusals name what is missing.
profile nit noinittab firstboot 'echo hi'
expect_exit "busybox init without /etc/inittab is refused" 1 "$MV" image -q "$U/nit.conf" -o "$U/x.img"
expect_match "... saying why" "$ERR" 'busybox but it has no /etc/inittab'
profile unk unknown firstboot 'echo hi'
expect_exit "an init it cannot tell is refused" 1 "$MV" image -q "$U/unk.conf" -o "$U/x.img"
expect_match "... naming /sbin/init" "$ERR" 'cannot tell the userland.s init \(/sbin/init leads to init\)'
[ ! -e "$U/x.img" ] && ok "... and leaves no image" || not_ok "... and leaves no image" "x.img exists"
profile ch busybox chroot 'echo hi'
expect_exit "Mode=chroot is refused for an image" 2 "$MV" image -q "$U/ch.conf" -o "$U/x.img"
expect_match "... saying it is for microvisor install" "$ERR" 'ch.conf:13: Mode=chroot is for microvisor install only'

# Mode=none: the command is printed, with the registration load and PATH.
profile no busybox none 'nix run /etc/microvisor/flake#apply' "[Nix]
Tarball=nix.tar.xz"
expect_exit "image with Mode=none" 0 "$MV" image -q "$U/no.conf" -o "$U/no.img"
expect_match "Mode=none prints the exact command" "$OUT" \
	'^  export PATH=/nix/var/nix/profiles/default/bin:\$PATH; nix-store --load-db < /nix-path-registration && nix run /etc/microvisor/flake#apply$'
[ -z "$(dbg "$U/no.img" 'cat /etc/microvisor/handoff')" ] && ok "Mode=none writes no hook" || not_ok "Mode=none writes no hook" "a script"
expect_match "plan shows the same command" "$("$MV" plan "$U/no.conf" --image x.img)" \
	'^Handoff: none: export PATH=/nix/var/nix/profiles/default/bin:\$PATH; nix-store --load-db'

# A command the shell cannot parse is refused before anything is written.
profile quote busybox firstboot "echo 'unbalanced"
expect_exit "a Command= the shell cannot parse is refused" 2 "$MV" image -q "$U/quote.conf" -o "$U/x.img"
expect_match "... naming its line and the shell's words" "$ERR" "quote.conf:14: Command=echo 'unbalanced: the hand-off script it makes does not parse \(/bin/sh -n, line .+\)"
[ ! -e "$U/x.img" ] && ok "... and leaves no image" || not_ok "... and leaves no image" "x.img exists"
# Also when microvisor inherits SIGCHLD ignored (some service managers hand
# that on): the shell's status must still be read, not lost.
expect_exit "... also with SIGCHLD ignored by the caller" 2 python3 -c \
	'import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execvp(sys.argv[1], sys.argv[1:])' \
	"$MV" image -q "$U/quote.conf" -o "$U/x.img"
