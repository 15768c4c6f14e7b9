#!/usr/bin/env bash
# make bench: every benchmark, each side by side with its peer tool.
set -euo pipefail
cd "$(dirname "$0")/../.."
for b in tests/bench/image.sh tests/bench/ufs.sh tests/bench/fetch.sh tests/bench/flash.sh tests/bench/customise.sh tests/bench/prefix.sh; do
	bash "$b"
done
