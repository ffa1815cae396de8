package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pariskv bench --model}'s bad input, as a user meets it on a machine without a GPU: every case ends with exit 2
 * and one line on stderr that names the problem, nothing on stdout, no stack trace, and none of them opens a device.
 */
class BenchModelInputTest {

    /** Exit 2, stdout empty, one stderr line (the JVM's incubator warning aside) that starts "pariskv: " and holds {@code expected}. */
    static void refused(CliRun r, String expected) {
        assertEquals(2, r.code(), "stdout: " + r.out() + " stderr: " + r.err());
        assertEquals("", r.out(), r.err());
        String[] lines = r.err().strip().lines().filter(l -> !l.startsWith("WARNING: Using incubator")).toArray(String[]::new);
        assertEquals(1, lines.length, "one line, no stack trace: " + r.err());
        assertTrue(lines[0].startsWith("pariskv: ") && lines[0].contains(expected), "expected '" + expected + "' in: " + lines[0]);
    }

    @Test
    void unknownModelAndWrongDevices() {
        refused(CliRun.of("bench", "--model", "foo"), "--model foo: unknown; llama3-8b or qwen3-8b");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--device", "java"), "bench --model measures a device");
        refused(CliRun.of("bench", "--model", "qwen3-8b", "--device", "opencl:99"), "opencl:99");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--layers", "4"), "--layers, --kv and --offload do not apply");
    }

    @Test
    void contextsBatchesAndStepsAreCheckedBeforeADeviceIsOpened() {
        // --device java would be refused next: these reasons come first, so they hold on any machine
        refused(CliRun.of("bench", "--model", "llama3-8b", "--device", "java", "--context", "600"), "--context 600 is too small");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--device", "java", "--batch", "0"), "--batch 0");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--device", "java", "--steps", "0"), "--steps must be at least 1");
    }

    @Test
    void replotOfAMissingDirectoryAFileOrSomethingElsesJson(@TempDir Path tmp) throws Exception {
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", tmp.resolve("missing").toString()), "--replot: no ");
        Path notBench = Files.createDirectories(tmp.resolve("compare"));
        Files.writeString(notBench.resolve("bench.json"), "{\"points\": [{\"context\": 32768, \"batch\": 1, \"pariskv_ms\": 1.5}]}");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", notBench.toString()), "is not a bench --model result");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Files.writeString(empty.resolve("bench.json"), "{\"command\": \"pariskv bench\"}");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", empty.toString()), "holds no points of bench --model");
        Path broken = Files.createDirectories(tmp.resolve("broken"));
        Files.writeString(broken.resolve("bench.json"), "{\"points\": [");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", broken.toString()), broken.resolve("bench.json") + " is not JSON");
        Path random = Files.createDirectories(tmp.resolve("random"));
        Files.write(random.resolve("bench.json"), randomBytes());
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", random.toString()), "is not JSON (not UTF-8 text)");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--replot", broken.resolve("bench.json").toString()), "--replot takes the directory");
        refused(CliRun.of("bench", "--replot", notBench.toString()), "--replot goes with --model");
    }

    @Test
    void baselineThatIsMissingADirectoryRandomBytesOrTheWrongJson(@TempDir Path tmp) throws Exception {
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", tmp.resolve("hf.json").toString()), "hf.json: no such file");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", tmp.toString()), "is a directory, not a JSON file");
        Path random = Files.write(tmp.resolve("random.json"), randomBytes());
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", random.toString()), "random.json is not JSON (not UTF-8 text)");
        Path text = Files.writeString(tmp.resolve("text.json"), "ms per token: 12");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", text.toString()), "text.json is not JSON");
        Path wrong = Files.writeString(tmp.resolve("wrong.json"), "{\"a\": 1}");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", wrong.toString()), "expected {\"name\"");
        Path point = Files.writeString(tmp.resolve("point.json"), "{\"points\": [{\"context\": 32768}]}");
        refused(CliRun.of("bench", "--model", "llama3-8b", "--baseline", point.toString()), "a point without numeric context, batch and ms_per_token");
        refused(CliRun.of("bench", "--baseline", wrong.toString()), "--baseline goes with --model");
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[3000];
        new Random(16).nextBytes(b);
        b[0] = (byte) 0xff; // never valid UTF-8
        return b;
    }
}
