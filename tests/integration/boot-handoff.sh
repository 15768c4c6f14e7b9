#!/usr/bin/env bash
# [Handoff] Mode=firstboot on the x86_64 demo image, whose userland has no
# systemd: its init is busybox init reading /etc/inittab, so the hook that
# runs is the inittab line microvisor appended (bootstrap/handoff.h), and
# the script behind it is the one `plan` shows. First boot: the command
# runs and prints a marker, the hook removes itself. Second boot of the
# same disk: the command does not run. A command that fails keeps its hook
# and runs again on the next boot. With Nix (Debian's own nix-store,
# bundled into a miniature tarball by tests/fixtures/mknixtar.sh), the
# hand-off loads the registration in the guest, and the host's nix-store
# then reads the database the guest wrote.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo >"$TMP/assets.log" 2>&1 || { not_ok "demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }

nonce=$RANDOM$RANDOM
# The marker the command prints differs from its own text (%s), so the
# script's "running: ..." line cannot pass for it.
profile() { # profile NAME COMMAND [MORE-SECTIONS]
	cat >"$TMP/$1.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo.conf

[Handoff]
Mode=firstboot
Command=$2
${3:-}
CONF
}
boot() { # boot IMAGE LOG: until the demo's last line, after its sync (qemu.sh stops the guest at the marker)
	bash tests/boot/qemu.sh uefi-x86_64 "$1" 'microvisor-demo: synced' 150 "$2" >/dev/null 2>&1
}
dbg() { dbg_root "$@"; }

profile ok "printf 'handoff-ran-%s\\n' $nonce"
expect_exit "image with Mode=firstboot" 0 "$MV" image -q "$TMP/ok.conf" -o "$TMP/ok.img"
"$MV" plan "$TMP/ok.conf" --image x.img --json >"$TMP/plan.json"
python3 - "$TMP/plan.json" >"$TMP/plan-script" <<'PY'
import json, sys
st = [s for s in json.load(open(sys.argv[1]))["stages"] if s["name"] == "handoff"][0]
print([s for s in st["steps"] if s.get("path") == "/etc/microvisor/handoff"][0]["content"], end="")
PY
dbg "$TMP/ok.img" 'dump /etc/microvisor/handoff '"$TMP/img-script" >/dev/null
cmp -s "$TMP/plan-script" "$TMP/img-script" && ok "the image's hand-off script is the one plan shows" ||
	not_ok "the image's hand-off script is the one plan shows" "$(diff "$TMP/plan-script" "$TMP/img-script" | head -5)"
expect_match "the inittab gains the hook, after the userland's lines" "$(dbg "$TMP/ok.img" 'cat /etc/inittab')" \
	'::sysinit:/etc/init.d/rcS' 
expect_match "... the hook line is last" "$(dbg "$TMP/ok.img" 'cat /etc/inittab' | tail -1)" '^::sysinit:/etc/microvisor/handoff$'

boot "$TMP/ok.img" "$TMP/first.log"
first=$(tr -d '\r' <"$TMP/first.log")
expect_match "first boot: the demo boots" "$first" 'microvisor-demo: booted'
expect_match "first boot: busybox init ran the hand-off and the command printed its marker" "$first" "^handoff-ran-$nonce\$"
expect_match "first boot: the hook says it removed itself" "$first" 'microvisor-handoff: done: the boot hook is removed'
inittab=$(dbg "$TMP/ok.img" 'cat /etc/inittab')
grep -q 'microvisor/handoff' <<<"$inittab" && not_ok "the hook is gone from /etc/inittab" "$inittab" ||
	{ grep -q '^::sysinit:/etc/init.d/rcS$' <<<"$inittab" && ok "the hook is gone from /etc/inittab, the userland's lines stay" || not_ok "the userland's inittab lines stay" "$inittab"; }
expect_match "the log file has the command's output" "$(dbg "$TMP/ok.img" 'cat /var/log/microvisor-handoff.log')" "^handoff-ran-$nonce\$"

boot "$TMP/ok.img" "$TMP/second.log"
second=$(tr -d '\r' <"$TMP/second.log")
expect_match "second boot: the demo boots" "$second" 'microvisor-demo: booted'
grep -q "handoff-ran-$nonce" <<<"$second" && not_ok "second boot: the command does not run again" "$(grep -n handoff <<<"$second")" ||
	ok "second boot: the command does not run again"

