#!/usr/bin/env bash
# Everything measured on the GPU machine in one call (see profiles/gpu/README.md):
#   device listing and smoke check, device-vs-Java equivalence tests on CUDA and NVIDIA OpenCL,
#   the decode bench (ParisKV vs full attention) and the PyTorch SDPA anchor.
# Expects .device/ (jlink'd JRE, pariskv.jar, junit console launcher, test classes) — see prepare.sh.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
{
  echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
} | tee "$OUT/machine.txt"
$J -jar .device/pariskv.jar devices 2>&1 | tee "$OUT/devices.txt"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  $J -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar \
     --select-class org.pariskv.device.DeviceDecoderTest --select-class org.pariskv.compute.cuda.CudaBackendTest \
     --details=summary --disable-banner 2>&1 | tail -25 | tee "$OUT/equivalence.txt"
fi
for spec in ${BENCH_DEVICES:-cuda}; do
  $J -jar .device/pariskv.jar bench --device "$spec" --profile llama3-8b --context ${CONTEXTS:-32768,131072} \
     --batch ${BATCHES:-1,8} --steps ${STEPS:-50} --warmup 10 --gqa ${GQA:-per-head} --out "$OUT/bench-${spec/:/}-${GQA:-per-head}" 2>&1 | tail -20
done
if [ -n "${LONG_CONTEXT:-}" ]; then
  $J -jar .device/pariskv.jar bench --device cuda --profile llama3-8b --context "$LONG_CONTEXT" --batch 1 --steps ${STEPS:-50} \
     --warmup 10 --gqa ${GQA:-per-head} --out "$OUT/bench-cuda-long-${GQA:-per-head}" 2>&1 | tail -8
fi
python3 profiles/gpu/sdpa_anchor.py --contexts ${CONTEXTS:-32768,131072} --batch ${BATCHES:-1,8} 2>&1 | tee "$OUT/sdpa.jsonl"
