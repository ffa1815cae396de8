package org.pariskv.select;

import org.pariskv.simd.VectorOps;

/**
 * Collision counting: a key's score is, summed over its blocks, the number of tiers that contain the
 * centroid its code falls in ({@code 0..6B}). Keys sharing many well-ranked sign patterns with the query
 * score high; no inner product is computed.
 */
public final class CollisionCounting {
    private CollisionCounting() {}

    /** Scores keys {@code 0..n-1}: {@code scores[i] = Σ_b table[b*256 + codes[i*B + b]]} (unsigned bytes). */
    public static void scores(byte[] codes, int n, int blocks, byte[] tierTable, byte[] scores) {
        VectorOps.current().collisionScores(codes, blocks, tierTable, scores, 0, n);
    }
}
