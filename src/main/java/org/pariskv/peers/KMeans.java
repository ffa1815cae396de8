package org.pariskv.peers;

import java.util.SplittableRandom;
import org.pariskv.simd.VectorOps;

/**
 * Seeded k-means (k-means++ initialisation, then Lloyd iterations) over rows of {@code dim} floats, in plain
 * Java. Used by LouisKV (clusters of prompt keys) and PQCache (codebooks of sub-vectors). Squared Euclidean
 * distance computed as {@code ||c||² - 2 x·c} (the {@code ||x||²} term does not change the argmin).
 */
public final class KMeans {
    private KMeans() {}

    /**
     * @param centroids {@code k} rows of {@code dim} floats
     * @param assign    per input row, the index of its nearest centroid after the last iteration
     * @param sizes     rows per centroid (may be 0 when k-means left a centroid empty)
     */
    public record Result(float[] centroids, int k, int[] assign, int[] sizes) {}

    /**
     * Clusters rows {@code [0, n)} of {@code data}.
     *
     * @param k          clusters wanted; clamped to {@code [1, n]}
     * @param iterations Lloyd iterations after the k-means++ seeding
     */
    public static Result fit(float[] data, int n, int dim, int k, int iterations, long seed) {
        if (n <= 0) throw new IllegalArgumentException("k-means needs at least one row, got " + n);
        k = Math.max(1, Math.min(k, n));
        VectorOps ops = VectorOps.current();
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] c = new float[k * dim];
        float[] cNorm = new float[k];
        // k-means++: first centre uniform, then each next one with probability proportional to D²
        double[] d2 = new double[n];
        int first = rnd.nextInt(n);
        System.arraycopy(data, first * dim, c, 0, dim);
        float[] xNorm = new float[n];
        for (int i = 0; i < n; i++) xNorm[i] = ops.dot(data, i * dim, data, i * dim, dim);
        for (int i = 0; i < n; i++) d2[i] = dist2(data, i * dim, c, 0, dim);
        for (int j = 1; j < k; j++) {
            double total = 0;
            for (int i = 0; i < n; i++) total += d2[i];
            int pick;
            if (total <= 0) {
                pick = rnd.nextInt(n);
            } else {
                double r = rnd.nextDouble() * total;
                pick = n - 1;
                for (int i = 0; i < n; i++) {
                    r -= d2[i];
                    if (r < 0) {
                        pick = i;
                        break;
                    }
                }
            }
            System.arraycopy(data, pick * dim, c, j * dim, dim);
            float cj = xNorm[pick];
            for (int i = 0; i < n; i++) {
                // ||x - c||² = ||x||² + ||c||² - 2 x·c (vectorised; clamped at 0 against rounding)
                double dd = dim < 16 ? dist2(data, i * dim, c, j * dim, dim) : Math.max(0.0, xNorm[i] + cj - 2.0 * ops.dot(data, i * dim, c, j * dim, dim));
                if (dd < d2[i]) d2[i] = dd;
            }
        }
        int[] assign = new int[n];
        int[] sizes = new int[k];
        double[] sum = new double[k * dim];
        for (int it = 0; ; it++) {
            for (int j = 0; j < k; j++) cNorm[j] = ops.dot(c, j * dim, c, j * dim, dim);
            for (int i = 0; i < n; i++) assign[i] = nearest(ops, data, i * dim, c, cNorm, k, dim);
            java.util.Arrays.fill(sizes, 0);
            for (int i = 0; i < n; i++) sizes[assign[i]]++;
            if (it == iterations) break;
            java.util.Arrays.fill(sum, 0);
            for (int i = 0; i < n; i++) {
                int base = assign[i] * dim;
                for (int x = 0; x < dim; x++) sum[base + x] += data[i * dim + x];
            }
            for (int j = 0; j < k; j++) {
                if (sizes[j] == 0) continue; // an empty centre keeps its place
                for (int x = 0; x < dim; x++) c[j * dim + x] = (float) (sum[j * dim + x] / sizes[j]);
            }
        }
        return new Result(c, k, assign, sizes);
    }

    /** Index of the centroid nearest to row {@code x[off..off+dim)}; {@code cNorm[j] = ||c_j||²}. */
    static int nearest(VectorOps ops, float[] x, int off, float[] c, float[] cNorm, int k, int dim) {
        int best = 0;
        float bestD = Float.POSITIVE_INFINITY;
        if (dim < 16) { // short rows: a plain loop beats the vector call
            for (int j = 0; j < k; j++) {
                float dot = 0f;
                for (int i = 0; i < dim; i++) dot += x[off + i] * c[j * dim + i];
                float dd = cNorm[j] - 2f * dot;
                if (dd < bestD) {
                    bestD = dd;
                    best = j;
                }
            }
            return best;
        }
        for (int j = 0; j < k; j++) {
            float dd = cNorm[j] - 2f * ops.dot(x, off, c, j * dim, dim);
            if (dd < bestD) {
                bestD = dd;
                best = j;
            }
        }
        return best;
    }

    static double dist2(float[] a, int aOff, float[] b, int bOff, int dim) {
        double s = 0;
        for (int i = 0; i < dim; i++) {
            double t = a[aOff + i] - b[bOff + i];
            s += t * t;
        }
        return s;
    }
}
