package org.pariskv.cache;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.GqaMode;
import org.pariskv.method.FullAttention;
import org.pariskv.method.ParisKv;
import org.pariskv.method.RetrievalMethod;

class KvCacheTest {

    static final ModelShape SHAPE = new ModelShape(2, 8, 2, 64);

    static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble(-1, 1);
        return v;
    }

    static double relError(float[] a, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ref[i]) * (double) (a[i] - ref[i]);
            den += ref[i] * (double) ref[i];
        }
        return Math.sqrt(num / den);
    }

    /** Runs prefill + steps on one layer and returns the last step's output. */
    static float[] run(RetrievalMethod method, ParisKvConfig cfg, int prompt, int steps, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        float[] keys = random(rnd, prompt * kv), values = random(rnd, prompt * kv);
        float[] out = new float[qn];
        try (KvCache cache = KvCache.create(SHAPE, cfg, method)) {
            int seq = cache.newSequence();
            cache.layer(0).prefill(seq, keys, values, prompt);
            for (int s = 0; s < steps; s++) {
                cache.layer(0).decode(new int[] {seq}, random(rnd, qn), random(rnd, kv), random(rnd, kv), out);
            }
        }
        return out;
    }

    @Test
    void wholeZoneSelectionEqualsFullAttention() {
        int prompt = 3000;
        ParisKvConfig cfg = ParisKvConfig.defaults().withRatios(1.0, 1.0).withTopk(prompt + 64);
        for (GqaMode mode : GqaMode.values()) {
            float[] sparse = run(new ParisKv(), cfg.withGqa(mode), prompt, 3, 77);
            float[] full = run(new FullAttention(), cfg, prompt, 3, 77);
            assertTrue(relError(sparse, full) <= 1e-5, mode + ": relative error " + relError(sparse, full));
        }
    }

    @Test
    void sparseOutputFollowsThePlantedKeysThatFullAttentionFollows() {
        int prompt = 6000, kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim(), d = SHAPE.headDim();
        SplittableRandom rnd = new SplittableRandom(5);
        float[] keys = random(rnd, prompt * kv), values = random(rnd, prompt * kv);
        float[] dir = random(rnd, d);
        int[] planted = {100, 2000, 4321};
        for (int p : planted) for (int h = 0; h < SHAPE.kvHeads(); h++) for (int i = 0; i < d; i++) keys[(p * SHAPE.kvHeads() + h) * d + i] = 2 * dir[i];
        float[] q = new float[qn];
        for (int h = 0; h < SHAPE.queryHeads(); h++) for (int i = 0; i < d; i++) q[h * d + i] = 2 * dir[i] + 0.3f * (float) rnd.nextDouble(-1, 1);
        java.util.Map<String, float[]> outs = new java.util.HashMap<>();
        for (RetrievalMethod m : new RetrievalMethod[] {new ParisKv(), new FullAttention(), new org.pariskv.method.StreamingLlm()}) {
            try (KvCache cache = KvCache.create(SHAPE, ParisKvConfig.defaults(), m)) {
                int seq = cache.newSequence();
                cache.layer(0).prefill(seq, keys, values, prompt);
                float[] out = new float[qn];
                Attended[] a = cache.layer(0).attend(new int[] {seq}, q, out);
                if (m instanceof ParisKv) {
                    for (int p : planted) assertTrue(java.util.Arrays.binarySearch(a[0].retrievedPerKvHead()[1], p) >= 0, "planted " + p + " not retrieved");
                    assertFalse(a[0].dense());
                }
                outs.put(m.name(), out);
            }
        }
        double pk = relError(outs.get("pariskv"), outs.get("full"));
        double st = relError(outs.get("streaming"), outs.get("full"));
        assertTrue(pk > 0, "sparse output identical to dense: selection not exercised");
        assertTrue(pk < 0.25 && st > 0.5, "pariskv error " + pk + ", streaming error " + st);
    }

    @Test
    void zonesFollowPrefillAndIntervalMoves() {
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0);
        SplittableRandom rnd = new SplittableRandom(1);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        try (KvCache cache = KvCache.create(SHAPE, cfg, new ParisKv())) {
            int seq = cache.newSequence();
            LayerCache layer = cache.layer(1);
            layer.prefill(seq, random(rnd, 500 * kv), random(rnd, 500 * kv), 500);
            assertEquals(500, layer.length(seq));
            assertEquals(500 - 64, layer.zoneEnd(seq), "prefill encodes all but the local window");
            assertEquals(500 - 64 - 4, ((ParisKv.Head) layer.head(seq, 0)).index().size());
            float[] out = new float[qn];
            for (int s = 1; s <= 40; s++) {
                Attended[] a = layer.decode(new int[] {seq}, random(rnd, qn), random(rnd, kv), random(rnd, kv), out);
                int local = layer.length(seq) - layer.zoneEnd(seq);
                assertTrue(local >= 64 && local < 64 + 16, "local window " + local + " at step " + s);
                assertEquals(layer.zoneEnd(seq) - 4, ((ParisKv.Head) layer.head(seq, 1)).index().size());
                int[] tokens = a[0].tokensPerKvHead()[0];
                assertEquals(4 + Math.min(cfg.topk(), layer.zoneEnd(seq) - 4) + local, tokens.length);
                assertEquals(layer.length(seq) - 1, tokens[tokens.length - 1], "the new token attends itself");
            }
            // 40 appended tokens moved 2 whole intervals: 436 -> 468, window 540 - 468 = 72
            assertEquals(468, layer.zoneEnd(seq));
        }
    }

    @Test
    void raggedBatchEqualsSequencesRunAlone() {
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(4, 128).withMinSparseTokens(0).withTopk(50);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        int[] prompts = {2500, 900, 4100};
        SplittableRandom rnd = new SplittableRandom(3);
        float[][] pk = new float[3][], pv = new float[3][];
        for (int i = 0; i < 3; i++) {
            pk[i] = random(rnd, prompts[i] * kv);
            pv[i] = random(rnd, prompts[i] * kv);
        }
        float[] q = random(rnd, 3 * qn), k = random(rnd, 3 * kv), v = random(rnd, 3 * kv);
        float[] batched = new float[3 * qn];
        try (KvCache cache = KvCache.create(SHAPE, cfg, new ParisKv())) {
            int[] seqs = new int[3];
            for (int i = 0; i < 3; i++) {
                seqs[i] = cache.newSequence();
                cache.layer(0).prefill(seqs[i], pk[i], pv[i], prompts[i]);
            }
            cache.layer(0).decode(seqs, q, k, v, batched);
        }
        for (int i = 0; i < 3; i++) {
            float[] alone = new float[qn];
            try (KvCache cache = KvCache.create(SHAPE, cfg, new ParisKv())) {
                int s = cache.newSequence();
                cache.layer(0).prefill(s, pk[i], pv[i], prompts[i]);
                cache.layer(0).decode(new int[] {s},
                        java.util.Arrays.copyOfRange(q, i * qn, (i + 1) * qn),
                        java.util.Arrays.copyOfRange(k, i * kv, (i + 1) * kv),
                        java.util.Arrays.copyOfRange(v, i * kv, (i + 1) * kv), alone);
            }
            assertArrayEquals(alone, java.util.Arrays.copyOfRange(batched, i * qn, (i + 1) * qn), 0f, "sequence " + i);
        }
    }

    @Test
    void badInputIsRejectedNamingWhatIsWrongAndKeepsWhatIsStored() {
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        SplittableRandom rnd = new SplittableRandom(4);
        try (KvCache cache = KvCache.create(SHAPE, ParisKvConfig.defaults(), new ParisKv())) {
            int seq = cache.newSequence();
            LayerCache layer = cache.layer(1);
            layer.prefill(seq, random(rnd, 100 * kv), random(rnd, 100 * kv), 100);

            float[] bad = random(rnd, 10 * kv);
            bad[(7 * SHAPE.kvHeads() + 1) * SHAPE.headDim() + 3] = Float.NaN;
            var e = assertThrows(IllegalArgumentException.class, () -> layer.prefill(seq, bad, random(rnd, 10 * kv), 10));
            assertEquals("NaN in keys at layer 1, kv head 1, position 107 (dim 3)", e.getMessage());
            assertEquals(100, layer.length(seq), "rejected prefill stored nothing");

            var shape = assertThrows(IllegalArgumentException.class, () -> layer.prefill(seq, new float[5], new float[5], 10));
            assertTrue(shape.getMessage().contains("keys has 5 floats, expected 1280"), shape.getMessage());

            float[] q = random(rnd, qn);
            q[5 * SHAPE.headDim()] = Float.POSITIVE_INFINITY;
            var inf = assertThrows(IllegalArgumentException.class, () -> layer.decode(new int[] {seq}, q, random(rnd, kv), random(rnd, kv), new float[qn]));
            assertEquals("Inf in queries at layer 1, query head 5, position 100 (dim 0)", inf.getMessage());
            assertEquals(100, layer.length(seq), "rejected decode appended nothing");

            var empty = assertThrows(IllegalStateException.class, () -> cache.layer(0).attend(new int[] {seq}, random(rnd, qn), new float[qn]));
            assertTrue(empty.getMessage().contains("empty context"), empty.getMessage());
            var unknown = assertThrows(IllegalArgumentException.class, () -> layer.length(42));
            assertTrue(unknown.getMessage().contains("unknown sequence 42"));
            assertThrows(IllegalArgumentException.class, () -> layer.prefill(seq, random(rnd, kv), random(rnd, kv), 0));
        }
        var dim = assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, 8, 2, 60));
        assertEquals("headDim must be a multiple of 8 (blocks of 8 coordinates), got 60", dim.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ModelShape(1, 6, 4, 64));
    }

    @Test
    void closingReleasesOffHeapRows() {
        try (KvCache cache = KvCache.create(SHAPE, ParisKvConfig.defaults(), new ParisKv())) {
            int a = cache.newSequence(), b = cache.newSequence();
            SplittableRandom rnd = new SplittableRandom(2);
            int kv = SHAPE.kvHeads() * SHAPE.headDim();
            cache.layer(0).prefill(a, random(rnd, 10 * kv), random(rnd, 10 * kv), 10);
            cache.layer(0).prefill(b, random(rnd, 10 * kv), random(rnd, 10 * kv), 10);
            long both = cache.kvBytesHeld();
            cache.removeSequence(a);
            assertEquals(both / 2, cache.kvBytesHeld());
            assertThrows(IllegalArgumentException.class, () -> cache.layer(0).length(a));
        }
    }
}
