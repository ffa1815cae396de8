#!/usr/bin/env bash
# Issue 12's speed comparison in one device call: the decode bench with the hand-written kernels (tasks/pariskv.c,
# -Dpariskv.kernels=c) and with the Java kernels translated at run time (-Dpariskv.kernels=java), same build, same
# machine, interleaved per configuration. Then the Java kernels' device tests on CUDA / NVIDIA OpenCL.
# Expects .device/ from prepare.sh. Env: CONFIGS ("label:bench flags;..."), STEPS, WARMUP, TESTS (0 skips them).
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
} | tee -a "$LOG"
IFS=';' read -ra configs <<< "${CONFIGS:-b1:--gqa mean --context 32768,131072 --batch 1;b8:--gqa mean --context 32768,131072 --batch 8}"
mkdir -p "$OUT/json"
for c in "${configs[@]}"; do
  label=${c%%:*}; flags=${c#*:}
  for rep in $(seq 1 ${REPS:-1}); do   # c, java, c, java, ...: drift of the machine falls on both
    for k in c java; do
      echo "== bench $label kernels=$k rep $rep ($flags)" | tee -a "$LOG"
      $J -Dpariskv.kernels=$k -jar .device/pariskv.jar bench --device cuda --shape llama3-8b --steps ${STEPS:-100} --warmup ${WARMUP:-500} $flags \
         --out "$OUT/b-$label-$k" 2>&1 | tail -12 | tee -a "$LOG"
      mv "$OUT/b-$label-$k/bench.json" "$OUT/json/bench-$label-$k-$rep.json" 2>/dev/null; rm -rf "$OUT/b-$label-$k"
    done
  done
done
tar -C "$OUT" -czf "$OUT/bench-json.tgz" json && rm -rf "$OUT/json"
if [ "${TESTS:-1}" != 0 ]; then
  for k in java; do
    echo "== device tests, kernels=$k" | tee -a "$LOG"
    $J -Dpariskv.kernels=$k -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar \
       --select-class org.pariskv.compute.jit.SpecialisationTest --select-class org.pariskv.device.DecodeKernelsTest \
       --select-class org.pariskv.compute.jit.SubsetTranslationTest --select-class org.pariskv.device.DeviceDecoderTest \
       ${EXTRA_TESTS:-} --details=summary --disable-banner 2>&1 | grep -v "^\s*at \|^\s*org\.junit\|^\s*java\." | tail -40 | tee -a "$LOG"
  done
fi
