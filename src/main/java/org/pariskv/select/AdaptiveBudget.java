package org.pariskv.select;

/**
 * The adaptive top-k rule (issue 15, our extension): the smallest {@code k} such that the estimated softmax mass
 * of the {@code k} best candidates plus the always-attended tokens (sink and local window, scored exactly) reaches
 * {@code tau} of the estimated total over all candidates plus the always-attended tokens, clamped to
 * {@code [kMin, kMax]}. Logits are in attention units ({@code q·k / sqrt(D)}); the mass of keys that collision
 * counting dropped is unknown and not counted.
 */
public final class AdaptiveBudget {
    private AdaptiveBudget() {}

    /**
     * @param ranked logits of the best {@code r} candidates, best first ({@code r} is at most {@code kMax})
     * @param all    logits of all {@code m} candidates (any order; contains the ranked ones)
     * @param fixed  exact logits of the {@code f} always-attended tokens
     * @return {@code k} in {@code [min(kMin, r), r]}
     */
    public static int choose(float[] ranked, int r, float[] all, int m, float[] fixed, int f, double tau, int kMin, int kMax) {
        if (!(tau > 0 && tau <= 1)) throw new IllegalArgumentException("tau must be in (0, 1], got " + tau);
        if (kMin <= 0 || kMax < kMin) throw new IllegalArgumentException("need 0 < kMin <= kMax, got [" + kMin + ", " + kMax + "]");
        r = Math.min(r, kMax);
        if (r <= 0) return 0;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) max = Math.max(max, all[i]);
        for (int i = 0; i < f; i++) max = Math.max(max, fixed[i]);
        double fixedMass = 0, total = 0;
        for (int i = 0; i < f; i++) fixedMass += Math.exp(fixed[i] - max);
        for (int i = 0; i < m; i++) total += Math.exp(all[i] - max);
        total += fixedMass;
        double target = tau * total;
        double acc = fixedMass;
        int k = 0;
        while (k < r && acc < target) acc += Math.exp(ranked[k++] - max);
        return Math.max(k, Math.min(kMin, r));
    }
}
