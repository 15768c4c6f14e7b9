#!/usr/bin/env bash
# One profile, one machine's settings ([Customise] and the command line),
# judged by tools nobody here wrote: ssh-keygen on authorized_keys, crypt(3)
# through mkpasswd and python3, wpa_passphrase for the Wi-Fi key, systemctl
# --root and systemd-analyze verify on the units, debugfs for modes and
# owners, nix-instantiate for the Nix module, sfdisk and blkid for the seed.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
user_dir
U="$TMP/u"
export SOURCE_DATE_EPOCH=1700000000

python3 tests/fixtures/mksysroot.py "$U/sys.tar"
python3 tests/fixtures/mksysroot.py "$U/nm.tar" nm
ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$U/key"
ssh-keygen -q -t ecdsa -N '' -C ops@ci -f "$U/key2"
cat "$U/key.pub" "$U/key2.pub" >"$U/keys.pub"
printf 'correct horse battery\n' >"$U/pw"
printf 'wifi passphrase 42\n' >"$U/psk"
cat >"$U/fleet.conf" <<'CONF'
[Profile]
Name=fleet
Architecture=x86_64

[Disk]
Size=64M

[Partition root]
Type=root
Size=Grow

[Userland]
Source=sys.tar

[Customise]
Timezone=Europe/Berlin
Locale=de_DE.UTF-8
Keymap=de
CONF
chmod -R a+rX "$U"

custom=(--hostname node-1 --user alice --ssh-key "$U/keys.pub" --password-file "$U/pw"
	--wifi-ssid HomeNet --wifi-psk-file "$U/psk" --address 192.168.7.21/24 --gateway 192.168.7.1
	--dns "192.168.7.1 9.9.9.9")
