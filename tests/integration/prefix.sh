#!/usr/bin/env bash
# microvisor bootstrap PROFILE --prefix DIR, as the unprivileged test user:
# a busybox userland and the miniature Nix tarball (tests/fixtures/
# mknixtar.sh), both downloaded from 127.0.0.1 against their pins, into a
# prefix. Judged by nix-store (--load-db, --verify --check-contents, -qR),
# by find (owners, device nodes, nothing outside the prefix) and by proot
# running a command inside the userland through the launcher.
#   BOOTSTRAP_BUSYBOX  the busybox for the userland (default: the host's)
#   BOOTSTRAP_RUN      a command prefix for the microvisor binary (qemu)
#   BOOTSTRAP_ARCH     the userland's architecture (default x86_64)
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
user_dir
U="$TMP/u"
export SOURCE_DATE_EPOCH=1700000000 MICROVISOR_RETRY_DELAY_MS=10
for tool in nix-store proot; do
	command -v "$tool" >/dev/null || { not_ok "$tool is installed" "missing (build/deps.sh)"; exit 0; }
done
BUSYBOX=${BOOTSTRAP_BUSYBOX:-/bin/busybox}
ARCH=${BOOTSTRAP_ARCH:-x86_64}
run_mv() { as_user ${BOOTSTRAP_RUN:-} "$UMV" "$@"; }

start_httpd httpd
mkdir -p "$U/outside" && chmod 0777 "$U/outside" # the test user could write here: only microvisor keeps out
python3 tests/fixtures/mkuserland.py "$BUSYBOX" "$TMP/www/userland.tar.gz" "$U/outside"
tests/fixtures/mknixtar.sh "$TMP/www/nix.tar.xz" >"$TMP/paths" 2>"$TMP/mknix.err" ||
	{ not_ok "the miniature Nix tarball is made" "$(cat "$TMP/mknix.err")"; exit 0; }
NIXP=$(sed -n 1p "$TMP/paths")
CFGP=$(sed -n 2p "$TMP/paths")
upin=$(sha256sum <"$TMP/www/userland.tar.gz" | cut -d' ' -f1)
npin=$(sha256sum <"$TMP/www/nix.tar.xz" | cut -d' ' -f1)
mkdir -p "$U/flake" && printf '{ outputs = { self }: { }; }\n' >"$U/flake/flake.nix"
profile() { # profile USERLAND-PIN [Mode]
	cat <<CONF
[Profile]
Name=prefixtest
Architecture=$ARCH
[Userland]
Source=http://127.0.0.1:$PORT/userland.tar.gz
SHA256=$1
[Nix]
Tarball=http://127.0.0.1:$PORT/nix.tar.xz
SHA256=$npin
Flake=flake
Config=auto-optimise-store = false
[Handoff]
Mode=${2:-exec}
Command=echo "handoff-marker \$(id -u) \$(cat /etc/microvisor-marker)"
CONF
}
profile "$upin" >"$U/p.conf"
chmod -R a+rX "$U"
P="$U/prefix"
expect_exit "bootstrap into a prefix as $TEST_USER" 0 run_mv bootstrap "$U/p.conf" --prefix "$P" --cache-dir "$U/cache"
BOUT=$OUT BERR=$ERR
uid=$(id -u "$TEST_USER")
expect_match "Mode=exec ran the command inside the userland, as the caller" "$BOUT" "^handoff-marker $uid inside-the-userland\$"
expect_match "device nodes are skipped and listed in one line" "$BERR" \
	'^microvisor: 2 device nodes skipped \(.*\): /dev/null /dev/zero$'
[ "$(grep -c 'device node' <<<"$BERR")" = 1 ] && ok "... one line only" || not_ok "... one line only" "$BERR"

# Owners, device nodes, links; nothing outside the prefix.
[ -d "$P" ] && [ -z "$(find "$P" ! -user "$TEST_USER" -print -quit)" ] && [ -z "$(find "$P" ! -group "$(id -g "$TEST_USER")" -print -quit)" ] &&
	ok "every file of the prefix belongs to the caller" || not_ok "every file of the prefix belongs to the caller" "$(find "$P" ! -user "$TEST_USER" | head -3)"
