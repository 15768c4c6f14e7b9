#!/usr/bin/env python3
"""Pack the demo userland from extracted Debian packages (build/demo-assets.sh).

demo-userland.py EXTRACTED KVER OUT.tar.gz [amd64|arm64]

amd64 (the default) is profiles/demo.conf's PC; arm64 serves both the
Raspberry Pi (profiles/demo-rpi.conf) and an arm64 UEFI machine
(profiles/demo-aarch64.conf), so it carries the Pi's SD card drivers and
watchdog, virtio for QEMU's virt machine, the Broadcom device trees where
the Pi loader looks for them, and systemd-bootaa64.efi.

The initramfs loads the storage and ext4 modules (dependencies read from
each module's .modinfo, since the package ships no modules.dep), finds the
root partition by the PARTUUID on the kernel command line (busybox's findfs
knows UUID and LABEL only, so the GPT or MBR is read directly), mounts it and
switches to its busybox init, which reads /etc/inittab. Everything is owned
by root with fixed times, so the same packages give the same bytes.
"""
import gzip, io, os, sys, tarfile

src, kver, out = sys.argv[1], sys.argv[2], sys.argv[3]
arch = sys.argv[4] if len(sys.argv) > 4 else "amd64"
MTIME = 1700000000  # as build/initramfs.py
MODDIR = f"lib/modules/{kver}"
COMMON = ["ext4", "crc32c_generic", "efivarfs", "nls_ascii", "vfat"]
WANT = {
    "amd64": ["virtio_pci", "virtio_blk", "virtio_scsi", "nvme", "ahci", "sd_mod", "ata_piix"] + COMMON,
    # Debian's arm64 kernel builds the MMC core, mmc_block and the Pi's
    # clocks, mailbox and DMA in, but not the SD host drivers: the Pi 3's
    # Arasan SDHCI (sdhci-iproc) and its SDHOST (bcm2835). bcm2835_wdt is
    # the Pi's power-off (poweroff -f ends QEMU's raspi3b through it);
    # virtio over MMIO and PCI is QEMU's virt machine.
    "arm64": ["sdhci_iproc", "bcm2835", "bcm2835_wdt", "virtio_mmio", "virtio_pci", "virtio_blk"] + COMMON,
}[arch]
EFI = {"amd64": "systemd-bootx64.efi", "arm64": "systemd-bootaa64.efi"}[arch]
DTB_DIR = f"usr/lib/linux-image-{kver}/broadcom"
APPLETS = ["sh", "mount", "umount", "switch_root", "sleep", "cat", "echo", "ls", "insmod", "hexdump",
           "dd", "sed", "poweroff", "reboot", "init", "mkdir", "grep", "tr", "readlink", "basename", "uname",
           "hostname", "head", "sync", "mdev", "od", "rm", "tee"]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import initramfs as ir  # noqa: E402

def module_index():
    return ir.module_index(src, MODDIR)

def closure(index):
    return ir.closure(index, WANT)

INIT = r"""#!/bin/busybox sh
# microvisor demo initramfs: load drivers, find root=PARTUUID=, switch_root.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do /bin/insmod /lib/modules/$m.ko 2>/dev/null; done
want=$(sed -n 's/.*root=PARTUUID=\([^ ]*\).*/\1/p' /proc/cmdline | tr A-F a-f)
# GPT stores the first three fields of a GUID little-endian.
# (sed has nine groups: the last two fields travel as one, dash removed.)
gpt=$(echo "$want" | sed -n 's/^\(..\)\(..\)\(..\)\(..\)-\(..\)\(..\)-\(..\)\(..\)-\(....-............\)$/\4\3\2\1\6\5\8\7\9/p' | tr -d -)
# Returns 1 while nothing matches yet, 2 when an MBR disk with the wanted
# signature is present but has no such partition: the kernel creates all of
# a disk's partitions at once, so none will appear later and waiting (20 s
# and more under emulation) only delays the failure.
find_root() {
	rc=1
	for sys in /sys/class/block/*; do
		[ -e "$sys/partition" ] || continue
		n=$(cat "$sys/partition")
		disk=/dev/$(basename "$(readlink -f "$sys/..")")
		if [ "$(dd if=$disk bs=1 skip=512 count=8 2>/dev/null)" = "EFI PART" ]; then
			off=$((1024 + (n - 1) * 128 + 16))
			got=$(hexdump -v -s $off -n 16 -e '16/1 "%02x"' $disk)
			[ "$got" = "$gpt" ] && echo /dev/$(basename $sys) && return 0
		else
			sig=$(hexdump -v -s 440 -n 4 -e '1/4 "%08x"' $disk)
			[ "$sig-$(printf %02d $n)" = "$want" ] && echo /dev/$(basename $sys) && return 0
			[ "$sig" = "${want%-*}" ] && rc=2
		fi
	done
	return $rc
}
for i in $(seq 1 100 2>/dev/null || echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20); do
	dev=$(find_root) && break
	[ $? -eq 2 ] && break
	sleep 0.2
done
if [ -z "$dev" ]; then
	echo "initramfs: no partition with PARTUUID=$want" >&2
	exec sh
fi
mount -t ext4 -o rw "$dev" /newroot || exec sh
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
"""

