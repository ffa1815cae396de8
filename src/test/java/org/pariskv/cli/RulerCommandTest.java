package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.model.tasks.Answerer;
import org.pariskv.model.tasks.LongContextTask;
import org.pariskv.trace.Json;

/**
 * {@code pariskv ruler} with fake models behind the {@link RulerCommand#answerers} hook: "full" reads the
 * passkey / kv answer by regex (always right), "pariskv" is right on every other prompt.
 */
class RulerCommandTest {

    static final Pattern PASSKEY = Pattern.compile("The pass key is (\\d{5})\\. ");
    static final Pattern KV_Q = Pattern.compile("\nKey: ([0-9a-f]{8})\nValue: $");
    static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    static Path tmp;

    static Path model, dir;
    static CliRun run;
    static final List<String> opened = Collections.synchronizedList(new ArrayList<>()), closed = Collections.synchronizedList(new ArrayList<>());
    static BiFunction<Path, String, Answerer> saved;

    static String read(byte[] prompt) {
        String p = new String(prompt, java.nio.charset.StandardCharsets.US_ASCII);
        Matcher q = KV_Q.matcher(p);
        if (q.find()) {
            Matcher line = Pattern.compile("(?m)^" + q.group(1) + ": ([0-9a-f]{8})$").matcher(p);
            return line.find() ? line.group(1) : "?";
        }
        Matcher m = PASSKEY.matcher(p);
        return m.find() ? m.group(1) : "?";
    }

    static Answerer fake(Path modelDir, String method) {
        assertEquals(model, modelDir);
        opened.add(method);
        AtomicInteger calls = new AtomicInteger();
        return new Answerer() {
            @Override
            public String answer(byte[] prompt, int maxAnswerBytes) {
                boolean right = method.equals("full") || calls.getAndIncrement() % 2 == 0;
                return (right ? read(prompt) : "00000") + "\nThe grass is green.";
            }

            @Override
            public void close() {
                closed.add(method);
            }
        };
    }

    @BeforeAll
    static void runOnce() throws IOException {
        saved = RulerCommand.answerers;
        RulerCommand.answerers = RulerCommandTest::fake;
        model = Files.createDirectories(tmp.resolve("model"));
        dir = tmp.resolve("ruler");
        run = CliRun.of("ruler", "--model", model.toString(), "--methods", "pariskv,full", "--tasks", "passkey,kv_lookup",
                "--contexts", "1024,2048", "--samples", "4", "--seed", "3", "--no-progress", "--out", dir.toString());
    }

    @AfterAll
    static void restore() {
        RulerCommand.answerers = saved;
    }

    @Test
    void exitsZeroAndPrintsOneRowPerTaskAndContext() {
        assertEquals(0, run.code(), run.err());
        assertEquals(List.of("pariskv", "full"), opened);
        assertEquals(List.of("pariskv", "full"), closed);
        List<String> rows = run.out().lines().filter(l -> l.startsWith("| ")).toList();
        assertEquals("| task | context | pariskv | full |", rows.getFirst());
        for (String task : List.of("passkey", "kv_lookup")) {
            for (String c : List.of("1024", "2048")) {
                assertTrue(rows.contains("| " + task + " | " + c + " | 0.500 (2/4) | 1.000 (4/4) |"), task + c + "\n" + run.out());
            }
        }
        assertTrue(rows.contains("| all | | 0.500 | 1.000 |"), run.out());
        assertTrue(run.out().contains("wrote " + dir.resolve("accuracy-passkey.png")), run.out());
    }

