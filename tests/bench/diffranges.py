#!/usr/bin/env python3
"""diffranges.py A.img B.img: which byte ranges of two images differ, and
in which partition (sfdisk's reading of A's table). Reads `cmp -l`."""
import json, os, subprocess, sys

a, b = sys.argv[1], sys.argv[2]
table = json.loads(subprocess.run(["sfdisk", "--json", a], capture_output=True, check=True).stdout)["partitiontable"]
ss = table.get("sectorsize", 512)
parts = [(p["start"] * ss, (p["start"] + p["size"]) * ss, p.get("name", p["node"])) for p in table["partitions"]]

def where(off):
    for start, end, name in parts:
        if start <= off < end:
            return name
    return "table"

ranges = []
cmp = subprocess.Popen(["cmp", "-l", a, b], stdout=subprocess.PIPE, text=True)
for line in cmp.stdout:
    off = int(line.split()[0]) - 1
    if ranges and off <= ranges[-1][1] + 16:  # bytes a few apart: one field
        ranges[-1][1] = off
    else:
        ranges.append([off, off])
cmp.wait()
total = sum(e - s + 1 for s, e in ranges)
size = os.path.getsize(a)
by = {}
for s, e in ranges:
    n = where(s)
    by.setdefault(n, [0, 0])
    by[n][0] += 1
    by[n][1] += e - s + 1
print(f"  {len(ranges)} differing ranges, {total} bytes in all "
      f"({100.0 * total / (size or 1):.4f}% of the {size >> 20} MiB disk)")
for n, (count, nbytes) in sorted(by.items()):
    print(f"    {n:8s} {count:6d} ranges {nbytes:9d} bytes")
