#!/usr/bin/env bash
# [Handoff] Mode=firstboot on the x86_64 demo image, whose userland has no
# systemd: its init is busybox init reading /etc/inittab, so the hook that
# runs is the inittab line microvisor appended (bootstrap/handoff.h), and
# the script behind it is the one `plan` shows. First boot: the command
# runs and prints a marker, the hook removes itself. Second boot of the
# same disk: the command does not run. A command that fails keeps its hook
# and runs again on the next boot.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
bash build/demo-assets.sh obj/demo >"$TMP/assets.log" 2>&1 || { not_ok "demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }

nonce=$RANDOM$RANDOM
# The marker the command prints differs from its own text (%s), so the
# script's "running: ..." line cannot pass for it.
profile() { # profile NAME COMMAND
	cat >"$TMP/$1.conf" <<CONF
[Profile]
Include=$ROOT/profiles/demo.conf

[Handoff]
Mode=firstboot
Command=$2
CONF
}
boot() { # boot IMAGE LOG: until the demo's own line (it powers off right after)
	bash tests/boot/qemu.sh uefi-x86_64 "$1" 'microvisor-demo: booted' 150 "$2" >/dev/null 2>&1
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