    @Test
    void jsonParsesWithEveryCellAndInstance() throws IOException {
        Map<?, ?> top = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("results.json")).trim());
        assertEquals("ruler", top.get("command"));
        assertEquals(List.of(1024L, 2048L), top.get("contexts"));
        List<?> cells = (List<?>) top.get("accuracy"), instances = (List<?>) top.get("instances");
        assertEquals(2 * 2 * 2, cells.size());
        assertEquals(2 * 2 * 2 * 4, instances.size());
        for (Object o : cells) {
            Map<?, ?> c = (Map<?, ?>) o;
            assertEquals(c.get("method").equals("full") ? 1.0 : 0.5, ((Number) c.get("accuracy")).doubleValue(), c.toString());
        }
        for (Object o : instances) {
            Map<?, ?> i = (Map<?, ?>) o;
            assertEquals(i.get("expected").equals(i.get("got")), i.get("correct"), i.toString());
            assertTrue(((Number) i.get("prompt_bytes")).longValue() <= ((Number) i.get("context")).longValue());
        }
        assertEquals(1.0, ((Number) ((Map<?, ?>) top.get("overall")).get("full")).doubleValue());
    }

    @Test
    void csvFilesHaveTheColumnsAndOneRowEach() throws IOException {
        List<String> acc = Files.readAllLines(dir.resolve("accuracy.csv"));
        assertEquals(String.join(",", RulerOutput.ACCURACY_COLUMNS), acc.getFirst());
        assertEquals(1 + 8, acc.size());
        assertTrue(acc.contains("passkey,1024,pariskv,2,4,0.500000"), acc.toString());
        List<String> inst = Files.readAllLines(dir.resolve("instances.csv"));
        assertEquals(String.join(",", RulerOutput.INSTANCE_COLUMNS), inst.getFirst());
        assertEquals(1 + 32, inst.size());
        List<String> passkeyDepths = new ArrayList<>();
        for (String l : inst.subList(1, inst.size())) {
            String[] f = l.split(",", -1);
            assertEquals(RulerOutput.INSTANCE_COLUMNS.size(), f.length, l);
            assertEquals(f[6].equals(f[7]), Boolean.parseBoolean(f[8]), l);
            if (f[0].equals("passkey") && f[1].equals("1024") && f[2].equals("full")) passkeyDepths.add(f[5]);
        }
        assertEquals(List.of("0.1000", "0.2000", "0.3000", "0.4000"), passkeyDepths);
    }

    @Test
    void onePngPerTask() throws IOException {
        for (String task : List.of("passkey", "kv_lookup")) {
            byte[] png = Files.readAllBytes(dir.resolve("accuracy-" + task + ".png"));
            assertArrayEquals(PNG_MAGIC, Arrays.copyOf(png, 8), task);
        }
        assertFalse(Files.exists(dir.resolve("accuracy-vartrack.png")));
    }

    @Test
    void jsonOnStdout() {
        CliRun r = CliRun.of("ruler", "--model", model.toString(), "--methods", "full", "--tasks", "vartrack", "--contexts", "4096",
                "--samples", "2", "--no-progress", "--no-plots", "--format", "json", "--out", tmp.resolve("j").toString());
        assertEquals(0, r.code(), r.err());
        Map<?, ?> top = (Map<?, ?>) Json.parse(r.out().trim());
        assertEquals(List.of("vartrack"), top.get("tasks"));
        assertEquals(0.0, ((Number) ((Map<?, ?>) top.get("overall")).get("full")).doubleValue(), "this fake cannot track variables");
        assertFalse(Files.exists(tmp.resolve("j").resolve("accuracy-vartrack.png")));
    }

    @Test
    void badInputExitsTwoWithOneLine() {
        String m = model.toString(), o = tmp.resolve("bad").toString();
        int min = LongContextTask.byName("niah_multikey").minContext();
        Object[][] cases = {
                {new String[] {"--tasks", "passkey,niah_double"}, "unknown task 'niah_double'"},
                {new String[] {"--methods", "full,fastest"}, "unknown method 'fastest'"},
                {new String[] {"--tasks", "niah_multikey", "--contexts", "4096," + (min - 1)}, "minimum " + min + " bytes"},
                {new String[] {"--samples", "0"}, "samples must be at least 1"},
                {new String[] {"--format", "xml"}, "unknown --format"},
                {new String[] {"--methods", "full,full"}, "appears twice"},
                {new String[] {"--adaptive-mass", "1.5"}, "--adaptive-mass must be in (0, 1]"},
                {new String[] {"--topk-max", "300"}, "give --adaptive-mass TAU as well"},
        };
        for (Object[] c : cases) {
            List<String> args = new ArrayList<>(List.of("ruler", "--model", m, "--no-progress", "--out", o));
            args.addAll(List.of((String[]) c[0]));
            CliRun r = CliRun.of(args.toArray(String[]::new));
            assertEquals(2, r.code(), args + ": " + r.err());
            assertTrue(r.err().contains((String) c[1]), args + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        CliRun missing = CliRun.of("ruler", "--model", tmp.resolve("nowhere").toString(), "--out", o);
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such folder"), missing.err());
    }

    @Test
    void helpStatesEveryTaskMinimum() {
        CliRun r = CliRun.of("ruler", "--help");
        assertEquals(0, r.code());
        String help = r.out().replaceAll("\\s+", " ");
        for (LongContextTask t : LongContextTask.ALL) assertTrue(help.contains(t.name() + " " + t.minContext()), t.name() + ": " + help);
        assertTrue(help.contains("10, 20, ..., 90 %"), help);
    }
}
