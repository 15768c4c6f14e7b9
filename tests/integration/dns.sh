#!/usr/bin/env bash
# Downloads by host name where the system has no resolver and no CA bundle
# (Android: no /etc/resolv.conf, no /etc/ssl). The test hides /etc behind
# an empty tmpfs in a mount namespace; a host name, mirror.test, is known
# only to a DNS responder on loopback (tests/fixtures/dnsd.py) and resolves
# to the test HTTP server. The static build (c-ares) takes --dns, then
# $PREFIX/etc/resolv.conf (Termux), and trusts $PREFIX/etc/tls/cert.pem;
# Debian's libcurl cannot set servers, which must be non-fatal and said.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
export MICROVISOR_RETRY_DELAY_MS=10 MICROVISOR_RETRIES=1
unset XDG_CACHE_HOME SSL_CERT_FILE PREFIX

if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "ok - dns: skipped (needs root for a mount namespace and port 53)"
	exit 0
fi

# start_dnsd NAME ADDR PORT: a responder knowing mirror.test; sets DPORT;
# returns 1 when it cannot bind.
start_dnsd() {
	python3 "$ROOT/tests/fixtures/dnsd.py" --name mirror.test=127.0.0.1 --bind "$2" --port "$3" \
		--log "$TMP/$1.log" --max-seconds 90 >"$TMP/$1.port" 2>"$TMP/$1.err" &
	HTTPD_PIDS+=($!)
	DPORT=$(wait_port "$TMP/$1.port")
}

# without_etc CMD...: CMD where /etc is an empty directory, as on Android.
without_etc() { unshare -m sh -c 'mount -t tmpfs -o mode=0755 none /etc && exec "$@"' sh "$@"; }

start_httpd httpd
head -c 65536 /dev/urandom >"$TMP/www/a.bin"
A=$(sha256sum "$TMP/www/a.bin" | cut -d' ' -f1)
profile() {
	printf '[Profile]\nName=dns\nArchitecture=x86_64\n[Userland]\nSource=%s\nSHA256=%s\n' "$1" "$A" >"$TMP/$2.conf"
	echo "$TMP/$2.conf"
}
BY_NAME=$(profile "http://mirror.test:$PORT/a.bin" byname)
BY_IP=$(profile "http://127.0.0.1:$PORT/a.bin" byip)
start_dnsd dnsd 127.0.0.1 0 || { not_ok "start dnsd" "$(cat "$TMP/dnsd.err")"; exit 1; }

expect_exit "--dns with a host name is bad usage" 2 "$MV" fetch "$BY_IP" --dns dns.google --cache-dir "$TMP/c0"
expect_match "  naming the entry and the form" "$ERR" "^microvisor fetch: --dns dns.google: not an IP address with an optional port"
expect_exit "bootstrap checks its --dns too" 2 "$MV" bootstrap "$BY_IP" --prefix "$TMP/p" --dns 127.0.0.1:99999
expect_match "  the same way" "$ERR" "^microvisor bootstrap: --dns 127.0.0.1:99999: not an IP address with an optional port"

without_etc test ! -e /etc/resolv.conf && ok "the namespace hides /etc/resolv.conf" \
	|| not_ok "the namespace hides /etc/resolv.conf" "it is still there"

if readelf -lW "$MV" | grep -q 'Requesting program interpreter'; then
	# Debian's libcurl: the option is refused, said once, and the download goes on.
	expect_exit "dynamic build: --dns does not stop a download" 0 \
		"$MV" fetch "$BY_IP" --dns "127.0.0.1:$DPORT" --cache-dir "$TMP/c0"
	expect_match "dynamic build: it says --dns is ignored and why" "$ERR" \
		"--dns 127.0.0.1:$DPORT ignored: this build's libcurl cannot set DNS servers"
	exit 0
fi

expect_exit "static build: --dns with a reachable system resolver" 0 \
	"$MV" fetch "$BY_IP" --dns "127.0.0.1:$DPORT" --cache-dir "$TMP/c0"
