package org.pariskv.examples;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/examples.md lists every example with a command that runs it, and dump_trace.py's command as the script has it. */
class ExamplesDocTest {

    @Test
    void everyExampleHasItsRunCommand() throws Exception {
        String doc = Files.readString(Path.of("docs/examples.md"));
        List<String> names;
        try (var files = Files.list(Path.of("examples"))) {
            names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".java")).map(n -> n.substring(0, n.length() - 5)).sorted().toList();
        }
        assertFalse(names.isEmpty());
        for (String n : names) assertTrue(doc.contains("`./pariskv example " + n), "docs/examples.md has no ./pariskv example " + n);
        Matcher m = Pattern.compile("\\./pariskv example ([A-Z][a-z]\\w*)").matcher(doc);
        while (m.find()) assertTrue(names.contains(m.group(1)), "docs/examples.md names a missing example: " + m.group(1));
    }

    @Test
    void dumpTraceCommandsAreTheScriptsOwn() throws Exception {
        String doc = Files.readString(Path.of("docs/examples.md")), script = Files.readString(Path.of("examples/dump_trace.py"));
        Matcher m = Pattern.compile("python3? (examples/dump_trace\\.py [^\\n]+)").matcher(doc);
        assertTrue(m.find(), "docs/examples.md runs dump_trace.py");
        do assertTrue(script.contains(m.group(1).strip()), "dump_trace.py's docstring has: " + m.group(1)); while (m.find());
    }
}