# The test can fail: a command that fails keeps its hook and runs again.
profile fail "printf 'handoff-tried-%s\\n' $nonce; exit 3"
expect_exit "image with a failing command" 0 "$MV" image -q "$TMP/fail.conf" -o "$TMP/fail.img"
boot "$TMP/fail.img" "$TMP/f1.log"
boot "$TMP/fail.img" "$TMP/f2.log"
expect_match "a failing command says so" "$(tr -d '\r' <"$TMP/f1.log")" 'the command failed \(exit 3\): it runs again at the next boot'
[ "$(cat "$TMP/f1.log" "$TMP/f2.log" | tr -d '\r' | grep -c "^handoff-tried-$nonce\$")" = 2 ] &&
	ok "a failing command runs again on the next boot" || not_ok "a failing command runs again on the next boot" "$(grep -h handoff "$TMP/f1.log" "$TMP/f2.log")"
expect_match "... and its hook stays" "$(dbg "$TMP/fail.img" 'cat /etc/inittab' | tail -1)" '^::sysinit:/etc/microvisor/handoff$'

# With Nix: the guest's nix-store loads /nix-path-registration, then the
# command queries the database it made.
if command -v nix-store >/dev/null && tests/fixtures/mknixtar.sh "$TMP/nix.tar" real >"$TMP/nixpaths" 2>"$TMP/mknix.err"; then
	NIXP=$(sed -n 1p "$TMP/nixpaths") CFGP=$(sed -n 2p "$TMP/nixpaths")
	profile nix "printf 'handoff-nix-%s\\n' $nonce; nix-store -qR $CFGP" "[Nix]
Tarball=$TMP/nix.tar"
	expect_exit "image with Nix and Mode=firstboot" 0 "$MV" image -q "$TMP/nix.conf" -o "$TMP/nix.img"
	export NIX_CONF_DIR="$TMP/nixconf" HOME="$TMP/home"
	mkdir -p "$NIX_CONF_DIR" "$HOME" && echo 'build-users-group =' >"$NIX_CONF_DIR/nix.conf"
	# The judge can fail: before the boot there is no database to read.
	mkdir -p "$TMP/R0" && dbg "$TMP/nix.img" "rdump /nix $TMP/R0" >/dev/null && chmod -R u+w "$TMP/R0"
	nix-store --store "$TMP/R0" -qR "$CFGP" >/dev/null 2>&1 && not_ok "before the boot, Nix has no registration" "-qR answered" ||
		ok "before the boot, Nix has no registration"
	boot "$TMP/nix.img" "$TMP/nix.log"
	log=$(tr -d '\r' <"$TMP/nix.log")
	expect_match "first boot: the hand-off loads the registration" "$log" 'microvisor-handoff: loading the Nix registration: nix-store --load-db < /nix-path-registration'
	expect_match "first boot: the command ran" "$log" "^handoff-nix-$nonce\$"
	expect_match "first boot: the guest's nix-store -qR lists the closure" "$log" "^$NIXP\$"
	expect_match "first boot: the hook removed itself" "$log" 'microvisor-handoff: done: the boot hook is removed'
	dbg "$TMP/nix.img" 'stat /var/lib/microvisor/nix-registration-loaded' | grep -q '^Inode:' &&
		ok "the registration is recorded as loaded" || not_ok "the registration is recorded as loaded" "no stamp"
	mkdir -p "$TMP/R" && dbg "$TMP/nix.img" "rdump /nix $TMP/R" >/dev/null && chmod -R u+w "$TMP/R"
	expect_match "the host's nix-store reads the closure from the database the guest wrote" \
		"$(nix-store --store "$TMP/R" -qR "$CFGP" 2>&1 | sort | tr '\n' ' ')" "^($NIXP $CFGP|$CFGP $NIXP) \$"
	nix-store --store "$TMP/R" --verify --check-contents >"$TMP/verify" 2>&1 && ! grep -Eqi 'modified|missing|invalid|error' "$TMP/verify" &&
		ok "nix-store --verify --check-contents is clean after the guest's load" || not_ok "--verify --check-contents" "$(cat "$TMP/verify")"
else
	not_ok "the Nix tarball with Debian's nix is made" "$(cat "$TMP/mknix.err" 2>/dev/null || echo 'nix-store missing')"
fi
