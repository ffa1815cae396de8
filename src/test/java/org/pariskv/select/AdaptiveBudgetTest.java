package org.pariskv.select;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The adaptive top-k rule on hand-made score sets: the smallest k reaching tau, clamped to [kMin, kMax]. */
class AdaptiveBudgetTest {

    private static final float LN2 = (float) Math.log(2), LN4 = (float) Math.log(4);

    // masses relative to exp(0): fixed (sink + local) 1; ranked candidates 4, 2, 1, 1; total 9
    private static final float[] FIXED = {0f};
    private static final float[] RANKED = {LN4, LN2, 0f, 0f};

    private static int choose(double tau, int kMin, int kMax) {
        return AdaptiveBudget.choose(RANKED, RANKED.length, RANKED, RANKED.length, FIXED, FIXED.length, tau, kMin, kMax);
    }

    @Test
    void smallestKReachingTau() {
        assertEquals(1, choose(0.5, 1, 10));  // 1 + 4 = 5 >= 4.5
        assertEquals(2, choose(0.7, 1, 10));  // 1 + 4 = 5 < 6.3, + 2 = 7 >= 6.3
        assertEquals(3, choose(0.8, 1, 10));  // 7 < 7.2, + 1 = 8
        assertEquals(4, choose(0.95, 1, 10)); // 8 < 8.55, + 1 = 9
        assertEquals(4, choose(1.0, 1, 10));
        assertEquals(1, choose(5.0 / 9 - 1e-6, 1, 10));
        assertEquals(2, choose(5.0 / 9 + 1e-6, 1, 10));
    }

    @Test
    void respectsFloorAndCap() {
        assertEquals(3, choose(0.5, 3, 10)); // the rule says 1, the floor 3
        assertEquals(2, choose(0.95, 1, 2)); // the rule says 4, the cap 2
        assertEquals(4, choose(0.5, 8, 10)); // a floor above the candidates: all of them
        // the fixed tokens alone reach tau: the floor
        float[] bigFixed = {10f};
        assertEquals(2, AdaptiveBudget.choose(RANKED, 4, RANKED, 4, bigFixed, 1, 0.9, 2, 10));
    }

    @Test
    void unrankedCandidatesCountInTheTotal() {
        // the best 2 ranked (cap 2) of 4 candidates: 1 + 4 + 2 = 7 of 9 < 0.9 -> the cap
        assertEquals(2, AdaptiveBudget.choose(RANKED, 2, RANKED, 4, FIXED, 1, 0.9, 1, 2));
        // only 2 candidates exist: total 1 + 4 + 2 = 7, 0.7 of it is 4.9 -> k = 1
        assertEquals(1, AdaptiveBudget.choose(RANKED, 2, RANKED, 2, FIXED, 1, 0.7, 1, 10));
    }

    @Test
    void matchesBruteForceOnRandomSets() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int m = 1 + rnd.nextInt(60), f = rnd.nextInt(20);
            float[] all = new float[m], fixed = new float[f];
            for (int i = 0; i < m; i++) all[i] = (float) (rnd.nextGaussian() * 3);
            for (int i = 0; i < f; i++) fixed[i] = (float) (rnd.nextGaussian() * 3);
            float[] ranked = all.clone();
            Arrays.sort(ranked);
            for (int i = 0; i < m / 2; i++) { float x = ranked[i]; ranked[i] = ranked[m - 1 - i]; ranked[m - 1 - i] = x; }
            double tau = 0.05 + 0.94 * rnd.nextDouble();
            int kMin = 1 + rnd.nextInt(5), kMax = kMin + rnd.nextInt(60);
            int r = Math.min(m, kMax);
            double total = 0, fixedMass = 0;
            for (float x : fixed) fixedMass += Math.exp(x);
            for (float x : all) total += Math.exp(x);
            total += fixedMass;
            int expect = r;
            double acc = fixedMass;
            for (int k = 0; k <= r; k++) {
                if (acc >= tau * total * (1 - 1e-9)) { expect = k; break; }
                if (k < r) acc += Math.exp(ranked[k]);
            }
            expect = Math.max(expect, Math.min(kMin, r));
            int got = AdaptiveBudget.choose(ranked, r, all, m, fixed, f, tau, kMin, kMax);
            // allow a one-step difference only at a float tie with the threshold
            if (got != expect) {
                double accGot = fixedMass;
                for (int k = 0; k < got; k++) accGot += Math.exp(ranked[k]);
                assertEquals(tau * total, accGot, 1e-6 * total, "trial " + trial);
            }
        }
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> choose(0, 1, 10));
        assertThrows(IllegalArgumentException.class, () -> choose(1.5, 1, 10));
        assertThrows(IllegalArgumentException.class, () -> choose(Double.NaN, 1, 10));
        assertThrows(IllegalArgumentException.class, () -> choose(0.9, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> choose(0.9, 5, 4));
    }
}
