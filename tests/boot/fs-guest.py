#!/usr/bin/env python3
"""fs-guest.py DEBS OUT: the guest that judges filesystem images with
Linux's own drivers (../shared/notes/ufs-validation.md). From Debian's
kernel and busybox-static packages in DEBS (build/demo-assets.sh fetches
them) it writes OUT/vmlinuz and OUT/initrd.gz: a busybox initramfs with the
virtio, ufs and vfat modules whose init mounts the partitions named on the
kernel command line read-only (ufs=vdaN: -o ro,ufstype=ufs2; vfat=vdaM),
lists every path (stat: raw mode, uid, gid, size, links, mtime, 512-byte
blocks held, name),
hashes every file, reads every link, appends dmesg, writes the report raw
to the second disk (vdb) and powers off. tests/boot/fs-judge.sh runs it."""
import glob, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "build"))
import initramfs as ir  # noqa: E402

debs, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
x = os.path.join(out, "x")
kdeb = sorted(glob.glob(os.path.join(debs, "linux-image-*.deb")))[-1]
bdeb = sorted(glob.glob(os.path.join(debs, "busybox-static_*.deb")))[-1]
if not os.path.isdir(x):
    for d in (kdeb, bdeb):
        subprocess.run(["dpkg-deb", "-x", d, x + ".tmp"], check=True)
    os.rename(x + ".tmp", x)
kver = os.path.basename(glob.glob(os.path.join(x, "lib/modules/*"))[0])
WANT = ["virtio_pci", "virtio_blk", "ufs", "vfat", "nls_cp437", "nls_utf8", "nls_ascii"]
APPLETS = ["sh", "mount", "umount", "mkdir", "cat", "echo", "sed", "find", "stat", "sha256sum", "readlink",
           "insmod", "dmesg", "poweroff", "sync", "sleep", "tr", "ls", "dd"]
INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do /bin/insmod /lib/modules/$m.ko 2>/dev/null; done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -b /dev/vdb ] && break; sleep 0.2; done
out=/tmp/report
: >$out
list() { # DIR TAG
	cd "$1"
	echo "== $2 stat" >>$out
	find . -exec stat -c '%f %u %g %s %h %Y %b %n' {} + >>$out 2>&1
	echo "== $2 sha256" >>$out
	find . -type f -exec sha256sum {} + >>$out 2>&1
	echo "== $2 links" >>$out
	find . -type l | while read -r l; do printf '%s\t%s\n' "$l" "$(readlink "$l")"; done >>$out
	cd /
}
for arg in $(cat /proc/cmdline); do
	case $arg in
	ufs=*) fs=ufs opts=ro,ufstype=ufs2 ;;
	vfat=*) fs=vfat opts=ro ;;
	*) continue ;;
	esac
	dev=/dev/${arg#*=}
	mkdir -p /mnt/$fs
	if mount -t $fs -o $opts $dev /mnt/$fs; then
		echo "== $fs mounted" >>$out
		list /mnt/$fs $fs
		umount /mnt/$fs
	else
		echo "== $fs mount failed" >>$out
	fi
done
echo "== dmesg" >>$out
dmesg >>$out
echo "== end" >>$out
cat $out >/dev/vdb
sync
echo "fs-guest: report written"
poweroff -f
"""
index = ir.module_index(x, f"lib/modules/{kver}")
order = ir.closure(index, WANT)
missing = [w for w in WANT if w not in order]
if missing:
    sys.exit(f"fs-guest: {kdeb} lacks the modules {', '.join(missing)}")
open(os.path.join(out, "initrd.gz"), "wb").write(ir.initramfs(x, index, order, APPLETS, INIT))
with open(os.path.join(x, f"boot/vmlinuz-{kver}"), "rb") as k, open(os.path.join(out, "vmlinuz"), "wb") as o:
    o.write(k.read())
print(f"fs-guest: kernel {kver}, modules {' '.join(order)}")
