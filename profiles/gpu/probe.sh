#!/usr/bin/env bash
# A short measuring call: the CUDA rows of the dense-attention and decoder tests, one llama3-8b layer at 128K
# (bench --shape: ParisKV vs full attention, the dense kernel on and off), and the whole model at 128K batch 1 with
# each method's decoder tasks profiled. Expects .device/ from prepare.sh; writes $OUT/probe.tgz.
set -uo pipefail
OUT=${OUT:-/tmp/out}; P=/tmp/probe; rm -rf $P; mkdir -p $P
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT 2>/dev/null)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; } | tee $P/run.log
if [ "${TESTS:-1}" != 0 ]; then
  timeout ${TESTS_TIMEOUT:-150} $J -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar:src/main/resources:src/test/resources \
    ${TEST_SELECT:---select-class org.pariskv.device.DenseAttentionTest --select-class org.pariskv.device.DeviceDecoderTest --select-class org.pariskv.device.BoundInputsTest} \
    --details=tree --disable-banner > $P/tests.log 2>&1
  grep -E "✘|tests (successful|failed|aborted|found)" $P/tests.log | head -30 | tee -a $P/run.log
fi
for v in ${DENSE_VARIANTS:-phases:256 phases:512 rows:256 rows:512}; do  # kernel:chunk of the all-dense steps
  IFS=: read -r kern ch <<< "$v"
  echo "== one layer, dense=$kern chunk=$ch" | tee -a $P/run.log
  timeout 120 $J -Dpariskv.dense=$kern -Dpariskv.denseChunk=$ch -jar .device/pariskv.jar bench --device cuda --shape llama3-8b \
    --context ${LAYER_CONTEXTS:-131072} --batch ${LAYER_BATCHES:-1} --steps ${LAYER_STEPS:-30} --warmup 30 --out $P/layer-$kern-$ch 2>&1 | grep -v WARNING | grep -E "^\| [0-9]|full:" | tee -a $P/run.log
done
if [ "${NCU:-0}" != 0 ]; then  # registers, occupancy and DRAM throughput of the dense kernels (Nsight Compute)
  timeout 150 ncu --target-processes all --kernel-name "regex:^(denseAttention|denseAttentionStream|attentionCombine)$" --launch-skip 40 --launch-count 4 \
    --section LaunchStats --section Occupancy --section SpeedOfLight $J -jar .device/pariskv.jar bench --device cuda --shape llama3-8b \
    --context 131072 --batch 1 --steps 3 --warmup 20 --out $P/ncu-tmp > $P/ncu.txt 2>&1
  grep -E "denseAttention|attentionCombine|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|DRAM Throughput|Duration|Memory Throughput" $P/ncu.txt | head -60 | tee -a $P/run.log
  rm -rf $P/ncu-tmp
fi
if [ "${SWEEP:-0}" != 0 ]; then  # the matrix-vector kernels alone at the model's shapes (fused and not)
  timeout 150 $J -cp .device/test-classes:.device/pariskv.jar org.pariskv.model.GemvSweep cuda 2>&1 | grep -v WARNING | tee $P/gemv-sweep.md | tail -40 | tee -a $P/run.log
fi
# whole model, once per label:flags entry (';'-separated), e.g. "fused:;unfused:-Dpariskv.fuse=false"
IFS=';' read -ra MODELS <<< "${MODEL_VARIANTS:-default:}"
for mv in "${MODELS[@]}"; do
  label=${mv%%:*}; flags=${mv#*:}
  echo "== whole model ($label: $flags)" | tee -a $P/run.log
  timeout ${MODEL_TIMEOUT:-200} $J $flags -jar .device/pariskv.jar bench --device cuda --model llama3-8b --context ${MODEL_CONTEXTS:-131072} --batch ${MODEL_BATCH:-1} \
    --steps ${STEPS:-10} --warmup 3 --out $P/model-$label 2>&1 | grep -v WARNING | tail -60 | tee -a $P/run.log
done
tar czf "$OUT/probe.tgz" -C $P .
