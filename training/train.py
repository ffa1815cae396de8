"""Train the bundled byte-level long-context Llama model of ParisKV for Java (one H200, ~10 min).

Read top to bottom: arguments, data (real text found on the machine + synthetic retrieval tasks of
tasks.py), model (transformers.LlamaForCausalLM, so the checkpoint is the Hugging Face Llama layout),
training loop on the clock with a length curriculum, final evaluation (greedy decoding on the tasks,
bits per byte on held-out text), outputs. See training/README.md for the why.

    python3 training/train.py --smoke --out /tmp/smoke            # < 60 s, validates the script
    python3 training/train.py --out OUT --ckpt CKPT               # the real run (~430 s training)
    python3 training/train.py --out OUT --ckpt CKPT --resume CKPT # continue a saved run
"""
import argparse
import copy
import csv
import datetime
import gzip
import json
import math
import os
import random
import signal
import sys
import sysconfig
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402

T0 = time.time()


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


# ---------------------------------------------------------------------------------------------
# arguments

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", required=True, help="output dir: model/, train_log.csv, loss.png, eval.json, ...")
p.add_argument("--ckpt", default=None, help="dir for the resumable state (model+optimizer), default OUT/../ckpt-<name>")
p.add_argument("--resume", default=None, help="ckpt dir of an earlier run to continue from")
p.add_argument("--init-from", default=None,
               help="model dir (config.json + model.safetensors) of an earlier run: its weights, a fresh optimizer "
                    "(for a later call when the optimizer state could not be kept)")
p.add_argument("--curriculum-offset", type=float, default=0.0,
               help="added to the schedule fraction for the length curriculum only (a continued run starts longer)")
p.add_argument("--smoke", action="store_true", help="~20 tiny steps, tiny eval, < 60 s")
p.add_argument("--time-budget-s", type=float, default=430.0, help="seconds of training (this call)")
p.add_argument("--schedule-s", type=float, default=None,
               help="seconds the LR/curriculum schedule spans over all calls (default: prior + this budget)")
p.add_argument("--ckpt-every-s", type=float, default=60.0)
p.add_argument("--tokens-per-step", type=int, default=262144)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--min-lr-frac", type=float, default=0.1)
p.add_argument("--warmup-steps", type=int, default=40)
p.add_argument("--weight-decay", type=float, default=0.1)
p.add_argument("--text-frac", type=float, default=0.3, help="share of rows that are plain text")
p.add_argument("--real-filler-frac", type=float, default=0.5, help="share of task rows with real-text filler")
p.add_argument("--prompt-weight", type=float, default=0.1, help="loss weight of a task's prompt (mean) vs its answer (1)")
p.add_argument("--roots", nargs="*", default=None, help="text roots to walk (default: see default_roots())")
p.add_argument("--max-text-mb", type=float, default=200.0)
p.add_argument("--prep-budget-s", type=float, default=30.0, help="stop walking roots after this long")
p.add_argument("--eval-contexts", type=int, nargs="*", default=[2048, 4096, 8192, 16384, 32768])
p.add_argument("--eval-n", type=int, default=20)
p.add_argument("--eval-budget-s", type=float, default=60.0, help="stop the task eval after this long (rest marked skipped)")
p.add_argument("--layers", type=int, default=4)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--seed", type=int, default=1337)
args = p.parse_args()

if args.smoke:
    args.time_budget_s = min(args.time_budget_s, 25.0)
    args.tokens_per_step = 16384
    args.max_text_mb = min(args.max_text_mb, 8.0)
    args.prep_budget_s = min(args.prep_budget_s, 10.0)
    args.eval_contexts = [512, 1024]
    args.eval_n = 2
    args.eval_budget_s = 10.0
    args.warmup_steps = 5
SMOKE_STEPS = 20