expect_exit "an image for one machine builds as $TEST_USER" 0 as_user "$UMV" image -q "$U/fleet.conf" -o "$U/a.img" "${custom[@]}"
off() { sfdisk --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"]*512)'; }
R="$U/a.img?offset=$(off "$U/a.img")"
dbg() { debugfs -R "$1" "$R" 2>/dev/null </dev/null; }
# "mode uid gid" of a path, as debugfs reads the inode.
owner() { dbg "stat $1" | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p; s/^User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1 \2/p' | tr '\n' ' ' | sed 's/ $//'; }
e2fsck -fn "$R" >"$TMP/fsck" 2>&1 && ok "e2fsck -fn is clean" || not_ok "e2fsck -fn is clean" "$(tail -5 "$TMP/fsck")"

# Hostname and hosts.
expect_match "/etc/hostname" "$(dbg 'cat /etc/hostname')" '^node-1$'
hosts=$(dbg 'cat /etc/hosts')
expect_match "/etc/hosts names the host on 127.0.1.1" "$hosts" $'^127.0.1.1\tnode-1$'
expect_match "/etc/hosts keeps the userland's localhost lines" "$hosts" $'^127.0.0.1\tlocalhost$'
[ "$(grep -c '^127.0.1.1' <<<"$hosts")" = 1 ] && ok "the userland's old 127.0.1.1 line is gone" || not_ok "one 127.0.1.1 line" "$hosts"

# The user: passwd, group (admin: the userland's sudo), shadow, home.
expect_match "passwd: alice gets UID 1000, her group, home and bash" "$(dbg 'cat /etc/passwd')" '^alice:x:1000:1000::/home/alice:/bin/bash$'
expect_match "group: her own" "$(dbg 'cat /etc/group')" '^alice:x:1000:$'
expect_match "group: a member of sudo (the userland's admin group)" "$(dbg 'cat /etc/group')" '^sudo:x:27:alice$'
expect_match "shadow keeps Debian's 0640 root:shadow" "$(owner /etc/shadow)" '^0640 0 42$'
hash=$(dbg 'cat /etc/shadow' | sed -n 's/^alice:\([^:]*\):.*/\1/p')
expect_match "shadow holds a SHA-512 crypt hash" "$hash" '^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$'
salt=$(cut -d'$' -f3 <<<"$hash")
[ "$(mkpasswd -m sha-512 -S "$salt" 'correct horse battery')" = "$hash" ] && ok "mkpasswd (whois) makes the same hash from the password" ||
	not_ok "mkpasswd agrees" "$hash"
python3 -W ignore -c 'import crypt,sys; sys.exit(crypt.crypt(sys.argv[1], sys.argv[2]) != sys.argv[2])' 'correct horse battery' "$hash" &&
	ok "python3's crypt(3) verifies the password against the hash" || not_ok "python3's crypt verifies" "$hash"
python3 -W ignore -c 'import crypt,sys; sys.exit(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])' 'wrong horse battery' "$hash" &&
	ok "and refuses a wrong password" || not_ok "a wrong password is refused" "$hash"
expect_match "home 0700, owned by alice" "$(owner /home/alice)" '^0700 1000 1000$'

# SSH: the keys as ssh-keygen reads them, the modes sshd demands.
dbg 'cat /home/alice/.ssh/authorized_keys' >"$TMP/authorized_keys"
want=$(ssh-keygen -l -f "$U/keys.pub")
got=$(ssh-keygen -l -f "$TMP/authorized_keys" 2>&1)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "ssh-keygen -l reads both keys in authorized_keys" || not_ok "ssh-keygen -l on authorized_keys" "$got"
expect_match ".ssh is 0700, owned by alice" "$(owner /home/alice/.ssh)" '^0700 1000 1000$'
expect_match "authorized_keys is 0600, owned by alice" "$(owner /home/alice/.ssh/authorized_keys)" '^0600 1000 1000$'
mkdir -p "$TMP/root" && dbg "rdump / $TMP/root" >/dev/null
for u in ssh.service microvisor-ssh-keygen.service systemd-networkd.service wpa_supplicant@wlan0.service; do
	expect_match "systemctl --root: $u is enabled" "$(systemctl --root="$TMP/root" is-enabled "$u" 2>&1)" '^enabled$'
done
expect_match "systemctl --root: sshd.service is its alias" "$(systemctl --root="$TMP/root" is-enabled sshd.service 2>&1)" '^alias$'
dbg 'ls /etc/ssh' | grep -q ssh_host_ && not_ok "no SSH host keys baked in" "$(dbg 'ls /etc/ssh')" || ok "the userland's SSH host keys are gone (made on first boot)"
unit="$TMP/root/etc/systemd/system/microvisor-ssh-keygen.service"
v=$(systemd-analyze verify --man=no "$unit" 2>&1) && [ -z "$v" ] && ok "systemd-analyze verify accepts the first-boot key unit" ||
	not_ok "systemd-analyze verify" "$v"
mkdir -p "$TMP/bad" && sed 's/Type=oneshot/Type=oneshoot/' "$unit" >"$TMP/bad/microvisor-ssh-keygen.service"
v=$(systemd-analyze verify --man=no "$TMP/bad/microvisor-ssh-keygen.service" 2>&1)
[ -n "$v" ] && ok "and the same judge objects to a broken unit" || not_ok "systemd-analyze objects to a broken unit" "said nothing"

# Network: systemd-networkd (the userland has no NetworkManager), Wi-Fi
# through wpa_supplicant with the derived key, as wpa_passphrase derives it.
net=$(dbg 'cat /etc/systemd/network/25-microvisor-wlan0.network')
expect_match "networkd: the Wi-Fi interface gets the static address" "$net" '^Address=192.168.7.21/24$'
expect_match "networkd: gateway" "$net" '^Gateway=192.168.7.1$'
expect_match "networkd: both name servers" "$(grep -c '^DNS=' <<<"$net")" '^2$'
wpa=$(dbg 'cat /etc/wpa_supplicant/wpa_supplicant-wlan0.conf')
psk=$(wpa_passphrase HomeNet 'wifi passphrase 42' | sed -n 's/^\tpsk=//p')
expect_match "the Wi-Fi key is wpa_passphrase's" "$wpa" "^	psk=$psk\$"
expect_match "wpa_supplicant's file is 0600" "$(owner /etc/wpa_supplicant/wpa_supplicant-wlan0.conf)" '^0600 0 0$'

# Time, locale, keymap (from the profile's [Customise]).
expect_match "/etc/localtime links into zoneinfo" "$(dbg 'stat /etc/localtime')" 'Fast link dest: "../usr/share/zoneinfo/Europe/Berlin"'
expect_match "/etc/timezone (Debian's) follows" "$(dbg 'cat /etc/timezone')" '^Europe/Berlin$'
expect_match "/etc/locale.conf" "$(dbg 'cat /etc/locale.conf')" '^LANG=de_DE.UTF-8$'
expect_match "/etc/vconsole.conf" "$(dbg 'cat /etc/vconsole.conf')" '^KEYMAP=de$'

# No secret in plain text anywhere in the image, nor in what plan prints.
grep -aqF 'correct horse battery' "$U/a.img" && not_ok "no plain password in the image" "found" || ok "no plain password in the image"
grep -aqF 'wifi passphrase 42' "$U/a.img" && not_ok "no Wi-Fi passphrase in the image" "found" || ok "no Wi-Fi passphrase in the image"
plan=$("$MV" plan "$U/fleet.conf" --image x.img "${custom[@]}" 2>&1)
expect_match "plan shows where the hash goes, masked" "$plan" 'alice:\$6\$<masked>'
expect_match "plan shows the Wi-Fi key masked" "$plan" 'psk=<masked>'
grep -qF -e "$hash" -e "$psk" -e 'correct horse' <<<"$plan" && not_ok "plan shows no secret" "found one" || ok "plan shows no secret"
expect_match "plan says which network stack decides" "$plan" 'written when the userland has NetworkManager'

# NetworkManager userland: keyfiles instead, the key again wpa_passphrase's.
expect_exit "a NetworkManager userland builds" 0 "$MV" image -q "$U/fleet.conf" -o "$U/nm.img" --set Userland.Source="$U/nm.tar" \
	--wifi-ssid HomeNet --wifi-psk-file "$U/psk" --set Customise.Network=dhcp
R="$U/nm.img?offset=$(off "$U/nm.img")"
k=/etc/NetworkManager/system-connections/microvisor-wifi.nmconnection
expect_match "NetworkManager keyfile: the key is wpa_passphrase's" "$(dbg "cat $k")" "^psk=$psk\$"
expect_match "NetworkManager keyfiles are 0600" "$(owner $k)" '^0600 0 0$'
expect_match "the wired connection takes DHCP" "$(dbg 'cat /etc/NetworkManager/system-connections/microvisor-wired.nmconnection')" '^method=auto$'
dbg 'ls /etc/systemd' | grep -q network && not_ok "no networkd files beside NetworkManager" "$(dbg 'ls /etc/systemd/network')" || ok "no networkd files beside NetworkManager"
expect_match "no key given: ssh stays as the userland had it" "$(dbg 'ls -l /etc/systemd/system/multi-user.target.wants' | grep -c ssh.service)" '^0$'
expect_match "root's password untouched without one" "$(dbg 'cat /etc/shadow')" '^root:\*:19000'
dbg 'ls /etc/ssh' | grep -q ssh_host_ && not_ok "host keys go whenever a machine is customised" "$(dbg 'ls /etc/ssh')" ||
	ok "host keys go whenever a machine is customised"
expect_match "and are made on first boot" "$(dbg 'ls /etc/systemd/system/multi-user.target.wants')" 'microvisor-ssh-keygen.service'
expect_exit "SSHHostKeys=keep" 0 "$MV" image -q "$U/fleet.conf" -o "$U/k.img" --set Customise.SSHHostKeys=keep --ssh-key "$U/key.pub"
R="$U/k.img?offset=$(off "$U/k.img")"
expect_match "SSHHostKeys=keep keeps the userland's host keys" "$(dbg 'ls /etc/ssh')" 'ssh_host_ed25519_key'
dbg 'ls /etc/systemd/system' | grep -q microvisor-ssh-keygen && not_ok "no first-boot key unit when kept" "found" || ok "no first-boot key unit when kept"

# The seed: each hostname its own UUIDs; the same hostname the same bytes.
expect_exit "the same machine again" 0 "$MV" image -q "$U/fleet.conf" -o "$U/a2.img" "${custom[@]}"
cmp -s "$U/a.img" "$U/a2.img" && ok "the same inputs give a byte-identical image (the salt comes from the seed)" || not_ok "byte-identical" "differ"
expect_exit "another machine" 0 "$MV" image -q "$U/fleet.conf" -o "$U/b.img" --hostname node-2
guid() { sfdisk --json "$1" | python3 -c 'import json,sys; t=json.load(sys.stdin)["partitiontable"]; print(t["id"], t["partitions"][0]["uuid"])'; }
[ "$(guid "$U/a.img")" != "$(guid "$U/b.img")" ] && ok "another hostname, another disk GUID and PARTUUID" || not_ok "GUIDs differ" "$(guid "$U/b.img")"
fsid() { blkid -p -o value -s UUID -O "$(off "$1")" "$1"; }
[ "$(fsid "$U/a.img")" != "$(fsid "$U/b.img")" ] && ok "and another filesystem UUID (blkid)" || not_ok "filesystem UUIDs differ" "$(fsid "$U/b.img")"
expect_match "plan names the hostname as the seed's origin" "$("$MV" plan "$U/fleet.conf" --image x.img --hostname node-2)" 'from Name=fleet and hostname node-2'

# The password asked for on standard input instead of a file.
echo 'from stdin 7' | "$MV" image -q "$U/fleet.conf" -o "$U/s.img" --user bob --password-file - >"$TMP/out" 2>&1
R="$U/s.img?offset=$(off "$U/s.img")"
h=$(dbg 'cat /etc/shadow' | sed -n 's/^bob:\([^:]*\):.*/\1/p')
[ -n "$h" ] && [ "$(mkpasswd -m sha-512 -S "$(cut -d'$' -f3 <<<"$h")" 'from stdin 7')" = "$h" ] &&
	ok "--password-file - reads standard input (mkpasswd agrees)" || not_ok "--password-file -" "$h $(cat "$TMP/out")"

# A user the userland has (root): only the password and keys change.
expect_exit "root's password and key" 0 "$MV" image -q "$U/fleet.conf" -o "$U/r.img" --password-hash "$hash" --ssh-key "$U/key.pub"
R="$U/r.img?offset=$(off "$U/r.img")"
expect_match "root's shadow line gets the hash, keeps its aging" "$(dbg 'cat /etc/shadow')" "^root:$(sed 's/[$.]/\\&/g' <<<"$hash"):19000:0:99999:7:::\$"
expect_match "root's key in /root/.ssh, owned by root" "$(owner /root/.ssh/authorized_keys)" '^0600 0 0$'

# Refused before anything is written, exit 2, with a message naming it.
refuse() {
	local name=$1 msg=$2
	shift 2
	rm -f "$U/bad.img"
	expect_exit "refused: $name (exit 2)" 2 "$MV" image -q "$U/fleet.conf" -o "$U/bad.img" "$@"
	expect_match "refused: $name: the message says why" "$ERR" "$msg"
	[ -e "$U/bad.img" ] || ls "$U"/.bad.img.* >/dev/null 2>&1 && not_ok "refused: $name: nothing written" "an image exists" ||
		ok "refused: $name: nothing written"
}
refuse "an invalid hostname" "--hostname: Hostname=node_1: character '_' is not allowed" --hostname node_1
sed 's/AAAAC3Nza/AAAAC3Mza/' "$U/key.pub" >"$U/broken.pub"
refuse "a malformed SSH key" "--ssh-key: SSHKeyFile=.*broken.pub: line 1: " --ssh-key "$U/broken.pub"
refuse "a private key" "not a public key" --ssh-key "$U/key"
# ... without echoing it: a profile naming someone's private key must not
# get its lines printed into a build log.
grep -qF -- "$(sed -n 2p "$U/key" | cut -c1-16)" <<<"$ERR" && not_ok "refused: a private key: its bytes are not echoed" "$ERR" ||
	ok "refused: a private key: its bytes are not echoed"
refuse "an address without a prefix length" "Address=10.0.0.7: expected ADDRESS/PREFIX" --address 10.0.0.7
printf 'short\n' >"$U/short"
refuse "a PSK under 8 characters" "the passphrase has 5 characters; WPA takes 8 to 63" --wifi-ssid x --wifi-psk-file "$U/short"
printf '%064d\n' 0 >"$U/long"
refuse "a PSK over 63 characters" "the passphrase has 64 characters" --wifi-ssid x --wifi-psk-file "$U/long"
refuse "a password hash that is not SHA-512" "expected a crypt\(3\) SHA-512 hash" --password-hash '$1$abc$xyz'
refuse "a bad --set" "expected SECTION.KEY=VALUE" --set Hostname=x
rm -f "$U/bad.img"
expect_exit "a zone the userland's tzdata lacks fails the run" 1 "$MV" image -q "$U/fleet.conf" -o "$U/bad.img" --timezone Mars/Olympus_Mons
expect_match "and says which" "$ERR" "Timezone=Mars/Olympus_Mons: the userland's /usr/share/zoneinfo has no Mars/Olympus_Mons"
[ -e "$U/bad.img" ] && not_ok "no image after a failed run" "exists" || ok "no image after a failed run"
refuse "an unknown key through --set" "Hostnam=: unknown key in \[Customise\]; did you mean Hostname=" --set Customise.Hostnam=x

# FreeBSD keeps accounts in master.passwd: only the hostname (rc.conf) and
# the time zone are customised there; the rest is refused, not misplaced.
printf '[Profile]\nInclude=%s/profiles/freebsd-amd64.conf\n' "$ROOT" >"$U/bsd.conf"
expect_exit "FreeBSD: --user is refused (exit 2)" 2 "$MV" plan "$U/bsd.conf" --image "$U/bsd.img" --user alice
expect_match "FreeBSD: the refusal says what it takes" "$ERR" "a FreeBSD target takes only Hostname= \(rc.conf\) and Timezone="
expect_exit "FreeBSD: --hostname is taken" 0 "$MV" plan "$U/bsd.conf" --image "$U/bsd.img" --hostname bsd-7
expect_match "FreeBSD: the hostname goes into rc.conf" "$OUT" '^ +\| hostname="bsd-7"$'

# The Nix module, for a Nix-managed target: valid Nix, the same settings.
if tests/fixtures/mknixtar.sh "$U/nix.tar.xz" >"$TMP/paths" 2>"$TMP/mknix.err"; then
	cat >"$U/nix.conf" <<'CONF'
[Profile]
Include=fleet.conf
[Partition root]
Size=160M
[Disk]
Size=192M
[Nix]
Tarball=nix.tar.xz
CONF
	expect_exit "a Nix-managed image" 0 "$MV" image -q "$U/nix.conf" -o "$U/n.img" "${custom[@]}"
	R="$U/n.img?offset=$(off "$U/n.img")"
	dbg 'cat /etc/microvisor/customise.nix' >"$TMP/customise.nix"
	v=$(nix-instantiate --parse "$TMP/customise.nix" 2>&1) && ok "nix-instantiate parses customise.nix" || not_ok "nix-instantiate parses customise.nix" "$v"
	expect_match "the module sets the hostname" "$(cat "$TMP/customise.nix")" 'networking.hostName = "node-1";'
	expect_match "the module carries the hash, not the password" "$(cat "$TMP/customise.nix")" "hashedPassword = \"$(sed 's/[$.]/\\&/g' <<<"$hash")\";"
	expect_match "the module carries the Wi-Fi key" "$(cat "$TMP/customise.nix")" "pskRaw = \"$psk\";"
	expect_match "the module is 0600" "$(owner /etc/microvisor/customise.nix)" '^0600 0 0$'
else
	not_ok "the miniature Nix tarball is made" "$(cat "$TMP/mknix.err")"
fi
