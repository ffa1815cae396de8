package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.ParisKvConfig;

/** A prefill recorded in one model and replayed into another decodes exactly as the recording session does. */
class PrefillRecordTest {

    @TempDir
    Path dir;

    static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(256);
        return t;
    }

    @ParameterizedTest
    @ValueSource(strings = {"pariskv", "oracle", "quest", "full"})
    void aReplayedSessionDecodesAsTheRecordingOne(String method) {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        // sparse from the first decode step on, with an index built over several prefill chunks
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(2, 8).withTopk(4).withMinSparseTokens(0).withInterval(4);
        int[] seq = tokens(600, 3);
        int prompt = 590;
        // The recording session decodes on beside the replayed one: the prompt's forward is not re-run, so the two hold
        // the very same rows (a second real prefill may differ in the last bits: the Vector API's exp is SVML once C2
        // compiles it, Java's before).
        try (LlamaModel m1 = LlamaModel.load(c.dir, method, cfg); LlamaModel m2 = LlamaModel.load(c.dir, method, cfg);
             Session own = m1.newSession(); Session replayed = m2.newSession()) {
            PrefillRecord record = own.prefillRecorded(java.util.Arrays.copyOf(seq, prompt));
            assertEquals(3, record.chunks().size(), "590 tokens in chunks of " + LlamaModel.PREFILL_CHUNK);
            float[] b = replayed.prefill(record);
            assertArrayEquals(own.logits(), b, "logits after the prompt: the recorded ones");
            assertEquals(own.length(), replayed.length());
            for (int t = prompt; t < seq.length; t++) {
                // the same rows and the same code; only a JIT tier change between the two calls (the Vector API's float
                // reductions may add lanes in another order once compiled) could move the last bits
                assertArrayEquals(own.decode(seq[t]), replayed.decode(seq[t]), 1e-5f, method + " decode at position " + t);
                for (int l = 0; l < 2; l++) {
                    for (int h = 0; h < 2; h++) {
                        assertArrayEquals(own.attended()[l].tokensPerKvHead()[h], replayed.attended()[l].tokensPerKvHead()[h], "attended tokens");
                    }
                }
            }
        }
    }

    @Test
    void aRecordReplaysOnlyIntoAnEmptySessionOfTheSameCheckpoint() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        TinyCheckpoint other = TinyCheckpoint.write(dir.resolve("other"), TinyCheckpoint.Spec.small());
        PrefillRecord record;
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            record = s.prefillRecorded(tokens(20, 1));
            Session busy = m.newSession();
            busy.prefill(tokens(3, 2));
            assertThrows(IllegalStateException.class, () -> busy.prefill(record));
            busy.close();
        }
        try (LlamaModel m = LlamaModel.load(other.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.prefill(record));
            assertTrue(e.getMessage().contains("another model"), e.getMessage());
            assertEquals(0, s.length(), "nothing stored");
        }
    }
}
