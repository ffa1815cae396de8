package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * One option name, one meaning, in every command: {@code --shape} is the model shape, {@code --profile} per-task
 * timing; {@code --context} and {@code --contexts} both spell a context list; {@code pariskv-ref} is a method
 * wherever a method is taken; {@code --trace FILE} reads a trace file wherever a trace is taken.
 */
class OptionNamesTest {

    static final String TRACE_FILE = "src/test/resources/traces/tiny-llama.safetensors";

    @TempDir
    Path tmp;

    /** Exit 2, one line on stderr naming {@code expected}, nothing on stdout. */
    private static void refused(CliRun r, String expected) {
        EvalCommandTest.assertBadInput(r, expected);
        assertEquals("", r.out(), "stdout stays clean");
    }

    private static Map<String, CommandLine> commands() {
        return new CommandLine(new Main()).getSubcommands();
    }

    @Test
    void profileIsTimingAndShapeIsTheShapeInEveryCommand() {
        commands().forEach((name, cl) -> {
            OptionSpec profile = cl.getCommandSpec().findOption("--profile");
            if (profile != null && !profile.hidden()) {
                assertTrue(String.join(" ", profile.description()).contains("console or json"), name + " --profile: " + String.join(" ", profile.description()));
            }
            OptionSpec shape = cl.getCommandSpec().findOption("--shape");
            if (shape != null) assertTrue(String.join(" ", shape.description()).contains("Head geometry"), name);
        });
        for (String name : new String[] {"bench", "plan", "eval", "compare"}) assertNotNull(commands().get(name).getCommandSpec().findOption("--shape"), name);
    }

    @Test
    void contextAndContextsAreOneOptionWhereAListIsTaken() {
        commands().forEach((name, cl) -> {
            OptionSpec one = cl.getCommandSpec().findOption("--context"), many = cl.getCommandSpec().findOption("--contexts");
            if (many != null) assertSame(many, one, name + ": --context spells --contexts");
            if (one != null && one.isMultiValue()) assertSame(one, many, name + ": --contexts spells --context");
        });
    }

    @Test
    void planTakesShapeAndTheOldProfileSpellingWithAWarning() {
        CliRun shape = CliRun.of("plan", "--shape", "small", "--context", "65536", "--device-memory", "8G", "--host-memory", "8G");
        CliRun old = CliRun.of("plan", "--profile", "small", "--context", "65536", "--device-memory", "8G", "--host-memory", "8G");
        CliRun big = CliRun.of("plan", "--shape", "llama3-8b", "--context", "65536", "--device-memory", "8G", "--host-memory", "8G");
        assertEquals(0, shape.code(), shape.err());
        assertEquals("", shape.err());
        assertEquals(0, old.code(), old.err());
        assertEquals(shape.out(), old.out());
        assertNotEquals(shape.out(), big.out(), "--shape is read");
        assertEquals("pariskv: warning: --profile NAME is deprecated for the model shape; use --shape small", old.err().strip());
        refused(CliRun.of("plan", "--profile", "json", "--context", "4096"), "here the model shape is --shape NAME");
        refused(CliRun.of("plan", "--profile", "small", "--shape", "small", "--context", "4096"), "give --shape only");
        refused(CliRun.of("demo", "--profile", "console", "--device", "java"), "per-task times: pariskv eval --profile console");
    }

    @Test
    void evalTakesTheReferenceMethod() {
        CliRun r = CliRun.of(EvalCommandTest.with("--method", "pariskv-ref", "--format", "json", "--topk", "64"));
        assertEquals(0, r.code(), r.err());
        Map<?, ?> m = (Map<?, ?>) org.pariskv.trace.Json.parse(r.out().trim());
        assertEquals("pariskv-ref", m.get("method"));
        assertEquals("mean", m.get("gqa"), "the reference config selects by the group-mean query");
        double recall = ((Number) m.get("recall_at_k")).doubleValue();
        assertTrue(recall > 0 && recall <= 1, "recall " + recall);
        refused(CliRun.of(EvalCommandTest.with("--method", "pariskv-nope")), "pariskv-ref");
    }

    @Test
    void modelCommandsTakeTheReferenceMethod() {
        CliRun r = CliRun.of("bpb", "--methods", "pariskv-ref,full", "--prefill", "2100", "--steps", "4", "--format", "json");
        assertEquals(0, r.code(), r.err());
        java.util.List<?> rows = (java.util.List<?>) ((Map<?, ?>) org.pariskv.trace.Json.parse(r.out().trim())).get("methods");
        assertEquals("pariskv-ref", ((Map<?, ?>) rows.get(0)).get("method"));
        double bpb = ((Number) ((Map<?, ?>) rows.get(0)).get("bits_per_byte")).doubleValue();
        assertTrue(bpb > 0 && bpb < 8, "bits per byte " + bpb);
        refused(CliRun.of("demo", "--methods", "pariskv-nope", "--device", "java"), "pariskv-ref");
    }

    @Test
    void compareTakesContextAndATraceFile() throws Exception {
        Path one = tmp.resolve("one"), file = tmp.resolve("file");
        CliRun r = CliRun.of("compare", "--shape", "small", "--context", "3000", "--budgets", "64", "--steps", "2", "--methods", "pariskv,full",
                "--no-warmup", "--no-progress", "--no-plots", "--format", "json", "--out", one.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"context\": 3000") || r.out().contains("\"context\":3000"), r.out());

        CliRun f = CliRun.of("compare", "--trace", TRACE_FILE, "--budgets", "16", "--methods", "pariskv,pariskv-ref,full",
                "--no-warmup", "--no-progress", "--no-plots", "--out", file.toString());
        assertEquals(0, f.code(), f.err());
        String md = Files.readString(file.resolve("results.md"));
        for (String m : new String[] {"| pariskv |", "| pariskv-ref |", "| full |"}) assertTrue(md.contains(m), md);
        assertTrue(md.contains("tiny-llama"), md);
        refused(CliRun.of("compare", "--trace", TRACE_FILE, "--contexts", "4096", "--out", file.toString()),
                "--contexts cannot be combined with a trace file");
        refused(CliRun.of("compare", "--trace", tmp.toString(), "--out", file.toString()), "is a directory, not a trace file");
    }
}