OUT = os.path.abspath(args.out)
CKPT = os.path.abspath(args.ckpt) if args.ckpt else os.path.join(os.path.dirname(OUT), "ckpt-" + os.path.basename(OUT))
MODEL_DIR = os.path.join(OUT, "model")
os.makedirs(MODEL_DIR, exist_ok=True)
os.makedirs(CKPT, exist_ok=True)
assert torch.cuda.is_available(), "this script trains on a CUDA GPU"
DEV = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
random.seed(args.seed)
np.random.seed(args.seed)
torch.manual_seed(args.seed)

import transformers  # noqa: E402  (after the CUDA check: a clear message first)
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

log("torch", torch.__version__, "transformers", transformers.__version__, "gpu", torch.cuda.get_device_name(0))
log("args", vars(args))

# A kill (timeout sends SIGTERM) must still leave a checkpoint: turn it into an exception that the
# training loop's finally-clause handles.
def _on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


signal.signal(signal.SIGTERM, _on_term)

# ---------------------------------------------------------------------------------------------
# data (a): real text found on this machine

TEXT_EXT = (".py", ".md", ".txt", ".rst")


def default_roots():
    paths = sysconfig.get_paths()
    roots = [paths.get("stdlib"), paths.get("purelib"), paths.get("platlib"),
             "/usr/share/doc", "/usr/share/common-licenses"]
    out = []
    for r in roots:
        if r and r not in out:
            out.append(r)
    return out


NON_ASCII = bytes(b for b in range(256) if not (b in (9, 10) or 32 <= b < 127))


def ascii_clean(raw):
    """Keep printable ASCII, tab and newline; None when more than 2 % of the file is not (binary
    or non-English text is not what a byte model of ASCII prompts should learn)."""
    raw = raw.replace(b"\r\n", b"\n")
    clean = raw.translate(None, NON_ASCII)
    if len(raw) - len(clean) > 0.02 * len(raw):
        return None
    return clean


def gather_text(roots, max_bytes, budget_s):
    """Walk roots for text files, ASCII-filter, hold out 2 % of files (by a hash of the path)."""
    t0 = time.time()
    train, held, seen = [], [], set()
    n_train = n_held = total = 0
    stats = {}
    for root in roots:
        if not os.path.isdir(root):
            log("data root missing, skipped:", root)
            stats[root] = "missing"
            continue
        nf = nb = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                if total >= max_bytes or time.time() - t0 > budget_s:
                    break
                path = os.path.join(dirpath, fn)
                is_doc = root.startswith("/usr/share")
                if not (fn.endswith(TEXT_EXT) or (is_doc and (fn.endswith(".gz") or "." not in fn))):
                    continue
                try:
                    real = os.path.realpath(path)
                    if real in seen or not os.path.isfile(real) or os.path.getsize(real) > 4 << 20:
                        continue
                    seen.add(real)
                    with open(real, "rb") as f:
                        raw = f.read()
                    if fn.endswith(".gz"):
                        raw = gzip.decompress(raw)[: 4 << 20]
                except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
                    log("skip unreadable", path, type(e).__name__)
                    continue
                text = ascii_clean(raw)
                if text is None or len(text) < 200:
                    continue
                text = text[: 1 << 20] + b"\n\n"  # cap one file at 1 MB so no single file dominates
                if zlib.crc32(real.encode()) % 50 == 0:
                    held.append(text)
                    n_held += 1
                else:
                    train.append(text)
                    n_train += 1
                nf += 1
                nb += len(text)
                total += len(text)
        stats[root] = {"files": nf, "bytes": nb}
        log("data root", root, nf, "files", nb, "bytes")
    if time.time() - t0 > budget_s:
        log("data walk stopped by --prep-budget-s after %.0f s" % (time.time() - t0))
    rng = random.Random(args.seed)
    rng.shuffle(train)
    tr = b"".join(train)
    he = b"".join(held)
    info = {"roots": stats, "train_files": n_train, "train_bytes": len(tr),
            "heldout_files": n_held, "heldout_bytes": len(he), "walk_s": round(time.time() - t0, 1)}
    return tr, he, info


