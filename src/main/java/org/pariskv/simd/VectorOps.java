package org.pariskv.simd;

import java.lang.foreign.MemorySegment;

/**
 * The hot inner loops of the Java backend. Two twins: {@link ScalarOps} (plain loops, the oracle) and
 * {@link PanamaOps} (the Vector API); {@link #current()} picks one once, logging why.
 * Implementations are stateless and thread-safe.
 */
public sealed interface VectorOps permits ScalarOps, PanamaOps {

    /** The implementation chosen for this JVM (see {@link VectorOpsProvider}). */
    static VectorOps current() {
        return VectorOpsProvider.INSTANCE;
    }

    String name();

    /** {@code Σ a[i] b[i]} over {@code n} floats. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code Σ q[i] row[i]} for a row of {@code n} bf16 values at byte offset {@code rowOff} of {@code seg}. */
    float dotBf16(MemorySegment seg, long rowOff, float[] q, int qOff, int n);

    /** {@code Σ q[i] row[i]} for a row of {@code n} little-endian f32 values at byte offset {@code rowOff} of {@code seg}. */
    float dotF32(MemorySegment seg, long rowOff, float[] q, int qOff, int n);

    /**
     * {@link #dotBf16} of one row against four vectors at once, {@code x[xOff + j * xStride ..]} for {@code j < 4},
     * into {@code out[0..4)}: the row is widened once for all four (matrix-matrix products). Each result equals the
     * single {@link #dotBf16} bit for bit.
     */
    void dot4Bf16(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out);

    /** {@link #dot4Bf16} for an f32 row; each result equals {@link #dotF32} bit for bit. */
    void dot4F32(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out);

    /**
     * {@link #axpyBf16} of one row into four accumulators at once: {@code acc[accOff + j * accStride + i] += w[j] * row[i]}
     * for {@code j < 4}; the row is widened once. Each accumulator ends bit-equal to a single {@link #axpyBf16}.
     */
    void axpy4Bf16(float[] w, MemorySegment seg, long rowOff, float[] acc, int accOff, int accStride, int n);

    /** {@code acc[i] += w * row[i]} for a bf16 row of {@code n} values. */
    void axpyBf16(float w, MemorySegment seg, long rowOff, float[] acc, int accOff, int n);

    /**
     * Collision counting: {@code scores[i] = Σ_b table[b*256 + codes[(from+i)*blocks + b]]} for keys
     * {@code from..from+n-1}, written to {@code scores[from+i]} as unsigned bytes.
     */
    void collisionScores(byte[] codes, int blocks, byte[] table, byte[] scores, int from, int n);

    /**
     * 4-bit rerank estimates {@code est[i] = Σ_b w_b(key) Σ_j lut[(b*8+j)*16 + nibble_j(key)]} for the keys
     * {@code keys[0..m)}; {@code lut} from {@link org.pariskv.select.Rerank#lut}. The caller scales by {@code ||q||}.
     */
    void rerank(byte[] nibbles, short[] weights, int dim, float[] lut, int[] keys, int m, float[] est);
}
