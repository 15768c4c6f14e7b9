#!/usr/bin/env bash
# Install every Debian package the build and the tests need, idempotently.
# Called by the Makefile before anything is built; safe to run again: it only
# touches apt when a package is missing or an apt source entry must be added.
set -euo pipefail

# Build: compilers come with the machine; these are the libraries we link.
build_pkgs=(
  pkg-config make gcc
  libfdisk-dev libblkid-dev libarchive-dev libcurl4-openssl-dev zlib1g-dev
  libext2fs-dev libinih-dev libmbedtls-dev check libsubunit-dev libcrypt-dev # libcrypt: the unit tests judge our $6$ hashes with crypt(3)
  # make static (build/static-deps.sh): musl, the aarch64 cross compiler
  # and the arm64 kernel headers,
  # apt-get source's unpacker, autoreconf for libarchive
  musl-tools gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross dpkg-dev autoconf automake libtool
)
# Tests: the outside judges (DESIGN.md "Tests prove it with tools nobody
# here wrote") and what the integration scripts use.
test_pkgs=(
  python3 fdisk util-linux dosfstools mtools e2fsprogs busybox-static tar nix-bin proot
  qemu-system-x86 ovmf bmap-tools
  gzip xz-utils zstd
  qemu-system-arm qemu-efi-aarch64
  openssh-client whois wpasupplicant systemd
  qemu-user-static
  mmdebstrap # tests/boot/debian-systemd.sh: the Debian userland with systemd that boot-systemd.sh boots
)

# Benchmarks: the peer tools measured side by side.
bench_pkgs=(
  genimage bc time makefs # (mmdebstrap: in the test list)
)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --with-tests) want+=("${test_pkgs[@]}") ;;
  --with-bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--with-tests|--with-bench]" >&2; exit 2 ;;
esac

sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"

# The static build needs deb-src, the Raspberry Pi firmware needs
# non-free-firmware: add both once, taking the mirror from debian.sources.
extra=/etc/apt/sources.list.d/microvisor.sources
added_source=0
if [ ! -f "$extra" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uris=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  suite=$(awk '/^Suites:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$uris" ] && [ -n "$suite" ] || { echo "deps: cannot read URIs/Suites from debian.sources" >&2; exit 1; }
  $sudo_ tee "$extra" >/dev/null <<SRC
# Added by microvisor's build/deps.sh: source packages for the static build
# and the non-free-firmware component for the Raspberry Pi firmware.
Types: deb-src
URIs: $uris
Suites: $suite ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: $uris
Suites: $suite ${suite}-updates
Components: non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  added_source=1
fi

# The arm64 demo assets (build/demo-assets.sh OUT arm64: Debian's arm64
# kernel, busybox-static:arm64, systemd-boot-efi:arm64) and the static
# aarch64 build's libinih-dev:arm64 are downloaded with apt-get download,
# which needs apt to know the architecture. Nothing arm64 is installed.
added_arch=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo_ dpkg --add-architecture arm64
  added_arch=1
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ $added_source -eq 0 ] && [ $added_arch -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]:-nothing (apt sources or the arm64 architecture added)}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo_ apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
