#!/usr/bin/env bash
# ParisKV quality on the CPU (java engine) at 32K: defaults, the reference configuration and the knobs that
# matter, on the llm and drift traces. Writes profiles/results/quality-cpu-32k.{jsonl,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=profiles/results/quality-cpu-32k
: > $out.jsonl
run() { # label, args...
  local label=$1; shift
  ./pariskv eval --device java --context 32768 --steps ${STEPS:-16} --topk 100 --format json "$@" 2>/dev/null \
    | python3 -c "import json,sys; d=json.load(sys.stdin); d['label']='$label'; print(json.dumps(d))" >> $out.jsonl
}
for t in llm drift; do
  run "oracle (exact top-100, per-head)" --trace $t --method oracle
  run "pariskv defaults (per-head GQA, centred keys)" --trace $t --method pariskv
  run "pariskv reference (group mean, no centring)" --trace $t --method pariskv --gqa mean --no-center-keys
  run "pariskv group mean, centred" --trace $t --method pariskv --gqa mean
  run "pariskv per-head, no centring" --trace $t --method pariskv --no-center-keys
  run "pariskv candidate ratio 0.3" --trace $t --method pariskv --candidate-ratio 0.3
  run "pariskv candidate ratio 1.0 (rerank only)" --trace $t --method pariskv --candidate-ratio 1.0
done
python3 - "$out" <<'PY'
import json, sys, subprocess, datetime
out = sys.argv[1]
rows = [json.loads(l) for l in open(out + ".jsonl")]
commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"]).decode().strip()
with open(out + ".md", "w") as f:
    f.write(f"# ParisKV quality on the CPU at 32K ({datetime.date.today()}, commit {commit})\n\n")
    f.write("Command: `bash profiles/quality-cpu.sh` (java engine, 2-core CPU, no GPU; llama3-8b layer shape, 1 layer, "
            f"{rows[0]['steps']} decode steps, top-k 100, sink 4, local 512).\n\n")
    f.write("| trace | configuration | recall@100 | attention-mass recall | output rel. error |\n|---|---|---:|---:|---:|\n")
    for r in rows:
        f.write(f"| {r['trace']} | {r['label']} | {r['recall_at_k']:.3f} | {r['attention_mass_recall']:.3f} | {r['output_rel_error']:.3f} |\n")
PY
cat $out.md
