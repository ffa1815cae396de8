#!/usr/bin/env python3
"""Markdown table of a JMH JSON from profiles/jmh.sh: per benchmark and size, scalar vs vector in ns per item
(key / candidate / row: the score divided by the size parameter n, m or rows), and the speedup scalar/vector."""
import json, sys

SIZE = ("n", "m", "rows")
runs = json.load(open(sys.argv[1]))
cells = {}
for r in runs:
    name = r["benchmark"].rsplit(".", 1)[1]
    p = r.get("params", {})
    key = next(k for k in SIZE if k in p)
    size = int(p[key])
    unit = r["primaryMetric"]["scoreUnit"]
    scale = {"us/op": 1e3, "ns/op": 1.0, "ms/op": 1e6}[unit]
    per = r["primaryMetric"]["score"] * scale / size
    e = r["primaryMetric"]["scoreError"]
    err = float(e) * scale / size if e != "NaN" else float("nan")
    cells.setdefault((name, f"{key}={size}"), {})[p.get("impl", "scalar")] = (per, err)

print("| benchmark | size | scalar ns/item | vector ns/item | speedup |")
print("|---|---|---:|---:|---:|")
for (name, size), v in cells.items():
    s, p = v.get("scalar"), v.get("panama")
    fmt = lambda c: "—" if c is None else f"{c[0]:.2f} ± {c[1]:.2f}"
    sp = f"{s[0] / p[0]:.2f}×" if s and p else "—"
    print(f"| {name} | {size} | {fmt(s)} | {fmt(p)} | {sp} |")
