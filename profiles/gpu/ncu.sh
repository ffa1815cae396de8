#!/usr/bin/env bash
# Kernel durations and DRAM traffic of ParisKV decode steps measured by Nsight Compute (one launch per kernel
# replayed with caches flushed, clocks unlocked): the per-kernel figures behind the bandwidth claims.
# Usage: OUT=... LABEL=... FLAGS="--gqa mean --context 131072 --batch 1" bash profiles/gpu/ncu.sh
# Writes $OUT/ncu-$LABEL.csv (raw) and appends a table to $OUT/run.log. Expects .device/ from prepare.sh.
set -uo pipefail
OUT=${OUT:-/tmp/out}; LABEL=${LABEL:-ncu}; mkdir -p "$OUT"
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
KERNELS='^(appendTokens|encodeKeys|prepareQuery|collisionScores|candidateSelect|rerank|topKSlice|topK|mergeSelection|sparseAttention|attentionCombine)$'
# skip the warm-up steps' launches (about 10 per step), then record 3 steps' worth
ncu --clock-control none --target-processes all --kernel-name "regex:$KERNELS" --launch-skip ${SKIP:-400} --launch-count ${COUNT:-30} \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,pcie__read_bytes.sum,pcie__write_bytes.sum \
    --csv $J -jar .device/pariskv.jar bench --device cuda --shape llama3-8b --steps 5 --warmup 60 $FLAGS --out "$OUT/ncu-tmp" \
    > "$OUT/ncu-$LABEL.csv" 2>&1
rm -rf "$OUT/ncu-tmp"
python3 - "$OUT/ncu-$LABEL.csv" "$LABEL" "$FLAGS" <<'PY' | tee -a "$OUT/run.log"
import csv, sys, statistics
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
hdr = next((r for r in rows if r[:1] == ["ID"]), None)
if hdr is None:
    print("ncu produced no table:"); print("".join(open(sys.argv[1]).readlines()[-20:])); sys.exit(0)
per = {}
for r in rows:
    if len(r) != len(hdr) or r[0] == "ID": continue
    d = dict(zip(hdr, r))
    k = (int(d["ID"]), d["Kernel Name"], d["Grid Size"])
    per.setdefault(k, {})[d["Metric Name"]] = float(d["Metric Value"].replace(",", "") or 0)
by = {}
for (i, name, grid), m in sorted(per.items()):
    by.setdefault((name, grid), []).append(m)
print(f"\n### ncu {sys.argv[2]} ({sys.argv[3]}): median over launches\n")
print("| kernel | grid | launches | time (us) | DRAM read (MB) | DRAM write (MB) | DRAM % of peak | PCIe read (MB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
tot = 0
for (name, grid), ms in by.items():
    med = lambda key: statistics.median(m.get(key, 0) for m in ms)
    t = med("gpu__time_duration.sum") / 1e3
    print(f"| {name} | {grid} | {len(ms)} | {t:.1f} | {med('dram__bytes_read.sum')/1e6:.2f} | {med('dram__bytes_write.sum')/1e6:.2f} | {med('dram__throughput.avg.pct_of_peak_sustained_elapsed'):.1f} | {med('pcie__read_bytes.sum')/1e6:.2f} |")
PY
