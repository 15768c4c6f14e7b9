#!/usr/bin/env bash
# make bench, rootless prefix: `microvisor bootstrap` of the bench's Debian
# userland (tests/bench/image.sh makes obj/bench/rootfs.tar) into a
# directory, against GNU tar extracting the same archive into a directory
# as the same unprivileged user (what proot-distro does: tar, no owners),
# in the same run. Both end with the tree on disk (sync). Figures are
# ratios; nothing here passes or fails on time. BENCH_TARBALL overrides the
# archive (say, tests/fixtures/mktar.py many: 100,000 small files).
set -euo pipefail
cd "$(dirname "$0")/../.."
MV=${MV:-$PWD/microvisor}
B=obj/bench
tarball=$(realpath "${BENCH_TARBALL:-$B/rootfs.tar}")
[ -s "$tarball" ] || { echo "bench: run tests/bench/image.sh first (it makes $tarball)" >&2; exit 1; }
mkdir -p "$B"
W=$(mktemp -d "$PWD/$B/prefix.XXXXXX")
trap 'rm -rf "$W"' EXIT
chmod 0755 "$W"
user=nobody
as=()
[ "$(id -u)" -ne 0 ] || as=(setpriv --reuid "$user" --regid nogroup --clear-groups --)
mkdir "$W/u" && chmod 0777 "$W/u"
cp "$MV" "$W/u/microvisor"
cat >"$W/u/p.conf" <<CONF
[Profile]
Name=bench
Architecture=x86_64
[Userland]
Source=$tarball
CONF
chmod -R a+rX "$W/u"

measure() { # NAME CMD... -> NAME wall cpu maxrss_kib
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }
	read -r wall user_s sys rss <"$W/time"
	printf '%s %s %s %s\n' "$name" "$wall" "$(echo "$user_s + $sys" | bc)" "$rss"
}
sync
mv_line=$(measure microvisor "${as[@]}" sh -c "'$W/u/microvisor' bootstrap -q '$W/u/p.conf' --prefix '$W/u/mv' && sync -f '$W/u/mv'")
mkdir "$W/u/tar" && chmod 0777 "$W/u/tar"
sync
tar_line=$(measure tar "${as[@]}" sh -c "tar -xf '$tarball' -C '$W/u/tar' --no-same-owner 2>/dev/null; sync -f '$W/u/tar'")
read -r _ mw mc mr <<<"$mv_line"
read -r _ tw tc tr <<<"$tar_line"
ratio() { echo "scale=2; $1 / $2" | bc; }
{
	echo "prefix bench: $(du -h "$tarball" | cut -f1) archive, $(tar tf "$tarball" | wc -l) entries, into a directory as $user"
	printf '%-12s %8s %8s %10s\n' run wall_s cpu_s peak_rss
	printf '%-12s %8s %8s %7s KiB\n' microvisor "$mw" "$mc" "$mr"
	printf '%-12s %8s %8s %7s KiB\n' "tar -x" "$tw" "$tc" "$tr"
	echo "microvisor bootstrap / tar -x: wall $(ratio "$mw" "$tw")x, cpu $(ratio "$mc" "$tc")x; peak RSS $((mr / 1024)) MiB vs $((tr / 1024)) MiB"
} | tee "$B/prefix-report.txt"
