#!/usr/bin/env bash
# make bench, a fleet from one profile: ten images of profiles/demo.conf for
# ten hostnames (each with its own SSH key), as a per-image time, beside the
# floor a golden-image workflow cannot go under (copying one finished image,
# cp --sparse=always, before any per-host edit). Then what two hosts' images
# share: the byte ranges that differ, by partition, with the default seed
# (each hostname seeds its own UUIDs: the tables, the superblocks and the
# checksums over them differ too) and with one --seed for both (only the
# customisation's files differ). Figures only; nothing passes or fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
bash build/demo-assets.sh obj/demo >/dev/null
mkdir -p obj/bench
W=$(mktemp -d "$PWD/obj/bench/fleet.XXXXXX")
trap 'rm -rf "$W"' EXIT
export SOURCE_DATE_EPOCH=1700000000
for i in $(seq 1 10); do
	ssh-keygen -q -t ed25519 -N '' -C "ops@node-$i" -f "$W/key$i"
done
cat >"$W/fleet.sh" <<SH
for i in \$(seq 1 10); do
	"$MV" image -q profiles/demo.conf -o "$W/node-\$i.img" --hostname "node-\$i" --ssh-key "$W/key\$i.pub" --timezone Europe/Berlin
done
SH
/usr/bin/time -f "%e %M" -o "$W/t.fleet" bash "$W/fleet.sh"
/usr/bin/time -f "%e" -o "$W/t.one" "$MV" image -q profiles/demo.conf -o "$W/plain.img"
/usr/bin/time -f "%e" -o "$W/t.cp" cp --sparse=always "$W/plain.img" "$W/copy.img"
read -r fleet rss <"$W/t.fleet"
one=$(cat "$W/t.one") cp_s=$(cat "$W/t.cp")
per=$(echo "scale=3; $fleet / 10" | bc)
echo "fleet: 10 images of profiles/demo.conf (256 MiB, Debian kernel + busybox), one per hostname"
printf '  microvisor image, customised   %6.3f s per image (10 in %.2f s, peak RSS %d KiB)\n' "$per" "$fleet" "$rss"
printf '  microvisor image, uncustomised %6.3f s\n' "$one"
printf '  cp --sparse=always of a built image (the golden-image floor, before editing it) %6.3f s\n' "$cp_s"
printf '  ratio per image / copy: %.2f\n' "$(echo "scale=3; $per / ($cp_s + 0.001)" | bc)"
ids() { # the disk GUID and every PARTUUID and filesystem UUID, as sfdisk and blkid read them
	sfdisk --json "$1" | python3 -c 'import json,sys; t=json.load(sys.stdin)["partitiontable"]; print(t["id"]); [print(p["uuid"], p["start"]) for p in t["partitions"]]' |
		while read -r id start; do
			echo "$id"
			[ -n "${start:-}" ] && blkid -p -o value -s UUID -O $((start * 512)) "$1"
		done
}
for i in $(seq 1 10); do ids "$W/node-$i.img"; done >"$W/ids"
printf '  identifiers across the ten images: %d, of which distinct: %d (sfdisk, blkid)\n' "$(wc -l <"$W/ids")" "$(sort -u "$W/ids" | wc -l)"
echo "what node-1's and node-2's images share (cmp -l):"
echo " default seed (Name= and hostname):"
python3 tests/bench/diffranges.py "$W/node-1.img" "$W/node-2.img"
"$MV" image -q profiles/demo.conf -o "$W/s1.img" --seed fleet --hostname node-1 --ssh-key "$W/key1.pub" --timezone Europe/Berlin
"$MV" image -q profiles/demo.conf -o "$W/s2.img" --seed fleet --hostname node-2 --ssh-key "$W/key2.pub" --timezone Europe/Berlin
echo " one --seed for both (only the customisation differs: /etc/hostname, /etc/hosts, the key):"
python3 tests/bench/diffranges.py "$W/s1.img" "$W/s2.img"