[ -z "$ERR" ] || ! grep -q ignored <<<"$ERR" && ok "static build: --dns is not reported as ignored" \
	|| not_ok "static build: --dns is not reported as ignored" "$ERR"

expect_exit "without /etc/resolv.conf, --dns resolves the host name" 0 \
	without_etc "$MV" fetch "$BY_NAME" --dns "127.0.0.1:$DPORT" --cache-dir "$TMP/c1"
expect_match "  and the bytes came from the server by that name" "$OUT" "^userland +downloaded +http://mirror.test:$PORT/a.bin"
grep -q '^mirror.test A$' "$TMP/dnsd.log" && ok "  the query went to the --dns server" \
	|| not_ok "  the query went to the --dns server" "log: $(cat "$TMP/dnsd.log")"
cmp -s "$TMP/c1/sha256/$A" "$TMP/www/a.bin" && ok "  the cache holds the served bytes" \
	|| not_ok "  the cache holds the served bytes" "$(ls -R "$TMP/c1")"

# Termux's resolv.conf has no ports: a responder on port 53 of another
# loopback address stands in for the phone's resolver.
mkdir -p "$TMP/termux/etc"
if start_dnsd termux 127.83.7.1 53; then
	echo "nameserver 127.83.7.1" >"$TMP/termux/etc/resolv.conf"
	expect_exit "without /etc/resolv.conf and --dns, \$PREFIX/etc/resolv.conf resolves it" 0 \
		without_etc env PREFIX="$TMP/termux" "$MV" fetch "$BY_NAME" --cache-dir "$TMP/c2"
	grep -q '^mirror.test A$' "$TMP/termux.log" && ok "  the query went to Termux's nameserver" \
		|| not_ok "  the query went to Termux's nameserver" "log: $(cat "$TMP/termux.log")"
	# The judge can fail: a nameserver with nothing behind it resolves nothing.
	echo "nameserver 127.83.7.2" >"$TMP/termux/etc/resolv.conf"
	expect_exit "a dead nameserver in \$PREFIX/etc/resolv.conf: the download fails" 1 \
		without_etc env PREFIX="$TMP/termux" "$MV" fetch "$BY_NAME" --cache-dir "$TMP/c3"
	expect_match "  naming the host" "$ERR" "mirror.test"
	echo "nameserver 127.83.7.1" >"$TMP/termux/etc/resolv.conf"

	# HTTPS by name, trusting only Termux's bundle.
	if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mirror.test \
		-addext subjectAltName=DNS:mirror.test -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null; then
		start_httpd tls --tls "$TMP/cert.pem" "$TMP/key.pem"
		TLS=$(profile "https://mirror.test:$PORT/a.bin" tls)
		expect_exit "without /etc: HTTPS with no CA bundle anywhere fails closed" 1 \
			without_etc env PREFIX="$TMP/termux" "$MV" fetch "$TLS" --cache-dir "$TMP/c4"
		expect_match "  saying no bundle was found" "$ERR" "no CA certificate bundle found"
		mkdir -p "$TMP/termux/etc/tls"
		cp "$TMP/cert.pem" "$TMP/termux/etc/tls/cert.pem"
		expect_exit "without /etc: HTTPS trusts \$PREFIX/etc/tls/cert.pem" 0 \
			without_etc env PREFIX="$TMP/termux" "$MV" fetch "$TLS" --cache-dir "$TMP/c5"
		cmp -s "$TMP/c5/sha256/$A" "$TMP/www/a.bin" && ok "  the HTTPS entry holds the bytes" \
			|| not_ok "  the HTTPS entry holds the bytes" "$(ls -R "$TMP/c5")"
	else
		not_ok "make a certificate for mirror.test" "openssl req failed"
	fi
else
	echo "ok - \$PREFIX/etc/resolv.conf: skipped (port 53 on 127.83.7.1 is taken: $(cat "$TMP/termux.err"))"
fi
