"""RULER-like long-context tasks of the bundled byte-level model, as defined in docs/tasks.md.

Each generator takes a target context length in bytes (BOS included) and a seeded random.Random and
returns (prompt, answer):
  prompt  bytes, starting with BOS 0x02, ASCII, len(prompt) <= length and as close to it as the
          sentence-boundary cut allows;
  answer  str, the expected answer WITHOUT the trailing newline (the model must then emit "\n";
          training appends it, see answer_bytes()).

Filler is NOISE (the doc's sentence group) by default; a real text may be passed instead (training
only), it is then cut at sentence or line boundaries.

Choices the doc leaves open, fixed here (the Java side should do the same where it matters):
  * boundaries of a filler are offset 0 and every offset right after ". " (for real text also
    right after "\n"); the filler is cut at the largest boundary <= its byte budget;
  * a needle at depth d goes at the first boundary >= d * len(filler) (the end of the filler if
    none); needles at the same boundary keep their order;
  * tasks with several needles (niah_multikey, vartrack) draw one uniform offset u in [0, 1/k)
    and use depths u + i/k, i = 0..k-1: evenly spread and uniformly drawn;
  * numbers: n5 = randint(10000, 99999), n7 = randint(1000000, 9999999), hex = 8 lowercase hex
    digits from getrandbits(32), var = three uppercase letters; keys/vars of one instance distinct.
"""
import bisect
import random
import re

BOS = b"\x02"
NOISE = ("The grass is green. The sky is blue. The sun is yellow. Here we go. "
         "There and back again. ")

WORDS = """amber falcon river copper maple silver harbor violet canyon meadow ember glacier lantern orchid
pebble quartz raven saffron thistle willow basalt cedar dune fern granite hazel iris juniper kelp
lotus marble nectar opal pine quill ridge sable tundra umber velvet walnut yarrow zephyr acorn
birch cobalt delta echo fjord garnet heron indigo jade koi lilac mist nova onyx prairie quince rust
sienna topaz wren""".split()
assert len(WORDS) == 64 and len(set(WORDS)) == 64

_SENTENCE_BOUNDARY = re.compile(r"\. ")
_LINE_BOUNDARY = re.compile(r"\. |\n")

TASKS = ("passkey", "niah_single", "niah_multikey", "kv_lookup", "vartrack")
MAX_ANSWER = 32  # bytes, docs/tasks.md


# ---------------------------------------------------------------------------------------------
# filler

def _boundaries(text, lines):
    """Offsets where a needle may go / the filler may be cut: 0 and right after each '. '
    (and after each newline when lines=True)."""
    pat = _LINE_BOUNDARY if lines else _SENTENCE_BOUNDARY
    return sorted({0, *(m.end() for m in pat.finditer(text))})


def make_filler(budget, text=None, rng=None):
    """Filler of at most `budget` bytes cut at a boundary, and its boundaries.

    text None: NOISE repeated. Otherwise `text` (ASCII str) is real text: a start offset at a line
    start is drawn with rng so that different instances see different passages; the text must be
    longer than the budget for the cut to reach it (shorter is allowed, the filler is then short).
    """
    if budget <= 0:
        return "", [0]
    if text is None:
        reps = budget // len(NOISE) + 2
        src = NOISE * reps
        lines = False
    else:
        lines = True
        start = 0
        if rng is not None and len(text) > budget + 1:
            start = rng.randrange(0, len(text) - budget)
            nl = text.find("\n", start)
            start = nl + 1 if 0 <= nl < len(text) - 1 else 0
        src = text[start:start + budget + 1]
    bounds = _boundaries(src, lines)
    cut = bounds[bisect.bisect_right(bounds, budget) - 1]
    filler = src[:cut]
    return filler, [b for b in bounds if b <= cut]


def insert_needles(filler, bounds, needles, depths):
    """Insert needles (str) at the first boundary >= depth * len(filler), in the given order."""
    n = len(filler)
    places = []
    for needle, d in zip(needles, depths):
        want = d * n
        k = bisect.bisect_left(bounds, want)
        places.append(bounds[k] if k < len(bounds) else n)
    out, prev = [], 0
    for pos, needle in sorted(zip(places, needles), key=lambda t: t[0]):  # stable: keeps order
        out.append(filler[prev:pos])
        out.append(needle)
        prev = pos
    out.append(filler[prev:])
    return "".join(out)


def _build(length, head, needles, depths, question, text, rng):
    fixed = len(BOS) + len(head) + sum(len(x) for x in needles) + len(question)
    filler, bounds = make_filler(length - fixed, text, rng)
    body = insert_needles(filler, bounds, needles, depths)
    prompt = BOS + (head + body + question).encode("ascii")
    assert len(prompt) <= length or fixed > length, (len(prompt), length)
    return prompt


