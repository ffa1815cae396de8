package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.model.TinyCheckpoint;
import org.pariskv.trace.Json;

/** (j) {@code pariskv generate}: exit 0 with text or JSON on a tiny checkpoint; exit 2 and a one-line reason on bad input. */
class GenerateCommandTest {

    @TempDir
    Path dir;
    Path model;

    @BeforeEach
    void checkpoint() {
        model = TinyCheckpoint.write(dir.resolve("tiny"), TinyCheckpoint.Spec.small()).dir;
    }

    @Test
    void jsonRunReportsTextAndSpeeds() {
        CliRun r = CliRun.of("generate", "--model", model.toString(), "--prompt", "The pass key is 12345.", "--max-tokens", "8",
                "--method", "full", "--format", "json");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> m = (Map<?, ?>) Json.parse(r.out().trim());
        assertEquals(23L, m.get("prompt_tokens"), "BOS + 22 bytes");
        long n = (Long) m.get("generated_tokens");
        assertTrue(n >= 1 && n <= 8, "generated " + n);
        assertEquals(n == 8 ? "max_tokens" : "eos", m.get("stopped"));
        for (String k : new String[] {"prefill_ms", "prefill_tokens_per_s", "ms_per_token", "tokens_per_s"}) {
            assertTrue(((Number) m.get(k)).doubleValue() > 0, k + " in " + r.out());
        }
        assertTrue(((Number) m.get("kv_bytes")).longValue() > 0);
    }

    @Test
    void greedyTextIsTheSameWithEveryMethodOnAShortPromptAndSeededSamplingRepeats() throws Exception {
        Path f = dir.resolve("prompt.txt");
        Files.writeString(f, "Hello, ");
        String[] base = {"generate", "--model", model.toString(), "--prompt-file", f.toString(), "--max-tokens", "6", "--format", "json"};
        Object full = Json.parse(CliRun.of(append(base, "--method", "full")).out().trim());
        Object paris = Json.parse(CliRun.of(append(base, "--method", "pariskv")).out().trim());
        assertEquals(((Map<?, ?>) full).get("text"), ((Map<?, ?>) paris).get("text"), "below the dense threshold both attend densely");
        CliRun a = CliRun.of(append(base, "--temperature", "1", "--top-p", "0.9", "--seed", "7"));
        CliRun b = CliRun.of(append(base, "--temperature", "1", "--top-p", "0.9", "--seed", "7"));
        assertEquals(0, a.code(), a.err());
        assertEquals(((Map<?, ?>) Json.parse(a.out().trim())).get("text"), ((Map<?, ?>) Json.parse(b.out().trim())).get("text"));
        CliRun text = CliRun.of("generate", "--model", model.toString(), "--prompt", "abc", "--max-tokens", "3");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("ms/token") && text.out().contains("prefill 4 tokens"), text.out());
    }

    @Test
    void deviceOpenClGeneratesTheCpuEnginesGreedyText() throws Exception {
        org.pariskv.compute.OpenClTestSupport.openClDevice();
        String bundled = org.pariskv.model.BundledModel.directory().toString();
        String prompt = Files.readString(org.pariskv.model.BundledModel.directory().resolve("heldout.txt")).substring(0, 200);
        String[] base = {"generate", "--model", bundled, "--prompt", prompt, "--max-tokens", "12", "--method", "full", "--format", "json"};
        CliRun cpu = CliRun.of(base);
        CliRun dev = CliRun.of(append(base, "--device", "opencl"));
        assertEquals(0, dev.code(), dev.err());
        Map<?, ?> c = (Map<?, ?>) Json.parse(cpu.out().trim()), d = (Map<?, ?>) Json.parse(dev.out().trim());
        assertEquals(c.get("text"), d.get("text"), "greedy text on the device");
        assertTrue(((String) d.get("device")).startsWith("opencl"), dev.out());
        CliRun quest = CliRun.of("generate", "--model", bundled, "--prompt", "abc", "--method", "quest", "--device", "opencl");
        assertEquals(2, quest.code());
        assertTrue(quest.err().contains("pariskv or full"), quest.err());
    }

    @Test
    void badInputExitsTwoWithAOneLineReason() throws Exception {
        String m = model.toString();
        assertBad(CliRun.of("generate", "--model", m, "--max-tokens", "3"), "--prompt");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--prompt-file", "x"), "mutually exclusive");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--method", "nope"), "unknown method 'nope'");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--max-tokens", "0"), "--max-tokens must be positive");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--top-p", "0"), "top-p must be in (0, 1]");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", ""), "the prompt is empty");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--max-tokens", "5000"), "exceeds max_position_embeddings = 4096");
        assertBad(CliRun.of("generate", "--model", dir.resolve("nowhere").toString(), "--prompt", "a"), "no such folder");
        assertBad(CliRun.of("generate", "--model", m, "--prompt-file", dir.resolve("none.txt").toString()), "prompt file not found");
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a", "--format", "xml"), "unknown --format 'xml'");
        // a cache that cannot fit: refused from config.json alone, before any weight is mapped
        Path huge = dir.resolve("huge");
        Files.createDirectories(huge);
        Files.writeString(huge.resolve("config.json"), Files.readString(model.resolve("config.json")).replace("\"num_hidden_layers\":2", "\"num_hidden_layers\":2000000000"));
        assertBad(CliRun.of("generate", "--model", huge.toString(), "--prompt", "a"), "GiB of K/V cache, more than half of this machine's");
        Path w = model.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(w);
        Files.write(w, java.util.Arrays.copyOf(all, all.length / 2));
        assertBad(CliRun.of("generate", "--model", m, "--prompt", "a"), "model.safetensors: file truncated: tensor");
    }

    private static void assertBad(CliRun r, String expected) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    private static String[] append(String[] a, String... more) {
        String[] b = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, b, a.length, more.length);
        return b;
    }
}
