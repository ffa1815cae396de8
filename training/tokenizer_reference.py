"""Reference ids for BpeReferenceTest: trains two small byte-level BPE tokenizers, one shaped like Llama-3's and
one like Qwen2's, and records what transformers encodes for ~100 varied strings.

    python3 training/tokenizer_reference.py OUTDIR     (OUTDIR: e.g. src/test/resources/tokenizers/reference)

writes OUTDIR/llama3-style/{tokenizer.json,expected.json} and OUTDIR/qwen2-style/{...}. Needs python3 with
`tokenizers` and `transformers` (torch not needed); no network: the training text is the Python standard library's
.py files and the .txt/.md files under /usr/share/doc found on this machine (capped at a few MB), plus a few
lines of other scripts below so accented letters, CJK and emoji get merges too. expected.json is
{"cases": [{"text": ..., "ids": [...]}]}, ids from PreTrainedTokenizerFast(tokenizer_file=...).encode(text,
add_special_tokens=False).
"""
import json
import os
import random
import sys
import sysconfig

import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
VOCAB = 3000
CORPUS_BYTES = 4 << 20
MAX_JSON_BYTES = 400 << 10

MULTILINGUAL = """Le café est déjà prêt, à côté de l'hôtel où naïve Zoë lit « Les Misérables ».
Über die Brücke gehen fünf größere Mädchen; ß und Ä, Ö, Ü sind häufig.
El niño comió piña y jamón en España; ¿dónde está la señal?
Привет, как дела? Москва — столица России.
漢字と仮名を使って日本語を書きます。東京は日本の首都です。
中文的汉字很多，我们学习中文。北京是中国的首都。
한국어는 한글로 씁니다. 서울은 한국의 수도입니다.
Emoji: 😀 😃 🎉 👍🏽 ❤️ 🚀 and symbols ∑ ∞ ≤ ≥ → ✓.
"""


def corpus():
    """Local text, in a fixed order so two runs on one machine train the same tokenizer."""
    files = []
    stdlib = sysconfig.get_paths()["stdlib"]
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "test", "tests", "__pycache__"))
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    for root, dirs, names in os.walk("/usr/share/doc"):
        dirs.sort()
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".txt", ".md"))]
    random.Random(0).shuffle(files)  # a mix of code and prose within the cap
    texts, total = [MULTILINGUAL] * 200, 0
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                t = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(t)
        total += len(t.encode("utf-8"))
        if total >= CORPUS_BYTES:
            break
    print("corpus:", len(texts), "texts,", total, "bytes from", len(files), "candidate files", flush=True)
    return texts


