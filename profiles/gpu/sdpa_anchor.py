"""External anchor for `pariskv bench`: PyTorch scaled_dot_product_attention decode over the whole context.

One layer, one new query token per sequence, GQA (Hq query heads over Hkv KV heads), bf16 K/V on the GPU,
timed with CUDA events (median of many launches after warm-up). Prints one JSON object per (context, batch).
Usage: python3 sdpa_anchor.py --contexts 32768,131072 --batch 1,8 [--hq 32 --hkv 8 --d 128]
"""
import argparse, json, statistics
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--contexts", default="32768,131072")
p.add_argument("--batch", default="1,8")
p.add_argument("--hq", type=int, default=32)
p.add_argument("--hkv", type=int, default=8)
p.add_argument("--d", type=int, default=128)
p.add_argument("--iters", type=int, default=100)
a = p.parse_args()
dev = torch.device("cuda")
for n in map(int, a.contexts.split(",")):
    for b in map(int, a.batch.split(",")):
        q = torch.randn(b, a.hq, 1, a.d, device=dev, dtype=torch.bfloat16)
        k = torch.randn(b, a.hkv, n, a.d, device=dev, dtype=torch.bfloat16)
        v = torch.randn(b, a.hkv, n, a.d, device=dev, dtype=torch.bfloat16)
        for _ in range(10):
            F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        torch.cuda.synchronize()
        times = []
        for _ in range(a.iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        ms = statistics.median(times)
        gb = 2 * b * a.hkv * n * a.d * 2 / 1e9
        print(json.dumps({"anchor": "torch.sdpa", "context": n, "batch": b, "ms": round(ms, 4),
                          "kv_gbytes": round(gb, 3), "gbps": round(gb / (ms / 1e3), 1),
                          "torch": torch.__version__, "device": torch.cuda.get_device_name()}), flush=True)
        del q, k, v
        torch.cuda.empty_cache()