roots = args.roots if args.roots is not None else default_roots()
train_text, held_text, data_info = gather_text(roots, int(args.max_text_mb * 1e6), args.prep_budget_s)
log("text: train %.1f MB in %d files, held-out %.2f MB in %d files" % (
    len(train_text) / 1e6, data_info["train_files"], len(held_text) / 1e6, data_info["heldout_files"]))
if len(train_text) < (1 << 20):
    # Without real text the model would still learn the tasks (NOISE filler); say it loudly.
    log("WARNING: less than 1 MB of real text found; text rows and real-text filler use NOISE")
    train_text = train_text or tasks.NOISE.encode() * 20000
if len(held_text) < 65536:
    log("WARNING: held-out text < 64 KB; taking the last 256 KB of the training text as held-out")
    held_text = train_text[-(1 << 18):]
    train_text = train_text[: -(1 << 18)]
heldout_sample = held_text[: 1 << 18]
with open(os.path.join(OUT, "heldout.txt"), "wb") as f:
    f.write(heldout_sample)
train_np = np.frombuffer(train_text, dtype=np.uint8)
train_str = train_text.decode("ascii")  # for real-text filler of the tasks (already ASCII)

# ---------------------------------------------------------------------------------------------
# data (b): batches. Every step is B rows of the same length T with B*T = tokens-per-step. A row
# is one sample, never two: packing a second task after a first one would let its question see
# the first one's needles. Each row has a per-position loss weight (target = next byte).

BUCKETS = [512, 1024, 2048, 4096, 8192, 16384]


def curriculum(frac):
    """Weights over BUCKETS at schedule fraction frac: start short, end with >50 % at 8K-16K."""
    if args.smoke:
        return [1, 1, 0, 0, 0, 0]
    if frac < 0.2:
        return [4, 3, 2, 1, 0, 0]
    if frac < 0.45:
        return [2, 2, 3, 2, 1, 0]
    if frac < 0.7:
        return [1, 1, 2, 2, 2, 2]
    return [1, 1, 1, 1, 3, 3]


def text_row(T, rng):
    """BOS + T-1 bytes of real text starting at a line start; full loss weight."""
    off = rng.randrange(0, len(train_np) - T)
    nl = train_text.find(b"\n", off, off + 256)
    off = nl + 1 if nl >= 0 and nl + T < len(train_np) else off
    x = np.empty(T, dtype=np.uint8)
    x[0] = 2
    x[1:] = train_np[off: off + T - 1]
    w = np.full(T, 1.0 / (T - 1), dtype=np.float32)  # a row's mean CE
    w[-1] = 0.0  # the last position has no target
    return x, w, np.zeros(T, dtype=bool)


