package org.pariskv.select;

import org.pariskv.rotate.Rotation;

/**
 * A query prepared like a key: {@code q̂ = R q / ||q||} and {@code ||q||}. The estimator's scale
 * {@code ||q||} does not change rankings but keeps estimates in inner-product units.
 */
public record RetrievalQuery(float[] rotated, float norm) {

    /** Prepares {@code dim} floats of {@code q} from {@code off}. */
    public static RetrievalQuery of(Rotation rotation, float[] q, int off) {
        int d = rotation.dim();
        float ss = 0f;
        for (int i = 0; i < d; i++) ss += q[off + i] * q[off + i];
        float norm = (float) Math.sqrt(ss);
        float inv = 1f / Math.max(norm, 1e-8f);
        float[] x = new float[d];
        for (int i = 0; i < d; i++) x[i] = q[off + i] * inv;
        float[] y = new float[d];
        rotation.apply(x, 0, y, 0);
        return new RetrievalQuery(y, norm);
    }

    /** Mean of {@code g} consecutive query rows of {@code dim} floats: the GQA group's retrieval query. */
    public static float[] groupMean(float[] queries, int off, int g, int dim) {
        float[] m = new float[dim];
        for (int h = 0; h < g; h++) {
            for (int i = 0; i < dim; i++) m[i] += queries[off + h * dim + i];
        }
        float inv = 1f / g;
        for (int i = 0; i < dim; i++) m[i] *= inv;
        return m;
    }
}