[ -z "$(find "$P" \( -type c -o -type b \) -print -quit)" ] && [ -p "$P/dev/fifo" ] &&
	ok "no device node in the prefix; the FIFO is there" || not_ok "no device node in the prefix; the FIFO is there" "$(ls -l "$P/dev")"
[ "$(stat -c %i "$P/etc/hardlink")" = "$(stat -c %i "$P/etc/microvisor-marker")" ] &&
	ok "a hard link stays a hard link" || not_ok "a hard link stays a hard link" "$(ls -li "$P/etc")"
[ "$(readlink "$P/lib")" = usr/lib ] && [ -f "$P/usr/lib/through-the-link" ] && [ "$(readlink "$P/bin/sh")" = busybox ] &&
	ok "symlinks are kept, and followed inside the prefix" || not_ok "symlinks are kept" "$(ls -l "$P" "$P/bin" | head)"
[ -z "$(ls -A "$U/outside")" ] && [ -f "$P$U/outside/planted" ] &&
	ok "a member written through an absolute symlink lands inside the prefix" || not_ok "nothing outside the prefix" "$(ls -A "$U/outside")"
[ -z "$(find "$U" -maxdepth 1 -name '.prefix.microvisor-*')" ] && ok "no temporary directory is left" || not_ok "no temporary directory is left" "$(ls -A "$U")"

# The single-user Nix, judged by Nix (as the caller, who owns the store).
nixu() { as_user env NIX_CONF_DIR="$U/nixconf" HOME="$U/home" "$@"; }
mkdir -p "$U/nixconf" "$U/home" && echo 'build-users-group =' >"$U/nixconf/nix.conf" && chmod -R a+rwX "$U/nixconf" "$U/home"
cmp -s <(tar xOJf "$TMP/www/nix.tar.xz" nix-2.8.0-x86_64-linux/.reginfo) "$P/nix/.reginfo" &&
	ok "the registration is at DIR/nix/.reginfo" || not_ok "the registration is at DIR/nix/.reginfo" "$(ls -la "$P/nix")"
nixu nix-store --store "$P" --load-db <"$P/nix/.reginfo" >"$TMP/load" 2>&1 &&
	ok "nix-store --load-db takes it" || not_ok "nix-store --load-db takes it" "$(cat "$TMP/load")"
nixu nix-store --store "$P" --verify --check-contents >"$TMP/verify" 2>&1
rc=$?
[ $rc -eq 0 ] && ! grep -Eqi 'modified|missing|invalid|error' "$TMP/verify" &&
	ok "nix-store --verify --check-contents finds no problem" || not_ok "nix-store --verify --check-contents finds no problem" "exit $rc: $(cat "$TMP/verify")"
expect_match "nix-store -qR lists the closure" "$(nixu nix-store --store "$P" -qR "$CFGP" 2>&1 | sort | tr '\n' ' ')" \
	"^($NIXP $CFGP|$CFGP $NIXP) \$"
# Canonical store form, with the caller as the store's owner.
python3 - "$P/nix/store" "$uid" >"$TMP/canon" <<'PY'
import os, stat, sys
top, uid = sys.argv[1], int(sys.argv[2])
bad = []
for d, dirs, files in os.walk(top):
    for n in dirs + files:
        p = os.path.join(d, n); st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode) or n == ".links" or "/.links" in p:
            continue
        want = 0o555 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111 else 0o444
        if stat.S_IMODE(st.st_mode) != want or st.st_uid != uid or int(st.st_mtime) != 1:
            bad.append("%s %o %d %d" % (p, st.st_mode, st.st_uid, st.st_mtime))
st = os.stat(top)
if stat.S_IMODE(st.st_mode) != 0o755 or st.st_uid != uid:
    bad.append("store %o %d" % (st.st_mode, st.st_uid))
print("\n".join(bad) or "clean")
PY
expect_match "the store is canonical (0444/0555, mtime 1) and the caller's, /nix/store 0755" "$(cat "$TMP/canon")" '^clean$'

