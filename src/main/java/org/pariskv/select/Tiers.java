package org.pariskv.select;

/**
 * The tier thresholds of collision counting: {@code T_i = ceil(n * collisionRatio * ratio_i)}. Walking a
 * block's centroids from the one most aligned with the query, a centroid is in tier {@code i} while fewer
 * than {@code T_i} keys sit in centroids ranked strictly above it; a key scores one point per tier per block.
 */
public final class Tiers {
    private Tiers() {}

    /** The six tier ratios of the reference implementation. */
    public static final double[] RATIOS = {0.05, 0.15, 0.30, 0.50, 0.75, 1.0};

    public static final int COUNT = RATIOS.length;

    /** Thresholds {@code T_0..T_5} for a zone of {@code n} keys. */
    public static int[] thresholds(int n, double collisionRatio) {
        int[] t = new int[COUNT];
        for (int i = 0; i < COUNT; i++) t[i] = (int) Math.ceil(n * collisionRatio * RATIOS[i]);
        return t;
    }

    /** Highest collision score of a key with {@code blocks} blocks ({@code 6 B}; 96 at D = 128). */
    public static int maxScore(int blocks) {
        return COUNT * blocks;
    }
}
