package org.pariskv.model.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The suite runner with answerers whose accuracy is known in advance. */
class SuiteRunnerTest {

    static final List<Integer> CONTEXTS = List.of(600, 1500);

    static SuitePlan plan(List<String> methods, int samples) {
        return new SuitePlan(LongContextTask.ALL, CONTEXTS, methods, samples, 11);
    }

    @Test
    void oracleScoresOneGarbageZero() {
        List<String> closed = new ArrayList<>();
        SuiteResult r = SuiteRunner.run(plan(List.of("oracle", "garbage"), 3), m -> new Answerer() {
            @Override
            public String answer(byte[] prompt, int maxAnswerBytes) {
                assertEquals(AnswerScore.MAX_ANSWER_BYTES, maxAnswerBytes);
                return m.equals("oracle") ? TaskOracle.answer(prompt) + "\nThe grass is green." : "The grass is green.";
            }

            @Override
            public void close() {
                closed.add(m);
            }
        }, SuiteListener.NONE);
        assertEquals(List.of("oracle", "garbage"), closed, "each answerer closed once, in turn");
        assertEquals(5 * 2 * 2, r.cells().size());
        assertEquals(5 * 2 * 2 * 3, r.instances().size());
        for (CellAccuracy c : r.cells()) {
            assertEquals(3, c.total());
            assertEquals(c.method().equals("oracle") ? 1.0 : 0.0, c.accuracy(), c.toString());
        }
        assertEquals(1.0, r.overall("oracle"));
        assertEquals(0.0, r.overall("garbage"));
        for (InstanceResult i : r.instances()) {
            assertTrue(i.promptBytes() <= i.target() && i.promptBytes() > i.target() - 22, i.toString());
            assertEquals(i.method().equals("oracle"), i.correct());
            assertEquals(i.method().equals("oracle") ? i.expected() : "The grass is green.", i.got());
            assertTrue(i.ms() >= 0);
        }
    }

    @Test
    void rightOnEveryOtherInstanceScoresOneHalf() {
        AtomicInteger calls = new AtomicInteger();
        SuiteResult r = SuiteRunner.run(plan(List.of("half"), 4),
                m -> (prompt, max) -> calls.getAndIncrement() % 2 == 0 ? TaskOracle.answer(prompt) : "0", SuiteListener.NONE);
        assertEquals(5 * 2 * 4, calls.get());
        for (CellAccuracy c : r.cells()) assertEquals(new CellAccuracy(c.task(), c.context(), "half", 2, 4), c);
        assertEquals(0.5, r.overall("half"));
    }

    @Test
    void everyMethodSeesTheSamePromptsAndPasskeyWalksTheDepths() {
        Map<String, List<String>> seen = new HashMap<>();
        SuitePlan plan = new SuitePlan(List.of(LongContextTask.byName("passkey")), List.of(2048), List.of("a", "b"), 9, 5);
        SuiteResult r = SuiteRunner.run(plan, m -> (prompt, max) -> {
            seen.computeIfAbsent(m, k -> new ArrayList<>()).add(new String(prompt, java.nio.charset.StandardCharsets.ISO_8859_1));
            return "";
        }, SuiteListener.NONE);
        assertEquals(seen.get("a"), seen.get("b"));
        assertEquals(9, new java.util.HashSet<>(seen.get("a")).size(), "nine different prompts");
        List<Double> depths = r.instances().stream().filter(i -> i.method().equals("a")).map(InstanceResult::depth).toList();
        assertEquals(List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), depths);
        assertEquals(plan.instances(LongContextTask.byName("passkey"), 2048),
                new SuitePlan(List.of(LongContextTask.byName("passkey"), LongContextTask.byName("vartrack")), List.of(4096, 2048), List.of("x"), 9, 5)
                        .instances(LongContextTask.byName("passkey"), 2048), "an instance does not depend on the other tasks and contexts");
    }

    @Test
    void listenerHearsEveryAnswer() {
        List<String> starts = new ArrayList<>();
        AtomicInteger answered = new AtomicInteger();
        SuitePlan plan = plan(List.of("m"), 2);
        SuiteRunner.run(plan, m -> (prompt, max) -> "", new SuiteListener() {
            @Override
            public void starting(String method, String task, int context) {
                starts.add(task + "@" + context);
            }

            @Override
            public void answered(InstanceResult result) {
                answered.incrementAndGet();
            }
        });
        assertEquals(plan.answers(), answered.get());
        assertEquals(10, starts.size());
        assertEquals("passkey@600", starts.getFirst());
    }

    @Test
    void badPlansAreRefused() {
        LongContextTask mk = LongContextTask.byName("niah_multikey");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SuitePlan(List.of(mk), List.of(mk.minContext() - 1), List.of("full"), 1, 1));
        assertTrue(e.getMessage().contains("minimum " + mk.minContext()), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SuitePlan(List.of(mk), List.of(4096), List.of("full"), 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new SuitePlan(List.of(mk), List.of(4096), List.of("full", "full"), 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new SuitePlan(List.of(), List.of(4096), List.of("full"), 1, 1));
    }
}
