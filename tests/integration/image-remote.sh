#!/usr/bin/env bash
# An image whose userland is downloaded: from a test HTTP server on
# 127.0.0.1, verified against its pin into the cache before a byte reaches
# the image; a wrong pin leaves no image and no cache entry.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
export MICROVISOR_RETRY_DELAY_MS=10
start_httpd httpd
python3 tests/fixtures/mktar.py tree "$TMP/www/rootfs.tar"
pin=$(sha256sum <"$TMP/www/rootfs.tar" | cut -d' ' -f1)
profile() {
	cat <<CONF
[Profile]
Name=remote
Architecture=x86_64
[Disk]
Size=100M
[Partition root]
Type=root
Size=Grow
[Userland]
Source=http://127.0.0.1:$PORT/rootfs.tar
SHA256=$1
CONF
}
profile "$pin" >"$TMP/good.conf"
expect_exit "an image from a pinned download" 0 "$MV" image -q "$TMP/good.conf" -o "$TMP/good.img" --cache-dir "$TMP/cache"
[ -f "$TMP/cache/sha256/$pin" ] && ok "the download is cached under its hash" || not_ok "the download is cached under its hash" "$(ls -R "$TMP/cache")"
e2fsck -fn "$TMP/good.img?offset=1048576" >/dev/null 2>&1 && ok "the root is clean" || not_ok "the root is clean" "e2fsck failed"
expect_match "the userland is in it" "$(debugfs -R 'cat /etc/replaced' "$TMP/good.img?offset=1048576" 2>/dev/null)" '^second$'
expect_exit "offline, from the cache" 0 "$MV" image -q "$TMP/good.conf" -o "$TMP/again.img" --cache-dir "$TMP/cache" --offline
cmp -s "$TMP/good.img" "$TMP/again.img" && ok "the same image again" || not_ok "the same image again" "differs"

bad=$(printf '%064d' 0)
profile "$bad" >"$TMP/bad.conf"
expect_exit "a wrong pin fails" 1 "$MV" image -q "$TMP/bad.conf" -o "$TMP/bad.img" --cache-dir "$TMP/cache2"
expect_match "both hashes are named" "$ERR" "$pin"
[ ! -e "$TMP/bad.img" ] && [ ! -e "$TMP/cache2/sha256/$bad" ] && [ ! -e "$TMP/cache2/sha256/$pin" ] \
	&& ok "no image, nothing cached" || not_ok "no image, nothing cached" "$(ls -R "$TMP" | head)"
expect_exit "offline without the cache names the source" 1 "$MV" image -q "$TMP/good.conf" -o "$TMP/x.img" --cache-dir "$TMP/empty" --offline
expect_match "and says it is offline" "$ERR" "rootfs.tar"
