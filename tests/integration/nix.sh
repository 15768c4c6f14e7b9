#!/usr/bin/env bash
# [Nix] Tarball=: `microvisor image` seeds a multi-user Nix from a real
# miniature store that Nix itself made (tests/fixtures/mknixtar.sh), and Nix
# judges the result: the root's /nix and /nix-path-registration, dumped
# with debugfs, load with nix-store --load-db, pass --verify
# --check-contents, and -qR lists the closure. What Nix does not judge
# (canonical metadata, users, links, units) is read with debugfs.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
user_dir
U="$TMP/u"
export SOURCE_DATE_EPOCH=1700000000
mkdir -p "$U"
if ! command -v nix-store >/dev/null; then
	not_ok "nix-store is installed (nix-bin)" "missing"
	exit 0
fi
tests/fixtures/mknixtar.sh "$U/nix.tar.xz" >"$TMP/paths" 2>"$TMP/mknix.err" ||
	{ not_ok "the miniature Nix tarball is made" "$(cat "$TMP/mknix.err")"; exit 0; }
NIXP=$(sed -n 1p "$TMP/paths")
CFGP=$(sed -n 2p "$TMP/paths")

# A userland with the account files (shadow private, as Debian has it).
mkdir -p "$TMP/ul/etc" "$TMP/ul/root"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$TMP/ul/etc/passwd"
printf 'root:x:0:\nshadow:x:42:\n' >"$TMP/ul/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$TMP/ul/etc/shadow"
chmod 0640 "$TMP/ul/etc/shadow"
chmod 0700 "$TMP/ul/root"
tar --owner=0 --group=0 --numeric-owner -C "$TMP/ul" -cf "$U/root.tar" .
tar --numeric-owner --owner=0 --group=42 -C "$TMP/ul" -rf "$U/root.tar" ./etc/shadow
mkdir -p "$U/flake" && printf '{ outputs = { self }: { }; }\n' >"$U/flake/flake.nix"
cat >"$U/nix.conf" <<'CONF'
[Profile]
Name=nixtest
Architecture=x86_64
[Partition esp]
Type=esp
Size=64M
[Partition root]
Type=root
Size=128M
[Userland]
Source=root.tar
[Nix]
Tarball=nix.tar.xz
Flake=flake
Config=auto-optimise-store = true
CONF
chmod -R a+rX "$U"

expect_exit "an image with Nix builds as $TEST_USER" 0 as_user "$UMV" image -q "$U/nix.conf" -o "$U/nix.img" --seed n1
img="$U/nix.img"
"$MV" plan "$U/nix.conf" --image "$img" --seed n1 --json >"$TMP/plan.json"
root=$(python3 -c "import json; print([p for p in json.load(open('$TMP/plan.json'))['partitions'] if p['name']=='root'][0]['start'])")
fs="$img?offset=$root"
dbg() { debugfs -R "$1" "$fs" 2>/dev/null </dev/null; }
e2fsck -fn "$fs" >"$TMP/fsck" 2>&1 && ok "e2fsck -fn is clean" || not_ok "e2fsck -fn is clean" "$(tail -5 "$TMP/fsck")"

