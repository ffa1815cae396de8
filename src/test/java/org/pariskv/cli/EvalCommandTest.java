package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.trace.Json;

/** {@code pariskv eval}: the JSON contract, and exit code 2 with a one-line reason for every kind of bad input. */
class EvalCommandTest {

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    static final String[] SMALL = {"eval", "--shape", "small", "--context", "3000", "--steps", "2", "--device", "java"};

    static String[] with(String... more) {
        String[] a = java.util.Arrays.copyOf(SMALL, SMALL.length + more.length);
        System.arraycopy(more, 0, a, SMALL.length, more.length);
        return a;
    }

    @Test
    void jsonOutputIsOneObjectWithTheDocumentedKeys() {
        CliRun r = run(with("--method", "pariskv", "--trace", "llm", "--format", "json", "--topk", "64"));
        assertEquals(0, r.code(), r.err());
        Object parsed = Json.parse(r.out().trim());
        assertInstanceOf(java.util.Map.class, parsed);
        java.util.Map<?, ?> m = (java.util.Map<?, ?>) parsed;
        for (String key : new String[] {"method", "device", "trace", "context", "topk", "recall_at_k", "attention_mass_recall", "output_rel_error", "ms_per_step"}) {
            assertTrue(m.containsKey(key), "missing " + key + " in " + r.out());
        }
        assertEquals("pariskv", m.get("method"));
        assertEquals("java", m.get("device"));
        double recall = ((Number) m.get("recall_at_k")).doubleValue();
        assertTrue(recall > 0 && recall <= 1, "recall " + recall);
    }

    @Test
    void profileConsolePrintsPerTaskTimes() {
        CliRun r = run(with("--method", "pariskv", "--trace", "llm", "--topk", "64", "--profile", "console"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("collisionScores") && r.out().contains("rerank"), r.out());
    }

    /** {@code --kv staged} on a device: the same selections and outputs as K/V in device memory, hence the same scores. */
    @Test
    @Tag("slow") // 13-24 s on a fresh machine (PoCL compiles the decoder); ./pariskv test --fast leaves it out
    void stagedKvOnADeviceScoresExactlyAsDeviceKv() {
        String device = org.pariskv.compute.OpenClTestSupport.openClDevice().spec();
        String[] base = {"eval", "--shape", "small", "--context", "3000", "--steps", "3", "--device", device, "--trace", "llm", "--format", "json", "--topk", "64", "--kv"};
        CliRun dev = run(append(base, "device")), st = run(append(base, "staged"));
        assertEquals(0, dev.code(), dev.err());
        assertEquals(0, st.code(), st.err());
        java.util.Map<?, ?> a = (java.util.Map<?, ?>) Json.parse(dev.out().trim()), b = (java.util.Map<?, ?>) Json.parse(st.out().trim());
        for (String key : new String[] {"recall_at_k", "attention_mass_recall", "output_rel_error", "sparse_steps"}) {
            assertEquals(a.get(key), b.get(key), key);
        }
        assertBadInput(run(append(base, "sideways")), "unknown --kv 'sideways'");
    }

    static String[] append(String[] a, String... more) {
        String[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    static void assertBadInput(CliRun r, String expected) {
        assertEquals(2, r.code(), r.out() + r.err());
        String line = r.err().strip();
        assertFalse(line.contains("\n"), "one line: " + line);
        assertTrue(line.startsWith("pariskv: ") && line.contains(expected), line);
    }

    @Test
    void unknownMethodTraceDeviceAndFormatExitTwo() {
        assertBadInput(run(with("--method", "nope")), "unknown method 'nope'");
        assertBadInput(run(with("--trace", "nope")), "nope");
        assertBadInput(run("eval", "--shape", "small", "--context", "3000", "--steps", "2", "--device", "tpu"), "unknown device 'tpu'");
        assertBadInput(run(with("--format", "xml")), "unknown --format 'xml'");
        assertBadInput(run(with("--gqa", "sum")), "unknown GQA mode 'sum'");
    }

    @Test
    void budgetAndContextProblemsExitTwo() {
        assertBadInput(run(with("--topk", "5000")), "--topk 5000 is larger than the retrieval zone");
        assertBadInput(run("eval", "--shape", "small", "--context", "10", "--steps", "10", "--device", "java"), "must exceed --steps");
        assertBadInput(run("eval", "--shape", "nope"), "unknown shape profile 'nope'");
    }

    @Test
    void brokenTraceFilesExitTwo(@TempDir Path dir) throws Exception {
        Path truncated = dir.resolve("cut.safetensors");
        byte[] good = Files.readAllBytes(Path.of("src/test/resources/traces/tiny-llama.safetensors"));
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));
        assertBadInput(run("eval", "--trace", truncated.toString(), "--device", "java"), "cut.safetensors");
        Path foreign = dir.resolve("notes.safetensors");
        Files.writeString(foreign, "this is not a trace at all, just some text");
        assertBadInput(run("eval", "--trace", foreign.toString(), "--device", "java"), "notes.safetensors");
        assertBadInput(run("eval", "--trace", dir.resolve("missing.safetensors").toString(), "--device", "java"), "not found");
        assertBadInput(run("eval", "--trace", dir.toString(), "--device", "java"), "is a directory, not a trace file");
    }

    @Test
    void aTraceFileIsNotSilentlyOverriddenByContextOrSteps() {
        String file = "src/test/resources/traces/tiny-llama.safetensors";
        assertBadInput(run("eval", "--trace", file, "--context", "4096", "--device", "java"), "--context cannot be combined with a trace file");
        assertBadInput(run("eval", "--trace", file, "--steps", "3", "--device", "java"), "--steps cannot be combined with a trace file");
    }
}
