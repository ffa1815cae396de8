#!/usr/bin/env bash
# The Java kernels' correctness on the GPU (device tests under -Dpariskv.kernels=java), the bundled model's device
# path (demo and generate on CUDA), and Nsight Compute on the attention kernel, hand-written against Java.
# Expects .device/ from prepare.sh (the model is read from the tree: src/main/resources).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG="$OUT/check.log"
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
MODEL=src/main/resources/model/pariskv-byte
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT 2>/dev/null)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; } | tee -a "$LOG"
if [ "${TESTS:-1}" != 0 ]; then
  echo "== device tests, -Dpariskv.kernels=java" | tee -a "$LOG"
  timeout 300 $J -Dpariskv.kernels=java -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar:src/main/resources:src/test/resources \
     --select-class org.pariskv.compute.jit.SpecialisationTest --select-class org.pariskv.compute.jit.SubsetTranslationTest \
     --select-class org.pariskv.device.DecodeKernelsTest --select-class org.pariskv.device.TopKKernelsTest \
     --select-class org.pariskv.device.AttentionKernelsTest --select-class org.pariskv.device.DeviceDecoderTest \
     --select-class org.pariskv.device.StagedKvTest --select-class org.pariskv.model.ModelKernelsTest \
     --select-class org.pariskv.model.DeviceLlamaTest --select-class org.pariskv.model.DeviceLlamaCudaTest \
     --details=tree --disable-banner 2>&1 | grep -E "✘|tests (successful|failed|aborted|found)|containers failed|Exception|expected" | head -60 | tee -a "$LOG"
fi
if [ "${MODEL_RUNS:-1}" != 0 ]; then
  echo "== demo --device cuda" | tee -a "$LOG"
  timeout 240 $J -jar .device/pariskv.jar demo --device cuda --model $MODEL 2>&1 | tail -12 | tee -a "$LOG"
  head -c 2048 $MODEL/heldout.txt > /tmp/p2k.txt
  for m in pariskv full; do
    echo "== generate --device cuda --method $m (2K prompt, 256 tokens)" | tee -a "$LOG"
    timeout 120 $J -jar .device/pariskv.jar generate --device cuda --model $MODEL --method $m --prompt-file /tmp/p2k.txt --max-tokens 256 --format json \
      > "$OUT/generate-$m.json" 2> "$OUT/generate-$m.err"; tail -3 "$OUT/generate-$m.err" | tee -a "$LOG"; head -c 600 "$OUT/generate-$m.json" | tee -a "$LOG"; echo | tee -a "$LOG"
  done
fi
if [ "${NCU:-1}" != 0 ] && command -v ncu >/dev/null; then
  for k in c java; do
    echo "== ncu sparseAttention/attentionCombine, kernels=$k, 128K batch 1 mean" | tee -a "$LOG"
    JAVA_TOOL_OPTIONS="-Dpariskv.kernels=$k" timeout 200 ncu --clock-control none --target-processes all --kernel-name "regex:^(sparseAttention|attentionCombine|candidateSelect|collisionScores|rerank)$" \
      --launch-skip 200 --launch-count 24 \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,smsp__inst_executed.sum,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__average_warp_latency_issue_stalled_long_scoreboard.ratio,l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum \
      --csv $J -jar .device/pariskv.jar bench --device cuda --shape llama3-8b --steps 5 --warmup 40 --gqa mean --context 131072 --out /tmp/ncu-b \
      > "$OUT/ncu-$k.csv" 2>&1
    python3 - "$OUT/ncu-$k.csv" <<'PY' | tee -a "$LOG"
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
hdr = next((r for r in rows if r[:1] == ["ID"]), None)
if hdr is None:
    print("no table:", "".join(open(sys.argv[1]).readlines()[-8:])); sys.exit(0)
agg = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    if len(r) != len(hdr) or r[0] == "ID": continue
    d = dict(zip(hdr, r))
    agg[(d["Kernel Name"], d["Grid Size"])][d["Metric Name"]].append(float(d["Metric Value"].replace(",", "") or 0))
for (k, g), m in sorted(agg.items()):
    print(k, g, "; ".join(f"{n.split('.')[0].split('__')[-1]}={sorted(v)[len(v)//2]:.4g}" for n, v in sorted(m.items())))
PY
  done
fi
