package org.pariskv.examples;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.pariskv.ParisKvConfig;

/**
 * examples/dump_trace.py's own examples and its default prompt length make traces that {@code pariskv eval} takes
 * at its defaults: past the dense threshold, with a retrieval zone larger than the default top-k.
 */
class DumpTraceExampleTest {

    static final Pattern PROMPT = Pattern.compile("--prompt-tokens (\\d+)"), GENERATE = Pattern.compile("--generate (\\d+)");

    @Test
    void everyExampleAndTheDefaultsMakeASparseTrace() throws Exception {
        String script = Files.readString(Path.of("examples/dump_trace.py"));
        List<int[]> runs = new ArrayList<>();
        for (String line : script.split("\n")) {
            if (!line.contains("dump_trace.py --")) continue;
            String full = line;
            Matcher p = PROMPT.matcher(full), g = GENERATE.matcher(full);
            if (p.find() && g.find()) runs.add(new int[] {Integer.parseInt(p.group(1)), Integer.parseInt(g.group(1))});
        }
        assertFalse(runs.isEmpty(), "the docstring has examples with --prompt-tokens and --generate");
        runs.add(new int[] {argDefault(script, "--prompt-tokens"), argDefault(script, "--generate")});
        ParisKvConfig cfg = ParisKvConfig.defaults();
        for (int[] r : runs) {
            int tokens = r[0] + r[1];
            int zone = tokens - cfg.sink() - cfg.local();
            assertTrue(zone >= cfg.topk(), "prompt " + r[0] + " + " + r[1] + " steps: zone " + zone + " < top-k " + cfg.topk());
            assertTrue(r[0] >= cfg.denseBelow(), "prompt " + r[0] + " is below the dense threshold " + cfg.denseBelow() + ": no sparse step");
        }
    }

    private static int argDefault(String script, String option) {
        Matcher m = Pattern.compile("add_argument\\(\"" + Pattern.quote(option) + "\", type=int, default=(\\d+)").matcher(script);
        assertTrue(m.find(), option + " default");
        return Integer.parseInt(m.group(1));
    }
}
