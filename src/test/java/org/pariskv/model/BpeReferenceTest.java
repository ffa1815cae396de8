package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.pariskv.trace.Json;

/**
 * Ids recorded from Hugging Face {@code transformers} by training/tokenizer_reference.py: every
 * src/test/resources/tokenizers/reference/NAME/ holding tokenizer.json and expected.json must encode every case to
 * exactly the recorded ids. The data is committed, so finding no case is a failure, not a skip.
 */
class BpeReferenceTest {

    @Test
    void idsEqualTransformers() throws IOException, URISyntaxException {
        var url = BpeReferenceTest.class.getResource("/tokenizers/reference");
        assertNotNull(url, "src/test/resources/tokenizers/reference is missing (training/tokenizer_reference.py writes it)");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(Path.of(url.toURI()))) {
            dirs = s.filter(d -> Files.isRegularFile(d.resolve("tokenizer.json")) && Files.isRegularFile(d.resolve("expected.json"))).sorted().toList();
        }
        int checked = 0;
        List<String> wrong = new ArrayList<>();
        for (Path d : dirs) {
            BpeTokenizer t = BpeTokenizer.read(d.resolve("tokenizer.json"));
            Map<?, ?> expected = (Map<?, ?>) Json.parse(Files.readString(d.resolve("expected.json")));
            if (expected.get("bos") instanceof Long bos) assertEquals(bos.intValue(), t.bos(), d + ": bos");
            for (Object c : (List<?>) expected.get("cases")) {
                String text = (String) ((Map<?, ?>) c).get("text");
                int[] want = ((List<?>) ((Map<?, ?>) c).get("ids")).stream().mapToInt(o -> ((Long) o).intValue()).toArray();
                int[] got = t.encode(text);
                checked++;
                if (!Arrays.equals(want, got)) {
                    int at = Arrays.mismatch(want, got);
                    wrong.add(d.getFileName() + " " + Json.quote(text.length() > 60 ? text.substring(0, 60) + "..." : text) + ": first difference at id "
                            + at + " of " + want.length + ", expected " + Arrays.toString(Arrays.copyOfRange(want, at, Math.min(want.length, at + 8)))
                            + " got " + Arrays.toString(Arrays.copyOfRange(got, at, Math.min(got.length, at + 8))));
                }
            }
        }
        assertTrue(checked > 0, "no reference case under " + url + " (directories: " + dirs + ")");
        assertTrue(wrong.isEmpty(), wrong.size() + " of " + checked + " cases differ:\n" + String.join("\n", wrong));
    }
}
