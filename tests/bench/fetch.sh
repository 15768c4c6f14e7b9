#!/usr/bin/env bash
# make bench, downloads: the bench's userland tarball served by the test
# HTTP server on 127.0.0.1, turned into an image by microvisor (download,
# verify into the cache, unpack) against `curl | tar` into a directory, in
# the same run. Then the two halves of microvisor's run apart (download to
# the cache; image from the cache), to size what one pass (download, hash,
# unpack together into a fresh image) could gain at most.
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
B=obj/bench
tarball=$PWD/$B/rootfs.tar
[ -s "$tarball" ] || { echo "bench: run tests/bench/image.sh first (it makes $tarball)" >&2; exit 1; }
W=$(mktemp -d "$PWD/$B/fetch.XXXXXX")
mkdir -p "$W/www"
ln "$tarball" "$W/www/rootfs.tar" 2>/dev/null || cp "$tarball" "$W/www/rootfs.tar"
python3 tests/fixtures/httpd.py --root "$W/www" --log "$W/httpd.log" --max-seconds 600 >"$W/port" 2>"$W/httpd.err" &
httpd=$!
trap 'kill $httpd 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do port=$(head -n1 "$W/port" 2>/dev/null); [ -n "$port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$port/rootfs.tar"
pin=$(sha256sum <"$tarball" | cut -d' ' -f1)

. tests/bench/lib.sh

cat >"$W/fetch.conf" <<CONF
[Profile]
Name=bench
Architecture=x86_64
[Partition root]
Type=root
Size=2G
[Userland]
Source=$url
SHA256=$pin
CONF
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
mv_line=$(measure "microvisor" "$MV" image -q "$W/fetch.conf" -o "$W/mv.img" --cache-dir "$W/cache1")
mkdir -p "$W/dir"
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
ct_line=$(measure "curl|tar" bash -c "curl -s '$url' | tar -xpf - -C '$W/dir' && sync -f '$W/dir'")
rm -rf "$W/dir" "$W/mv.img"
dl_line=$(measure "download" "$MV" fetch -q "$W/fetch.conf" --cache-dir "$W/cache2")
im_line=$(measure "image-cached" "$MV" image -q "$W/fetch.conf" -o "$W/mv2.img" --cache-dir "$W/cache2" --offline)

read -r _ mw mc mr <<<"$mv_line"
read -r _ cw cc cr <<<"$ct_line"
read -r _ dw _ _ <<<"$dl_line"
read -r _ iw _ _ <<<"$im_line"
longer=$(echo "if ($dw > $iw) $dw else $iw" | bc)
{
	echo "download bench: $(du -h "$tarball" | cut -f1) tarball from 127.0.0.1 (loopback: this measures CPU and I/O, not a network)"
	printf '%-14s %8s %8s %10s\n' run wall_s cpu_s peak_rss
	printf '%-14s %8s %8s %7s KiB\n' microvisor "$mw" "$mc" "$mr"
	printf '%-14s %8s %8s %7s KiB\n' "curl | tar" "$cw" "$cc" "$cr"
	echo "microvisor / curl|tar wall time: $(ratio "$mw" "$cw")x; peak RSS $((mr / 1024)) MiB vs $((cr / 1024)) MiB"
	echo "the two passes apart: download+verify $dw s, image from the cache $iw s"
	echo "one pass could save at most $(echo "$dw + $iw - $longer" | bc) s of $(echo "$dw + $iw" | bc) s (if both overlapped perfectly)"
} | tee "$B/fetch-report.txt"
