#!/usr/bin/env bash
# The command line and `plan`, through the real binary.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

expect_exit "--version" 0 "$MV" --version
expect_match "--version prints the version" "$OUT" '^microvisor [0-9a-f]'

expect_exit "help lists the commands" 0 "$MV" help
for c in plan image install flash bootstrap inspect fetch help; do
	expect_match "help names $c" "$OUT" "^  $c "
done
expect_exit "no command is a usage error" 2 "$MV"
expect_exit "an unknown command is a usage error" 2 "$MV" frobnicate
expect_match "an unknown command is named" "$ERR" 'unknown command frobnicate'

for c in plan image install flash bootstrap inspect fetch help; do
	expect_exit "$c --help" 0 "$MV" "$c" --help
	expect_match "$c --help shows its usage" "$OUT" "^usage: microvisor $c"
done
for c in ; do
	expect_exit "$c says it is not available yet" 2 "$MV" "$c" profiles/demo.conf
	expect_match "$c does not pretend" "$ERR" 'not available yet'
done
expect_exit "install without --disk is a usage error" 2 "$MV" install profiles/demo.conf
expect_match "naming what is missing" "$ERR" 'expected --disk DEV'
expect_exit "flash without a device is a usage error" 2 "$MV" flash x.img
expect_match "naming what is missing" "$ERR" 'expected an IMAGE and at least one DEV'

