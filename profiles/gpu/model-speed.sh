#!/usr/bin/env bash
# Whole-model decode speed at Llama-3.1-8B's shape on one GPU (issue 14): transformers + SDPA first (the baseline a
# user would pick), then `pariskv bench --model llama3-8b` with it beside ours, in the same device call.
# Expects .device/ from prepare.sh. Writes $OUT/model-speed.tgz (bench.json, bench.md, PNG, hf.json, logs).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/model-speed; rm -rf $W; mkdir -p $W
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
CONTEXTS=${CONTEXTS:-32768,131072}; B8=${B8:-32768}; STEPS=${STEPS:-20}
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(cat .device/COMMIT 2>/dev/null)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; } | tee $W/run.log
if [ "${SWEEP:-0}" != 0 ]; then  # the matrix-vector kernels alone at the model's shapes
  timeout 120 $J -cp .device/test-classes:.device/pariskv.jar org.pariskv.model.GemvSweep cuda 2>&1 | grep -v WARNING | tee $W/gemv-sweep.md | tee -a $W/run.log
fi
if [ "${HF:-1}" != 0 ]; then
  timeout ${HF_TIMEOUT:-240} python3 profiles/gpu/hf_baseline.py --model llama3-8b --contexts $CONTEXTS --batches 1 --steps $STEPS --out $W/hf.json 2>&1 | grep -v Warning | tail -8 | tee -a $W/run.log
fi
[ -n "${HF_JSON:-}" ] && [ ! -s $W/hf.json ] && cp "$HF_JSON" $W/hf.json  # a baseline measured earlier (HF=0)
BASE=""; [ -s $W/hf.json ] && BASE="--baseline $W/hf.json"
timeout ${OURS_TIMEOUT:-300} $J -jar .device/pariskv.jar bench --device cuda --model llama3-8b --context $CONTEXTS --batch 1 --steps $STEPS --warmup 5 $BASE --out $W/b1 2>&1 | tail -14 | tee -a $W/run.log
if [ -n "$B8" ]; then
  timeout ${B8_TIMEOUT:-200} $J -jar .device/pariskv.jar bench --device cuda --model llama3-8b --context $B8 --batch 8 --steps $STEPS --warmup 5 --out $W/b8 2>&1 | tail -8 | tee -a $W/run.log
fi
tar czf "$OUT/model-speed.tgz" -C $W .
