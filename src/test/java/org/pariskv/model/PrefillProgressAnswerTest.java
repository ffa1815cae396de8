package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.tasks.ModelAnswerer;

/** The demo's progress: a long prompt's prefill is reported chunk by chunk, and the answer is the one without reports. */
class PrefillProgressAnswerTest {

    @TempDir
    Path dir;

    @Test
    void prefillIsReportedPerChunkWithTheSameAnswer() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        byte[] prompt = new byte[ModelAnswerer.QUESTION_BYTES + 3 * LlamaModel.PREFILL_CHUNK + 17];
        prompt[0] = 2;
        for (int i = 1; i < prompt.length; i++) prompt[i] = (byte) ('a' + i % 26);
        int split = prompt.length - ModelAnswerer.QUESTION_BYTES;
        List<Integer> reports = new ArrayList<>();
        ModelAnswerer.Answer plain, reported;
        try (ModelAnswerer a = new ModelAnswerer(LlamaModel.load(c.dir, "pariskv", ParisKvConfig.defaults()), true)) {
            plain = a.answerTimed(prompt, 8);
            reported = a.answerTimed(prompt, 8, reports::add);
        }
        assertEquals(List.of(256, 512, 768, split), reports);
        assertEquals(plain.text(), reported.text());
        assertEquals(plain.prefillTokens(), reported.prefillTokens());
    }
}
