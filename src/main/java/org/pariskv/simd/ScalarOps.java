package org.pariskv.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Plain-loop twin of every hot loop: the reference the vector code is tested against. */
public final class ScalarOps implements VectorOps {

    static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public float dotBf16(MemorySegment seg, long rowOff, float[] q, int qOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            s += q[qOff + i] * Float.intBitsToFloat((seg.get(BF16, rowOff + 2L * i) & 0xffff) << 16);
        }
        return s;
    }

    @Override
    public float dotF32(MemorySegment seg, long rowOff, float[] q, int qOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += q[qOff + i] * seg.get(F32, rowOff + 4L * i);
        return s;
    }

    @Override
    public void dot4Bf16(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out) {
        for (int j = 0; j < 4; j++) out[j] = dotBf16(seg, rowOff, x, xOff + j * xStride, n);
    }

    @Override
    public void dot4F32(MemorySegment seg, long rowOff, float[] x, int xOff, int xStride, int n, float[] out) {
        for (int j = 0; j < 4; j++) out[j] = dotF32(seg, rowOff, x, xOff + j * xStride, n);
    }

    @Override
    public void axpy4Bf16(float[] w, MemorySegment seg, long rowOff, float[] acc, int accOff, int accStride, int n) {
        for (int j = 0; j < 4; j++) axpyBf16(w[j], seg, rowOff, acc, accOff + j * accStride, n);
    }

    @Override
    public void axpyBf16(float w, MemorySegment seg, long rowOff, float[] acc, int accOff, int n) {
        for (int i = 0; i < n; i++) {
            acc[accOff + i] += w * Float.intBitsToFloat((seg.get(BF16, rowOff + 2L * i) & 0xffff) << 16);
        }
    }

    @Override
    public void collisionScores(byte[] codes, int blocks, byte[] table, byte[] scores, int from, int n) {
        for (int i = from, end = from + n; i < end; i++) {
            int base = i * blocks;
            int s = 0;
            for (int b = 0; b < blocks; b++) s += table[(b << 8) | (codes[base + b] & 0xff)];
            scores[i] = (byte) s;
        }
    }

    @Override
    public void rerank(byte[] nibbles, short[] weights, int dim, float[] lut, int[] keys, int m, float[] est) {
        int blocks = dim / 8;
        int half = dim / 2;
        for (int k = 0; k < m; k++) {
            int key = keys[k];
            int nOff = key * half;
            int wOff = key * blocks;
            float acc = 0f;
            for (int b = 0; b < blocks; b++) {
                float s = 0f;
                for (int p = 0; p < 4; p++) {
                    int v = nibbles[nOff + b * 4 + p];
                    int d = b * 8 + 2 * p;
                    s += lut[d * 16 + (v & 15)] + lut[(d + 1) * 16 + ((v >> 4) & 15)];
                }
                acc += Float.intBitsToFloat((weights[wOff + b] & 0xffff) << 16) * s;
            }
            est[k] = acc;
        }
    }
}
