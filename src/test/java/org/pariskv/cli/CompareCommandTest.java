package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pariskv compare} end to end on the small shape: files, columns, one row per (method, context, budget). */
class CompareCommandTest {

    static final List<String> METHODS = List.of("pariskv", "pariskv-ref", "oracle", "streaming", "louiskv");
    static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    static Path tmp;

    static Path dir;
    static int exit;
    static String stdout;

    @BeforeAll
    static void runOnce() {
        dir = tmp.resolve("cmp");
        String[] out = new String[1];
        exit = capture(System.out, s -> System.setOut(s), () -> Main.execute("compare", "--shape", "small", "--contexts", "3000,3200",
                "--budgets", "64,96", "--steps", "3", "--methods", String.join(",", METHODS), "--no-warmup", "--no-progress",
                "--out", dir.toString()), out);
        stdout = out[0];
    }

    @Test
    void exitsZeroAndPrintsTheTable() {
        assertEquals(0, exit, stdout);
        assertTrue(stdout.contains("| method | context | budget | recall@k"), stdout);
    }

    @Test
    void csvHasTheColumnsAndOneRowPerRun() throws IOException {
        List<String> lines = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals(String.join(",", CompareOutput.CSV_COLUMNS), lines.getFirst());
        List<String> header = Arrays.asList(lines.getFirst().split(","));
        for (String c : List.of("method", "context", "budget", "recall_at_k", "attention_mass_recall", "output_rel_error",
                "needle_hit_rate", "ms_per_step", "retrieval_rate")) {
            assertTrue(header.contains(c), c);
        }
        assertEquals(1 + METHODS.size() * 2 * 2, lines.size());
        Set<String> keys = new HashSet<>();
        int mi = header.indexOf("method"), ci = header.indexOf("context"), bi = header.indexOf("budget"), ri = header.indexOf("retrieval_rate");
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.split(",", -1);
            assertEquals(header.size(), f.length, l);
            assertTrue(keys.add(f[mi] + "/" + f[ci] + "/" + f[bi]), "duplicate row " + l);
            assertEquals(f[mi].equals("louiskv"), !f[ri].isEmpty(), "retrieval rate only for louiskv: " + l);
            if (f[mi].equals("louiskv")) {
                double rate = Double.parseDouble(f[ri]);
                assertTrue(rate > 0 && rate <= 1, l);
            }
        }
        for (String m : METHODS) for (String c : List.of("3000", "3200")) for (String b : List.of("64", "96")) assertTrue(keys.contains(m + "/" + c + "/" + b), m + c + b);
    }

    @Test
    void markdownHasTheColumnsAndOneRowPerRun() throws IOException {
        List<String> lines = Files.readAllLines(dir.resolve("results.md"));
        String header = lines.stream().filter(l -> l.startsWith("| method |")).findFirst().orElseThrow();
        for (String c : List.of("method", "context", "budget", "recall@k", "attention-mass recall", "output error", "ms/step", "retrieval rate")) {
            assertTrue(header.contains(" " + c + " |"), c);
        }
        long rows = lines.stream().filter(l -> l.startsWith("| ") && !l.startsWith("| method")).count();
        assertEquals(METHODS.size() * 2 * 2, rows);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("| pariskv-ref | 3200 | 96 |")));
    }

    @Test
    void jsonHasOneResultPerRunWithTheEvalKeys() throws IOException {
        String json = Files.readString(dir.resolve("results.json"));
        assertTrue(json.startsWith("{\"command\":\"compare\""), json);
        int n = 0;
        for (int i = json.indexOf("\"method\":"); i >= 0; i = json.indexOf("\"method\":", i + 1)) n++;
        assertEquals(METHODS.size() * 2 * 2, n);
        for (String k : List.of("recall_at_k", "attention_mass_recall", "output_rel_error", "ms_per_step", "retrieval_rate", "budget")) {
            assertTrue(json.contains("\"" + k + "\":"), k);
        }
    }

    @Test
    void plotsArePngFiles() throws IOException {
        for (String f : List.of("recall-vs-budget-c3000.png", "error-vs-budget-c3000.png", "time-vs-budget-c3000.png",
                "recall-vs-budget-c3200.png", "error-vs-budget-c3200.png", "time-vs-budget-c3200.png")) {
            Path p = dir.resolve(f);
            assertTrue(Files.isRegularFile(p), f);
            byte[] b = Files.readAllBytes(p);
            assertTrue(b.length > 1000, f + " is " + b.length + " bytes");
            assertArrayEquals(PNG_MAGIC, Arrays.copyOf(b, 8), f);
        }
        assertFalse(Files.exists(dir.resolve("recall_steps.csv")), "3 steps are not 'many'");
    }

    @Test
    void sampledRunWritesTheStepSeriesAndItsPlot() throws IOException {
        Path d = tmp.resolve("steps");
        String[] out = new String[1];
        int rc = capture(System.out, s -> System.setOut(s), () -> Main.execute("compare", "--shape", "small", "--trace", "drift",
                "--contexts", "3000", "--budgets", "64", "--steps", "80", "--sample-every", "2", "--methods", "pariskv,oracle,louiskv",
                "--no-warmup", "--no-progress", "--format", "json", "--out", d.toString()), out);
        assertEquals(0, rc, out[0]);
        assertTrue(out[0].contains("\"recall_per_step\""), "json on stdout carries the per-step series");
        List<String> lines = Files.readAllLines(d.resolve("recall_steps.csv"));
        assertEquals(String.join(",", CompareOutput.STEP_COLUMNS), lines.getFirst());
        long pariskvRows = lines.stream().filter(l -> l.startsWith("pariskv,")).count();
        assertEquals(41, pariskvRows, "steps 0, 2, ..., 78 and the last (79)");
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("pariskv,3000,64,1,")), "odd steps are not scored");
        byte[] png = Files.readAllBytes(d.resolve("recall-steps-c3000-k64.png"));
        assertArrayEquals(PNG_MAGIC, Arrays.copyOf(png, 8));
        String csv = Files.readString(d.resolve("results.csv"));
        assertTrue(csv.contains("pariskv,drift,3000,80,41,64,"), csv);
    }

    @Test
    void unknownMethodExitsTwoWithOneLine() {
        String[] err = new String[1];
        int rc = capture(System.err, s -> System.setErr(s), () -> Main.execute("compare", "--shape", "small", "--contexts", "3000",
                "--budgets", "64", "--steps", "3", "--methods", "pariskv,nosuch", "--out", tmp.resolve("bad").toString()), err);
        assertEquals(2, rc);
        String msg = err[0].strip();
        assertFalse(msg.contains("\n"), msg);
        assertTrue(msg.startsWith("pariskv: unknown method 'nosuch'"), msg);
        assertFalse(Files.exists(tmp.resolve("bad").resolve("results.csv")));
    }

    @Test
    void theModelTraceComparesOnTheBundledModelsAttentionAndRefusesAShape() throws IOException {
        Path d = tmp.resolve("model");
        assertEquals(0, Main.execute("compare", "--trace", "model", "--layers", "2", "--contexts", "2600", "--budgets", "64",
                "--steps", "2", "--methods", "pariskv,oracle", "--no-warmup", "--out", d.toString()));
        String md = Files.readString(d.resolve("results.md"));
        assertTrue(md.contains("bundled model (4 query / 2 KV heads, D=128)") && md.contains("| oracle | 2600 | 64 |"), md);
        String[] err = new String[1];
        int rc = capture(System.err, s -> System.setErr(s), () -> Main.execute("compare", "--trace", "model", "--shape", "llama3-8b",
                "--contexts", "2600", "--budgets", "64", "--steps", "2", "--out", tmp.resolve("bad3").toString()), err);
        assertEquals(2, rc);
        assertTrue(err[0].contains("--shape cannot be combined with --trace model"), err[0]);
    }

    @Test
    void budgetLargerThanTheZoneExitsTwo() {
        String[] err = new String[1];
        int rc = capture(System.err, s -> System.setErr(s), () -> Main.execute("compare", "--shape", "small", "--contexts", "3000",
                "--budgets", "4000", "--steps", "3", "--methods", "oracle", "--out", tmp.resolve("bad2").toString()), err);
        assertEquals(2, rc);
        assertTrue(err[0].contains("larger than the retrieval zone"), err[0]);
    }

    /** Runs {@code body} with a stream swapped in for {@code original}; returns its result, the captured text in {@code text[0]}. */
    private static int capture(PrintStream original, java.util.function.Consumer<PrintStream> set, Supplier<Integer> body, String[] text) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        set.accept(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            return body.get();
        } finally {
            set.accept(original);
            text[0] = buf.toString(StandardCharsets.UTF_8);
        }
    }
}
