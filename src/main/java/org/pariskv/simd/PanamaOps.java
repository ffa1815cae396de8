package org.pariskv.simd;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API twin of {@link ScalarOps}. Float work runs at the preferred width; bf16 rows are widened by
 * shifting their bits into the high half of an int lane (exactly the scalar conversion).
 */
public final class PanamaOps implements VectorOps {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.length() * 8)));
    private static final ScalarOps TAIL = new ScalarOps();

    @Override
    public String name() {
        return "panama(" + F.length() + "x32)";
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    private static FloatVector widen(MemorySegment seg, long off) {
        return ((IntVector) ShortVector.fromMemorySegment(S, seg, off, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    @Override
    public float dotBf16(MemorySegment seg, long rowOff, float[] q, int qOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = widen(seg, rowOff + 2L * i).fma(FloatVector.fromArray(F, q, qOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        if (i < n) s += TAIL.dotBf16(seg, rowOff + 2L * i, q, qOff + i, n - i);
        return s;
    }

    @Override
    public float dotF32(MemorySegment seg, long rowOff, float[] q, int qOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = FloatVector.fromMemorySegment(F, seg, rowOff + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, q, qOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        if (i < n) s += TAIL.dotF32(seg, rowOff + 4L * i, q, qOff + i, n - i);
        return s;
    }

    @Override
    public void dot4Bf16(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int x1 = xOff + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector w = widen(seg, rowOff + 2L * i);
            a0 = w.fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = w.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = w.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = w.fma(FloatVector.fromArray(F, x, x3 + i), a3);
        }
        out[0] = a0.reduceLanes(VectorOperators.ADD);
        out[1] = a1.reduceLanes(VectorOperators.ADD);
        out[2] = a2.reduceLanes(VectorOperators.ADD);
        out[3] = a3.reduceLanes(VectorOperators.ADD);
        if (i < n) {
            long at = rowOff + 2L * i;
            out[0] += TAIL.dotBf16(seg, at, x, xOff + i, n - i);
            out[1] += TAIL.dotBf16(seg, at, x, x1 + i, n - i);
            out[2] += TAIL.dotBf16(seg, at, x, x2 + i, n - i);
            out[3] += TAIL.dotBf16(seg, at, x, x3 + i, n - i);
        }
    }

    @Override
    public void dot4F32(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int x1 = xOff + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector w = FloatVector.fromMemorySegment(F, seg, rowOff + 4L * i, ByteOrder.LITTLE_ENDIAN);
            a0 = w.fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = w.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = w.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = w.fma(FloatVector.fromArray(F, x, x3 + i), a3);
        }
        out[0] = a0.reduceLanes(VectorOperators.ADD);
        out[1] = a1.reduceLanes(VectorOperators.ADD);
        out[2] = a2.reduceLanes(VectorOperators.ADD);
        out[3] = a3.reduceLanes(VectorOperators.ADD);
        if (i < n) {
            long at = rowOff + 4L * i;
            out[0] += TAIL.dotF32(seg, at, x, xOff + i, n - i);
            out[1] += TAIL.dotF32(seg, at, x, x1 + i, n - i);
            out[2] += TAIL.dotF32(seg, at, x, x2 + i, n - i);
            out[3] += TAIL.dotF32(seg, at, x, x3 + i, n - i);
        }
    }

    @Override
    public void axpy4Bf16(float[] w, MemorySegment seg, long rowOff, float[] acc, int accOff, int accStride, int n) {
        FloatVector w0 = FloatVector.broadcast(F, w[0]), w1 = FloatVector.broadcast(F, w[1]);
        FloatVector w2 = FloatVector.broadcast(F, w[2]), w3 = FloatVector.broadcast(F, w[3]);
        int o1 = accOff + accStride, o2 = o1 + accStride, o3 = o2 + accStride;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector v = widen(seg, rowOff + 2L * i);
            v.fma(w0, FloatVector.fromArray(F, acc, accOff + i)).intoArray(acc, accOff + i);
            v.fma(w1, FloatVector.fromArray(F, acc, o1 + i)).intoArray(acc, o1 + i);
            v.fma(w2, FloatVector.fromArray(F, acc, o2 + i)).intoArray(acc, o2 + i);
            v.fma(w3, FloatVector.fromArray(F, acc, o3 + i)).intoArray(acc, o3 + i);
        }
        if (i < n) {
            long at = rowOff + 2L * i;
            TAIL.axpyBf16(w[0], seg, at, acc, accOff + i, n - i);
            TAIL.axpyBf16(w[1], seg, at, acc, o1 + i, n - i);
            TAIL.axpyBf16(w[2], seg, at, acc, o2 + i, n - i);
            TAIL.axpyBf16(w[3], seg, at, acc, o3 + i, n - i);
        }
    }

    @Override
    public void axpyBf16(float w, MemorySegment seg, long rowOff, float[] acc, int accOff, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            widen(seg, rowOff + 2L * i).fma(wv, FloatVector.fromArray(F, acc, accOff + i)).intoArray(acc, accOff + i);
        }
        if (i < n) TAIL.axpyBf16(w, seg, rowOff + 2L * i, acc, accOff + i, n - i);
    }

    // 256-bit species for the table-lookup loops: AVX2 has gathers for 8 int/float lanes (AVX-512 runs them too).
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    /** Lane {@code l} holds {@code 32 l}: the lut offset of byte {@code l}'s even coordinate ({@code 2l * 16}). */
    private static final IntVector LUT_STRIDE = IntVector.zero(I8).addIndex(32);
    /** Lane {@code l} holds {@code 256 l}: the tier-table offset of block {@code l}. */
    private static final IntVector TABLE_STRIDE = IntVector.zero(I8).addIndex(256);
    // lane l of the j-th 8-byte group of 8 blocks belongs to block 2j + l/4
    private static final VectorShuffle<Float> PAIR0 = VectorShuffle.fromOp(F8, l -> (l >> 2));
    private static final VectorShuffle<Float> PAIR1 = VectorShuffle.fromOp(F8, l -> 2 + (l >> 2));
    private static final VectorShuffle<Float> PAIR2 = VectorShuffle.fromOp(F8, l -> 4 + (l >> 2));
    private static final VectorShuffle<Float> PAIR3 = VectorShuffle.fromOp(F8, l -> 6 + (l >> 2));

    /**
     * Delegates to the scalar twin. Measured (profiles/results/jmh-cpu-2026-11-22.md, AMD EPYC, AVX2, 2 cores,
     * D = 128, 32768 keys) in ns per key, scalar vs vector: the strided byte-gather formulation 18.1 vs 16.7 and
     * 13.4 vs 15.1; the int-gather formulation {@link #collisionScoresGather} 13.3 vs 22.3, 18.8 vs 16.5,
     * 29.3 vs 13.4, 21.4 vs 18.5 — no reliable win (errors overlap), so the simpler oracle runs.
     */
    @Override
    public void collisionScores(byte[] codes, int blocks, byte[] table, byte[] scores, int from, int n) {
        TAIL.collisionScores(codes, blocks, table, scores, from, n);
    }

    /**
     * One key per iteration: its code bytes, widened to int and offset by {@code 256 b}, index an int copy of
     * the tier table through an 8-lane int gather; the lanes are summed once per key.
     */
    void collisionScoresGather(byte[] codes, int blocks, byte[] table, byte[] scores, int from, int n) {
        if (blocks % 8 != 0) {
            TAIL.collisionScores(codes, blocks, table, scores, from, n);
            return;
        }
        int[] wide = new int[table.length];
        for (int t = 0; t < table.length; t++) wide[t] = table[t];
        int[] idx = new int[8];
        for (int i = from, end = from + n; i < end; i++) {
            int base = i * blocks;
            IntVector acc = IntVector.zero(I8);
            for (int b = 0; b < blocks; b += 8) {
                ((IntVector) ByteVector.fromArray(B8, codes, base + b).convertShape(VectorOperators.B2I, I8, 0))
                        .and(0xff).add(TABLE_STRIDE).intoArray(idx, 0);
                acc = acc.add(IntVector.fromArray(I8, wide, b << 8, idx, 0));
            }
            scores[i] = (byte) acc.reduceLanes(VectorOperators.ADD);
        }
    }

    /**
     * Delegates to the scalar twin. Measured (same run as {@link #collisionScores}) in ns per candidate, scalar vs
     * vector, 3277 candidates of 32768 keys: the lane-fill + gather formulation 179 vs 384 and 201 vs 379; the
     * nibble-gather formulation {@link #rerankGather} 294 vs 2271, 276 vs 227, 337 vs 396, 282 vs 572 — slower
     * or no better, so the scalar loop runs.
     */
    @Override
    public void rerank(byte[] nibbles, short[] weights, int dim, float[] lut, int[] keys, int m, float[] est) {
        TAIL.rerank(nibbles, weights, dim, lut, keys, m, est);
    }

    /**
     * Eight nibble bytes (two blocks, 16 coordinates) per step: the low and the high nibbles, offset by their
     * coordinates' lut rows, drive two float gathers; the block weights (bf16, widened eight at a time) are
     * spread over the lanes by a permute.
     */
    void rerankGather(byte[] nibbles, short[] weights, int dim, float[] lut, int[] keys, int m, float[] est) {
        if (dim % 64 != 0) {
            TAIL.rerank(nibbles, weights, dim, lut, keys, m, est);
            return;
        }
        int blocks = dim / 8;
        int half = dim / 2;
        int[] idx = new int[8];
        for (int k = 0; k < m; k++) {
            int key = keys[k];
            int nOff = key * half;
            int wOff = key * blocks;
            FloatVector acc = FloatVector.zero(F8);
            for (int g = 0; g < blocks; g += 8) {
                FloatVector w = ((IntVector) ShortVector.fromArray(S8, weights, wOff + g)
                        .convertShape(VectorOperators.S2I, I8, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                int p = nOff + 4 * g, lutOff = 128 * g;
                acc = pair(nibbles, p, lut, lutOff, idx).fma(w.rearrange(PAIR0), acc);
                acc = pair(nibbles, p + 8, lut, lutOff + 256, idx).fma(w.rearrange(PAIR1), acc);
                acc = pair(nibbles, p + 16, lut, lutOff + 512, idx).fma(w.rearrange(PAIR2), acc);
                acc = pair(nibbles, p + 24, lut, lutOff + 768, idx).fma(w.rearrange(PAIR3), acc);
            }
            est[k] = acc.reduceLanes(VectorOperators.ADD);
        }
    }

    /** Lane {@code l}: {@code lut[2l, lo_l] + lut[2l+1, hi_l]} for the 8 nibble bytes at {@code p}, rows from {@code lutOff}. */
    private static FloatVector pair(byte[] nibbles, int p, float[] lut, int lutOff, int[] idx) {
        IntVector v = (IntVector) ByteVector.fromArray(B8, nibbles, p).convertShape(VectorOperators.B2I, I8, 0);
        v.and(15).add(LUT_STRIDE).intoArray(idx, 0);
        FloatVector lo = FloatVector.fromArray(F8, lut, lutOff, idx, 0);
        v.lanewise(VectorOperators.ASHR, 4).and(15).add(LUT_STRIDE).intoArray(idx, 0);
        return lo.add(FloatVector.fromArray(F8, lut, lutOff + 16, idx, 0));
    }
}
