#!/usr/bin/env bash
# Runs every test and ends with one line: "N passed, N failed".
# Unit tests are Check programs (plain and sanitized builds); integration
# tests are shell scripts that print "ok - NAME" or "not ok - NAME: why".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0

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

export MV="${MV:-$PWD/microvisor}"
for script in tests/integration/*.sh; do
	out=$(bash "$script" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|[$(basename "$script")] |"
	ok=$(grep -c '^ok - ' <<<"$out")
	bad=$(grep -c '^not ok - ' <<<"$out")
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$rc" -ne 0 ]; then
		echo "not ok - $script exited $rc"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