chmod u+w "$P$NIXP/share/doc" "$P$NIXP/share/doc/README" && echo tampered >>"$P$NIXP/share/doc/README"
nixu nix-store --store "$P" --verify --check-contents >"$TMP/verify2" 2>&1
grep -q 'modified' "$TMP/verify2" && ok "--verify --check-contents does notice a changed file" ||
	not_ok "--verify --check-contents does notice a changed file" "$(cat "$TMP/verify2")"
chmod a-w "$P$NIXP/share/doc/README" "$P$NIXP/share/doc"

# Single-user profile links, resolved inside the prefix.
resolve() { # resolve PATH: follows links as they read inside the prefix
	python3 - "$P" "$1" <<'PY'
import os, sys
root, p = sys.argv[1], sys.argv[2]
for _ in range(20):
    full = root + p
    if not os.path.islink(full): break
    t = os.readlink(full)
    p = t if t.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(p), t))
print(p)
PY
}
PU=/nix/var/nix/profiles/per-user/$TEST_USER
[ "$(readlink "$P$PU/profile-1-link")" = "$NIXP" ] && [ "$(readlink "$P$PU/profile")" = profile-1-link ] &&
	ok "per-user/$TEST_USER: profile -> profile-1-link -> the Nix store path" || not_ok "per-user profile links" "$(ls -l "$P$PU")"
[ "$(resolve /nix/var/nix/profiles/default)" = "$NIXP" ] && [ "$(resolve "/home/$TEST_USER/.nix-profile")" = "$NIXP" ] &&
	[ -x "$P$(resolve "/home/$TEST_USER/.nix-profile")/bin/nix" ] &&
	ok "the default profile and ~/.nix-profile resolve to nix" || not_ok "the profiles resolve" "$(resolve /nix/var/nix/profiles/default)"
expect_match "nix.conf turns the sandbox off" "$(tr '\n' '|' <"$P/etc/nix/nix.conf")" \
	'^experimental-features = nix-command flakes\|sandbox = false\|auto-optimise-store = false\|$'
grep -q '^build-users-group' "$P/etc/nix/nix.conf" && not_ok "no build users" "$(cat "$P/etc/nix/nix.conf")" || ok "no build users"
grep -q nixbld "$P/etc/group" && not_ok "no nixbld group in the userland" "$(cat "$P/etc/group")" || ok "no nixbld group in the userland"
[ -f "$P/etc/microvisor/flake/flake.nix" ] && ok "the flake is copied" || not_ok "the flake is copied" "missing"
[ -e "$P/nix/var/nix/db/.microvisor-registered" ] && ok "the launcher loaded the registration before the command" ||
	not_ok "the launcher loaded the registration before the command" "$(ls -la "$P/nix/var/nix/db" 2>&1)"

# The plan and the run agree: every path the plan's nix and finalize steps name exists.
run_mv plan "$U/p.conf" --prefix "$P" --json >"$TMP/plan.json" 2>"$TMP/plan.err" || not_ok "plan --prefix" "$(cat "$TMP/plan.err")"
python3 - "$TMP/plan.json" "$TEST_USER" >"$TMP/paths" <<'PY'
import json, sys
for st in json.load(open(sys.argv[1]))["stages"]:
    for s in st["steps"]:
        if st["name"] in ("nix", "finalize") and s.get("path"):
            for p in s["path"].split(", "):
                print(p.split(" -> ")[0])
PY
missing=""
while read -r p; do [ -e "$P$p" ] || [ -L "$P$p" ] || missing+=" $p"; done <"$TMP/paths"
[ -s "$TMP/paths" ] && [ -z "$missing" ] && grep -q "per-user/$TEST_USER" "$TMP/paths" &&
	ok "every path of the plan's nix and finalize steps is in the prefix ($(wc -l <"$TMP/paths"))" ||
	not_ok "every path of the plan's steps is in the prefix" "missing:$missing"
