package org.pariskv.simd;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
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
    public void axpyBf16(float w, MemorySegment seg, long rowOff, float[] acc, int accOff, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            widen(seg, rowOff + 2L * i).fma(wv, FloatVector.fromArray(F, acc, accOff + i)).intoArray(acc, accOff + i);
        }
        if (i < n) TAIL.axpyBf16(w, seg, rowOff + 2L * i, acc, accOff + i, n - i);
    }

    /**
     * Vectorised across keys: lane {@code l} handles key {@code i+l}; per block, a strided byte gather picks the
     * keys' codes and an int gather reads the (widened) tier table.
     */
    @Override
    public void collisionScores(byte[] codes, int blocks, byte[] table, byte[] scores, int from, int n) {
        int lanes = I.length();
        int[] wide = new int[table.length];
        for (int t = 0; t < table.length; t++) wide[t] = table[t];
        int[] stride = new int[lanes];
        for (int l = 0; l < lanes; l++) stride[l] = l * blocks;
        int[] idx = new int[lanes];
        int i = from, end = from + n;
        for (; i + lanes <= end; i += lanes) {
            IntVector acc = IntVector.zero(I);
            for (int b = 0; b < blocks; b++) {
                IntVector code = ((IntVector) ByteVector.fromArray(B, codes, i * blocks + b, stride, 0)
                        .convertShape(VectorOperators.B2I, I, 0)).and(0xff).add(b << 8);
                code.intoArray(idx, 0);
                acc = acc.add(IntVector.fromArray(I, wide, 0, idx, 0));
            }
            ((ByteVector) acc.convertShape(VectorOperators.I2B, B, 0)).intoArray(scores, i);
        }
        if (i < end) TAIL.collisionScores(codes, blocks, table, scores, i, end - i);
    }

    @Override
    public void rerank(byte[] nibbles, short[] weights, int dim, float[] lut, int[] keys, int m, float[] est) {
        if ((F.length() != 8 && F.length() != 16) || (dim / 8) % (F.length() / 8) != 0) {
            TAIL.rerank(nibbles, weights, dim, lut, keys, m, est);
            return;
        }
        int blocks = dim / 8;
        int half = dim / 2;
        int lanes = F.length();
        int blocksPerVector = lanes / 8;
        int[] idx = new int[lanes];
        float[] w = new float[lanes];
        for (int k = 0; k < m; k++) {
            int key = keys[k];
            int nOff = key * half;
            int wOff = key * blocks;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0; b < blocks; b += blocksPerVector) {
                for (int l = 0; l < lanes; l++) {
                    int d = b * 8 + l;
                    int v = nibbles[nOff + (d >> 1)];
                    idx[l] = d * 16 + ((v >> ((d & 1) << 2)) & 15);
                    w[l] = Float.intBitsToFloat((weights[wOff + b + (l >> 3)] & 0xffff) << 16);
                }
                acc = FloatVector.fromArray(F, lut, 0, idx, 0).fma(FloatVector.fromArray(F, w, 0), acc);
            }
            est[k] = acc.reduceLanes(VectorOperators.ADD);
        }
    }
}
