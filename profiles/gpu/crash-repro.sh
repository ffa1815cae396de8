#!/usr/bin/env bash
# Reproduces the SIGSEGVs of 2026-12-03 (profiles/results/2026-12-03-h200-java-kernels/README.md) with everything a
# diagnosis needs: core dumps, hs_err files, launch-by-launch logs, and the variants that tell the causes apart.
# Expects .device/ from prepare.sh. Each case: its own log in $OUT/crash-<case>.log and its exit code.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
ulimit -c unlimited 2>/dev/null
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so  # signal chaining (README: the JVM and LLVM's signal handlers)
J=".device/jre/bin/java -XX:ErrorFile=$OUT/hs_err_%p.log -Xlog:os+thread=off --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
M=src/main/resources/model/pariskv-byte
head -c 2048 $M/heldout.txt > /tmp/p2k.txt; head -c 8192 $M/heldout.txt > /tmp/p8k.txt
run() { local name=$1; shift; timeout 120 "$@" > "$OUT/crash-$name.log" 2>&1; echo "$name rc=$?" | tee -a "$OUT/crash.log"; tail -3 "$OUT/crash-$name.log" >> "$OUT/crash.log"; }
run devices $J -jar .device/pariskv.jar devices
run gen-full-2k $J -jar .device/pariskv.jar generate --device cuda --model $M --method full --prompt-file /tmp/p2k.txt --max-tokens 32 --format json
run gen-pariskv-8k $J -jar .device/pariskv.jar generate --device cuda --model $M --method pariskv --prompt-file /tmp/p8k.txt --max-tokens 32 --format json
run gen-pariskv-2k $J -jar .device/pariskv.jar generate --device cuda --model $M --method pariskv --prompt-file /tmp/p2k.txt --max-tokens 32 --format json
run gen-pariskv-2k-debug $J -Dpariskv.debugLaunches=true -jar .device/pariskv.jar generate --device cuda --model $M --method pariskv --prompt-file /tmp/p2k.txt --max-tokens 32 --format json
run gen-pariskv-2k-opencl $J -jar .device/pariskv.jar generate --device opencl:0 --model $M --method pariskv --prompt-file /tmp/p2k.txt --max-tokens 32 --format json
run spec-cuda $J -jar .device/junit.jar execute -cp .device/test-classes:.device/pariskv.jar --select-method 'org.pariskv.compute.jit.SpecialisationTest#warpShufflesAgreeWithTheLocalMemoryPath(java.lang.String)' --details=verbose --disable-banner
ls -la "$OUT" | tee -a "$OUT/crash.log"; ls core* 2>/dev/null | tee -a "$OUT/crash.log"
