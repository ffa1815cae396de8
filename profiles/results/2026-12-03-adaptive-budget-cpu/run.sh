#!/usr/bin/env bash
# Adaptive top-k budget (issue 15) against fixed top-k at the same average budget, CPU (Java engine).
# Usage: bash profiles/results/2026-12-03-adaptive-budget-cpu/run.sh [trace:context[:layers] ...]
set -euo pipefail
OUT=profiles/results/2026-12-03-adaptive-budget-cpu
STEPS=${STEPS:-16}
RUNS=${*:-"llm:32768:1 drift:32768:1 needle:32768:1 model:8192:4 model:16384:4"}
C="./pariskv compare --no-plots --no-warmup --steps $STEPS --format text"
for run in $RUNS; do
  IFS=: read -r trace ctx layers <<<"$run"
  d=$OUT/$trace-$ctx
  mkdir -p "$d"
  echo "== $trace $ctx (layers $layers, $STEPS steps) $(date -u +%T)"
  # (a) today's ParisKV and the oracle at top-k 100
  $C --trace "$trace" --contexts "$ctx" --layers "$layers" --budgets 100 --methods pariskv,oracle --out "$d/fixed-100" >/dev/null
  ks=""
  for tau in 0.9 0.95; do
    # (b) adaptive budget, cap 400, floor 16 (--budgets only labels the run)
    $C --trace "$trace" --contexts "$ctx" --layers "$layers" --budgets 100 --methods pariskv \
       --adaptive-mass "$tau" --topk-max 400 --topk-min 16 --out "$d/adaptive-$tau" >/dev/null
    k=$(awk -F, 'NR==2 {printf "%d", $NF + 0.5}' "$d/adaptive-$tau/results.csv")
    echo "   tau $tau: mean k $k"
    ks="$ks${ks:+,}$k"
  done
  # (c) oracle and fixed ParisKV at the adaptive runs' average k (same average budget)
  ks=$(echo "$ks" | tr , '\n' | sort -nu | paste -sd,)
  $C --trace "$trace" --contexts "$ctx" --layers "$layers" --budgets "$ks" --methods pariskv,oracle --out "$d/fixed-at-mean-k" >/dev/null
done
echo "done $(date -u +%T)"
