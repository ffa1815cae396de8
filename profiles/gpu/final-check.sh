#!/usr/bin/env bash
# One device call for the end of a session: the matrix-vector sweep and whole-model speed (model-speed.sh), the Java
# kernels against the C at 128K batch 1 (jit-compare.sh, one rep), and the CUDA rows of the kernel and model tests
# under -Dpariskv.kernels=java. Expects .device/ from prepare.sh; writes $OUT/final.tgz.
set -uo pipefail
OUT=${OUT:-/tmp/out}; F=/tmp/final; rm -rf $F; mkdir -p $F
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
OUT=$F SWEEP=1 HF=${HF:-0} HF_JSON=${HF_JSON:-.device/hf.json} timeout 330 bash profiles/gpu/model-speed.sh > $F/model-speed.log 2>&1
OUT=$F/jit STEPS=100 WARMUP=300 TESTS=0 REPS=1 CONFIGS="b1:--gqa mean --context 131072 --batch 1" timeout 120 bash profiles/gpu/jit-compare.sh > $F/jit.log 2>&1
timeout 150 $J -Dpariskv.kernels=java -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar:src/main/resources:src/test/resources \
  --select-class org.pariskv.device.AttentionKernelsTest --select-class org.pariskv.compute.jit.SubsetTranslationTest \
  --select-class org.pariskv.compute.jit.SpecialisationTest --select-class org.pariskv.device.BoundInputsTest \
  --select-class org.pariskv.model.ModelKernelsTest --select-class org.pariskv.model.DeviceLlamaCudaTest \
  --details=tree --disable-banner > $F/tests.log 2>&1
grep -E "✘|tests (successful|failed|aborted|found)" $F/tests.log | head -30
tar czf "$OUT/final.tgz" -C $F .
