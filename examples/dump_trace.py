#!/usr/bin/env python3
"""Dump a ParisKV decode trace (safetensors, format pariskv-trace/1) from a Hugging Face causal LM.

The trace holds, per dumped layer, post-RoPE queries of the decode steps and post-RoPE keys and values
of every token (see docs/traces.md, "File format"):

  layers.{l}.q  [steps, Hq, D]     query of decode step s (token prompt_tokens + s)
  layers.{l}.k  [tokens, Hkv, D]   tokens = prompt_tokens + steps
  layers.{l}.v  [tokens, Hkv, D]
  __metadata__: format=pariskv-trace/1, prompt_tokens, name, model, source_layers, ...

Decode semantics (as in org.pariskv.trace.Trace): the prompt (P tokens) is prefilled; then step s feeds
token x_s at position P + s (x_0 = greedy continuation of the prompt, x_{s+1} = greedy after x_s), so its
K/V row is appended and its query attends to tokens [0, P + s + 1). --generate N gives N steps.

Capture: a forward pre-hook (with kwargs) on every attention module recomputes q/k/v from the module's
own projections (and q_norm/k_norm where present, e.g. Qwen3) and applies the module's own
apply_rotary_pos_emb with the position_embeddings=(cos, sin) the decoder layer passes in. Written for
transformers >= 4.48 Llama/Qwen2/Qwen3/Mistral attention (forward(hidden_states, position_embeddings,
attention_mask, ...)); tested shapes only, not every architecture. The attention itself is untouched.

Examples:
  python examples/dump_trace.py --random-tiny --prompt-tokens 4096 --generate 16 --out tiny.safetensors
  ./pariskv eval --trace tiny.safetensors
  python examples/dump_trace.py --model meta-llama/Llama-3.1-8B-Instruct --prompt-file book.txt \\
      --prompt-tokens 32000 --generate 32 --layers 0,8,16,24,31 --dtype bf16 --out llama8b.safetensors
  ./pariskv eval --trace llama8b.safetensors --method oracle --topk 100

Requires torch, transformers and safetensors (pip install torch transformers safetensors).
"""
import argparse
import json
import sys

import torch


def parse_layers(spec, n_layers):
    """'all' | '0,8,16' | '0-3,31' -> sorted unique layer indices."""
    if spec is None or spec == "all":
        return list(range(n_layers))
    out = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    bad = [l for l in out if l < 0 or l >= n_layers]
    if bad:
        raise SystemExit(f"--layers: {bad} out of range (model has {n_layers} layers)")
    return sorted(out)


def find_attention_modules(model):
    """The self-attention module of every decoder layer, in layer order."""
    layers = None
    for path in ("model.layers", "model.model.layers", "transformer.h"):
        obj = model
        try:
            for name in path.split("."):
                obj = getattr(obj, name)
            layers = obj
            break
        except AttributeError:
            continue
    if layers is None:
        raise SystemExit("cannot find the decoder layers (expected model.model.layers)")
    attn = []
    for i, layer in enumerate(layers):
        a = getattr(layer, "self_attn", None)
        if a is None:
            raise SystemExit(f"decoder layer {i} has no self_attn")
        attn.append(a)
    return attn


