"""Tests of training/tasks.py against docs/tasks.md (no torch needed).

Run: cd training && python3 -m unittest test_tasks -v     (or python3 training/test_tasks.py)
"""
import os
import random
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402

LENGTHS = [256, 512, 1000, 2048, 4096, 8192, 16384, 32768]
SENTENCES = ["The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ",
             "There and back again. "]


def strip_noise(body):
    """Remove whole NOISE sentences from the start of body, in their cyclic order; returns rest."""
    i, k = 0, 0
    while body.startswith(SENTENCES[k % 5], i):
        i += len(SENTENCES[k % 5])
        k += 1
    return body[i:], k


class FillerTest(unittest.TestCase):
    def test_noise_cut_at_sentence_boundary_and_tight(self):
        for budget in range(0, 400):
            f, bounds = tasks.make_filler(budget)
            self.assertLessEqual(len(f), budget)
            self.assertTrue(f == "" or f.endswith(". "))
            self.assertTrue((tasks.NOISE * 10).startswith(f))
            # tight: adding the next sentence would exceed the budget
            rest, k = strip_noise(f)
            self.assertEqual(rest, "")
            self.assertGreater(len(f) + len(SENTENCES[k % 5]), budget)

    def test_real_text_cut_at_sentence_or_line(self):
        text = "Alpha beta. Gamma delta\nepsilon zeta. Eta theta iota kappa.\n" * 50
        rng = random.Random(1)
        for budget in (10, 50, 333, 1000):
            f, _ = tasks.make_filler(budget, text=text, rng=rng)
            self.assertLessEqual(len(f), budget)
            self.assertTrue(f == "" or f.endswith(". ") or f.endswith("\n"), repr(f[-5:]))


class TaskFormatTest(unittest.TestCase):
    def check_common(self, prompt, answer, length):
        self.assertIsInstance(prompt, bytes)
        self.assertEqual(prompt[:1], b"\x02")
        self.assertLessEqual(len(prompt), length)
        self.assertTrue(all(b == 10 or 32 <= b < 127 for b in prompt[1:]), "ASCII, no controls")
        self.assertLessEqual(len(answer), tasks.MAX_ANSWER)
        self.assertNotIn("\n", answer)
        self.assertEqual(tasks.answer_bytes(answer), answer.encode() + b"\n")

    def check_noise_body(self, body, needles):
        """body = NOISE sentences with the needles inserted at sentence boundaries, in order."""
        k = 0
        i = 0
        found = []
        while i < len(body):
            s = SENTENCES[k % 5]
            if body.startswith(s, i):
                i += len(s)
                k += 1
                continue
            hit = [n for n in needles if body.startswith(n, i)]
            self.assertTrue(hit, "unexpected text at %d: %r" % (i, body[i:i + 40]))
            found.append(hit[0])
            i += len(hit[0])
        self.assertEqual(found, needles)
        return k

    def test_passkey(self):
        head = ("There is an important info hidden inside a lot of irrelevant text. "
                "Find it and memorize it. ")
        q = "\nWhat is the pass key? The pass key is "
        for L in LENGTHS:
            for seed in range(5):
                p, a = tasks.passkey(L, random.Random(seed), depth=0.1 * (1 + seed))
                self.check_common(p, a, L)
                self.assertTrue(re.fullmatch(r"[1-9]\d{4}", a))
                s = p[1:].decode()
                self.assertTrue(s.startswith(head) and s.endswith(q))
                needle = "The pass key is %s. Remember it. %s is the pass key. " % (a, a)
                body = s[len(head):-len(q)]
                self.check_noise_body(body, [needle])
                # tight: one more NOISE sentence (at most 22 bytes) would not fit
                self.assertGreater(len(p) + 22, L)

    def test_passkey_depth(self):
        L = 8192
        for d in (0.1, 0.5, 0.9):
            p, a = tasks.passkey(L, random.Random(3), depth=d)
            s = p.decode()
            pos = s.index("The pass key is")
            rel = pos / len(s)
            self.assertAlmostEqual(rel, d, delta=0.03)

    def test_niah_single(self):
        for L in LENGTHS:
            p, a = tasks.niah_single(L, random.Random(L))
            self.check_common(p, a, L)
            s = p[1:].decode()
            m = re.search(r"\nWhat is the special magic number for ([a-z]+-[a-z]+)\? "
                          r"The special magic number for \1 is: $", s)
            self.assertTrue(m, s[-120:])
            key = m.group(1)
            self.assertTrue(all(w in tasks.WORDS for w in key.split("-")))
            self.assertTrue(re.fullmatch(r"[1-9]\d{6}", a))
            head = "Some special magic numbers are hidden in the text below. Memorize them. "
            self.assertTrue(s.startswith(head))
            body = s[len(head):m.start()]
            self.check_noise_body(body, ["The special magic number for %s is: %s. " % (key, a)])

    def test_niah_multikey(self):
        for L in LENGTHS[1:]:
            for seed in range(4):
                p, a = tasks.niah_multikey(L, random.Random(seed * 7 + L))
                self.check_common(p, a, L)
                s = p.decode()
                needles = re.findall(r"The special magic number for ([a-z]+-[a-z]+) is: (\d{7})\. ",
                                     s)
                self.assertEqual(len(needles), 4)
                self.assertEqual(len({k for k, _ in needles}), 4)
                asked = re.search(r"\nWhat is the special magic number for ([a-z-]+)\?", s).group(1)
                self.assertEqual(dict(needles)[asked], a)

    def test_kv_lookup(self):
        for L in LENGTHS:
            p, a = tasks.kv_lookup(L, random.Random(L + 1))
            self.check_common(p, a, L)
            s = p[1:].decode()
            head = "Extract the value for the key from the list below.\n"
            self.assertTrue(s.startswith(head))
            m = re.fullmatch(r"((?:[0-9a-f]{8}: [0-9a-f]{8}\n)+)\nKey: ([0-9a-f]{8})\nValue: ",
                             s[len(head):])
            self.assertTrue(m, s[-60:])
            pairs = dict(line.split(": ") for line in m.group(1).splitlines())
            self.assertEqual(len(pairs), len(m.group(1).splitlines()), "distinct keys")
            self.assertEqual(pairs[m.group(2)], a)
            self.assertGreater(len(p) + 19, L, "one more line would not fit")

    def test_vartrack(self):
        for L in LENGTHS[1:]:
            p, a = tasks.vartrack(L, random.Random(L + 2))
            self.check_common(p, a, L)
            s = p[1:].decode()
            head = "Memorize and track the chain of variable assignments hidden in the text below. "
            self.assertTrue(s.startswith(head))
            m = re.search(r"\nQuestion: Find all variables that are assigned the value (\d{5})\. "
                          r"Answer: $", s)
            self.assertTrue(m)
            n = m.group(1)
            v = a.split(" ")
            self.assertEqual(len(v), 4)
            self.assertTrue(all(re.fullmatch("[A-Z]{3}", x) for x in v))
            needles = ["VAR %s = %s. " % (v[0], n)] + [
                "VAR %s = VAR %s. " % (v[j], v[j - 1]) for j in range(1, 4)]
            self.check_noise_body(s[len(head):m.start()], needles)

    def test_real_text_filler(self):
        text = ("Lorem ipsum dolor sit amet. Consectetur adipiscing elit.\n"
                "def f(x):\n    return x + 1\n") * 400
        for task in tasks.TASKS:
            for L in (512, 4096):
                p, a = tasks.generate(task, L, random.Random(9), text=text)
                self.check_common(p, a, L)
                self.assertGreater(len(p), L - 100)
                if task != "kv_lookup":
                    self.assertIn(b"Lorem", p)

    def test_deterministic(self):
        for task in tasks.TASKS:
            x = tasks.generate(task, 4096, random.Random(42))
            y = tasks.generate(task, 4096, random.Random(42))
            self.assertEqual(x, y)
            z = tasks.generate(task, 4096, random.Random(43))
            self.assertNotEqual(x, z)

    def test_suite_depths(self):
        self.assertEqual([tasks.suite_depth(i, 20) for i in range(9)],
                         [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])


