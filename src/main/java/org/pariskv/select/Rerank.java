package org.pariskv.select;

import org.pariskv.encode.LloydMax;
import org.pariskv.simd.VectorOps;

/**
 * Calibrated 4-bit inner-product estimates of the candidates:
 * {@code <k,q> ≈ ||q|| Σ_b w_b Σ_j q̂[b,j] · (±centers[t_j])}. A per-query table
 * {@code lut[d*16 + v] = q̂[d] · level(v)} turns each coordinate into one lookup.
 */
public final class Rerank {
    private Rerank() {}

    /** The query's lookup table: {@code D * 16} floats. */
    public static float[] lut(float[] qRotated) {
        int d = qRotated.length;
        float[] lut = new float[d * 16];
        for (int i = 0; i < d; i++) {
            for (int v = 0; v < 16; v++) lut[i * 16 + v] = qRotated[i] * LloydMax.SIGNED_LEVELS[v];
        }
        return lut;
    }

    /** Estimates for the {@code m} zone indices in {@code keys}, written to {@code est[0..m)}. */
    public static void estimate(RetrievalQuery q, float[] lut, byte[] nibbles, short[] weights,
                                int[] keys, int m, float[] est) {
        VectorOps.current().rerank(nibbles, weights, q.rotated().length, lut, keys, m, est);
        float norm = q.norm();
        for (int i = 0; i < m; i++) est[i] *= norm;
    }
}
