package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** (i) Greedy is argmax, top-p draws only from the nucleus, a seed repeats a run; and the byte tokenizer. */
class SamplerTest {

    static float[] randomLogits(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (3 * r.nextDouble(-1, 1));
        return l;
    }

    @Test
    void greedyIsArgmax() {
        for (long seed = 0; seed < 20; seed++) {
            float[] l = randomLogits(300, seed);
            int best = 0;
            for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
            assertEquals(best, Sampler.greedy().sample(l));
            assertEquals(best, new Sampler(0f, 0.5f, seed).sample(l), "temperature 0 is greedy whatever top-p");
        }
    }

    @Test
    void topPDrawsOnlyFromTheNucleus() {
        // probabilities 0.5, 0.25, 0.125, ... : top-p 0.7 keeps exactly the first two (0.5 < 0.7 <= 0.75)
        float[] l = new float[10];
        for (int i = 0; i < l.length; i++) l[i] = (float) (-i * Math.log(2));
        Sampler s = new Sampler(1f, 0.7f, 42);
        Set<Integer> seen = new HashSet<>();
        int zeros = 0;
        for (int i = 0; i < 2000; i++) {
            int t = s.sample(l);
            seen.add(t);
            if (t == 0) zeros++;
        }
        assertEquals(Set.of(0, 1), seen);
        assertEquals(2000 * 2 / 3.0, zeros, 100, "renormalised within the nucleus: 0.5 / 0.75 of the draws are token 0");
        // top-p 1 reaches the tail
        Sampler all = new Sampler(1f, 1f, 42);
        Set<Integer> wide = new HashSet<>();
        for (int i = 0; i < 4000; i++) wide.add(all.sample(l));
        assertTrue(wide.size() >= 7, "without a nucleus the tail is drawn too: " + wide);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        float[] l = {2f, 1f, 0f};
        int coldTop = 0, hotTop = 0;
        Sampler cold = new Sampler(0.2f, 1f, 1), hot = new Sampler(5f, 1f, 1);
        for (int i = 0; i < 3000; i++) {
            if (cold.sample(l) == 0) coldTop++;
            if (hot.sample(l) == 0) hotTop++;
        }
        assertTrue(coldTop > 2900, "T = 0.2: p(top) = 0.993, got " + coldTop);
        assertEquals(3000 * 0.402, hotTop, 90, "T = 5: p(top) = e^0.4 / (e^0.4 + e^0.2 + 1) = 0.402");
    }

    @Test
    void sameSeedSameTokens() {
        float[] l = randomLogits(256, 5);
        int[] a = new int[200], b = new int[200], c = new int[200];
        Sampler s1 = new Sampler(0.9f, 0.95f, 1234), s2 = new Sampler(0.9f, 0.95f, 1234), s3 = new Sampler(0.9f, 0.95f, 99);
        for (int i = 0; i < 200; i++) {
            a[i] = s1.sample(l);
            b[i] = s2.sample(l);
            c[i] = s3.sample(l);
        }
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c), "another seed draws another sequence");
    }

    @Test
    void badArgumentsAndNaNAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(-1f, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1f, 0f, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1f, 1.5f, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().sample(new float[] {0f, Float.NaN, 1f}));
        assertTrue(e.getMessage().contains("NaN logit at token 1"), e.getMessage());
    }

    @Test
    void byteTokenizerIsUtf8BytesWithBos2() {
        ByteTokenizer t = new ByteTokenizer();
        assertArrayEquals(new int[] {2, 'H', 'i', 0xc3, 0xa9}, t.encodeWithBos("Hié"));
        assertEquals("Hié", t.decode(t.encodeWithBos("Hié")));
        assertEquals(256, t.vocabSize());
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {300}));
    }
}
