#!/usr/bin/env python3
"""Builds the summary table (markdown) from the run folders' results.csv."""
import csv, glob, os, sys
here = os.path.dirname(os.path.abspath(__file__))
def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))
order = ["llm-32768", "drift-32768", "needle-32768", "model-8192", "model-16384"]
out = ["| trace | context | configuration | mean k | recall@k | mass | error |", "|---|---:|---|---:|---:|---:|---:|"]
def line(tr, ctx, name, r):
    f = lambda k: "%.3f" % float(r[k]) if r[k] else "-"
    out.append(f"| {tr} | {ctx} | {name} | {float(r['mean_k']):.1f} | {f('recall_at_k')} | {f('attention_mass_recall')} | {f('output_rel_error')} |")
for run in order:
    d = os.path.join(here, run)
    if not os.path.isdir(d): continue
    tr, ctx = run.split("-")
    fixed = {(r["method"], r["budget"]): r for r in rows(os.path.join(d, "fixed-100", "results.csv"))}
    at = {(r["method"], r["budget"]): r for r in rows(os.path.join(d, "fixed-at-mean-k", "results.csv"))}
    line(tr, ctx, "(a) pariskv top-k 100", fixed[("pariskv", "100")])
    line(tr, ctx, "oracle top-k 100", fixed[("oracle", "100")])
    for tau in ("0.9", "0.95", "0.99"):
        if not os.path.isdir(os.path.join(d, f"adaptive-{tau}")): continue
        if tau == "0.99":  # run by hand afterwards, its fixed runs in their own folder (README)
            at.update({(r["method"], r["budget"]): r for r in rows(os.path.join(d, "fixed-at-mean-k-0.99", "results.csv"))})
        a = rows(os.path.join(d, f"adaptive-{tau}", "results.csv"))[0]
        k = str(int(float(a["mean_k"]) + 0.5))
        line(tr, ctx, f"(b) pariskv adaptive tau {tau}, k in [16, 400]", a)
        line(tr, ctx, f"pariskv fixed top-k {k} (same mean k)", at[("pariskv", k)])
        line(tr, ctx, f"(c) oracle top-k {k} (same mean k)", at[("oracle", k)])
print("\n".join(out))
