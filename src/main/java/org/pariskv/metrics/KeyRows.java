package org.pariskv.metrics;

import org.pariskv.trace.Trace;

/**
 * Read access to the rows (keys or values) of one (layer, KV head), indexed by token position.
 * Implementations may store floats, bf16 or anything else; the metrics only need these two calls.
 */
public interface KeyRows {

    /** Row width {@code D}. */
    int dim();

    /** Inner product of row {@code token} with {@code q} (length {@code D}). */
    float dot(int token, float[] q);

    /** Copies row {@code token} into {@code dst[0..D)}. */
    void row(int token, float[] dst);

    /** Rows of a flat row-major {@code tokens × heads × dim} array, for head {@code head}. */
    static KeyRows of(float[] data, int heads, int dim, int head) {
        return new FloatRows(data, heads * dim, head * dim, dim);
    }

    /** The keys of ({@code layer}, {@code kvHead}) of a trace, without copying. */
    static KeyRows keys(Trace trace, int layer, int kvHead) {
        return of(trace.layer(layer).keys(), trace.shape().kvHeads(), trace.shape().headDim(), kvHead);
    }

    /** The values of ({@code layer}, {@code kvHead}) of a trace, without copying. */
    static KeyRows values(Trace trace, int layer, int kvHead) {
        return of(trace.layer(layer).values(), trace.shape().kvHeads(), trace.shape().headDim(), kvHead);
    }
}
