"""A busybox initramfs from extracted Debian packages: shared by
build/demo-userland.py (the demo's boot) and tests/boot/ufs-guest.py (the
guest that judges UFS2 and FAT images with Linux's own drivers).

Module dependencies are read from each module's .modinfo, since the
package ships no modules.dep; the init script loads modules.order in order.
Everything is owned by root with fixed times, so the same packages give the
same bytes."""
import gzip, io, os, stat

MTIME = 1700000000

def modinfo(path):
    data = open(path, "rb").read()
    fields = {}
    for chunk in data.split(b"\0"):
        for key in (b"depends=", b"name="):
            if chunk.startswith(key) and key.decode()[:-1] not in fields:
                fields[key.decode()[:-1]] = chunk[len(key):].decode(errors="replace")
    return fields

def module_index(src, moddir):
    index = {}
    for root, _, files in os.walk(os.path.join(src, moddir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                index[f[:-3].replace("-", "_")] = os.path.join(root, f)
    return index

def closure(index, want):
    order, seen = [], set()
    def visit(name):
        name = name.replace("-", "_")
        if name in seen or name not in index:
            return
        seen.add(name)
        deps = modinfo(index[name]).get("depends", "")
        for d in filter(None, deps.split(",")):
            visit(d)
        order.append(name)
    for w in want:
        visit(w)
    return order

def cpio_newc(entries):
    """entries: (name, mode, data or link target) -> bytes of a newc archive."""
    buf = io.BytesIO()
    ino = 1
    def header(name, mode, size, nlink=1):
        nonlocal ino
        fields = [ino, mode, 0, 0, nlink, MTIME, size, 0, 0, 0, 0, len(name) + 1, 0]
        ino += 1
        h = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        buf.write(h)
        buf.write(b"\0" * ((4 - buf.tell() % 4) % 4))
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        header(name, mode, len(data))
        buf.write(data)
        buf.write(b"\0" * ((4 - buf.tell() % 4) % 4))
    return buf.getvalue()

def initramfs(src, index, order, applets, init):
    """gzip'd newc: busybox and its applets, the modules in order, init."""
    busybox = open(os.path.join(src, "bin/busybox"), "rb").read()
    e = [("bin", stat.S_IFDIR | 0o755, b""), ("lib", stat.S_IFDIR | 0o755, b""),
         ("lib/modules", stat.S_IFDIR | 0o755, b""), ("bin/busybox", stat.S_IFREG | 0o755, busybox)]
    e += [(f"bin/{a}", stat.S_IFLNK | 0o777, b"busybox") for a in applets]
    e += [(f"lib/modules/{m}.ko", stat.S_IFREG | 0o644, open(index[m], "rb").read()) for m in order]
    e += [("modules.order", stat.S_IFREG | 0o644, ("\n".join(order) + "\n").encode()),
          ("init", stat.S_IFREG | 0o755, init.encode())]
    return gzip.compress(cpio_newc(e), mtime=0)