# What debugfs says about one inode: "mode uid gid mtime".
inode() { dbg "stat $1" | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.search(r"Mode:\s+(\d+)", t); u = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", t)
mt = re.search(r"mtime: (0x[0-9a-f]+)", t)
print(m and m.group(1), u and u.group(1), u and u.group(2), mt and int(mt.group(1), 16))'; }
expect_match "/nix/store is 1775 root:nixbld (30000)" "$(inode /nix/store)" '^0?1775 0 30000 '
expect_match "an executable in the store is 0555, root, mtime 1" "$(inode "$NIXP/bin/nix")" '^0555 0 0 1$'
expect_match "a plain file in the store is 0444, root, mtime 1" "$(inode "$NIXP/share/doc/README")" '^0444 0 0 1$'
expect_match "a directory in the store is 0555, root, mtime 1" "$(inode "$NIXP/lib/systemd")" '^0555 0 0 1$'
expect_match "a store path that is a file is 0444, mtime 1" "$(inode "$CFGP")" '^0444 0 0 1$'

# The whole store, walked: nothing escapes canonical form.
mkdir -p "$TMP/R"
dbg "rdump /nix $TMP/R" >/dev/null
dbg "dump /nix-path-registration $TMP/R/nix-path-registration" >/dev/null
cat >"$TMP/canon.py" <<'PY'
import os, stat, sys
bad = []
for top, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        p = os.path.join(top, n); st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            continue
        want = 0o555 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111 else 0o444
        if stat.S_IMODE(st.st_mode) != want or st.st_uid != 0 or int(st.st_mtime) != 1:
            bad.append("%s %o %d %d" % (p, st.st_mode, st.st_uid, st.st_mtime))
print("\n".join(bad) or "clean")
PY
if [ "$(id -u)" -eq 0 ]; then
	expect_match "every store entry is canonical (rdump)" "$(python3 "$TMP/canon.py" "$TMP/R/nix/store")" '^clean$'
fi

# Nix judges the store.
export NIX_STATE_DIR="$TMP/state" NIX_CONF_DIR="$TMP/nixconf" HOME="$TMP/home"
mkdir -p "$NIX_CONF_DIR" "$HOME" && echo 'build-users-group =' >"$NIX_CONF_DIR/nix.conf"
chmod -R u+w "$TMP/R/nix/store" 2>/dev/null; chmod u+w "$TMP/R/nix/store" "$TMP/R/nix" 2>/dev/null
cmp -s <(tar xOJf "$U/nix.tar.xz" nix-2.8.0-x86_64-linux/.reginfo) "$TMP/R/nix-path-registration" &&
	ok "/nix-path-registration is the tarball's .reginfo" || not_ok "/nix-path-registration is the tarball's .reginfo" "differs"
nix-store --store "$TMP/R" --load-db <"$TMP/R/nix-path-registration" >"$TMP/load" 2>&1 &&
	ok "nix-store --load-db takes /nix-path-registration" || not_ok "nix-store --load-db takes /nix-path-registration" "$(cat "$TMP/load")"
nix-store --store "$TMP/R" --verify --check-contents >"$TMP/verify" 2>&1
rc=$?
[ $rc -eq 0 ] && ! grep -Eqi 'modified|missing|invalid|error' "$TMP/verify" &&
	ok "nix-store --verify --check-contents finds no problem" || not_ok "nix-store --verify --check-contents finds no problem" "exit $rc: $(cat "$TMP/verify")"
expect_match "nix-store -qR lists the closure" "$(nix-store --store "$TMP/R" -qR "$CFGP" 2>&1 | sort | tr '\n' ' ')" \
	"^($NIXP $CFGP|$CFGP $NIXP) \$"
# The judge can fail: a changed byte is found.
chmod u+w "$TMP/R$NIXP/share/doc/README" && echo tampered >>"$TMP/R$NIXP/share/doc/README"
nix-store --store "$TMP/R" --verify --check-contents >"$TMP/verify2" 2>&1
grep -q 'modified' "$TMP/verify2" && ok "--verify --check-contents does notice a changed file" ||
	not_ok "--verify --check-contents does notice a changed file" "$(cat "$TMP/verify2")"

# Profile links: the first generation is the Nix store path itself.
# Links read from debugfs's dump of /etc and /root beside /nix.
mkdir -p "$TMP/R/etc" && dbg "rdump /etc/systemd $TMP/R/etc" >/dev/null && dbg "rdump /root $TMP/R" >/dev/null
link() { readlink "$TMP/R$1"; }
P=/nix/var/nix/profiles
[ "$(link $P/per-user/root/profile-1-link)" = "$NIXP" ] && ok "profile-1-link -> the Nix store path" || not_ok "profile-1-link -> the Nix store path" "$(link $P/per-user/root/profile-1-link)"
[ "$(link $P/per-user/root/profile)" = "profile-1-link" ] && ok "profile -> profile-1-link" || not_ok "profile -> profile-1-link" "$(link $P/per-user/root/profile)"
[ "$(link $P/default)" = "$P/per-user/root/profile" ] && ok "the default profile -> root's" || not_ok "the default profile -> root's" "$(link $P/default)"
[ "$(link /root/.nix-profile)" = "$P/per-user/root/profile" ] && ok "/root/.nix-profile -> root's profile" || not_ok "/root/.nix-profile -> root's profile" "$(link /root/.nix-profile)"
expect_match "the default profile resolves to nix in the dumped tree" \
	"$(cd "$TMP/R" && python3 -c "
import os
p = 'nix/var/nix/profiles/default'
for _ in range(10):
    if not os.path.islink(p): break
    t = os.readlink(p); p = t.lstrip('/') if t.startswith('/') else os.path.join(os.path.dirname(p), t)
print(p, os.path.isfile(os.path.join(p, 'bin/nix')))")" "^${NIXP#/} True\$"

# nix.conf, users, units, flake.
expect_match "nix.conf" "$(dbg 'cat /etc/nix/nix.conf' | tr '\n' '|')" \
	'^experimental-features = nix-command flakes\|build-users-group = nixbld\|auto-optimise-store = true\|$'
conf=$(python3 -c "import json; print(''.join(s['content'] for st in json.load(open('$TMP/plan.json'))['stages'] if st['name']=='nix' for s in st['steps'] if s.get('path')=='/etc/nix/nix.conf'), end='')")
[ -n "$conf" ] && [ "$conf" = "$(dbg 'cat /etc/nix/nix.conf')" ] && ok "nix.conf is the plan's text" || not_ok "nix.conf is the plan's text" "plan: $conf"
group=$(dbg 'cat /etc/group')
expect_match "/etc/group keeps its lines" "$group" '^shadow:x:42:$'
expect_match "/etc/group gains nixbld (30000) with 32 members" "$group" '^nixbld:x:30000:nixbld1,nixbld2,(nixbld[0-9]+,){29}nixbld32$'
passwd=$(dbg 'cat /etc/passwd')
expect_match "/etc/passwd keeps root" "$passwd" '^root:x:0:0:'
[ "$(grep -c '^nixbld[0-9]*:x:300[0-9][0-9]:30000:Nix build user [0-9]*:/var/empty:/sbin/nologin$' <<<"$passwd")" = 32 ] &&
	grep -q '^nixbld32:x:30032:' <<<"$passwd" && ok "/etc/passwd gains nixbld1..32 (30001..30032)" || not_ok "/etc/passwd gains nixbld1..32" "$passwd"
shadow=$(dbg 'cat /etc/shadow')
[ "$(grep -c '^nixbld[0-9]*:!:' <<<"$shadow")" = 32 ] && grep -q '^root:\*:' <<<"$shadow" &&
	ok "/etc/shadow gains 32 locked build users" || not_ok "/etc/shadow gains 32 locked build users" "$shadow"
expect_match "/etc/shadow stays 0640 root:shadow" "$(inode /etc/shadow)" '^0640 0 42 '
S=/etc/systemd/system
[ "$(link $S/sockets.target.wants/nix-daemon.socket)" = "$NIXP/lib/systemd/system/nix-daemon.socket" ] &&
	[ "$(link $S/multi-user.target.wants/nix-daemon.service)" = "$NIXP/lib/systemd/system/nix-daemon.service" ] &&
	[ "$(link $S/nix-daemon.socket)" = "$NIXP/lib/systemd/system/nix-daemon.socket" ] &&
	ok "nix-daemon socket and service are enabled" || not_ok "nix-daemon socket and service are enabled" "$(dbg "ls -l $S/sockets.target.wants")"
expect_match "the flake is copied" "$(dbg 'cat /etc/microvisor/flake/flake.nix')" 'outputs'

# The plan and the run agree: every path the plan's nix steps name exists.
python3 - "$TMP/plan.json" >"$TMP/nixpaths" <<'PY'
import json, sys
stage = [st for st in json.load(open(sys.argv[1]))["stages"] if st["name"] == "nix"][0]
for s in stage["steps"]:
    if not s.get("path"): continue
    for p in s["path"].split(", "):
        print(p.split(" -> ")[0])
PY
missing=""
while read -r p; do
	dbg "stat $p" | grep -q '^Inode:' || missing+=" $p"
done <"$TMP/nixpaths"
[ -s "$TMP/nixpaths" ] && [ -z "$missing" ] && ok "every path of the plan's nix steps is in the image ($(wc -l <"$TMP/nixpaths"))" ||
	not_ok "every path of the plan's nix steps is in the image" "missing:$missing"

# Malformed tarballs are refused, naming the line.
retar() { # retar NAME SED-SCRIPT: the tarball with its .reginfo edited
	rm -rf "$TMP/x" && mkdir -p "$TMP/x" && tar -C "$TMP/x" -xJf "$U/nix.tar.xz"
	local r="$TMP/x/nix-2.8.0-x86_64-linux/.reginfo"
	if [ "$2" = delete ]; then rm "$r"; else sed -i "$2" "$r"; fi
	tar -C "$TMP/x" -cJf "$U/$1.tar.xz" nix-2.8.0-x86_64-linux
	sed "s/^Tarball=.*/Tarball=$1.tar.xz/" "$U/nix.conf" >"$U/$1.conf"
	chmod a+r "$U/$1.tar.xz" "$U/$1.conf"
}
retar badsize '3s/.*/12x/'
expect_exit "a non-decimal narSize is refused" 1 as_user "$UMV" image -q "$U/badsize.conf" -o "$U/bad.img"
expect_match "... naming line 3" "$ERR" 'reginfo line 3: "12x": expected the NAR size'
retar badhash '2s/.*/sha256:nothex/'
expect_exit "a bad narHash is refused" 1 as_user "$UMV" image -q "$U/badhash.conf" -o "$U/bad.img"
expect_match "... naming line 2" "$ERR" 'reginfo line 2: "sha256:nothex"'
retar open '1,5d'
expect_exit "a reference outside the registered closure is refused" 1 as_user "$UMV" image -q "$U/open.conf" -o "$U/bad.img"
expect_match "... naming the reference's line" "$ERR" 'reginfo line 6: ".*-nix-2.8.0": expected a reference to a path the .reginfo registers'
retar truncated '$d'
expect_exit "a truncated record is refused" 1 as_user "$UMV" image -q "$U/truncated.conf" -o "$U/bad.img"
expect_match "... saying where it ends" "$ERR" 'reginfo ends at line 10'
retar noreg delete
expect_exit "a tarball without .reginfo is refused" 1 as_user "$UMV" image -q "$U/noreg.conf" -o "$U/bad.img"
expect_match "... saying so" "$ERR" 'no .reginfo'

# A userland that already has build users is not given a second set.
printf 'nixbld:x:30000:\n' >>"$TMP/ul/etc/group"
tar --owner=0 --group=0 --numeric-owner -C "$TMP/ul" -cf "$U/dup.tar" .
sed "s/^Source=root.tar/Source=dup.tar/" "$U/nix.conf" >"$U/dup.conf"
chmod a+r "$U/dup.tar" "$U/dup.conf"
expect_exit "a userland with a nixbld group is refused" 1 as_user "$UMV" image -q "$U/dup.conf" -o "$U/bad.img"
expect_match "... saying why" "$ERR" 'already has a nixbld group'
