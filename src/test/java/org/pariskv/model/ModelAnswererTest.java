package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.tasks.AnswerScore;
import org.pariskv.model.tasks.LongContextTask;
import org.pariskv.model.tasks.ModelAnswerer;
import org.pariskv.model.tasks.SharedPrefill;
import org.pariskv.model.tasks.TaskInstance;

/**
 * The suite's model hook: greedy answers up to the first newline, one fresh session per prompt, the prompt's last
 * {@link ModelAnswerer#QUESTION_BYTES} bytes fed as decode steps.
 */
class ModelAnswererTest {

    @TempDir
    Path dir;

    @Test
    void answersAreTheGreedyBytesBeforeTheFirstNewline() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        byte[] prompt = new byte[ModelAnswerer.QUESTION_BYTES + 40];
        prompt[0] = 2;
        for (int i = 1; i < prompt.length; i++) prompt[i] = (byte) ('a' + i % 26);
        int split = prompt.length - ModelAnswerer.QUESTION_BYTES;
        int[] greedy;
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            int[] ids = new int[prompt.length];
            for (int i = 0; i < ids.length; i++) ids[i] = prompt[i];
            s.prefill(java.util.Arrays.copyOf(ids, split));
            for (int i = split; i < ids.length; i++) s.decode(ids[i]);
            greedy = s.generate(Sampler.greedy(), 8, t -> t == '\n');
        }
        try (ModelAnswerer a = ModelAnswerer.open(c.dir, "full", ParisKvConfig.defaults(), null)) {
            String first = a.answer(prompt, 8);
            assertEquals(greedy.length, first.length());
            for (int i = 0; i < greedy.length; i++) assertEquals(greedy[i], first.charAt(i));
            assertEquals(first, a.answer(prompt, 8), "each prompt starts a fresh session");
        }
    }

    /** The bundled model finds a passkey at 4K with full attention and with ParisKV (when the checkpoint is present). */
    @Test
    void bundledModelFindsThePasskey() {
        Path model = TransformersReferenceTest.CHECKPOINT;
        assumeTrue(Files.isRegularFile(model.resolve("model.safetensors")), model + " is absent");
        TaskInstance t = LongContextTask.byName("passkey").generateAt(4096, 0.3, 5);
        SharedPrefill shared = new SharedPrefill(); // full prefills and records, pariskv replays
        for (String method : new String[] {"full", "pariskv"}) {
            try (ModelAnswerer a = ModelAnswerer.open(model, method, ParisKvConfig.defaults(), shared)) {
                String got = a.answer(t.prompt(), AnswerScore.MAX_ANSWER_BYTES);
                assertTrue(AnswerScore.correct(t.expected(), got), method + ": expected " + t.expected() + ", got '" + got + "'");
            }
        }
    }
}