class Capture:
    """Forward pre-hook state: per dumped layer, lists of K/V rows and decode queries (on the CPU)."""

    def __init__(self, layer_ids):
        self.layer_ids = layer_ids
        self.phase = "prefill"
        self.q = {l: [] for l in layer_ids}
        self.k = {l: [] for l in layer_ids}
        self.v = {l: [] for l in layer_ids}
        self.scaling = {}

    def hook(self, layer_id, module):
        rope = getattr(sys.modules[type(module).__module__], "apply_rotary_pos_emb", None)
        if rope is None:
            raise SystemExit(f"{type(module).__module__} has no apply_rotary_pos_emb; unsupported architecture")

        def pre_hook(mod, args, kwargs):
            hs = kwargs.get("hidden_states", args[0] if len(args) > 0 else None)
            pe = kwargs.get("position_embeddings", args[1] if len(args) > 1 else None)
            if hs is None or pe is None:
                raise SystemExit("attention forward got no hidden_states/position_embeddings "
                                 "(needs transformers >= 4.48 Llama/Qwen2-style attention)")
            cos, sin = pe
            head_dim = getattr(mod, "head_dim", None) or mod.config.hidden_size // mod.config.num_attention_heads
            with torch.no_grad():
                shape = (*hs.shape[:-1], -1, head_dim)          # [B, T, H, D]
                q = mod.q_proj(hs).view(shape)
                k = mod.k_proj(hs).view(shape)
                v = mod.v_proj(hs).view(shape)
                if getattr(mod, "q_norm", None) is not None:      # Qwen3: per-head RMSNorm before RoPE
                    q = mod.q_norm(q)
                if getattr(mod, "k_norm", None) is not None:
                    k = mod.k_norm(k)
                q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, T, D]
                q, k = rope(q, k, cos, sin)
                # batch 1: [H, T, D] -> [T, H, D]
                k_rows = k[0].transpose(0, 1).float().cpu()
                v_rows = v[0].transpose(0, 1).float().cpu()
                self.k[layer_id].append(k_rows)
                self.v[layer_id].append(v_rows)
                if self.phase == "decode":
                    self.q[layer_id].append(q[0].transpose(0, 1).float().cpu())
            self.scaling[layer_id] = float(getattr(mod, "scaling", head_dim ** -0.5))
            return None

        return module.register_forward_pre_hook(pre_hook, with_kwargs=True)


def load_model(args, device, torch_dtype):
    from transformers import AutoModelForCausalLM
    if args.random_tiny:
        from transformers import LlamaConfig, LlamaForCausalLM
        torch.manual_seed(args.seed)
        cfg = LlamaConfig(vocab_size=1000, hidden_size=512, intermediate_size=1024, num_hidden_layers=2,
                          num_attention_heads=8, num_key_value_heads=2, head_dim=64,
                          max_position_embeddings=max(4096, args.prompt_tokens + args.generate + 8),
                          rope_theta=10000.0, tie_word_embeddings=False)
        try:
            cfg._attn_implementation = "eager"
        except Exception:
            pass
        model = LlamaForCausalLM(cfg)
        return model.to(device=device, dtype=torch_dtype).eval(), None, "random-tiny-llama"
    if not args.model:
        raise SystemExit("give --model NAME_OR_PATH or --random-tiny")
    try:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch_dtype)       # transformers >= 4.56
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch_dtype)
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.model)
    return model.to(device).eval(), tok, args.model


