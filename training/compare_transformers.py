"""Reference output of the bundled model from transformers, for the Java decoder to compare with.

    python3 training/compare_transformers.py --model OUT/model --out OUT/reference.safetensors

Loads the bf16 checkpoint upcast to float32, runs a deterministic prompt (BOS + the passkey task of
tasks.py at target length 2048, seed 1234, depth 0.5; the sentence-boundary cut makes it 2047 bytes,
its exact length is in the metadata and the tensor shapes), takes the logits at every position, and
greedy-decodes exactly 256 bytes with full attention (no stop at '\\n'). Writes one safetensors file:
  input_ids  I32 [L]        the prompt bytes, BOS first
  logits     F32 [L][256]   logits at every prompt position (position i predicts byte i+1)
  greedy_ids I32 [256]      the greedy continuation
metadata: torch/transformers versions, dtype, device, attention implementation, prompt length, seed.
"""
import argparse
import os
import random
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="dir with config.json + model.safetensors")
p.add_argument("--out", required=True, help="output .safetensors file")
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--attn", default="eager", choices=["eager", "sdpa"])
p.add_argument("--length", type=int, default=2048)
p.add_argument("--seed", type=int, default=1234)
p.add_argument("--steps", type=int, default=256)
args = p.parse_args()

# float32 everywhere, no TF32: this is the reference, it should be as exact as the hardware allows
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation=args.attn)
model.to(args.device).eval()
print("loaded", args.model, "dtype", next(model.parameters()).dtype, "attn", model.config._attn_implementation,
      "device", args.device, flush=True)

prompt, answer = tasks.passkey(args.length, random.Random(args.seed), depth=0.5)
ids = torch.tensor([list(prompt)], dtype=torch.long, device=args.device)

with torch.no_grad():
    out = model(input_ids=ids, use_cache=True)
    logits = out.logits[0].float()                       # [L, 256]
    past = out.past_key_values
    nxt = int(logits[-1].argmax())
    greedy = []
    for _ in range(args.steps):                          # exactly `steps` bytes, '\n' included
        greedy.append(nxt)
        o = model(input_ids=torch.tensor([[nxt]], device=args.device), past_key_values=past, use_cache=True)
        past = o.past_key_values
        nxt = int(o.logits[0, -1].argmax())

tensors = {
    "input_ids": ids[0].to(torch.int32).cpu().contiguous(),
    "logits": logits.cpu().contiguous(),
    "greedy_ids": torch.tensor(greedy, dtype=torch.int32),
}
meta = {
    "transformers": transformers.__version__, "torch": torch.__version__, "dtype": "float32",
    "weights_dtype": "bfloat16 upcast to float32", "device": str(args.device),
    "device_name": torch.cuda.get_device_name(0) if str(args.device).startswith("cuda") else "cpu",
    "attn_implementation": args.attn, "prompt": "tasks.passkey(%d, Random(%d), depth=0.5)" % (args.length, args.seed),
    "prompt_len": str(len(prompt)), "expected_answer": answer, "greedy_steps": str(args.steps),
}
os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
save_file(tensors, args.out, metadata=meta)
text = bytes(greedy).decode("ascii", errors="replace")
print("prompt %d bytes, expected answer %s, greedy: %r" % (len(prompt), answer, text[:80]), flush=True)
print("wrote", args.out, {k: list(v.shape) for k, v in tensors.items()}, flush=True)