def _spread(rng, k):
    u = rng.random() / k
    return [u + i / k for i in range(k)]


def _n5(rng):
    return rng.randint(10000, 99999)


def _n7(rng):
    return rng.randint(1000000, 9999999)


def _distinct(rng, k, draw):
    """k distinct values of draw(rng), in draw order (a list, not a set: the order must not
    depend on string hashing, so that a seed gives the same instance in every process)."""
    out, seen = [], set()
    while len(out) < k:
        x = draw(rng)
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _key(rng):
    return rng.choice(WORDS) + "-" + rng.choice(WORDS)


def _keys(rng, k):
    return _distinct(rng, k, _key)


def _hex(rng):
    return "%08x" % rng.getrandbits(32)


def _var(rng):
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))


# ---------------------------------------------------------------------------------------------
# the tasks

def passkey(length, rng, depth=None, text=None):
    n = _n5(rng)
    d = rng.random() if depth is None else depth
    head = ("There is an important info hidden inside a lot of irrelevant text. "
            "Find it and memorize it. ")
    needle = "The pass key is %d. Remember it. %d is the pass key. " % (n, n)
    question = "\nWhat is the pass key? The pass key is "
    return _build(length, head, [needle], [d], question, text, rng), str(n)


_NIAH_HEAD = "Some special magic numbers are hidden in the text below. Memorize them. "


def _niah_question(key):
    return ("\nWhat is the special magic number for %s? The special magic number for %s is: "
            % (key, key))


def niah_single(length, rng, depth=None, text=None):
    key = _keys(rng, 1)[0]
    n = _n7(rng)
    d = rng.random() if depth is None else depth
    needle = "The special magic number for %s is: %d. " % (key, n)
    return _build(length, _NIAH_HEAD, [needle], [d], _niah_question(key), text, rng), str(n)


def niah_multikey(length, rng, depth=None, text=None, k=4):
    keys = _keys(rng, k)
    nums = [_n7(rng) for _ in range(k)]
    depths = _spread(rng, k)
    needles = ["The special magic number for %s is: %d. " % (kk, n) for kk, n in zip(keys, nums)]
    i = rng.randrange(k)
    prompt = _build(length, _NIAH_HEAD, needles, depths, _niah_question(keys[i]), text, rng)
    return prompt, str(nums[i])


def kv_lookup(length, rng, depth=None, text=None):
    """No filler: lines '{hex}: {hex}\\n' until the length is reached. `depth` (optional) picks
    the asked line's relative position; `text` is ignored (the task has no filler)."""
    head = "Extract the value for the key from the list below.\n"
    fixed = len(BOS) + len(head) + len("\nKey: ") + 8 + len("\nValue: ")
    nlines = max(1, (length - fixed) // 19)
    keys = _distinct(rng, nlines, _hex)
    vals = [_hex(rng) for _ in range(nlines)]
    if depth is None:
        i = rng.randrange(nlines)
    else:
        i = min(nlines - 1, int(depth * nlines))
    body = "".join("%s: %s\n" % (kk, v) for kk, v in zip(keys, vals))
    prompt = BOS + (head + body + "\nKey: %s\nValue: " % keys[i]).encode("ascii")
    return prompt, vals[i]


def vartrack(length, rng, depth=None, text=None, k=4):
    names = _distinct(rng, k, _var)
    n = _n5(rng)
    needles = ["VAR %s = %d. " % (names[0], n)]
    needles += ["VAR %s = VAR %s. " % (names[j], names[j - 1]) for j in range(1, k)]
    head = "Memorize and track the chain of variable assignments hidden in the text below. "
    question = "\nQuestion: Find all variables that are assigned the value %d. Answer: " % n
    prompt = _build(length, head, needles, _spread(rng, k), question, text, rng)
    return prompt, " ".join(names)


GENERATORS = {
    "passkey": passkey,
    "niah_single": niah_single,
    "niah_multikey": niah_multikey,
    "kv_lookup": kv_lookup,
    "vartrack": vartrack,
}


def generate(task, length, rng, depth=None, text=None):
    """(prompt bytes with BOS, answer str without newline) of one instance of `task`."""
    return GENERATORS[task](length, rng, depth=depth, text=text)


def answer_bytes(answer):
    """What the model must emit after the prompt: the answer then the newline (eos)."""
    return answer.encode("ascii") + b"\n"


def suite_depth(i, n):
    """Passkey depth of instance i of n in the evaluation suite: 10, 20, ..., 90 % in turn."""
    return (1 + i % 9) / 10.0