# Every shipped profile plans, as text and as JSON that python accepts.
for p in profiles/*.conf; do
	name=$(basename "$p" .conf)
	target=(--image "$TMP/$name.img")
	[ "$name" = termux ] && target=(--prefix "$TMP/prefix")
	expect_exit "plan $name" 0 "$MV" plan "$p" "${target[@]}"
	expect_match "plan $name lists the stages" "$OUT" '10\. handoff'
	"$MV" plan "$p" "${target[@]}" --json >"$TMP/$name.json" 2>"$TMP/err"
	if python3 -m json.tool "$TMP/$name.json" >/dev/null 2>"$TMP/jerr"; then
		ok "plan $name --json is JSON"
	else
		not_ok "plan $name --json is JSON" "$(cat "$TMP/jerr")"
	fi
done
[ ! -e "$TMP/rpi.img" ] && [ ! -e "$TMP/prefix" ] && ok "plan creates nothing" || not_ok "plan creates nothing" "a target appeared"

# The rpi plan, read by python: MBR, partition 2's PARTUUID on cmdline.txt.
python3 - "$TMP/rpi.json" >"$TMP/py" 2>&1 <<'PY' && ok "rpi plan: MBR, aligned, PARTUUID on cmdline.txt" || not_ok "rpi plan: MBR, aligned, PARTUUID on cmdline.txt" "$(cat "$TMP/py")"
import json, sys
plan = json.load(open(sys.argv[1]))
t = plan["target"]
assert t["table"] == "mbr", t
parts = plan["partitions"]
assert [p["type"] for p in parts] == ["0x0c", "0x83"], parts
assert all(p["start"] % (1 << 20) == 0 for p in parts)
assert parts[1]["start"] + parts[1]["size"] == t["size"]
assert parts[1]["partuuid"] == t["disk_id"] + "-02"
steps = [s for st in plan["stages"] for s in st["steps"]]
cmdline = [s for s in steps if s["path"] == "/cmdline.txt"][0]["content"]
assert "root=PARTUUID=" + parts[1]["partuuid"] in cmdline, cmdline
assert [st["name"] for st in plan["stages"]] == ["survey", "wipe", "filesystems", "userland", "nix", "customise", "bootloader", "files", "finalize", "handoff"]
PY

# Same seed, same plan; another seed, other identifiers.
"$MV" plan profiles/x86_64-uefi.conf --image a.img --json >"$TMP/a1" 2>&1
"$MV" plan profiles/x86_64-uefi.conf --image a.img --json >"$TMP/a2" 2>&1
"$MV" plan profiles/x86_64-uefi.conf --image a.img --json --seed other >"$TMP/a3" 2>&1
cmp -s "$TMP/a1" "$TMP/a2" && ok "the same profile plans the same" || not_ok "the same profile plans the same" "plans differ"
python3 - "$TMP/a1" "$TMP/a3" >"$TMP/py" 2>&1 <<'PY' && ok "another seed changes every UUID" || not_ok "another seed changes every UUID" "$(cat "$TMP/py")"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["target"]["disk_id"] != b["target"]["disk_id"]
for x, y in zip(a["partitions"], b["partitions"]):
    assert x["partuuid"] != y["partuuid"] and x["filesystem_id"] != y["filesystem_id"]
    assert x["start"] == y["start"] and x["size"] == y["size"]
PY

# Bad profiles exit 2 with file:line, the key and what is expected.
mkdir -p "$TMP/bad"
printf '[Profile]\nName=t\nArchitecture=x86_64\n[Partition root]\nType=root\nSzie=1G\n' >"$TMP/bad/typo.conf"
printf '[Profile]\nName=t\nArchitecture=x86_64\n[Partition root]\nType=root\nSize=12Q\n' >"$TMP/bad/size.conf"
printf '[Profile]\nName=t\nInclude=gone.conf\nArchitecture=x86_64\n' >"$TMP/bad/include.conf"
expect_exit "a typo in a key exits 2" 2 "$MV" plan "$TMP/bad/typo.conf" --image x.img
expect_match "the typo is named with file:line" "$ERR" "typo.conf:6: Szie=: unknown key in \[Partition root\]; did you mean Size=\?"
expect_exit "a bad size exits 2" 2 "$MV" plan "$TMP/bad/size.conf" --image x.img
expect_match "the bad size is named with file:line" "$ERR" "size.conf:6: Size=12Q: expected a size such as 512M, 4G, Grow or auto"
expect_exit "a missing include exits 2" 2 "$MV" plan "$TMP/bad/include.conf" --image x.img
expect_match "the missing include is named with file:line" "$ERR" "include.conf:3: Include=: cannot open .*gone.conf"

# Sizes: a disk too small names what is missing; five MBR partitions are refused.
expect_exit "an image too small exits 2" 2 "$MV" plan profiles/rpi.conf --image x.img --size 256M
expect_match "it says how much is missing" "$ERR" 'missing'
printf '[Profile]\nName=t\nArchitecture=x86_64\n[Disk]\nTable=mbr\n' >"$TMP/bad/five.conf"
for i in 1 2 3 4 5; do printf '[Partition p%s]\nType=linux\nSize=1M\n' $i >>"$TMP/bad/five.conf"; done
expect_exit "five MBR partitions are refused" 2 "$MV" plan "$TMP/bad/five.conf" --image x.img
expect_match "the refusal says why" "$ERR" 'at most 4 primary partitions'
expect_exit "--size grows the Grow partition" 0 "$MV" plan profiles/x86_64-uefi.conf --image x.img --size 16G --json
python3 -c 'import json,sys; p=json.load(sys.stdin); assert p["target"]["size"]==16<<30 and p["partitions"][1]["size"]==(16<<30)-(1<<30)-(2<<20)' <<<"$OUT" \
	&& ok "Grow takes the rest before the backup GPT" || not_ok "Grow takes the rest before the backup GPT" "$OUT"

# --disk reads a size and writes nothing.
truncate -s 2G "$TMP/disk"
before=$(sha256sum <"$TMP/disk")
expect_exit "plan --disk" 0 "$MV" plan profiles/demo.conf --disk "$TMP/disk"
expect_match "plan --disk uses the disk's size" "$OUT" '2 GiB \(2147483648 bytes\)'
[ "$(sha256sum <"$TMP/disk")" = "$before" ] && ok "plan --disk writes nothing" || not_ok "plan --disk writes nothing" "the disk changed"
expect_exit "plan --disk of a missing device exits 2" 2 "$MV" plan profiles/demo.conf --disk "$TMP/nodisk"

# Usage mistakes.
expect_exit "plan needs a target" 2 "$MV" plan profiles/demo.conf
expect_exit "plan takes one target" 2 "$MV" plan profiles/demo.conf --image a.img --prefix b
expect_exit "--size is for images" 2 "$MV" plan profiles/demo.conf --disk "$TMP/disk" --size 1G
expect_exit "--size must be a size" 2 "$MV" plan profiles/demo.conf --image a.img --size huge
