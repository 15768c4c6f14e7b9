#!/usr/bin/env bash
# Runs every test and ends with one line: "N passed, N failed".
# Unit tests are Check programs (plain and sanitized builds); integration
# tests are shell scripts that print "ok - NAME" or "not ok - NAME: why".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
# Check's default is 4 s a test: the sanitized builds on a loaded 2-core
# machine took longer (test_table). A hang still ends, just later.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}

for bin in obj/tests/test_* obj-san/tests/test_*; do
	[ -x "$bin" ] || continue
	out=$(CK_VERBOSITY=normal "$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|[$bin] |"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+' | tail -n 1)
	if [ -z "$line" ]; then
		echo "not ok - $bin: no Check summary (exit $rc)"
		failed=$((failed + 1))
		continue
	fi
	checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	bad=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$line")
	bad=$((bad))
	passed=$((passed + checks - bad))
	failed=$((failed + bad))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		echo "not ok - $bin exited $rc"
		failed=$((failed + 1))
	fi
done

# run_scripts LABEL SCRIPT...: integration scripts against $MV.
run_scripts() {
	local label=$1 script out rc ok bad
	shift
	for script in "$@"; do
		out=$(bash "$script" 2>&1)
		rc=$?
		printf '%s\n' "$out" | sed "s|^|[$label$(basename "$script")] |"
		ok=$(grep -c '^ok - ' <<<"$out")
		bad=$(grep -c '^not ok - ' <<<"$out")
		passed=$((passed + ok))
		failed=$((failed + bad))
		if [ "$rc" -ne 0 ]; then
			echo "not ok - $label$script exited $rc"
			failed=$((failed + 1))
		fi
	done
}

export MV="${MV:-$PWD/microvisor}"
run_scripts "" tests/integration/*.sh

# MV_STATIC (make check sets it to the static musl binary): the scripts
# again against it, except the QEMU boot tests, which judge the images
# (the same bytes either way) and take most of the time, and static.sh,
# which runs the static binaries itself.
if [ -n "${MV_STATIC:-}" ]; then
	again=()
	for script in tests/integration/*.sh; do
		case "$(basename "$script")" in
		boot*.sh | static.sh | prefix-aarch64.sh) ;;
		*) again+=("$script") ;;
		esac
	done
	MV=$MV_STATIC run_scripts "static:" "${again[@]}"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