def train(texts, pattern, ignore_merges):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def llama3_style(texts):
    tok = train(texts, LLAMA3, True)
    # special tokens after the learned vocabulary, as in Llama-3 (128000 on)
    tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def qwen2_style(texts):
    tok = train(texts, QWEN2, False)
    tok.normalizer = normalizers.NFC()
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.add_tokens(["<tool_call>", "</tool_call>"])  # Qwen2.5 has these as added tokens that are not special
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def cases(texts, specials):
    s0, s1 = specials
    out = [
        "Hello world", "Hello, World! How are you today?", "The quick brown fox jumps over the lazy dog.",
        "def main(argv):\n    return 0\n", "for (int i = 0; i < n; i++) { sum += a[i]; }",
        "if x == 1:\n\tprint('tab')\n", "import os, sys\nfrom typing import List\n\n\nclass A:\n    pass\n",
        "1", "12", "123", "1234", "12345", "123456", "1234567", "3.14159265358979", "2024-06-01T12:30:00Z",
        "Call 555-0199 or +1 (800) 123-4567.", "0x7fffffff 1e-9 1,000,000",
        "a  b", "a   b", "a    b", "trailing spaces   ", "   leading spaces", "\n", "\n\n\n", "a\n\n\nb",
        "line one\r\nline two\r\n", "mixed \t \n \r\n whitespace", "\t\tindented\ttabs", " \u00a0no-break\u00a0space \u3000ideographic",
        "don't can't won't I'm you're he'll she'd we've it's", "DON'T CAN'T I'M YOU'RE HE'LL SHE'D WE'VE IT'S",
        "Don'T cAn't I'M", "'s 'S 'tis 'LL", "rock 'n' roll",
        "café naïve résumé déjà vu", "Größe Übermaß straße", "Ça va? Où est l'hôtel?",
        "e\u0301 (e + combining acute) and \u00e9", "Ångström and A\u030angström",
        "漢字", "日本語のテキストです。", "中文分词测试：你好，世界！", "한국어 텍스트", "Привет мир",
        "😀", "emoji 🎉🎉 and 👍🏽 and ❤️", "flags 🇫🇷🇯🇵 family 👨‍👩‍👧",
        s0 + "Hello" + s1, "before " + s0 + " after", "a" + s0 + s0 + "b", s1 + "\n" + s0 + "x",
        "<|not_a_token|> <| im_start |>", "math: ∑_{i=1}^{n} i² = n(n+1)/2 ≤ ∞",
        "https://example.com/path?query=1&x=y#frag", "user@example.org", "C:\\Windows\\System32",
        "{\"json\": [1, 2, 3], \"ok\": true}", "<html><body class=\"x\">hi</body></html>",
        "SELECT * FROM t WHERE a >= 10 AND b <> 'x';", "----====****####", "...!!!???",
    ]
    rnd = random.Random(42)
    ranges = [(0x20, 0x7E), (0x09, 0x0D), (0xA0, 0x24F), (0x300, 0x36F), (0x400, 0x4FF), (0x3040, 0x30FF), (0x4E00, 0x9FFF),
              (0x1F300, 0x1F64F), (0x2000, 0x206F)]
    for _ in range(6):
        out.append("".join(chr(rnd.randint(*rnd.choice(ranges))) for _ in range(rnd.randint(5, 60))))
    # short strings from pieces the regexes treat differently: odd whitespace, cases of contractions, marks, tokens
    pieces = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u0085", "\x0b", "'s", "'S", "'ll", "'LL", "'d", "'t", "'Re",
              "a", "the", "THE", "é", "e\u0301", "ß", "\u017f", "\u212a", "漢", "😀", "👍🏽", "1", "12", "4567", "\u0663", "½", "-", ".", "!",
              "(", "<", "|", "_", "\\", "\"", "\u200b", "\x00", "\x7f", s0, s1, "\ufb01"]
    for _ in range(30):
        out.append("".join(rnd.choice(pieces) for _ in range(rnd.randint(2, 40))))
    long = "".join(texts[200:])[:20000]  # 20 KB of the corpus's code and prose
    out.append(long)
    return out


def write(name, tok, specials, texts, outdir):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path)
    size = os.path.getsize(path)
    if size > MAX_JSON_BYTES:
        sys.exit(f"{path} is {size} bytes, over {MAX_JSON_BYTES}: lower VOCAB")
    fast = PreTrainedTokenizerFast(tokenizer_file=path)
    result = []
    for text in cases(texts, specials):
        ids = fast.encode(text, add_special_tokens=False)
        direct = tok.encode(text, add_special_tokens=False).ids
        if ids != direct:
            print(f"WARNING {name}: transformers and tokenizers differ on {text[:40]!r}", flush=True)
        result.append({"text": text, "ids": ids})
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
                   "bos": tok.token_to_id("<|begin_of_text|>") if name.startswith("llama") else None,
                   "cases": result}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{name}: vocab {tok.get_vocab_size()}, {size} bytes, {len(result)} cases -> {d}", flush=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tokenizer_reference.py OUTDIR")
    print("python", sys.version.split()[0], "tokenizers", tokenizers.__version__, "transformers", transformers.__version__, flush=True)
    texts = corpus()
    write("llama3-style", llama3_style(texts), ("<|begin_of_text|>", "<|eot_id|>"), texts, sys.argv[1])
    write("qwen2-style", qwen2_style(texts), ("<|im_start|>", "<tool_call>"), texts, sys.argv[1])


if __name__ == "__main__":
    main()
