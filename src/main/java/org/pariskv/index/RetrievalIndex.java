package org.pariskv.index;

import java.util.Arrays;
import org.pariskv.encode.KeyEncoder;

/**
 * The compact index of one (sequence, layer, KV head) retrieval zone: per key its collision code
 * ({@code B} bytes), rerank nibbles ({@code D/2} bytes) and bf16 block weights ({@code B}), plus the
 * per-(block, centroid) key counts that size the tiers. Keys are appended in token order; zone index
 * {@code i} is the {@code i}-th encoded token. Not thread-safe: one writer, readers after it.
 */
public final class RetrievalIndex {

    public static final int CENTROIDS = 256;

    private final int dim;
    private final int blocks;
    private byte[] codes;
    private byte[] nibbles;
    private short[] weights;
    private final int[] counts;
    private int size;
    private float[] center;

    public RetrievalIndex(int dim, int initialCapacity) {
        this.dim = dim;
        this.blocks = dim / 8;
        int cap = Math.max(16, initialCapacity);
        this.codes = new byte[cap * blocks];
        this.nibbles = new byte[cap * dim / 2];
        this.weights = new short[cap * blocks];
        this.counts = new int[blocks * CENTROIDS];
    }

    /** Encodes and appends {@code n} keys given as rows of {@code dim} floats. */
    public void append(KeyEncoder encoder, float[] keys, int keyOff, int n) {
        ensureCapacity(size + n);
        encoder.encode(keys, keyOff, n, center, codes, size * blocks, nibbles, size * dim / 2, weights, size * blocks);
        for (int i = size * blocks, end = (size + n) * blocks; i < end; i++) {
            counts[(i % blocks) * CENTROIDS + (codes[i] & 0xff)]++;
        }
        size += n;
    }

    private void ensureCapacity(int keys) {
        if (keys * blocks <= codes.length) return;
        int cap = Math.max(keys, codes.length / blocks * 2);
        codes = Arrays.copyOf(codes, cap * blocks);
        nibbles = Arrays.copyOf(nibbles, cap * dim / 2);
        weights = Arrays.copyOf(weights, cap * blocks);
    }

    /**
     * Fixes the centre subtracted from every key before encoding (null: none). Only before the first key:
     * all keys of a zone must share one centre for rankings to stay exact.
     */
    public void setCenter(float[] center) {
        if (size > 0) throw new IllegalStateException("the key centre is fixed before the first key is encoded");
        if (center != null && center.length != dim) throw new IllegalArgumentException("centre has " + center.length + " dims, expected " + dim);
        this.center = center == null ? null : center.clone();
    }

    /** The key centre, or null. */
    public float[] center() {
        return center == null ? null : center.clone();
    }

    /** Keys in the zone ({@code n}). */
    public int size() {
        return size;
    }

    public int dim() {
        return dim;
    }

    public int blocks() {
        return blocks;
    }

    /** Collision codes, {@code size() * blocks()} valid bytes, key-major. Live view: do not modify. */
    public byte[] codes() {
        return codes;
    }

    /** Rerank nibbles, {@code size() * dim()/2} valid bytes, key-major. Live view: do not modify. */
    public byte[] nibbles() {
        return nibbles;
    }

    /** bf16 block weights, {@code size() * blocks()} valid entries. Live view: do not modify. */
    public short[] weights() {
        return weights;
    }

    /** Keys per (block, centroid), {@code blocks() * 256} entries, block-major. Live view: do not modify. */
    public int[] counts() {
        return counts;
    }

    /** Index bytes held per key: codes + nibbles + weights (112 at D = 128). */
    public static long bytesPerKey(int dim) {
        return dim / 8 + dim / 2 + 2L * (dim / 8);
    }
}
