package org.pariskv.simd;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.Rerank;
import org.pariskv.select.RetrievalQuery;

/** The Vector API twin against the scalar twin on odd and prime lengths (tail loops included). */
class VectorOpsTwinsTest {

    private final ScalarOps scalar = new ScalarOps();
    private final PanamaOps panama = new PanamaOps();

    @Test
    void providerPicksTheVectorTwinWhenTheModuleIsPresent() {
        // surefire runs with --add-modules jdk.incubator.vector: the provider must not silently fall back
        assertInstanceOf(PanamaOps.class, VectorOps.current(), "provider chose " + VectorOps.current().name());
    }

    /** 0 for the scalar twin; for the Panama twin, a reordered sum of n products: a few ulp of the terms' scale. */
    float ulps(VectorOps ops, float value, int n) {
        return ops == scalar ? 0f : 8 * Math.ulp(Math.max(1f, Math.abs(value))) * (float) Math.sqrt(n);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 7, 8, 13, 31, 64, 127, 128, 257})
    void dotAndBf16RowsAgree(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] a = new float[n + 3], b = new float[n + 5];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextDouble(-1, 1);
        assertEquals(scalar.dot(a, 3, b, 3, n), panama.dot(a, 3, b, 3, n), 1e-4 * n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * (n + 2));
            for (int i = 0; i < n + 2; i++) seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, Bf16.fromFloat((float) rnd.nextDouble(-2, 2)));
            assertEquals(scalar.dotBf16(seg, 2, a, 1, n), panama.dotBf16(seg, 2, a, 1, n), 1e-4 * n);
            float[] acc1 = b.clone(), acc2 = b.clone();
            scalar.axpyBf16(0.37f, seg, 4, acc1, 2, n);
            panama.axpyBf16(0.37f, seg, 4, acc2, 2, n);
            assertArrayEquals(acc1, acc2, 1e-5f);
            MemorySegment f32 = arena.allocate(4L * (n + 1));
            double exact = 0;
            for (int i = 0; i < n + 1; i++) {
                float x = (float) rnd.nextDouble(-2, 2);
                f32.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4L * i, x);
                if (i >= 1) exact += (double) x * a[i];
            }
            assertEquals(exact, scalar.dotF32(f32, 4, a, 1, n), 1e-4 * n);
            assertEquals(exact, panama.dotF32(f32, 4, a, 1, n), 1e-4 * n);
            // four vectors at once equal four single dots: bit for bit in the scalar twin; within a few ulp in the Panama
            // twin, whose float reduceLanes(ADD) may add lanes in another order once C2 compiles one method and not the other
            float[] xs = new float[4 * n + 9];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextDouble(-1, 1);
            for (VectorOps ops : new VectorOps[] {scalar, panama}) {
                float[] four = new float[4];
                ops.dot4Bf16(seg, 2, xs, 3, n + 1, n, four);
                for (int j = 0; j < 4; j++) {
                    float single = ops.dotBf16(seg, 2, xs, 3 + j * (n + 1), n);
                    assertEquals(single, four[j], ulps(ops, single, n), ops.name() + " bf16 vector " + j);
                }
                float[] acc4 = xs.clone(), accSingle = xs.clone(), w4 = {0.3f, -1.7f, 0.01f, 2.5f};
                ops.axpy4Bf16(w4, seg, 2, acc4, 3, n + 1, n);
                for (int j = 0; j < 4; j++) ops.axpyBf16(w4[j], seg, 2, accSingle, 3 + j * (n + 1), n);
                assertArrayEquals(accSingle, acc4, 0f, ops.name() + " axpy4");
                ops.dot4F32(f32, 4, xs, 3, n + 1, n, four);
                for (int j = 0; j < 4; j++) {
                    float single = ops.dotF32(f32, 4, xs, 3 + j * (n + 1), n);
                    assertEquals(single, four[j], ulps(ops, single, n), ops.name() + " f32 vector " + j);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 101, 1013})
    void collisionScoresAgree(int n) {
        SplittableRandom rnd = new SplittableRandom(n * 31L);
        for (int blocks : new int[] {16, 12, 8, 10}) {
            byte[] codes = new byte[n * blocks];
            rnd.nextBytes(codes);
            byte[] table = new byte[blocks * 256];
            for (int i = 0; i < table.length; i++) table[i] = (byte) rnd.nextInt(7);
            byte[] s1 = new byte[n + 1], s2 = new byte[n + 1];
            scalar.collisionScores(codes, blocks, table, s1, 0, n);
            panama.collisionScores(codes, blocks, table, s2, 0, n);
            assertArrayEquals(s1, s2, "blocks " + blocks);
            byte[] s3 = new byte[n + 1];
            panama.collisionScoresGather(codes, blocks, table, s3, 0, n);
            assertArrayEquals(s1, s3, "gather, blocks " + blocks);
            assertEquals(0, s2[n], "wrote past the end");
        }
    }

    /** A sub-range {@code from..from+n} (scores outside it untouched) and totals above 127 (unsigned bytes). */
    @ParameterizedTest
    @ValueSource(ints = {1, 5, 97, 1009})
    void collisionScoresAgreeOnASubrangeWithHighTotals(int n) {
        SplittableRandom rnd = new SplittableRandom(n * 7L);
        int from = 13, blocks = 32;
        byte[] codes = new byte[(from + n + 3) * blocks];
        rnd.nextBytes(codes);
        byte[] table = new byte[blocks * 256];
        for (int i = 0; i < table.length; i++) table[i] = (byte) (4 + rnd.nextInt(3));
        byte[] s1 = new byte[from + n + 3], s2 = new byte[from + n + 3];
        java.util.Arrays.fill(s1, (byte) -1);
        java.util.Arrays.fill(s2, (byte) -1);
        scalar.collisionScores(codes, blocks, table, s1, from, n);
        panama.collisionScoresGather(codes, blocks, table, s2, from, n);
        assertArrayEquals(s1, s2);
        assertTrue((s2[from] & 0xff) > 127, "totals above 127 expected");
        assertEquals(-1, s2[from - 1]);
        assertEquals(-1, s2[from + n]);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 17, 211})
    void rerankAgrees(int m) {
        for (int d : new int[] {128, 64, 256, 192, 96, 24}) {
            SplittableRandom rnd = new SplittableRandom(m + d);
            Rotation rot = Rotation.forDim(d, 42);
            int n = m + 10;
            float[] keys = new float[n * d];
            for (int i = 0; i < keys.length; i++) keys[i] = (float) rnd.nextDouble(-1, 1);
            byte[] codes = new byte[n * d / 8], nib = new byte[n * d / 2];
            short[] w = new short[n * d / 8];
            new KeyEncoder(rot).encode(keys, 0, n, codes, 0, nib, 0, w, 0);
            float[] q = new float[d];
            for (int i = 0; i < d; i++) q[i] = (float) rnd.nextDouble(-1, 1);
            float[] lut = Rerank.lut(RetrievalQuery.of(rot, q, 0).rotated());
            int[] sel = new int[m];
            for (int i = 0; i < m; i++) sel[i] = rnd.nextInt(n);
            float[] e1 = new float[m], e2 = new float[m];
            scalar.rerank(nib, w, d, lut, sel, m, e1);
            panama.rerank(nib, w, d, lut, sel, m, e2);
            assertArrayEquals(e1, e2, 1e-4f, "dim " + d);
            float[] e3 = new float[m];
            panama.rerankGather(nib, w, d, lut, sel, m, e3);
            assertArrayEquals(e1, e3, 1e-4f, "gather, dim " + d);
        }
    }
}
