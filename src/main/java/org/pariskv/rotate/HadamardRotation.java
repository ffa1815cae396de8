package org.pariskv.rotate;

import java.util.SplittableRandom;

/**
 * Subsampled randomised Hadamard transform, one round: {@code y = H (s ⊙ x) / sqrt(D)} with a seeded
 * random sign vector {@code s} and the Sylvester-ordered Walsh–Hadamard matrix {@code H}. Orthogonal,
 * so unit vectors stay unit vectors; O(D log D) per vector.
 */
public record HadamardRotation(int dim, long seed, float[] signs) implements Rotation {

    public HadamardRotation(int dim, long seed) {
        this(dim, seed, drawSigns(dim, seed));
    }

    public HadamardRotation {
        if (Integer.bitCount(dim) != 1) throw new IllegalArgumentException("Hadamard rotation needs a power-of-two dim, got " + dim);
        if (signs.length != dim) throw new IllegalArgumentException("signs length " + signs.length + " != dim " + dim);
    }

    private static float[] drawSigns(int dim, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] s = new float[dim];
        for (int i = 0; i < dim; i++) s[i] = rnd.nextBoolean() ? 1f : -1f;
        return s;
    }

    @Override
    public void apply(float[] x, int xOff, float[] y, int yOff) {
        float scale = (float) (1.0 / Math.sqrt(dim));
        for (int i = 0; i < dim; i++) y[yOff + i] = x[xOff + i] * signs[i];
        fwht(y, yOff, dim);
        for (int i = 0; i < dim; i++) y[yOff + i] *= scale;
    }

    /** In-place unnormalised fast Walsh–Hadamard transform of {@code n} floats (Sylvester order). */
    public static void fwht(float[] a, int off, int n) {
        for (int h = 1; h < n; h <<= 1) {
            for (int i = 0; i < n; i += h << 1) {
                for (int j = off + i, end = off + i + h; j < end; j++) {
                    float u = a[j], v = a[j + h];
                    a[j] = u + v;
                    a[j + h] = u - v;
                }
            }
        }
    }
}
