package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.pariskv.ParisKvConfig;
import org.pariskv.trace.Trace;
import org.pariskv.trace.TraceValidator;

/** The bundled model's attention as a trace: the rows are the model's own, and its full attention reproduces the step's. */
class ModelTraceGeneratorTest {

    @Test
    void recordsTheModelsKeysValuesAndQueries() {
        ModelTraceGenerator g = new ModelTraceGenerator();
        int prompt = 300, steps = 3;
        Trace t = g.generate(g.shape().withLayers(2), prompt, steps, 5);
        TraceValidator.validate(t);
        assertEquals(2, t.shape().layers());
        assertEquals(prompt + steps, t.tokens());
        // the same text through a session: its prefill record holds the same keys for the prompt rows
        int[] tokens = new int[prompt];
        tokens[0] = ByteTokenizer.BOS;
        byte[] text = readHeldout();
        int from = (int) Math.floorMod(5 * 7919L, text.length);
        for (int i = 1; i < prompt; i++) tokens[i] = text[(from + i - 1) % text.length] & 0xFF;
        try (LlamaModel m = LlamaModel.load(BundledModel.directory(), "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            PrefillRecord r = s.prefillRecorded(tokens);
            float[] want = java.util.Arrays.copyOf(r.chunks().getFirst().keys()[1], t.shape().kvHeads() * t.shape().headDim());
            float[] got = java.util.Arrays.copyOf(t.layer(1).keys(), want.length);
            assertArrayEquals(want, got, "layer 1, token 0");
        }
        // decode queries are real rows (not left zero), of the model's scale
        float[] q = new float[t.shape().headDim()];
        t.query(0, steps - 1, t.shape().queryHeads() - 1, q);
        double norm = 0;
        for (float x : q) norm += x * x;
        assertTrue(norm > 1e-3, "the last query row was recorded");
    }

    @Test
    void refusesAShapeThatIsNotTheModels() {
        ModelTraceGenerator g = new ModelTraceGenerator();
        var e = assertThrows(IllegalArgumentException.class, () -> g.generate(org.pariskv.ShapeProfiles.byName("llama3-8b").withLayers(1), 100, 2, 1));
        assertTrue(e.getMessage().contains("the model's shape"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.generate(g.shape().withLayers(g.shape().layers() + 1), 100, 2, 1));
    }

    private static byte[] readHeldout() {
        try {
            return java.nio.file.Files.readAllBytes(BundledModel.directory().resolve("heldout.txt"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