def task_row(T, rng, task):
    """BOS + prompt + answer + '\\n', padded to T; weights: prompt tokens share --prompt-weight,
    answer tokens (incl. the newline) share 1 — the answer is what retrieval is about."""
    real = rng.random() < args.real_filler_frac
    filler = None
    if real and task != "kv_lookup":
        need = T * 2
        off = rng.randrange(0, max(1, len(train_str) - need))
        filler = train_str[off: off + need]
    length = rng.randint(max(64, T // 2), T - tasks.MAX_ANSWER - 1)
    prompt, answer = tasks.generate(task, length, rng, text=filler)
    seq = prompt + tasks.answer_bytes(answer)
    x = np.zeros(T, dtype=np.uint8)
    x[: len(seq)] = np.frombuffer(seq, dtype=np.uint8)
    # weight w[i] applies to predicting x[i+1] from x[:i+1]
    w = np.zeros(T, dtype=np.float32)
    n_p, n_a = len(prompt), len(seq) - len(prompt)
    w[: n_p - 1] = args.prompt_weight / max(1, n_p - 1)
    w[n_p - 1: n_p - 1 + n_a] = 1.0 / n_a
    a = np.zeros(T, dtype=bool)
    a[n_p - 1: n_p - 1 + n_a] = True
    return x, w, a


def make_batch(T, rng):
    """x (B,T) int64, w (B,T) float32 loss weights, a (B,T) answer mask, is_text (B,), on the GPU."""
    B = max(1, args.tokens_per_step // T)
    xs, ws, as_, kinds = [], [], [], []
    for _ in range(B):
        is_text = rng.random() < args.text_frac
        if is_text:
            x, w, a = text_row(T, rng)
        else:
            x, w, a = task_row(T, rng, rng.choice(tasks.TASKS))
        xs.append(x)
        ws.append(w)
        as_.append(a)
        kinds.append(is_text)
    x = torch.from_numpy(np.stack(xs)).to(DEV).long()
    w = torch.from_numpy(np.stack(ws)).to(DEV)
    a = torch.from_numpy(np.stack(as_)).to(DEV)
    k = torch.tensor(kinds, device=DEV)
    return x, w, a, k


# ---------------------------------------------------------------------------------------------
# model: Hugging Face Llama, byte vocabulary

def build_config():
    return LlamaConfig(
        vocab_size=256,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=4,
        num_key_value_heads=2,            # GQA: 2 query heads per kv head
        head_dim=128,
        intermediate_size=3 * args.hidden,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        bos_token_id=2,
        eos_token_id=10,                  # '\n' ends an answer
        pad_token_id=0,
        attention_dropout=0.0,
        attention_bias=False,
        mlp_bias=False,
        initializer_range=0.02,
    )


resume_state = None
if args.resume:
    path = os.path.join(args.resume, "state.pt")
    resume_state = torch.load(path, map_location="cpu", weights_only=False)
    saved = resume_state["config"]
    args.layers, args.hidden = saved["num_hidden_layers"], saved["hidden_size"]
    log("resuming from", path, "step", resume_state["step"])
if args.init_from:
    with open(os.path.join(args.init_from, "config.json")) as f:
        saved = json.load(f)
    args.layers, args.hidden = saved["num_hidden_layers"], saved["hidden_size"]
config = build_config()
model = LlamaForCausalLM(config).to(DEV)  # fp32 master weights
if args.init_from:
    from safetensors.torch import load_file  # noqa: E402
    sd = {k: v.float() for k, v in load_file(os.path.join(args.init_from, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    # tied embeddings: lm_head.weight is not stored; anything else missing is an error
    missing = [k for k in missing if k != "lm_head.weight"]
    assert not missing and not unexpected, ("init-from mismatch", missing, unexpected)
    model.tie_weights()
    log("initialised from", args.init_from, "(fresh optimizer)")
# torch SDPA: with no attention mask it runs is_causal on the flash kernel (bf16 under autocast)
if model.config._attn_implementation != "sdpa":
    model.set_attn_implementation("sdpa")
log("attn implementation:", model.config._attn_implementation)
assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "tied embeddings"
n_params = sum(p.numel() for p in model.parameters())
log("parameters: %.2f M (%.1f MB as bf16)" % (n_params / 1e6, 2 * n_params / 1e6))

decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                         {"params": no_decay, "weight_decay": 0.0}],
                        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)

step, tokens_seen, prior_s = 0, 0, 0.0
log_rows = []
if resume_state is not None:
    model.load_state_dict(resume_state["model"])
    opt.load_state_dict(resume_state["opt"])
    step, tokens_seen, prior_s = resume_state["step"], resume_state["tokens"], resume_state["train_s"]
    log_rows = resume_state["log_rows"]
schedule_s = args.schedule_s if args.schedule_s else prior_s + args.time_budget_s


def lr_at(step, frac):
    """Linear warm-up over steps, then cosine to min-lr over the (time) schedule."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    c = 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * c)


def weighted_loss(logits, x, w, a, is_text):
    """Next-byte cross-entropy. Every row counts the same: a text row with its mean CE, a task row
    with its answer's mean CE plus prompt_weight x its prompt's mean CE. Returns (loss, mean text
    CE, mean answer CE), the last two for the log."""
    ce = F.cross_entropy(logits[:, :-1].float().reshape(-1, 256), x[:, 1:].reshape(-1),
                         reduction="none").view(x.shape[0], -1)
    w, a = w[:, :-1], a[:, :-1]
    loss = (ce * w).sum() / x.shape[0]
    t = is_text[:, None].float()
    text_ce = (ce * t).sum() / (t.sum() * ce.shape[1]).clamp(min=1)
    ans_ce = (ce * a).sum() / a.sum().clamp(min=1)
    return loss, text_ce, ans_ce


# ---------------------------------------------------------------------------------------------
# saving

def save_model():
    """bf16 Hugging Face checkpoint: model/config.json + model/model.safetensors."""
    m = copy.deepcopy(model).to(device="cpu", dtype=torch.bfloat16)
    m.save_pretrained(MODEL_DIR)
    # generation_config.json is not needed by the loaders; keep the out dir to the listed files
    gc = os.path.join(MODEL_DIR, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)


def write_log_csv():
    with open(os.path.join(OUT, "train_log.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["step", "tokens", "loss", "task_loss", "text_loss", "lr", "seq_len", "elapsed_s"])
        wr.writerows(log_rows)


def save_all(reason):
    t = time.time()
    save_model()
    write_log_csv()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens_seen,
             "train_s": prior_s + train_elapsed(), "log_rows": log_rows, "config": config.to_dict()}
    tmp = os.path.join(CKPT, "state.pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(CKPT, "state.pt"))
    log("saved (%s) step %d to %s and %s in %.1f s" % (reason, step, MODEL_DIR, CKPT, time.time() - t))


# ---------------------------------------------------------------------------------------------
# training, on the clock

rng = random.Random(args.seed + 1000 * (step + 1))
train_t0 = None


def train_elapsed():
    return 0.0 if train_t0 is None else time.time() - train_t0


model.train()
train_t0 = time.time()
last_ckpt = time.time()
last_log_t, last_log_tokens = time.time(), tokens_seen
interrupted = None
log("training for %.0f s (schedule %.0f s, %d tokens/step)" % (args.time_budget_s, schedule_s, args.tokens_per_step))
try:
    while True:
        el = train_elapsed()
        if el >= args.time_budget_s or (args.smoke and step >= SMOKE_STEPS):
            break
        frac = (prior_s + el) / schedule_s
        T = rng.choices(BUCKETS, weights=curriculum(min(1.0, frac + args.curriculum_offset)))[0]
        x, w, a, is_text = make_batch(T, rng)
        lr = lr_at(step, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16):
            # no attention_mask: every row is causal from position 0, so SDPA runs is_causal (flash)
            logits = model(input_ids=x, use_cache=False).logits
        loss, text_ce, ans_ce = weighted_loss(logits, x, w, a, is_text)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += x.numel()
        del logits
        if step % 10 == 0 or step <= 3 or args.smoke:
            lv, tv, av = loss.item(), text_ce.item(), ans_ce.item()  # syncs; only every 10 steps
            now = time.time()
            tps = (tokens_seen - last_log_tokens) / max(1e-6, now - last_log_t)
            last_log_t, last_log_tokens = now, tokens_seen
            log_rows.append([step, tokens_seen, round(lv, 5), round(av, 5), round(tv, 5), "%.3e" % lr, T,
                             round(prior_s + train_elapsed(), 1)])
            log("step %5d | T %5d | %7.0fk tok/s | loss %.4f | answer %.4f | text %.4f (%.3f bpb) | lr %.2e | %.1fM tok"
                % (step, T, tps / 1e3, lv, av, tv, tv / math.log(2), lr, tokens_seen / 1e6))
            if not math.isfinite(lv):
                raise RuntimeError("loss is not finite at step %d" % step)
        if time.time() - last_ckpt >= args.ckpt_every_s:
            save_all("periodic")
            last_ckpt = time.time()
except KeyboardInterrupt as e:
    interrupted = str(e) or "KeyboardInterrupt"
    log("interrupted:", interrupted)
finally:
    train_s = train_elapsed()
    save_all("final" if interrupted is None else "interrupted")
if interrupted is not None:
    sys.exit(1)
log("trained %d steps, %.1fM tokens in %.0f s this call" % (step, tokens_seen / 1e6, train_s))

# ---------------------------------------------------------------------------------------------
# final evaluation: greedy decoding with full attention; bits per byte on held-out text

model.eval()


@torch.no_grad()
def greedy(prompt, max_new=tasks.MAX_ANSWER):
    """Greedy bytes after the prompt, stopping at '\\n' (excluded) or after max_new bytes."""
    x = torch.tensor([list(prompt)], device=DEV)
    out = []
    with torch.autocast("cuda", dtype=torch.bfloat16):
        o = model(input_ids=x, use_cache=True, logits_to_keep=1)
        past = o.past_key_values
        for _ in range(max_new):
            nxt = int(o.logits[0, -1].argmax())
            if nxt == 10:
                break
            out.append(nxt)
            o = model(input_ids=torch.tensor([[nxt]], device=DEV), past_key_values=past, use_cache=True)
            past = o.past_key_values
    return bytes(out).decode("ascii", errors="replace")


@torch.no_grad()
def bits_per_byte(text, window=4096, max_windows=64):
    tot, n = 0.0, 0
    for i in range(0, min(len(text) - window, max_windows * (window - 1)), window - 1):
        x = torch.tensor([[2] + list(text[i: i + window - 1])], device=DEV)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            lg = model(input_ids=x, use_cache=False).logits
        ce = F.cross_entropy(lg[0, :-1].float(), x[0, 1:], reduction="sum")
        tot += ce.item()
        n += x.shape[1] - 1
    return tot / max(1, n) / math.log(2), n


eval_t0 = time.time()
results = {}
for ctx in args.eval_contexts:
    for task in tasks.TASKS:
        key = "%s@%d" % (task, ctx)
        if time.time() - eval_t0 > args.eval_budget_s:
            results[key] = {"skipped": "eval budget"}
            continue
        erng = random.Random(10007 * ctx + tasks.TASKS.index(task))
        ok, samples = 0, []
        for i in range(args.eval_n):
            depth = tasks.suite_depth(i, args.eval_n) if task == "passkey" else None
            prompt, answer = tasks.generate(task, ctx, erng, depth=depth)
            got = greedy(prompt)
            ok += got == answer
            if i < 3:
                samples.append({"expected": answer, "got": got})
        results[key] = {"task": task, "context": ctx, "n": args.eval_n, "correct": ok,
                        "accuracy": ok / args.eval_n, "samples": samples}
        log("eval %-14s @ %5d: %2d/%d" % (task, ctx, ok, args.eval_n))
eval_task_s = time.time() - eval_t0
bpb, bpb_n = bits_per_byte(heldout_sample, window=4096, max_windows=8 if args.smoke else 64)
log("held-out bits per byte at 4K windows: %.4f over %d bytes" % (bpb, bpb_n))

# accuracy table
ctxs = [c for c in args.eval_contexts]
hdr = "%-14s" % "task" + "".join("%8d" % c for c in ctxs)
lines = [hdr]
for task in tasks.TASKS:
    cells = []
    for c in ctxs:
        r = results["%s@%d" % (task, c)]
        cells.append("%8s" % ("-" if "skipped" in r else "%.2f" % r["accuracy"]))
    lines.append("%-14s" % task + "".join(cells))
table = "\n".join(lines)
print(table, flush=True)

last = log_rows[-1] if log_rows else [step, tokens_seen, float("nan"), float("nan"), float("nan"), 0, 0, 0]
eval_out = {"accuracy": results, "table": table, "heldout_bpb_4k": bpb, "heldout_bpb_bytes": bpb_n,
            "eval_task_s": round(eval_task_s, 1), "step": step, "tokens": tokens_seen,
            "final_loss": last[2], "final_answer_loss": last[3], "final_text_loss": last[4]}
with open(os.path.join(OUT, "eval.json"), "w") as f:
    json.dump(eval_out, f, indent=1)

# ---------------------------------------------------------------------------------------------
# loss curve and README

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

if log_rows:
    a = np.array([[r[1], r[2], r[3], r[4]] for r in log_rows], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(a[:, 0] / 1e6, a[:, 3] / math.log(2), label="text (bits/byte)")
    ax.plot(a[:, 0] / 1e6, a[:, 2] / math.log(2), label="task answers (bits/byte)")
    ax.set_xlabel("tokens seen (M)")
    ax.set_ylabel("cross-entropy (bits per byte)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("byte-level Llama %d x %d, %.1fM params" % (config.num_hidden_layers, config.hidden_size, n_params / 1e6))
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "loss.png"), dpi=110)
    plt.close(fig)

wall = time.time() - T0
readme = f"""# Bundled byte-level Llama model of ParisKV for Java

Trained by `training/train.py` on {torch.cuda.get_device_name(0)}, {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.

    python3 {' '.join(sys.argv)}

torch {torch.__version__}, transformers {transformers.__version__}, Python {sys.version.split()[0]}.

## Files
- `model/config.json`, `model/model.safetensors`: Hugging Face Llama layout, bf16, tied embeddings
  (only `model.embed_tokens.weight` is stored). RoPE theta is in `rope_parameters` (transformers 5).
- `train_log.csv`, `loss.png`: loss every 10 steps (text CE and task-answer CE, nats per byte in the csv).
- `eval.json`: greedy-decoding accuracy per task and context (full attention, transformers), held-out bits per byte.
- `heldout.txt`: the first 256 KB of the held-out text (2 % of the files, chosen by a hash of the path).

## Model
{config.num_hidden_layers} layers, hidden {config.hidden_size}, {config.num_attention_heads} query heads / {config.num_key_value_heads} kv heads of dim {config.head_dim},
SwiGLU {config.intermediate_size}, vocab 256 (bytes), RoPE theta 500000, BOS 0x02, EOS 0x0A.
{n_params / 1e6:.2f} M parameters.

## Data
Real text (ASCII-filtered .py/.md/.txt/.rst files, and /usr/share/doc files incl. gzipped ones):
{json.dumps(data_info, indent=1)}

Synthetic tasks of `training/tasks.py` (docs/tasks.md): passkey, niah_single, niah_multikey, kv_lookup,
vartrack; {args.real_filler_frac:.0%} of task rows with real-text filler, the rest NOISE; {args.text_frac:.0%} of rows plain text.
Row lengths from {BUCKETS}, curriculum from short to long (last 30 % of the schedule: 60 % of rows at 8K-16K).
Task loss: answer bytes incl. the final newline weight 1 (per row), the prompt {args.prompt_weight} (per row).

## Run
{step} steps, {tokens_seen / 1e6:.1f} M tokens ({args.tokens_per_step} per step), {prior_s + train_s:.0f} s of training
(this call {train_s:.0f} s), wall time of this call {wall:.0f} s.
Final logged loss {last[2]}, answer CE {last[3]}, text CE {last[4]} (nats per byte).
Held-out bits per byte at 4K windows: {bpb:.4f}.

## Accuracy (greedy, full attention, N={args.eval_n} per cell)

{table}
"""
with open(os.path.join(OUT, "README.md"), "w") as f:
    f.write(readme)
files = [os.path.relpath(os.path.join(d, fn), OUT) for d, _, fs in os.walk(OUT) for fn in fs]
log("wrote", len(files), "files:", sorted(files))
for fpath in files:
    sz = os.path.getsize(os.path.join(OUT, fpath))
    if sz >= 16 << 20:
        log("WARNING: %s is %d bytes (>= 16 MB)" % (fpath, sz))
log("done in %.0f s" % wall)
