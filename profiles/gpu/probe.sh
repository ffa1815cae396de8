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
for dk in true false; do
  echo "== one layer, 128K, denseKernel=$dk" | tee -a $P/run.log
  timeout 120 $J -Dpariskv.denseKernel=$dk -jar .device/pariskv.jar bench --device cuda --shape llama3-8b --context ${LAYER_CONTEXTS:-131072} --batch ${LAYER_BATCHES:-1} \
    --steps 50 --warmup 100 --out $P/layer-dense-$dk 2>&1 | grep -v WARNING | tail -8 | tee -a $P/run.log
  [ "${LAYER_ONLY_ONE:-0}" != 0 ] && break
done
echo "== whole model" | tee -a $P/run.log
timeout ${MODEL_TIMEOUT:-200} $J ${MODEL_FLAGS:-} -jar .device/pariskv.jar bench --device cuda --model llama3-8b --context ${MODEL_CONTEXTS:-131072} --batch ${MODEL_BATCH:-1} \
  --steps ${STEPS:-10} --warmup 3 --out $P/model 2>&1 | grep -v WARNING | tail -60 | tee -a $P/run.log
tar czf "$OUT/probe.tgz" -C $P .
