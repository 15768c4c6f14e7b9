# Helpers for the integration scripts: each check prints "ok - NAME" or
# "not ok - NAME: why"; tests/run.sh counts them.
: "${MV:?MV must name the microvisor binary}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
HTTPD_PIDS=()
LOOPS=()
trap 'for p in "${HTTPD_PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# new_loop FILE [losetup options]: attaches FILE to a free loop device, sets
# LOOP, and detaches it when the script exits, even on failure.
new_loop() {
	local file=$1
	shift
	LOOP=$(losetup -f --show "$@" "$file") || return 1
	LOOPS+=("$LOOP")
}

# start_httpd NAME [httpd options]: a test HTTP server on 127.0.0.1 serving
# $TMP/www (tests/fixtures/httpd.py); sets PORT; logs to $TMP/NAME.log;
# stopped when the script exits.
start_httpd() {
	local name=$1
	shift
	mkdir -p "$TMP/www"
	python3 "$ROOT/tests/fixtures/httpd.py" --root "$TMP/www" --log "$TMP/$name.log" --max-seconds 90 "$@" \
		>"$TMP/$name.port" 2>"$TMP/$name.err" &
	HTTPD_PIDS+=($!)
	PORT=$(wait_port "$TMP/$name.port") && return 0
	echo "not ok - start $name: $(cat "$TMP/$name.err")"
	exit 1
}

# wait_port FILE: prints the port a test server wrote as FILE's first line,
# once it has; fails after 5 seconds.
wait_port() {
	local port
	for _ in $(seq 100); do
		port=$(head -n 1 "$1" 2>/dev/null)
		[ -n "$port" ] && echo "$port" && return 0
		sleep 0.05
	done
	return 1
}

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1: $2"; }

# expect_exit NAME CODE CMD...: runs CMD, keeps its output in $OUT and $ERR.
expect_exit() {
	local name=$1 want=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	local got=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	if [ "$got" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $got, wanted $want; stderr: $(head -c 600 "$TMP/err")"
	fi
}

# expect_match NAME TEXT REGEX
expect_match() {
	if grep -Eq -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1" "no match for /$3/ in: $(head -c 600 <<<"$2")"; fi
}

# The rootless tests run as this user (DESIGN.md: "A test user"); it gets
# its own world-readable copy of the binary, since a clone made by
# `mktemp -d` is 0700 root.
TEST_USER=mvtest
as_user() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
		return
	fi
	id "$TEST_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$TEST_USER"
	# --reset-env drops SOURCE_DATE_EPOCH: pass it on (reproducible builds).
	setpriv --reuid "$TEST_USER" --regid "$TEST_USER" --clear-groups --reset-env -- \
		env SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-}" "$@"
}

# A directory the test user may write, with a copy of the binary in it.
user_dir() {
	chmod 0755 "$TMP"
	mkdir -p "$TMP/u"
	cp "$MV" "$TMP/u/microvisor"
	chmod 0777 "$TMP/u"
	UMV="$TMP/u/microvisor"
}

# disk_conf NAME: the [Profile] and partitions of a small x86_64 test disk
# (a 64M ESP, a 128M ext4 root), for a test to append its own sections to.
disk_conf() {
	printf '[Profile]\nName=%s\nArchitecture=x86_64\n[Partition esp]\nType=esp\nSize=64M\n' "$1"
	printf '[Partition root]\nType=root\nSize=128M\n'
}

# root_fs IMAGE: its second partition (the root) as debugfs and e2fsck
# take it; dbg IMAGE REQUEST: a debugfs request on it.
root_fs() {
	echo "$1?offset=$(sfdisk --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"]*512)')"
}
dbg_root() { debugfs -R "$2" "$(root_fs "$1")" 2>/dev/null </dev/null; }

# demo_profile CONF: the demo's assets (build/demo-assets.sh), KVER (its
# kernel's version), MARKER, and CONF: profiles/demo.conf plus the marker
# file that the demo's init prints from the root. Exits the script with a
# "not ok" when the assets cannot be made.
demo_profile() {
	bash "$ROOT/build/demo-assets.sh" "$ROOT/obj/demo" >"$TMP/assets.log" 2>&1 || { not_ok "demo assets" "$(tail -5 "$TMP/assets.log")"; exit 0; }
	KVER=$(tar tzf "$ROOT/obj/demo/userland.tar.gz" | sed -n 's|^boot/vmlinuz-||p' | sort -V | tail -1)
	MARKER="marker-$RANDOM-$RANDOM"
	echo "$MARKER" >"$TMP/marker"
	cat >"$1" <<CONF
[Profile]
Include=$ROOT/profiles/demo.conf

[Files]
Copy=$TMP/marker root:/etc/microvisor-marker 0644
CONF
}
