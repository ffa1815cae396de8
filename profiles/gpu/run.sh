#!/usr/bin/env bash
# Everything measured on the GPU machine in one call (README "Reproducing the GPU numbers"):
# device listing, device-vs-Java equivalence tests on CUDA and NVIDIA OpenCL, the decode bench (ParisKV vs full
# attention) per configuration, and the PyTorch SDPA anchor. Text goes to $OUT/run.log, bench JSON to
# $OUT/bench-<label>.json (the device tool returns at most 8 files).
# Expects .device/ from prepare.sh. Env: CONFIGS ("label:bench flags;..."), STEPS, WARMUP, CONTEXTS/BATCHES (SDPA anchor), SKIP_TESTS,
# EXTRA_TESTS (more --select-class ... arguments), TESTS_ONLY=1 (stop after the tests).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG="$OUT/run.log"
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
{
  echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $J -jar .device/pariskv.jar devices 2>&1
} | tee -a "$LOG"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  $J -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar \
     --select-class org.pariskv.device.DeviceDecoderTest --select-class org.pariskv.compute.cuda.CudaBackendTest \
     --select-class org.pariskv.compute.HostMappedBufferTest --select-class org.pariskv.device.DecodeTwinsTest --select-class org.pariskv.device.StagedKvTest \
     --select-class org.pariskv.device.HostKvStoreTest --select-class org.pariskv.device.SegmentedKvTest \
     --select-class org.pariskv.compute.graph.TaskGraphReplayTest ${EXTRA_TESTS:-} \
     --details=summary --disable-banner 2>&1 | grep -v "^\s*at \|^\s*org\.\|^\s*java\." | tail -30 | tee -a "$LOG"
fi
[ "${TESTS_ONLY:-0}" = 1 ] && exit 0
# each config: label:bench flags (contexts and batches included)
IFS=';' read -ra configs <<< "${CONFIGS:-per-head:--gqa per-head --context 32768,131072 --batch 1,8;mean:--gqa mean --context 32768,131072 --batch 1,8}"
for c in "${configs[@]}"; do
  label=${c%%:*}; flags=${c#*:}
  echo "== bench $label ($flags)" | tee -a "$LOG"
  dev="--device cuda"; [[ "$flags" == *--device* ]] && dev=""   # a config may name its own device (e.g. NVIDIA OpenCL)
  $J -jar .device/pariskv.jar bench $dev --shape llama3-8b --steps ${STEPS:-50} --warmup ${WARMUP:-200} $flags \
     --out "$OUT/b-$label" 2>&1 | tail -20 | tee -a "$LOG"
  mv "$OUT/b-$label/bench.json" "$OUT/bench-$label.json" 2>/dev/null; rm -rf "$OUT/b-$label"
done
python3 profiles/gpu/sdpa_anchor.py --contexts ${CONTEXTS:-32768,131072} --batch ${BATCHES:-1,8} 2>&1 | tee -a "$LOG"