class TrainDataPrepTest(unittest.TestCase):
    """The torch-free data functions of train.py (ascii_clean, gather_text, text_row, task_row),
    extracted from its source so they run without torch."""

    @classmethod
    def setUpClass(cls):
        import ast
        import types
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py")) as f:
            src = f.read()
        tree = ast.parse(src)
        keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in (
            "ascii_clean", "gather_text", "text_row", "task_row", "log", "default_roots"))
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") in ("NON_ASCII", "TEXT_EXT", "T0")
                                                  for t in n.targets))]
        import gzip, zlib, time, sysconfig, numpy as np  # noqa: E401
        ns = {"os": os, "gzip": gzip, "zlib": zlib, "time": time, "random": random, "np": np,
              "tasks": tasks, "sysconfig": sysconfig,
              "args": types.SimpleNamespace(seed=1, real_filler_frac=0.5, prompt_weight=0.1)}
        exec(compile(ast.Module(body=keep, type_ignores=[]), "train.py", "exec"), ns)
        cls.ns = ns

    def test_ascii_clean(self):
        f = self.ns["ascii_clean"]
        self.assertEqual(f(b"a\r\nb\tc\x02" + b"x" * 100), b"a\nb\tc" + b"x" * 100)
        self.assertIsNone(f(bytes(range(256)) * 4))

    def test_gather_and_rows(self):
        import numpy as np
        ns = self.ns
        roots = [os.path.dirname(os.__file__), "/nonexistent/root"]
        tr, he, info = ns["gather_text"](roots, 3_000_000, 30)
        self.assertGreater(len(tr), 1_000_000)
        self.assertEqual(info["roots"]["/nonexistent/root"], "missing")
        self.assertTrue(all(b == 9 or b == 10 or 32 <= b < 127 for b in tr[:100000]))
        ns["train_text"], ns["train_np"], ns["train_str"] = tr, np.frombuffer(tr, np.uint8), tr.decode()
        rng = random.Random(0)
        x, w, a = ns["text_row"](1024, rng)
        self.assertEqual(x[0], 2)
        self.assertAlmostEqual(float(w[:-1].sum()), 1.0, places=4)
        for task in tasks.TASKS:
            for T in (512, 4096):
                x, w, a = ns["task_row"](T, rng, task)
                self.assertEqual(x[0], 2)
                n = int(a.sum())
                ans = bytes(x[np.nonzero(a)[0] + 1])
                self.assertTrue(ans.endswith(b"\n") and b"\n" not in ans[:-1], ans)
                self.assertAlmostEqual(float(w[a].sum()), 1.0, places=4)
                self.assertAlmostEqual(float(w[~a].sum()), 0.1, places=4)
                self.assertEqual(n, len(ans))


if __name__ == "__main__":
    unittest.main()
