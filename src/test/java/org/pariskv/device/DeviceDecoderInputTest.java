package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.OpenClTestSupport;

/** DeviceDecoder's boundary: shapes, NaN/Inf named by head and position, use after close; a rejected call stores nothing. */
class DeviceDecoderInputTest {

    static final ModelShape SHAPE = new ModelShape(1, 4, 2, 64);
    static final ParisKvConfig CFG = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0).withTopk(16);

    static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    @Test
    void badInputIsNamedAndLeavesTheDecoderAsItWas() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim(), tokens = 300;
        SplittableRandom r = new SplittableRandom(5);
        float[] k = random(r, tokens * kv), v = random(r, tokens * kv), q = random(r, qn), nk = random(r, kv), nv = random(r, kv);
        float[] expected = new float[qn], got = new float[qn];
        try (DeviceDecoder clean = new DeviceDecoder(backend, SHAPE, CFG, 1, 1024)) {
            clean.prefill(0, k, v, tokens);
            clean.decode(q, nk, nv, expected, false);
        }
        try (DeviceDecoder dev = new DeviceDecoder(backend, SHAPE, CFG, 1, 1024)) {
            float[] nan = k.clone();
            nan[(107 * SHAPE.kvHeads() + 1) * SHAPE.headDim() + 3] = Float.NaN;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dev.prefill(0, nan, v, tokens));
            assertEquals("NaN in keys at kv head 1, position 107 (dim 3)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> dev.prefill(0, new float[5], v, tokens));
            assertTrue(e.getMessage().startsWith("keys has 5 floats, expected " + tokens * kv), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> dev.prefill(2, k, v, tokens), "sequence out of range");
            dev.prefill(0, k, v, tokens); // nothing of the rejected calls was stored
            float[] inf = q.clone();
            inf[SHAPE.headDim() * 2 + 1] = Float.POSITIVE_INFINITY;
            e = assertThrows(IllegalArgumentException.class, () -> dev.decode(inf, nk, nv, got, false));
            assertEquals("Inf in queries at query head 2, position " + tokens + " (dim 1)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> dev.decode(q, nk, nv, new float[3], false));
            assertTrue(e.getMessage().startsWith("out has 3 floats"), e.getMessage());
            dev.decode(q, nk, nv, got, false);
            assertArrayEquals(expected, got, "the rejected step appended nothing");
            dev.close();
            IllegalStateException closed = assertThrows(IllegalStateException.class, () -> dev.decode(q, nk, nv, got, false));
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        }
    }
}
