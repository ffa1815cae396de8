#!/usr/bin/env bash
# Third GPU call: the million-token example, and whether NVIDIA's OpenCL reads ALLOC_HOST_PTR buffers in place
# (offload on opencl vs cuda at 128K: in-place reads show up as a slow full-attention pass over host memory).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG="$OUT/run-final.log"
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; } | tee -a "$LOG"
echo "== MillionTokenDecode 1048576 cuda" | tee -a "$LOG"
$J -cp .device/pariskv.jar:.device/examples MillionTokenDecode 1048576 cuda 20 2>&1 | tail -2 | tee -a "$LOG"
for dev in opencl:1 cuda; do
  echo "== bench --offload on $dev" | tee -a "$LOG"
  $J -jar .device/pariskv.jar bench --device $dev --offload --gqa mean --context 131072 --batch 1 --steps 30 --warmup 5 \
     --out "$OUT/b" 2>&1 | grep -E "^\||K/V memory|memory at" | tee -a "$LOG"
  mv "$OUT/b/bench.json" "$OUT/bench-offload-${dev/:/}.json"; rm -rf "$OUT/b"
done
