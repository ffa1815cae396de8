#!/usr/bin/env bash
# The bandwidth floor at one 128K batch-1 step's sizes (profiles/gpu/floor.cu), by Nsight Compute like ncu.sh.
# Usage on the GPU machine: OUT=... bash profiles/gpu/floor.sh   Writes $OUT/floor.csv and a table to stdout.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
nvcc -O3 -arch=sm_90 -o /tmp/floor profiles/gpu/floor.cu || exit 1
ncu --clock-control none --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
    --csv /tmp/floor > "$OUT/floor.csv" 2>&1
python3 - "$OUT/floor.csv" <<'PY'
import csv, sys, statistics
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
hdr = next((r for r in rows if r[:1] == ["ID"]), None)
if hdr is None: print("".join(open(sys.argv[1]).readlines()[-30:])); sys.exit(0)
per = {}
for r in rows:
    if len(r) != len(hdr) or r[0] == "ID": continue
    d = dict(zip(hdr, r))
    per.setdefault((int(d["ID"]), d["Kernel Name"], d["Grid Size"], d["Block Size"]), {})[d["Metric Name"]] = float(d["Metric Value"].replace(",", "") or 0)
by = {}
for (i, name, grid, blk), m in sorted(per.items()): by.setdefault((name, grid, blk), []).append(m)
print("| kernel | grid | block | launches | time (us) | DRAM read (MB) | DRAM write (MB) | DRAM % of peak |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for (name, grid, blk), ms in by.items():
    med = lambda k: statistics.median(m.get(k, 0) for m in ms)
    print(f"| {name} | {grid} | {blk} | {len(ms)} | {med('gpu__time_duration.sum')/1e3:.2f} | {med('dram__bytes_read.sum')/1e6:.2f} | {med('dram__bytes_write.sum')/1e6:.2f} | {med('dram__throughput.avg.pct_of_peak_sustained_elapsed'):.1f} |")
PY
