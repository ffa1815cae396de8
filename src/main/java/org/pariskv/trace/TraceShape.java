package org.pariskv.trace;

/**
 * Shape of a KV-cache trace: number of layers, query heads, KV heads and head dimension.
 *
 * <p>GQA: {@code queryHeads} query heads share {@code kvHeads} KV heads; query head {@code qh}
 * reads KV head {@code qh / groupSize()}.
 *
 * @param layers     number of attention layers in the trace (&gt; 0)
 * @param queryHeads query heads per layer, {@code Hq} (&gt; 0, a multiple of {@code kvHeads})
 * @param kvHeads    KV heads per layer, {@code Hkv} (&gt; 0)
 * @param headDim    head dimension {@code D} (&gt; 0, a multiple of 8: the codes work on 8-wide blocks)
 */
public record TraceShape(int layers, int queryHeads, int kvHeads, int headDim) {

    public TraceShape {
        positive("layers", layers);
        positive("queryHeads", queryHeads);
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        if (queryHeads % kvHeads != 0) {
            throw new IllegalArgumentException("queryHeads (" + queryHeads + ") must be a multiple of kvHeads ("
                    + kvHeads + ")");
        }
        if (headDim % 8 != 0) {
            throw new IllegalArgumentException("headDim must be a multiple of 8, got " + headDim);
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /** GQA group size {@code G = Hq / Hkv}: query heads per KV head. */
    public int groupSize() {
        return queryHeads / kvHeads;
    }

    /** The KV head that query head {@code queryHead} attends with. */
    public int kvHeadOf(int queryHead) {
        return queryHead / groupSize();
    }

    /** Floats in one layer's key (or value) array for {@code tokens} tokens. */
    public long kvLength(int tokens) {
        return (long) tokens * kvHeads * headDim;
    }

    /** Floats in one layer's query array for {@code steps} decode steps. */
    public long queryLength(int steps) {
        return (long) steps * queryHeads * headDim;
    }

    @Override
    public String toString() {
        return "TraceShape[layers=" + layers + ", Hq=" + queryHeads + ", Hkv=" + kvHeads + ", D=" + headDim + "]";
    }
}
