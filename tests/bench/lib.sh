# Helpers for the benchmarks. W must name the run's work directory.
# measure NAME CMD... prints "NAME wall_s cpu_s maxrss_kib".
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }
	read -r wall user sys rss <"$W/time"
	printf '%s %s %s %s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
}
ratio() { echo "scale=2; $1 / $2" | bc; }
# Cold caches for every contender (root only; harmless otherwise).
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# bench_profile FILE TARBALL: the benchmark disk (GPT, 256 MiB ESP, 2 GiB
# ext4 root from TARBALL), as a profile.
bench_profile() {
	cat >"$1" <<CONF
[Profile]
Name=bench
Architecture=x86_64
[Disk]
Table=gpt
[Partition esp]
Type=esp
Size=256M
Label=ESP
[Partition root]
Type=root
Size=2G
Label=root
[Userland]
Source=$2
CONF
}
