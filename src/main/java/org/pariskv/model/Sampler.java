package org.pariskv.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (argmax) at temperature 0, otherwise softmax at {@code temperature}
 * restricted to the nucleus (the smallest set of most likely tokens whose probability reaches {@code topP}),
 * drawn from a generator seeded by {@code seed}, so a run repeats exactly. Not thread-safe (one per session).
 */
public final class Sampler {

    private final float temperature;
    private final float topP;
    private final SplittableRandom random;

    public Sampler(float temperature, float topP, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() {
        return new Sampler(0f, 1f, 0);
    }

    public int sample(float[] logits) {
        int best = 0;
        for (int i = 0; i < logits.length; i++) {
            if (Float.isNaN(logits[i])) throw new IllegalArgumentException("NaN logit at token " + i + " (of " + logits.length + ")");
            if (logits[i] > logits[best]) best = i;
        }
        if (temperature == 0) return best;
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp((logits[i] - logits[best]) / temperature);
        Integer[] order = nucleus(p, sum);
        double r = random.nextDouble() * Arrays.stream(order).mapToDouble(i -> p[i]).sum();
        for (int i : order) {
            r -= p[i];
            if (r < 0) return i;
        }
        return order[order.length - 1];
    }

    /** Tokens by falling probability, cut after the first whose cumulative share reaches {@code topP}. */
    Integer[] nucleus(double[] p, double sum) {
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < p.length; i++) order[i] = i;
        if (topP >= 1) return order;
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double cum = 0;
        int n = 0;
        while (n < order.length) {
            cum += p[order[n++]] / sum;
            if (cum >= topP) break;
        }
        return Arrays.copyOf(order, n);
    }
}