python3 -c "
import json, sys
st = [s for s in json.load(open('$TMP/plan.json'))['stages'] if s['name'] == 'finalize'][0]
print([s['content'] for s in st['steps'] if s.get('path') == '/bin/microvisor-enter'][0], end='')" >"$TMP/launcher.plan"
cmp -s "$TMP/launcher.plan" "$P/bin/microvisor-enter" && ok "the launcher is the plan's text" || not_ok "the launcher is the plan's text" "$(diff "$TMP/launcher.plan" "$P/bin/microvisor-enter" | head)"

# The launcher: a command inside the userland through proot.
expect_exit "the launcher runs a command through proot" 0 as_user "$P/bin/microvisor-enter" /bin/sh -c \
	'echo "enter-marker $(cat /etc/microvisor-marker) $HOME $(readlink /proc/self/root 2>/dev/null || echo)"; ls /nix/store; test -c /dev/null && echo dev-bound'
expect_match "... and it sees the userland, /nix and the host's /dev" "$OUT" "^enter-marker inside-the-userland /home/$TEST_USER"
expect_match "... the store under /nix" "$OUT" "${NIXP#/nix/store/}"
expect_match "... /dev bound" "$OUT" '^dev-bound$'
expect_exit "inside, the caller has a name" 0 as_user "$P/bin/microvisor-enter" id -un
expect_match "... its own (passwd gained it)" "$OUT" "^$TEST_USER\$"
expect_match "/etc/passwd kept root and gained the caller once" "$(cat "$P/etc/passwd")" "^root:x:0:0:root:/root:/bin/sh
$TEST_USER:x:$uid:$(id -g "$TEST_USER"):$TEST_USER:/home/$TEST_USER:/bin/sh\$"
# Termux keeps proot in $PREFIX/bin, outside any default PATH.
mkdir -p "$U/termux/bin" && ln -sf "$(command -v proot)" "$U/termux/bin/termux-proot"
expect_exit "a proot found only through the caller's PATH" 0 as_user env PATH="$U/termux/bin:/usr/bin:/bin" MICROVISOR_PROOT=termux-proot \
	"$P/bin/microvisor-enter" cat /etc/microvisor-marker
