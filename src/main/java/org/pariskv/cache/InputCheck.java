package org.pariskv.cache;

/**
 * Fail-fast validation at the cache's API boundary: shapes and non-finite values, named by layer, head and
 * position, checked before anything is stored so a rejected call changes nothing.
 */
public final class InputCheck {
    private InputCheck() {}

    public static void length(String what, float[] a, long expected, String shape) {
        if (a == null) throw new IllegalArgumentException(what + " is null (expected " + shape + ")");
        if (a.length < expected) {
            throw new IllegalArgumentException(what + " has " + a.length + " floats, expected " + expected + " = " + shape);
        }
    }

    /** Rows laid out {@code [position][head][dim]} from {@code off}; {@code layer} < 0 leaves the layer out of the message. */
    public static void finite(String what, int layer, float[] a, int off, int positions, int firstPosition, int heads, int dim, String headKind) {
        for (int p = 0; p < positions; p++) {
            for (int h = 0; h < heads; h++) {
                int base = off + (p * heads + h) * dim;
                for (int d = 0; d < dim; d++) {
                    float v = a[base + d];
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException((Float.isNaN(v) ? "NaN" : "Inf") + " in " + what + " at "
                                + (layer >= 0 ? "layer " + layer + ", " : "") + headKind + " " + h + ", position " + (firstPosition + p) + " (dim " + d + ")");
                    }
                }
            }
        }
    }
}
