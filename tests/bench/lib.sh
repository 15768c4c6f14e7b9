# Shared by the benchmarks: W (a work directory) must be set.
# measure NAME CMD... -> "NAME wall_s cpu_s maxrss_kib" (/usr/bin/time -v's figures)
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }
	read -r wall user sys rss <"$W/time"
	printf '%s %s %s %s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
}
ratio() { echo "scale=2; $1 / $2" | bc; }