expect_match "... enters the userland" "$OUT" '^inside-the-userland$'
# DNS inside: the host's resolv.conf; where it has none readable (hidden
# in a mount namespace, as on Android), Termux's $PREFIX/etc/resolv.conf.
expect_exit "the launcher binds the host's resolv.conf" 0 as_user "$P/bin/microvisor-enter" cat /etc/resolv.conf
[ "$OUT" = "$(cat /etc/resolv.conf)" ] && ok "... which reads the same inside" || not_ok "... which reads the same inside" "$OUT"
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	mkdir -p "$U/termux/etc" && echo 'nameserver 192.0.2.53' >"$U/termux/etc/resolv.conf" && chmod -R a+rX "$U/termux"
	: >"$TMP/hidden" && chmod 0000 "$TMP/hidden"
	out=$(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && "$@"' sh "$TMP/hidden" \
		setpriv --reuid "$TEST_USER" --regid "$TEST_USER" --clear-groups --reset-env -- \
		env PREFIX="$U/termux" "$P/bin/microvisor-enter" cat /etc/resolv.conf 2>&1)
	expect_match "without /etc/resolv.conf, Termux's \$PREFIX/etc/resolv.conf is bound" "$out" '^nameserver 192\.0\.2\.53$'
fi
expect_exit "without proot the launcher says how to install it" 127 as_user env MICROVISOR_PROOT=/nonexistent/proot "$P/bin/microvisor-enter" true
expect_match "... naming Termux's package" "$ERR" "pkg install proot"

# Android refuses hard links (EACCES): they become copies.
cc -O2 -Wall -o "$U/nolink" tests/fixtures/nolink.c && chmod a+rx "$U/nolink"
expect_exit "bootstrap where hard links are refused" 0 as_user "$U/nolink" ${BOOTSTRAP_RUN:-} "$UMV" bootstrap -q "$U/p.conf" --prefix "$U/nolinks" --cache-dir "$U/cache"
[ "$(stat -c %h "$U/nolinks/etc/hardlink")" = 1 ] && cmp -s "$U/nolinks/etc/hardlink" "$U/nolinks/etc/microvisor-marker" &&
	ok "... the hard link became a copy" || not_ok "... the hard link became a copy" "$(ls -li "$U/nolinks/etc")"

# Refusals: nothing half-written is left looking complete.
mkdir -p "$U/full" && touch "$U/full/mine" && chmod -R a+rwX "$U/full"
expect_exit "a non-empty DIR is refused" 2 run_mv bootstrap -q "$U/p.conf" --prefix "$U/full" --cache-dir "$U/cache"
expect_match "... saying so" "$ERR" 'exists and is not an empty directory'
[ "$(ls -A "$U/full")" = mine ] && ok "... and left alone" || not_ok "... and left alone" "$(ls -A "$U/full")"
profile "$(printf '%064d' 0)" >"$U/bad.conf" && chmod a+r "$U/bad.conf"
expect_exit "a wrong pin fails" 1 run_mv bootstrap -q "$U/bad.conf" --prefix "$U/bad" --cache-dir "$U/cache2"
[ ! -e "$U/bad" ] && [ -z "$(find "$U" -maxdepth 1 -name '.bad.microvisor-*')" ] && ok "... leaving no prefix and no temporary directory" ||
	not_ok "... leaving no prefix" "$(ls -A "$U")"
sed 's/^Command=.*/Command=echo about-to-fail; exit 3/' "$U/p.conf" >"$U/fail.conf" && chmod a+r "$U/fail.conf"
expect_exit "a failing handoff command fails the bootstrap" 1 run_mv bootstrap -q "$U/fail.conf" --prefix "$U/fails" --cache-dir "$U/cache"
expect_match "... saying the prefix is complete and how to run it again" "$ERR" 'exited 3; the prefix .* is complete: run it again with .*/bin/microvisor-enter'
# Interrupted (Ctrl-C) halfway through a large userland: nothing is left.
python3 - "$U/big.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(40000):
        ti = tarfile.TarInfo("many/d%d/f%d" % (i // 1000, i)); ti.size = 1
        t.addfile(ti, io.BytesIO(b"x"))
PY
printf '[Profile]\nName=big\nArchitecture=%s\n[Userland]\nSource=big.tar\n' "$ARCH" >"$U/big.conf" && chmod a+r "$U/big.tar" "$U/big.conf"
# Not through as_user (a function: $! would be its subshell): setpriv
# execs, so $! is microvisor (or the qemu running it).
su=()
[ "$(id -u)" -ne 0 ] || su=(setpriv --reuid "$TEST_USER" --regid "$TEST_USER" --clear-groups --reset-env --)
"${su[@]}" ${BOOTSTRAP_RUN:-} "$UMV" bootstrap -q "$U/big.conf" --prefix "$U/intr" >"$TMP/intr.out" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -n "$(find "$U" -maxdepth 2 -path "$U/.intr.microvisor-*/many" 2>/dev/null)" ] && break; sleep 0.05; done
sleep 0.3
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] && [ ! -e "$U/intr" ] && [ -z "$(find "$U" -maxdepth 1 -name '.intr.microvisor-*')" ] &&
	ok "interrupted halfway, it leaves no prefix and no temporary directory" ||
	not_ok "interrupted halfway, it leaves no prefix and no temporary directory" "exit $rc; $(ls -A "$U"); $(cat "$TMP/intr.out")"
profile "$upin" none >"$U/none.conf" && chmod a+r "$U/none.conf"
expect_exit "Mode=none" 0 run_mv bootstrap -q "$U/none.conf" --prefix "$U/none" --cache-dir "$U/cache"
expect_match "... prints the command through the launcher, quoted for sh" "$OUT" "^Next: $U/none/bin/microvisor-enter /bin/sh -c 'export MICROVISOR_FLAKE='[\\]''/etc/microvisor/flake'[\\]''; echo"
expect_exit "bootstrap without --prefix is a usage error" 2 run_mv bootstrap profiles/termux.conf
expect_match "... naming the option" "$ERR" 'expected --prefix DIR'
