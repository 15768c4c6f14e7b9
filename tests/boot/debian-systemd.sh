#!/usr/bin/env bash
# debian-systemd.sh: prints the path of a small Debian 12 userland tarball
# with systemd as init, Debian's kernel and initramfs and systemd-boot, for
# the boot tests that need a real systemd (tests/integration/boot-systemd.sh).
# Made once by mmdebstrap (--mode=unshare, as root here) and cached OUTSIDE
# the clone, under ${XDG_CACHE_HOME:-$HOME/.cache}/microvisor-test/, named by
# a hash of the exact mmdebstrap arguments, so CI's fresh clones reuse it and
# a change to the package list makes a new one. Progress goes to stderr.
set -euo pipefail
# minbase: Essential packages and apt. systemd-sysv makes /sbin/init
# systemd; initramfs-tools and udev make an initrd that finds the root by
# root=PARTUUID=; systemd-boot-efi is the loader the profile takes from
# root:. Docs, man pages, locales and the kernel's drivers the test's q35
# guest (no NIC, no display, no sound) has no use for are left out, to keep
# the tarball and every image made from it small (bookworm's kernel
# package ships them under /lib/modules: the path dpkg matches).
args=(--variant=minbase --mode=unshare --format=tar
	--include=systemd,systemd-sysv,udev,linux-image-amd64,initramfs-tools,zstd,systemd-boot-efi
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/gpu/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/media/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/net/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/infiniband/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/staging/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/iio/*'
	--dpkgopt='path-exclude=/lib/modules/*/kernel/sound/*'
	bookworm)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/microvisor-test
key=$(printf '%s\n' "${args[@]}" | sha256sum | cut -c1-16)
out=$dir/debian-systemd-$key.tar
if [ ! -s "$out" ]; then
	mkdir -p "$dir"
	echo "debian-systemd: making $out with mmdebstrap (once; cached)" >&2
	start=$(date +%s)
	mmdebstrap --quiet "${args[@]}" "$out.tmp.$$" >&2 || { rm -f "$out.tmp.$$"; exit 1; }
	mv "$out.tmp.$$" "$out"
	# An older package list's tarball is no use any more: drop it.
	find "$dir" -maxdepth 1 -name 'debian-systemd-*.tar' ! -name "${out##*/}" -delete
	echo "debian-systemd: mmdebstrap took $(($(date +%s) - start)) s" >&2
fi
echo "$out"
