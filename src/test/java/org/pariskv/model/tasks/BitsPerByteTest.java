package org.pariskv.model.tasks;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.LlamaModel;
import org.pariskv.model.Session;
import org.pariskv.model.TinyCheckpoint;

/** Bits per byte through decode steps equal the cross-entropy of a whole-text prefill's logits (full attention). */
class BitsPerByteTest {

    @TempDir
    Path dir;

    @Test
    void decodeStepsScoreTheTextAsAPrefillOfItWould() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        byte[] text = new byte[300];
        Random r = new Random(4);
        for (int i = 0; i < text.length; i++) text[i] = (byte) (' ' + r.nextInt(90));
        int prefill = 200, steps = 100;
        double expected = 0;
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            int bos = m.config().bosTokenId(), lead = bos >= 0 ? 1 : 0;
            int[] all = new int[prefill + steps + lead];
            if (lead == 1) all[0] = bos;
            for (int i = 0; i < prefill + steps; i++) all[i + lead] = text[i] & 0xFF;
            float[] logits = s.prefillAllLogits(all);
            int vocab = m.config().vocabSize();
            for (int i = 0; i < steps; i++) {
                int pos = lead + prefill - 1 + i; // logits at pos predict all[pos + 1] = text[prefill + i]
                float[] row = java.util.Arrays.copyOfRange(logits, pos * vocab, (pos + 1) * vocab);
                expected -= BitsPerByte.logSoftmax(row, text[prefill + i] & 0xFF) / Math.log(2);
            }
        }
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            BitsPerByte.Result got = BitsPerByte.measure(m, text, prefill, steps, null);
            assertEquals(steps, got.bytes());
            assertEquals(expected / steps, got.bitsPerByte(), 1e-4, "decode and prefill logits agree to about 1e-6");
            assertEquals(got.bitsPerByte(), (got.firstHalf() + got.secondHalf()) / 2, 1e-9);
            assertTrue(got.bitsPerByte() > 1 && got.bitsPerByte() < 12, "a random model scores random bytes near log2(256): " + got.bitsPerByte());
        }
    }

    @Test
    void refusesMoreThanTheTextHolds() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BitsPerByte.measure(m, new byte[50], 40, 20, null));
            assertTrue(e.getMessage().contains("the text has 50"), e.getMessage());
        }
    }
}
