package org.pariskv.rotate;

/**
 * The random rotation that puts keys and queries on a common, isotropic footing before coding.
 * One instance (one seed) is shared by every layer and head, so a query and the keys it is compared
 * with are always rotated alike.
 */
public sealed interface Rotation permits HadamardRotation, OrthogonalRotation {

    /** Dimension rotated. */
    int dim();

    /** The seed the rotation was drawn from. */
    long seed();

    /** {@code y = R x} for {@code dim()} floats; {@code x} and {@code y} must not overlap. */
    void apply(float[] x, int xOff, float[] y, int yOff);

    /**
     * The rotation for a head dim: the randomised Walsh–Hadamard transform (the reference's SRHT) when
     * {@code dim} is a power of two, else a seeded Haar-random orthogonal matrix.
     */
    static Rotation forDim(int dim, long seed) {
        return Integer.bitCount(dim) == 1 ? new HadamardRotation(dim, seed) : new OrthogonalRotation(dim, seed);
    }

    /** The rotation as a dense row-major matrix (device kernels that do not run the fast transform). */
    default float[] matrix() {
        int d = dim();
        float[] m = new float[d * d];
        float[] e = new float[d];
        float[] col = new float[d];
        for (int j = 0; j < d; j++) {
            java.util.Arrays.fill(e, 0f);
            e[j] = 1f;
            apply(e, 0, col, 0);
            for (int i = 0; i < d; i++) m[i * d + j] = col[i];
        }
        return m;
    }
}