def prompt_ids(args, tok, vocab, device):
    gen = torch.Generator().manual_seed(args.seed)
    text = None
    if args.prompt_file:
        with open(args.prompt_file, encoding="utf-8") as f:
            text = f.read()
    elif args.prompt:
        text = args.prompt
    if text is not None and tok is not None:
        ids = tok(text, return_tensors="pt").input_ids[0]
        if ids.numel() < args.prompt_tokens:
            raise SystemExit(f"prompt has {ids.numel()} tokens, fewer than --prompt-tokens {args.prompt_tokens}")
        ids = ids[: args.prompt_tokens]
    else:
        if tok is not None:
            print("warning: no --prompt/--prompt-file: random token ids (attention on them is not typical)",
                  file=sys.stderr)
        ids = torch.randint(0, vocab, (args.prompt_tokens,), generator=gen)
    return ids.unsqueeze(0).to(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="Hugging Face model name or local path")
    ap.add_argument("--random-tiny", action="store_true",
                    help="tiny random Llama (2 layers, hidden 512, 8 heads, 2 KV heads, head_dim 64, vocab 1000); no download")
    # 4096: above ParisKV's dense threshold (2000 tokens) with a retrieval zone (P + N - 4 sink - 512 local) of
    # thousands of tokens, so `pariskv eval --trace FILE` runs sparse steps at its default top-k of 100
    ap.add_argument("--prompt-tokens", type=int, default=4096, help="prompt length P (default 4096)")
    ap.add_argument("--generate", type=int, default=16, help="greedy decode steps N (default 16)")
    ap.add_argument("--prompt", help="prompt text (tokenised, truncated to --prompt-tokens)")
    ap.add_argument("--prompt-file", help="file with the prompt text")
    ap.add_argument("--layers", default="all", help="layers to dump: all | 0,8,16 | 0-3,31 (renumbered 0..L-1)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"], help="dtype of the stored tensors")
    ap.add_argument("--model-dtype", default=None, choices=["f32", "bf16", "f16"],
                    help="dtype the model runs in (default: bf16 on GPU, f32 on CPU; f32 for --random-tiny)")
    ap.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    ap.add_argument("--name", default=None, help="trace name (default: the output file stem)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output .safetensors path")
    args = ap.parse_args()
    if args.prompt_tokens < 1 or args.generate < 1:
        raise SystemExit("--prompt-tokens and --generate must be >= 1")

    from safetensors.torch import save_file

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    md = args.model_dtype or ("f32" if args.random_tiny or device.type == "cpu" else "bf16")
    torch_dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[md]
    torch.manual_seed(args.seed)

    model, tok, model_name = load_model(args, device, torch_dtype)
    attn = find_attention_modules(model)
    layer_ids = parse_layers(args.layers, len(attn))
    cap = Capture(layer_ids)
    handles = [cap.hook(l, attn[l]) for l in layer_ids]

    vocab = model.config.vocab_size
    ids = prompt_ids(args, tok, vocab, device)
    generated = []
    with torch.no_grad():
        cap.phase = "prefill"
        out = model(input_ids=ids, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        cap.phase = "decode"
        for _ in range(args.generate):
            generated.append(int(nxt[0, 0]))
            out = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    for h in handles:
        h.remove()

    store = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    tensors = {}
    P, N = args.prompt_tokens, args.generate
    for new_l, l in enumerate(layer_ids):
        k = torch.cat(cap.k[l], dim=0)
        v = torch.cat(cap.v[l], dim=0)
        q = torch.cat(cap.q[l], dim=0)
        if k.shape[0] != P + N or q.shape[0] != N:
            raise SystemExit(f"layer {l}: captured {k.shape[0]} K rows and {q.shape[0]} queries, "
                             f"expected {P + N} and {N} (did the model call attention as expected?)")
        for name, t in (("q", q), ("k", k), ("v", v)):
            if not torch.isfinite(t).all():
                raise SystemExit(f"layer {l}: non-finite values in {name}")
            tensors[f"layers.{new_l}.{name}"] = t.to(store).contiguous()

    d = tensors["layers.0.q"].shape[-1]
    scalings = sorted(set(round(s, 8) for s in cap.scaling.values()))
    if any(abs(s - d ** -0.5) > 1e-6 for s in scalings):
        print(f"warning: attention scaling {scalings} differs from 1/sqrt(D) = {d ** -0.5:.6f}; "
              "ParisKV scores with 1/sqrt(D)", file=sys.stderr)
    name = args.name or args.out.rsplit("/", 1)[-1].removesuffix(".safetensors")
    meta = {
        "format": "pariskv-trace/1",
        "prompt_tokens": str(P),
        "name": name,
        "model": model_name,
        "source_layers": json.dumps(layer_ids),
        "model_dtype": md,
        "seed": str(args.seed),
        "attn_scaling": json.dumps(scalings),
        "generated_ids": json.dumps(generated),
    }
    save_file(tensors, args.out, metadata=meta)

    q0, k0 = tensors["layers.0.q"], tensors["layers.0.k"]
    print(f"wrote {args.out}")
    print(f"  model {model_name}, layers {layer_ids} -> 0..{len(layer_ids) - 1}, dtype {args.dtype}")
    print(f"  q [steps={q0.shape[0]}, Hq={q0.shape[1]}, D={q0.shape[2]}], "
          f"k/v [tokens={k0.shape[0]}, Hkv={k0.shape[1]}, D={k0.shape[2]}], prompt_tokens={P}")


if __name__ == "__main__":
    main()
