package org.pariskv.select;

import org.pariskv.index.RetrievalIndex;

/**
 * Per (block, centroid) the number of tiers that contain the centroid for one query: the lookup table
 * collision counting sums. Built per decode step from the rotated query and the zone's centroid counts:
 * <ol>
 *   <li>score the 256 sign centroids of each block, {@code Σ_j q̂[b,j]·sign_j(c)};</li>
 *   <li>rank them by score (descending; equal scores by centroid value, ascending);</li>
 *   <li>walking that order, centroid {@code c} gets {@code #{i : keysAbove(c) < T_i}}.</li>
 * </ol>
 */
public final class TierTable {
    private TierTable() {}

    /**
     * Fills {@code table[b*256 + c]} for all blocks; {@code counts} block-major {@code [B][256]},
     * {@code thresholds} from {@link Tiers#thresholds}.
     */
    public static void build(float[] qRotated, int[] counts, int[] thresholds, byte[] table) {
        int blocks = qRotated.length / 8;
        float[] score = new float[RetrievalIndex.CENTROIDS];
        long[] keyed = new long[RetrievalIndex.CENTROIDS];
        for (int b = 0; b < blocks; b++) {
            centroidScores(qRotated, b, score);
            // sort (score desc, centroid asc) via a packed key: order-preserving int of -score, then centroid
            for (int c = 0; c < 256; c++) keyed[c] = ((long) sortableDesc(score[c]) << 8) | c;
            java.util.Arrays.sort(keyed);
            int above = 0;
            for (int r = 0; r < 256; r++) {
                int c = (int) (keyed[r] & 0xff);
                int tiers = 0;
                for (int t : thresholds) if (above < t) tiers++;
                table[b * 256 + c] = (byte) tiers;
                above += counts[b * 256 + c];
            }
        }
    }

    /** {@code score[c] = Σ_j (bit j of c ? +q̂[b,j] : -q̂[b,j])}, summed in coordinate order. */
    public static void centroidScores(float[] q, int block, float[] score) {
        int base = block * 8;
        for (int c = 0; c < 256; c++) {
            float s = 0f;
            for (int j = 0; j < 8; j++) s += ((c >> j) & 1) != 0 ? q[base + j] : -q[base + j];
            score[c] = s;
        }
    }

    /** Maps a float to an int whose ascending order is the float's descending order. */
    private static int sortableDesc(float f) {
        int bits = Float.floatToRawIntBits(f == 0f ? 0f : f); // fold -0 into +0
        int asc = bits >= 0 ? bits : bits ^ 0x7fffffff;        // ascending-order int of f
        return -asc - 1;                                       // reversed, no overflow
    }
}
