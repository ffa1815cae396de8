package org.pariskv.trace;

import org.pariskv.ModelShape;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TraceTypesTest {

    @Test
    void shapeValidationNamesFieldAndValue() {
        assertEquals(4, new ModelShape(32, 32, 8, 128).groupSize());
        assertEquals(3, new ModelShape(1, 32, 8, 128).kvHeadOf(13));
        var e = assertThrows(IllegalArgumentException.class, () -> new ModelShape(0, 4, 2, 8));
        assertTrue(e.getMessage().contains("layers") && e.getMessage().contains("0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, -4, 2, 8));
        assertTrue(e.getMessage().contains("queryHeads") && e.getMessage().contains("-4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, 6, 4, 8));
        assertTrue(e.getMessage().contains("queryHeads (6)") && e.getMessage().contains("kvHeads (4)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, 4, 2, 12));
        assertTrue(e.getMessage().contains("headDim") && e.getMessage().contains("12"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, 4, 0, 8));
        assertTrue(e.getMessage().contains("kvHeads must be positive, got 0"), e.getMessage());
    }

    /** A tiny hand-filled trace: 1 layer, Hq=2, Hkv=1, D=8, 3 prompt tokens, 2 steps. */
    static Trace tiny() {
        ModelShape s = new ModelShape(1, 2, 1, 8);
        float[] k = new float[5 * 8];
        float[] v = new float[5 * 8];
        float[] q = new float[2 * 2 * 8];
        for (int i = 0; i < k.length; i++) {
            k[i] = i;
            v[i] = -i;
        }
        for (int i = 0; i < q.length; i++) {
            q[i] = 100 + i;
        }
        return new Trace("tiny", s, 3, 2, List.of(new LayerTrace(k, v, q, new int[][] {{1}, {0, 4}})), Map.of("a", "b"));
    }

    @Test
    void accessorsFollowTheLayout() {
        Trace t = tiny();
        assertEquals(5, t.tokens());
        assertEquals(4, t.contextAt(0));
        assertEquals(5, t.contextAt(1));
        float[] dst = new float[8];
        t.key(0, 2, 0, dst);
        assertEquals(16f, dst[0]);
        assertEquals(23f, dst[7]);
        t.value(0, 4, 0, dst);
        assertEquals(-32f, dst[0]);
        t.query(0, 1, 1, dst);
        assertEquals(100 + 24f, dst[0]);
        assertEquals(24, t.queryOffset(1, 1));
        float[][] g = t.groupQueries(0, 0, 0);
        assertEquals(2, g.length);
        assertEquals(108f, g[1][0]);
        assertArrayEquals(new int[] {0, 4}, t.layer(0).plantedAt(1));
    }

    @Test
    void structureMismatchesAreNamed() {
        ModelShape s = new ModelShape(1, 2, 1, 8);
        var e = assertThrows(IllegalArgumentException.class, () -> new Trace("x", s, 3, 2,
                List.of(new LayerTrace(new float[39], new float[40], new float[32])), Map.of()));
        assertTrue(e.getMessage().contains("keys of layer 0 has 39 floats, expected 40"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Trace("x", s, 3, 2,
                List.of(new LayerTrace(new float[40], new float[40], new float[31])), Map.of()));
        assertTrue(e.getMessage().contains("queries of layer 0 has 31 floats, expected 32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Trace("x", s, 3, 2, List.of(), Map.of()));
        assertTrue(e.getMessage().contains("0 layers but shape says 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Trace("x", s, 3, 2,
                List.of(new LayerTrace(new float[40], new float[40], new float[32], new int[][] {{0}, {5}})), Map.of()));
        assertTrue(e.getMessage().contains("planted position 5 of layer 0, step 1"), e.getMessage());
    }

    @Test
    void validatorNamesKindLayerHeadAndPosition() {
        Trace t = tiny();
        TraceValidator.validate(t);
        t.layer(0).keys()[(4 * 1 + 0) * 8 + 3] = Float.NaN;
        var e = assertThrows(IllegalArgumentException.class, () -> TraceValidator.validate(t));
        assertEquals("non-finite value NaN in keys at layer 0, head 0, token 4, channel 3", e.getMessage());
        t.layer(0).keys()[35] = 1;
        t.layer(0).queries()[(1 * 2 + 1) * 8 + 5] = Float.NEGATIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> TraceValidator.validate(t));
        assertEquals("non-finite value -Infinity in queries at layer 0, head 1, step 1, channel 5", e.getMessage());
        t.layer(0).queries()[29] = 0;
        t.layer(0).values()[8] = Float.POSITIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> TraceValidator.validate(t));
        assertEquals("non-finite value Infinity in values at layer 0, head 0, token 1, channel 0", e.getMessage());
    }

    @Test
    void multiHeadValidatorPosition() {
        ModelShape s = new ModelShape(2, 4, 2, 8);
        Trace t = new IidTraceGenerator().generate(s, 5, 3, 1);
        t.layer(1).keys()[t.keyOffset(3, 1) + 2] = Float.NaN;
        var e = assertThrows(IllegalArgumentException.class, () -> TraceValidator.validate(t));
        assertEquals("non-finite value NaN in keys at layer 1, head 1, token 3, channel 2", e.getMessage());
    }
}
