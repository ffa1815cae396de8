package org.pariskv;

/**
 * Attention geometry of a model: layers, query heads, KV heads (GQA) and head dimension.
 *
 * @param layers     decoder layers holding a KV cache
 * @param queryHeads query heads per layer ({@code Hq})
 * @param kvHeads    key/value heads per layer ({@code Hkv}); {@code Hq} must be a multiple of it
 * @param headDim    head dimension {@code D}; a multiple of 8 (the block size of the codes), at most 256
 */
public record ModelShape(int layers, int queryHeads, int kvHeads, int headDim) {

    /** Largest head dim: collision scores (6 tiers x D/8 blocks) must fit an unsigned byte. */
    public static final int MAX_HEAD_DIM = 256;

    public ModelShape {
        positive("layers", layers);
        positive("queryHeads", queryHeads);
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        if (queryHeads % kvHeads != 0) {
            throw new IllegalArgumentException("queryHeads (" + queryHeads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        }
        if (headDim % 8 != 0) {
            throw new IllegalArgumentException("headDim must be a multiple of 8 (blocks of 8 coordinates), got " + headDim);
        }
        if (headDim > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be at most " + MAX_HEAD_DIM + ", got " + headDim);
        }
    }

    /** Llama-3-8B: 32 layers, 32 query heads, 8 KV heads, D = 128. */
    public static ModelShape llama3_8b() {
        return new ModelShape(32, 32, 8, 128);
    }

    /** Query heads sharing one KV head ({@code G = Hq / Hkv}). */
    public int groupSize() {
        return queryHeads / kvHeads;
    }

    /** Blocks of 8 coordinates per key ({@code B = D / 8}). */
    public int blocks() {
        return headDim / 8;
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

    public ModelShape withLayers(int n) {
        return new ModelShape(n, queryHeads, kvHeads, headDim);
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }
}
