#!/usr/bin/env bash
# `microvisor fetch` and the sources module against a local HTTP server
# (tests/fixtures/httpd.py on 127.0.0.1): the content-addressed cache,
# resume, retries, mirrors, wrong bytes, --offline, HTTPS with --ca-file.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

# Retries wait milliseconds, not seconds; a stall is one quiet second.
export MICROVISOR_RETRY_DELAY_MS=10 MICROVISOR_STALL_SECONDS=1
unset XDG_CACHE_HOME SSL_CERT_FILE

start_httpd httpd
URL="http://127.0.0.1:$PORT"
LOG="$TMP/httpd.log"

# script PATH JSON: the next requests to /PATH misbehave as JSON says.
script() {
	python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")).read()' \
		"$URL/_script/$1" "$2"
}
# requests PATH: how many requests /PATH has had.
requests() { grep -c "^GET /$1 " "$LOG"; }
# ranges PATH: the Range header of each request to /PATH, in order.
ranges() { grep "^GET /$1 " "$LOG" | cut -d' ' -f3 | paste -sd' '; }

# A file of random bytes under www/ and its hash.
make_file() { head -c "$2" /dev/urandom >"$TMP/www/$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# profile NAME LOCATION [SHA256|-] [MIRROR...]: a profile with no partitions
# whose userland is LOCATION.
profile() {
	local name=$1 loc=$2 pin=${3:--}
	shift 3 2>/dev/null || shift $#
	{
		printf '[Profile]\nName=%s\nArchitecture=x86_64\n[Userland]\nSource=%s\n' "$name" "$loc"
		[ "$pin" != - ] && printf 'SHA256=%s\n' "$pin"
		for m in "$@"; do printf 'Mirror=%s\n' "$m"; done
	} >"$TMP/$name.conf"
	echo "$TMP/$name.conf"
}

CACHE="$TMP/cache"
fetch() { "$MV" fetch "$@" --cache-dir "$CACHE"; }

# --- a clean download, then the cache answers ---
make_file a.bin 1048576
A=$(sha "$TMP/www/a.bin")
P=$(profile clean "$URL/a.bin" "$A")
expect_exit "fetch downloads a pinned source" 0 fetch "$P"
expect_match "it says downloaded" "$OUT" "^userland +downloaded +$URL/a.bin"
cmp -s "$CACHE/sha256/$A" "$TMP/www/a.bin" && ok "the cache entry is named by its SHA-256 and holds the bytes" \
	|| not_ok "the cache entry is named by its SHA-256 and holds the bytes" "$(ls -R "$CACHE")"
[ -z "$(ls -A "$CACHE/partial")" ] && ok "no partial file is left" || not_ok "no partial file is left" "$(ls "$CACHE/partial")"
expect_match "a non-terminal gets plain progress lines" "$ERR" '^userland: 100% \(1 MiB of 1 MiB\)$'

before=$(requests a.bin)
expect_exit "a second fetch succeeds" 0 fetch "$P"
expect_match "it says cached" "$OUT" "^userland +cached +$URL/a.bin"
[ "$(requests a.bin)" = "$before" ] && ok "a second fetch does not contact the server" \
	|| not_ok "a second fetch does not contact the server" "requests went from $before to $(requests a.bin)"

expect_exit "--offline with the entry cached" 0 fetch "$P" --offline
expect_match "--offline says cached" "$OUT" '^userland +cached'
expect_exit "--offline without the entry fails" 1 "$MV" fetch "$P" --offline --cache-dir "$TMP/empty"
expect_match "--offline names the missing source, its URL and pin" "$ERR" "userland source $URL/a.bin: not in the cache .*SHA256=$A"
[ "$(requests a.bin)" = "$before" ] && ok "--offline does not contact the server" || not_ok "--offline does not contact the server" "$(tail -n 2 "$LOG")"

# The default cache is $XDG_CACHE_HOME/microvisor; --quiet prints no progress.
XDG_CACHE_HOME="$TMP/xdg" "$MV" fetch "$P" --quiet >"$TMP/out" 2>"$TMP/err"
[ -f "$TMP/xdg/microvisor/sha256/$A" ] && ok "the default cache is \$XDG_CACHE_HOME/microvisor" \
	|| not_ok "the default cache is \$XDG_CACHE_HOME/microvisor" "$(find "$TMP/xdg" 2>&1)"
[ ! -s "$TMP/err" ] && ok "--quiet prints nothing on stderr" || not_ok "--quiet prints nothing on stderr" "$(cat "$TMP/err")"

# A corrupt entry is found (fetch hashes entries again), removed and replaced.
printf 'rot' >>"$CACHE/sha256/$A"
expect_exit "a corrupt cache entry is downloaded again" 0 fetch "$P"
cmp -s "$CACHE/sha256/$A" "$TMP/www/a.bin" && ok "and replaced by the right bytes" || not_ok "and replaced by the right bytes" "entry differs"

# --- resume ---
# In one run: the connection drops after 300000 bytes; the retry asks for the rest.
make_file b.bin 1048576
B=$(sha "$TMP/www/b.bin")
script b.bin '[{"drop_after": 300000}]'
expect_exit "a dropped connection is resumed" 0 fetch "$(profile resume "$URL/b.bin" "$B")"
[ "$(ranges b.bin)" = "- bytes=300000-" ] && ok "the second request carries Range: bytes=300000-" \
	|| not_ok "the second request carries Range: bytes=300000-" "ranges: $(ranges b.bin)"
cmp -s "$CACHE/sha256/$B" "$TMP/www/b.bin" && ok "the resumed entry holds the right bytes" || not_ok "the resumed entry holds the right bytes" "entry differs"

# Across runs: one try only, so the first run fails and keeps its partial file;
# the next run hashes those bytes and asks only for the rest.
make_file c.bin 1048576
C=$(sha "$TMP/www/c.bin")
script c.bin '[{"drop_after": 400000}]'
P=$(profile across "$URL/c.bin" "$C")
MICROVISOR_RETRIES=1 expect_exit "a run whose download drops fails" 1 fetch "$P"
[ "$(stat -c %s "$CACHE/partial/$C.part" 2>/dev/null)" = 400000 ] && ok "and keeps the partial file for later" \
	|| not_ok "and keeps the partial file for later" "$(ls -l "$CACHE/partial")"
[ ! -e "$CACHE/sha256/$C" ] && ok "an incomplete download is not a cache entry" || not_ok "an incomplete download is not a cache entry" "entry exists"
expect_exit "the next run resumes" 0 fetch "$P"
[ "$(ranges c.bin)" = "- bytes=400000-" ] && ok "the next run asks for bytes=400000- only" \
	|| not_ok "the next run asks for bytes=400000- only" "ranges: $(ranges c.bin)"
cmp -s "$CACHE/sha256/$C" "$TMP/www/c.bin" && ok "resumed across runs, the bytes are right" || not_ok "resumed across runs, the bytes are right" "entry differs"

# A server that ignores Range (200, the whole file) restarts from zero.
make_file d.bin 600000
D=$(sha "$TMP/www/d.bin")
script d.bin '[{"drop_after": 100000}, {"ignore_range": true}]'
expect_exit "a server ignoring Range still gives the right file" 0 fetch "$(profile norange "$URL/d.bin" "$D")"
expect_match "it says it started again" "$ERR" 'ignored the range request; starting again from zero'
cmp -s "$CACHE/sha256/$D" "$TMP/www/d.bin" && ok "restarted from zero, the bytes are right" || not_ok "restarted from zero, the bytes are right" "entry differs"

# A stall (a connection open but silent) is detected and resumed.
make_file s.bin 200000
S=$(sha "$TMP/www/s.bin")
script s.bin '[{"stall_after": 1000, "seconds": 4}]'
expect_exit "a stalled download is retried" 0 fetch "$(profile stall "$URL/s.bin" "$S")"
[ "$(ranges s.bin)" = "- bytes=1000-" ] && ok "the retry after a stall resumes at bytes=1000-" \
	|| not_ok "the retry after a stall resumes at bytes=1000-" "ranges: $(ranges s.bin)"

# --- retries and mirrors ---
make_file e.bin 100000
E=$(sha "$TMP/www/e.bin")
script e.bin '[{"status": 500}, {"status": 503}, {"status": 429}]'
expect_exit "5xx and 429 answers are retried" 0 fetch "$(profile retry "$URL/e.bin" "$E")"
[ "$(requests e.bin)" = 4 ] && ok "three failures, then success on the fourth request" || not_ok "three failures, then success on the fourth request" "$(requests e.bin) requests"
expect_match "each retry is reported" "$ERR" 'HTTP 500; retrying in 10 ms \(try 2 of 5\)'
expect_match "the delay doubles" "$ERR" 'HTTP 503; retrying in 20 ms \(try 3 of 5\)'

make_file f.bin 100000
F=$(sha "$TMP/www/f.bin")
P=$(profile mirror "$URL/gone/f.bin" "$F" "$URL/f.bin")
expect_exit "a 404 moves on to the mirror" 0 fetch "$P"
[ "$(requests gone/f.bin)" = 1 ] && ok "a 404 is not retried on the same URL" || not_ok "a 404 is not retried on the same URL" "$(requests gone/f.bin) requests"
expect_match "the line names the mirror that served it" "$OUT" "^userland +downloaded +$URL/gone/f.bin .*from $URL/f.bin"

make_file g.bin 100000
G=$(sha "$TMP/www/g.bin")
script g.bin '[{"status": 500}, {"status": 500}, {"status": 500}]'
P=$(profile exhaust "$URL/g.bin" "$G" "$URL/gone/g.bin" "$URL/g.bin")
MICROVISOR_RETRIES=2 expect_exit "a URL that keeps failing gives way to the mirrors" 0 fetch "$P"
[ "$(ranges g.bin)" = "- - - -" ] && ok "two tries on the location, the 404 mirror skipped, the last mirror retried after a 500" \
	|| not_ok "two tries on the location, the 404 mirror skipped, the last mirror retried after a 500" "ranges: $(ranges g.bin)"

# --- wrong bytes ---
make_file h.bin 300000
H=$(sha "$TMP/www/h.bin")
printf 'not the pinned bytes' >"$TMP/www/wrong.bin"
W=$(sha "$TMP/www/wrong.bin")
expect_exit "wrong bytes are refused" 1 fetch "$(profile mismatch "$URL/wrong.bin" "$H")"
expect_match "the error prints both hashes" "$ERR" "$URL/wrong.bin: wrong bytes: expected sha256 $H, got sha256 $W"
[ ! -e "$CACHE/sha256/$H" ] && [ ! -e "$CACHE/sha256/$W" ] && ok "wrong bytes never become a cache entry" || not_ok "wrong bytes never become a cache entry" "$(ls "$CACHE/sha256")"
[ ! -e "$CACHE/partial/$H.part" ] && ok "wrong bytes leave no partial file" || not_ok "wrong bytes leave no partial file" "$(ls -l "$CACHE/partial")"

# A mirror serving corrupt bytes is skipped for the next one.
script h.bin '[{"corrupt": true}]'
expect_exit "a mirror with wrong bytes gives way to the next" 0 fetch "$(profile badmirror "$URL/h.bin" "$H" "$URL/h.bin")"
cmp -s "$CACHE/sha256/$H" "$TMP/www/h.bin" && ok "the entry holds the pinned bytes" || not_ok "the entry holds the pinned bytes" "entry differs"

# A partial file with wrong bytes from an earlier run: the resumed download
# fails its hash, so the URL is tried once more from zero.
make_file i.bin 300000
I=$(sha "$TMP/www/i.bin")
head -c 1000 /dev/urandom >"$CACHE/partial/$I.part"
expect_exit "a poisoned partial file is discarded" 0 fetch "$(profile poisoned "$URL/i.bin" "$I")"
[ "$(ranges i.bin)" = "bytes=1000- -" ] && ok "resumed, found wrong, fetched again from zero" \
	|| not_ok "resumed, found wrong, fetched again from zero" "ranges: $(ranges i.bin)"

# --- unpinned, local and bad profiles ---
make_file u.bin 5000
U=$(sha "$TMP/www/u.bin")
P=$(profile unpinned "$URL/u.bin")
expect_exit "an unpinned remote source is a profile error" 2 fetch "$P"
expect_match "it names the pin and the flag" "$ERR" 'SHA256=.*--allow-unpinned'
expect_exit "--allow-unpinned downloads it" 0 fetch "$P" --allow-unpinned
expect_match "and prints its hash as a pin" "$OUT" "sha256 $U: add SHA256=$U"
[ -f "$CACHE/sha256/$U" ] && ok "an unpinned download is cached under its hash" || not_ok "an unpinned download is cached under its hash" "$(ls "$CACHE/sha256")"
expect_exit "--offline cannot find an unpinned source" 1 fetch "$P" --allow-unpinned --offline
expect_match "and says to pin it" "$ERR" 'not pinned.*pin it with SHA256='

cp "$TMP/www/a.bin" "$TMP/local.bin"
expect_exit "a pinned local file is verified" 0 fetch "$(profile local local.bin "$A")"
expect_match "it says verified" "$OUT" '^userland +verified +local.bin'
expect_exit "a file:// source is verified" 0 fetch "$(profile fileurl "file://$TMP/local.bin" "$A")"
expect_exit "a local file with the wrong bytes fails" 1 fetch "$(profile badlocal local.bin "$B")"
expect_match "and prints both hashes" "$ERR" "expected sha256 $B, got sha256 $A"
expect_exit "a missing local file fails" 1 fetch "$(profile nolocal nothere.tar "$A")"
expect_match "and names it" "$ERR" 'cannot find .*nothere.tar'
expect_exit "a bad profile exits 2" 2 fetch "$TMP/nonexistent.conf"
expect_exit "fetch without a profile is a usage error" 2 "$MV" fetch

# A whole profile with partitions and several sources: every one fetched.
make_file k.bin 4000
K=$(sha "$TMP/www/k.bin")
cat >"$TMP/disk.conf" <<EOF
[Profile]
Name=disk
Architecture=x86_64
[Partition esp]
Type=esp
Size=64M
Format=vfat
[Partition root]
Type=root
Size=256M
Format=ext4
[Userland]
Source=$URL/a.bin
SHA256=$A
[Bootloader]
Kind=systemd-boot
Kernel=$URL/k.bin
SHA256=$K
Initrd=root:/boot/initrd.img
[Nix]
Tarball=local.bin
SHA256=$A
EOF
expect_exit "fetch plans a disk profile and fetches every source" 0 fetch "$TMP/disk.conf"
expect_match "one line per source" "$(sort <<<"$OUT" | awk '{print $1, $2}' | paste -sd,)" '^kernel downloaded,nix verified,userland cached$'

# --- HTTPS: a self-signed certificate, trusted only through --ca-file ---
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1; then
	start_httpd tls --tls "$TMP/cert.pem" "$TMP/key.pem"
	P=$(profile tls "https://localhost:$PORT/f.bin" "$F")
	expect_exit "HTTPS with a certificate nobody vouches for fails closed" 1 "$MV" fetch "$P" --cache-dir "$TMP/tls1"
	[ ! -e "$TMP/tls1/sha256/$F" ] && ok "and caches nothing" || not_ok "and caches nothing" "entry exists"
	expect_exit "HTTPS with --ca-file naming its certificate works" 0 "$MV" fetch "$P" --cache-dir "$TMP/tls2" --ca-file "$TMP/cert.pem"
	cmp -s "$TMP/tls2/sha256/$F" "$TMP/www/f.bin" && ok "the HTTPS entry holds the bytes" || not_ok "the HTTPS entry holds the bytes" "entry differs"
	expect_exit "an unreadable --ca-file is a usage error" 2 "$MV" fetch "$P" --ca-file "$TMP/none.pem"
else
	not_ok "make a self-signed certificate" "openssl req failed"
fi