def initramfs(index, order):
    return ir.initramfs(src, index, order, APPLETS, INIT)

ROOT_FILES = {
    "etc/inittab": "::sysinit:/etc/init.d/rcS\n::wait:/etc/init.d/demo\n::ctrlaltdel:/bin/reboot\n::shutdown:/bin/umount -a -r\n",
    "etc/init.d/rcS": "#!/bin/sh\nmount -t proc proc /proc\nmount -t sysfs sys /sys\nmount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null\nhostname -F /etc/hostname 2>/dev/null\n",
    "etc/init.d/demo": "#!/bin/sh\n# The demo's whole job: say it booted, which entry systemd-boot chose, and power off.\n"
                       "echo \"microvisor-demo: booted $(uname -r) on $(hostname); marker: $(cat /etc/microvisor-marker 2>/dev/null)\"\n"
                       "for k in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do [ -f \"$k\" ] && echo \"microvisor-demo: authorized key in $k: $(cat \"$k\")\"; done\n"
                       "v=/sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f\n"
                       "[ -e $v ] && echo \"microvisor-demo: LoaderEntrySelected=$(tail -c +5 $v | tr -d '\\000')\"\n"
                       "sync\necho 'microvisor-demo: synced, powering off'\npoweroff -f\n",
    "etc/hostname": "microvisor-demo\n",
    "etc/os-release": "ID=microvisor-demo\nNAME=\"Microvisor demo\"\nPRETTY_NAME=\"Microvisor demo (busybox)\"\n",
    "etc/microvisor-marker": "built-from-debian-packages\n",
    "etc/fstab": "# written by microvisor\n",
}

def userland(index, order):
    raw = open(out, "wb")
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
    tf = tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT)
    def add(name, kind, mode, data=b"", link=""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.linkname = kind, mode, MTIME, link
        ti.size = len(data) if kind == tarfile.REGTYPE else 0
        tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    for d in ["bin", "sbin", "boot", "dev", "etc", "etc/init.d", "proc", "sys", "tmp", "root", "usr",
              "usr/lib", "usr/lib/systemd", "usr/lib/systemd/boot", "usr/lib/systemd/boot/efi"]:
        add(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755)
    add("bin/busybox", tarfile.REGTYPE, 0o755, open(os.path.join(src, "bin/busybox"), "rb").read())
    for a in APPLETS:
        add(f"bin/{a}", tarfile.SYMTYPE, 0o777, link="busybox")
    add("sbin/init", tarfile.SYMTYPE, 0o777, link="../bin/busybox")
    for name, text in sorted(ROOT_FILES.items()):
        add(name, tarfile.REGTYPE, 0o755 if "/init.d/" in name else 0o644, text.encode())
    add(f"boot/vmlinuz-{kver}", tarfile.REGTYPE, 0o644, open(os.path.join(src, f"boot/vmlinuz-{kver}"), "rb").read())
    add(f"boot/initrd.img-{kver}", tarfile.REGTYPE, 0o644, initramfs(index, order))
    efi = f"usr/lib/systemd/boot/efi/{EFI}"
    add(efi, tarfile.REGTYPE, 0o644, open(os.path.join(src, efi), "rb").read())
    if arch == "arm64":
        # Where the Pi loader's default DeviceTree= looks (Debian's layout).
        parts = DTB_DIR.split("/")
        for i in range(3, len(parts) + 1):  # usr/lib exists already
            add("/".join(parts[:i]), tarfile.DIRTYPE, 0o755)
        for dtb in sorted(os.listdir(os.path.join(src, DTB_DIR))):
            add(f"{DTB_DIR}/{dtb}", tarfile.REGTYPE, 0o644, open(os.path.join(src, DTB_DIR, dtb), "rb").read())
    tf.close()
    gz.close()
    raw.close()

index = module_index()
order = closure(index)
missing = [w for w in WANT if w not in order and w.replace("-", "_") not in index]
userland(index, order)
print(f"demo userland ({arch}): kernel {kver}, {len(order)} modules, busybox, systemd-boot -> {out}"
      + (f" (not modules, built in: {', '.join(missing)})" if missing else ""))
