"""Writes the hand-made BpeTokenizerTest fixtures (run from this folder: python3 make_fixtures.py).

One vocabulary for all three: each byte's symbol (GPT-2 bytes_to_unicode) has the byte's value as id, merge i
makes id 256 + i, "Ġworld" (272) is reachable by no merge (only ignore_merges emits it), added tokens from 273
(tokenizers numbers them on from the model's vocab, whatever ids the file gives).
"""
import json

bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
byte_char, n = {}, 0
for b in range(256):
    if b in bs:
        byte_char[b] = chr(b)
    else:
        byte_char[b] = chr(256 + n)
        n += 1

merges = ["Ġ t", "h e", "Ġt he", "l l", "e l", "ll o", "he llo", "3 4", "1 2", "12 3", "Ġ Ġ", "' s", "Ã ©", "Ċ Ċ", "e r", "Ġ w"]
vocab = {byte_char[b]: b for b in range(256)}
for i, m in enumerate(merges):
    vocab[m.replace(" ", "")] = 256 + i
vocab["Ġworld"] = 272

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def added(i, content, special=True):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": special}


def split_then_bytes(pattern):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


def tokenizer(added_tokens, normalizer, pre, post, ignore_merges, pair_merges=False):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens, "normalizer": normalizer,
            "pre_tokenizer": pre, "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges, "vocab": vocab,
                      "merges": [m.split(" ") for m in merges] if pair_merges else merges}}


byte_level_post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
llama = tokenizer(
    [added(273, "<|begin_of_text|>"), added(274, "<|eot_id|>"), added(275, "<|res|>"), added(276, "<|res|>_1"), added(277, "<tool>", special=False)],
    None, split_then_bytes(LLAMA3),
    {"type": "Sequence", "processors": [dict(byte_level_post, trim_offsets=False, use_regex=True),
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [273], "tokens": ["<|begin_of_text|>"]}}}]},
    True)
qwen = tokenizer([added(273, "<|endoftext|>"), added(274, "<|im_start|>"), added(275, "<|im_end|>")],
                 {"type": "NFC"}, split_then_bytes(QWEN2), byte_level_post, False, pair_merges=True)
gpt2 = tokenizer([added(273, "<|endoftext|>")], None,
                 {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, byte_level_post, False)

for name, t in [("llama3-mini", llama), ("qwen2-mini", qwen), ("gpt2-mini", gpt2)]:
    with open(name + ".json", "w", encoding="utf-8") as f:
        json.dump(t, f, ensure_ascii=False, indent=1)
        f.write("\n")
