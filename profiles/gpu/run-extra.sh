#!/usr/bin/env bash
# Second GPU call of a session: the real-model trace dump (tiny random Llama, no download), reading it back
# with the Java trace reader, ParisKV quality on the device at 128K, and the million-token example.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
python3 examples/dump_trace.py --random-tiny --prompt-tokens 3000 --generate 16 --dtype bf16 --seed 0 \
    --out "$OUT/tiny-llama.safetensors" 2>&1 | tail -5
for m in oracle pariskv streaming; do
  $J -jar .device/pariskv.jar eval --trace "$OUT/tiny-llama.safetensors" --method $m --topk 100 --local 512 --device java --format json 2>&1 | tail -1
done
$J -jar .device/pariskv.jar eval --trace "$OUT/tiny-llama.safetensors" --method pariskv --topk 100 --device cuda --format json 2>&1 | tail -1
for t in llm drift; do
  $J -jar .device/pariskv.jar eval --trace $t --context 131072 --steps 16 --method pariskv --device cuda --format json 2>&1 | tail -1
done
$J -cp .device/pariskv.jar:.device/examples MillionTokenDecode 1048576 cuda 20 2>&1 | tail -2
