#!/usr/bin/env python3
"""The baseline a user would pick: Hugging Face transformers with SDPA full attention, decoding Llama-3.1-8B (or
Qwen3-8B) with random bf16 weights on one GPU, at the contexts and batches `pariskv bench --model` measures.

Prefill is chunked (the DynamicCache grows chunk by chunk, only the last position's logits are computed); then
`--steps` greedy decode steps are timed one by one with the GPU synchronised, and the median is reported.
Writes JSON that `pariskv bench --model ... --baseline FILE` reads: {"name", "points": [{"context", "batch",
"ms_per_token", ...}]}. Run only on the GPU machine (PyTorch is never a dependency of the product).

    python3 profiles/gpu/hf_baseline.py --model llama3-8b --contexts 32768,131072 --batches 1 --out hf.json
"""
import argparse
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

CONFIGS = {
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-5, rope_theta=500000.0, vocab_size=128256,
                      max_position_embeddings=131072, tie_word_embeddings=False,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama3-8b", choices=sorted(CONFIGS))
    ap.add_argument("--contexts", default="32768,131072")
    ap.add_argument("--batches", default="1")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--chunk", type=int, default=8192)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    cfg = LlamaConfig(**CONFIGS[a.model], attn_implementation="sdpa")
    torch.manual_seed(0)
    t0 = time.time()
    torch.set_default_dtype(torch.bfloat16)
    with dev:
        model = LlamaForCausalLM(cfg)
    model.eval()
    print(f"random {a.model} built on the GPU in {time.time() - t0:.1f} s, "
          f"{sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters", flush=True)
    points = []
    for batch in [int(b) for b in a.batches.split(",")]:
        for ctx in [int(c) for c in a.contexts.split(",")]:
            prompt = ctx - a.steps - 1
            cache = transformers.DynamicCache()
            ids = torch.randint(0, cfg.vocab_size, (batch, prompt), device=dev)
            t0 = time.time()
            try:
                with torch.no_grad():
                    out = None
                    for s in range(0, prompt, a.chunk):
                        out = model(input_ids=ids[:, s:s + a.chunk], past_key_values=cache, use_cache=True, logits_to_keep=1)
                    torch.cuda.synchronize()
                    prefill = time.time() - t0
                    token = out.logits[:, -1:].argmax(-1)
                    times = []
                    for _ in range(a.steps):
                        torch.cuda.synchronize()
                        t = time.perf_counter()
                        out = model(input_ids=token, past_key_values=cache, use_cache=True)
                        token = out.logits[:, -1:].argmax(-1)
                        torch.cuda.synchronize()
                        times.append((time.perf_counter() - t) * 1e3)
            except torch.cuda.OutOfMemoryError as e:
                print(f"context {ctx}, batch {batch}: out of memory ({e})", flush=True)
                del cache
                torch.cuda.empty_cache()
                continue
            ms = statistics.median(times)
            p = dict(context=ctx, batch=batch, ms_per_token=ms, best_ms=min(times), tokens_per_s=batch * 1e3 / ms,
                     prefill_s=prefill, steps=a.steps, peak_gib=torch.cuda.max_memory_allocated() / 2**30)
            print(json.dumps(p), flush=True)
            points.append(p)
            del cache, out
            torch.cuda.empty_cache()
    res = dict(name="transformers SDPA", model=a.model, torch=torch.__version__, transformers=transformers.__version__,
               device=torch.cuda.get_device_name(0), date=time.strftime("%Y-%m-%d"), command=" ".join(sys.argv), points=points)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
