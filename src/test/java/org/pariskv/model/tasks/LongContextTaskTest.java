package org.pariskv.model.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every task against docs/tasks.md, read with the test's own literals and regexes. */
class LongContextTaskTest {

    /** docs/tasks.md's NOISE group, typed again here. */
    static final String NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
    static final int LONGEST_SENTENCE = "There and back again. ".length();

    static final Map<String, String> INTROS = Map.of(
            "passkey", "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. ",
            "niah_single", "Some special magic numbers are hidden in the text below. Memorize them. ",
            "niah_multikey", "Some special magic numbers are hidden in the text below. Memorize them. ",
            "kv_lookup", "Extract the value for the key from the list below.\n",
            "vartrack", "Memorize and track the chain of variable assignments hidden in the text below. ");

    static final Map<String, Pattern> QUESTIONS = Map.of(
            "passkey", TaskOracle.PASSKEY_Q, "niah_single", TaskOracle.NIAH_Q, "niah_multikey", TaskOracle.NIAH_Q,
            "kv_lookup", TaskOracle.KV_Q, "vartrack", TaskOracle.VAR_Q);

    static final Map<String, Pattern> NEEDLES = Map.of(
            "passkey", TaskOracle.PASSKEY, "niah_single", TaskOracle.NIAH, "niah_multikey", TaskOracle.NIAH,
            "vartrack", Pattern.compile("VAR [A-Z]{3} = (?:\\d{5}|VAR [A-Z]{3})\\. "));

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (LongContextTask t : LongContextTask.ALL) {
            for (int target : new int[] {t.minContext(), t.minContext() + 7, 1000, 2048, 4099, 16384}) {
                for (long seed = 1; seed <= 4; seed++) out.add(Arguments.of(t.name(), target, seed));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} at {1}, seed {2}")
    @MethodSource("cases")
    void promptFollowsTheDoc(String name, int target, long seed) {
        TaskInstance inst = LongContextTask.byName(name).generate(target, seed);
        byte[] prompt = inst.prompt();
        String text = new String(prompt, StandardCharsets.US_ASCII);
        assertEquals(name, inst.task());
        assertEquals(target, inst.target());
        assertEquals(prompt.length, inst.context());
        assertEquals(0x02, prompt[0], "BOS first");
        for (int i = 1; i < prompt.length; i++) assertTrue(prompt[i] == '\n' || (prompt[i] >= 0x20 && prompt[i] < 0x7f), "ASCII at " + i);
        assertTrue(prompt.length <= target, prompt.length + " > " + target);
        assertTrue(text.startsWith("\u0002" + INTROS.get(name)), "intro");
        Matcher q = QUESTIONS.get(name).matcher(text);
        assertTrue(q.find(), "ends with the question: " + tail(text));
        assertEquals(inst.expected(), TaskOracle.answer(prompt), "the oracle reads the expected answer");
        assertTrue(inst.expected().length() <= AnswerScore.MAX_ANSWER_BYTES);
        String body = text.substring(1 + INTROS.get(name).length(), q.start());
        if (name.equals("kv_lookup")) checkKvLines(inst, body, target);
        else checkFillerAndDepths(inst, body, target);
    }

    /** Filler = NOISE cut at a sentence boundary, within one sentence of the target; needle i at boundary >= depth x filler. */
    private static void checkFillerAndDepths(TaskInstance inst, String body, int target) {
        Matcher m = NEEDLES.get(inst.task()).matcher(body);
        List<Integer> at = new ArrayList<>();
        StringBuilder filler = new StringBuilder();
        int from = 0;
        while (m.find()) {
            filler.append(body, from, m.start());
            at.add(filler.length()); // the needle's offset within the filler without needles
            from = m.end();
        }
        filler.append(body.substring(from));
        String f = filler.toString();
        assertEquals(inst.depths().size(), at.size(), "needles found");
        assertEquals(NOISE.repeat(f.length() / NOISE.length() + 1).substring(0, f.length()), f, "filler is NOISE");
        assertTrue(f.isEmpty() || f.endsWith(". "), "filler ends at a sentence boundary");
        assertTrue(target - inst.context() < LONGEST_SENTENCE, "within one sentence of the target: " + inst.context() + " of " + target);
        for (int i = 0; i < at.size(); i++) {
            int pos = at.get(i);
            double want = inst.depths().get(i) * f.length();
            assertTrue(pos == 0 || f.startsWith(". ", pos - 2), "needle " + i + " at a sentence boundary");
            assertTrue(pos >= want && (pos < want + LONGEST_SENTENCE), "needle " + i + " at " + pos + ", depth x filler = " + want);
        }
        switch (inst.task()) {
            case "niah_multikey", "vartrack" -> assertEquals(List.of(0.2, 0.4, 0.6, 0.8), inst.depths(), "evenly spread");
            default -> assertEquals(inst.depths().getFirst(), inst.answerDepth());
        }
        if (inst.task().equals("niah_multikey")) {
            Set<String> keys = new HashSet<>();
            for (Matcher k = TaskOracle.NIAH.matcher(body); k.find(); ) keys.add(k.group(1));
            assertEquals(4, keys.size(), "four distinct keys");
        }
        if (inst.task().equals("vartrack")) {
            String[] vars = inst.expected().split(" ");
            assertEquals(4, new HashSet<>(List.of(vars)).size(), "four distinct variables");
            for (String v : vars) assertTrue(v.matches("[A-Z]{3}"), v);
        }
    }

    /** kv_lookup: only lines hex: hex, as many as fit, distinct keys; the asked line's index / lines is its depth. */
    private static void checkKvLines(TaskInstance inst, String body, int target) {
        String[] lines = body.split("\n", -1);
        assertEquals("", lines[lines.length - 1], "body ends with a newline");
        int n = lines.length - 1;
        Set<String> keys = new HashSet<>();
        for (int i = 0; i < n; i++) {
            assertTrue(lines[i].matches("[0-9a-f]{8}: [0-9a-f]{8}"), lines[i]);
            assertTrue(keys.add(lines[i].substring(0, 8)), "distinct keys");
        }
        assertTrue(target - inst.context() < 19, "within one line of the target");
        String asked = new String(inst.prompt(), StandardCharsets.US_ASCII).replaceAll("(?s).*\nKey: ([0-9a-f]{8})\nValue: $", "$1");
        int index = List.of(lines).subList(0, n).stream().map(l -> l.substring(0, 8)).toList().indexOf(asked);
        assertTrue(index >= 0);
        assertEquals(index / (double) n, inst.answerDepth(), 1e-12);
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() {
        for (LongContextTask t : LongContextTask.ALL) {
            TaskInstance a = t.generate(4096, 42), b = t.generate(4096, 42), c = t.generate(4096, 43);
            assertEquals(a, b, t.name());
            assertTrue(java.util.Arrays.equals(a.prompt(), b.prompt()), t.name());
            assertFalse(java.util.Arrays.equals(a.prompt(), c.prompt()), t.name());
            assertNotEquals(a, c, t.name());
        }
        TaskInstance p = LongContextTask.byName("passkey").generateAt(2048, 0.5, 7);
        assertEquals(p, LongContextTask.byName("passkey").generateAt(2048, 0.5, 7));
        assertNotEquals(p.promptText(), LongContextTask.byName("passkey").generateAt(2048, 0.5, 8).promptText());
    }

    @Test
    void givenDepthPutsTheNeedleThere() {
        for (String name : List.of("passkey", "niah_single")) {
            for (double d : new double[] {0, 0.1, 0.5, 0.9, 1}) {
                TaskInstance t = LongContextTask.byName(name).generateAt(8192, d, 3);
                assertEquals(List.of(d), t.depths());
                int needle = t.promptText().indexOf(name.equals("passkey") ? "The pass key is " : "The special magic number for ");
                int filler = t.context() - fixedBytes(t);
                double rel = (needle - 1 - INTROS.get(name).length()) / (double) filler;
                assertEquals(d, rel, 0.01, name + " at depth " + d);
            }
        }
        TaskInstance kv = LongContextTask.byName("kv_lookup").generateAt(4096, 0.5, 3);
        assertEquals(0.5, kv.answerDepth(), 0.01);
        assertThrows(IllegalArgumentException.class, () -> LongContextTask.byName("niah_multikey").generateAt(4096, 0.5, 3));
        assertThrows(IllegalArgumentException.class, () -> LongContextTask.byName("vartrack").generateAt(4096, 0.5, 3));
        assertThrows(IllegalArgumentException.class, () -> LongContextTask.byName("passkey").generateAt(4096, 1.5, 3));
    }

    /** Bytes of the prompt that are not filler: BOS, intro, the needle and the question. */
    private static int fixedBytes(TaskInstance t) {
        String p = t.promptText();
        Matcher n = NEEDLES.get(t.task()).matcher(p);
        assertTrue(n.find());
        Matcher q = QUESTIONS.get(t.task()).matcher(p);
        assertTrue(q.find());
        return n.group().length() + (p.length() - q.start()) + 1 + INTROS.get(t.task()).length();
    }

    @Test
    void belowTheMinimumIsRefusedNamingIt() {
        for (LongContextTask t : LongContextTask.ALL) {
            t.generate(t.minContext(), 1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.generate(t.minContext() - 1, 1));
            assertTrue(e.getMessage().contains(t.name()) && e.getMessage().contains("minimum " + t.minContext()), e.getMessage());
            assertTrue(t.minContext() < 512, t.name() + " minimum " + t.minContext());
        }
        assertThrows(IllegalArgumentException.class, () -> LongContextTask.byName("niah_double"));
    }

    @Test
    void scoringTakesUpToTheFirstNewlineAtMost32Bytes() {
        assertTrue(AnswerScore.correct("12345", "12345\nThe grass"));
        assertTrue(AnswerScore.correct("12345", "12345"));
        assertFalse(AnswerScore.correct("12345", "12345 "));
        assertFalse(AnswerScore.correct("12345", "1234"));
        assertEquals("a".repeat(32), AnswerScore.answerOf("a".repeat(40)));
        assertEquals("", AnswerScore.answerOf("\n12345"));
    }

    private static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 120)).replace("\n", "\\n");
    }
}
