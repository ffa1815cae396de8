package org.pariskv.rotate;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class RotationTest {

    @ParameterizedTest
    @ValueSource(ints = {8, 64, 128, 96, 80})
    void preservesNormsAndInnerProducts(int d) {
        Rotation r = Rotation.forDim(d, 42);
        assertEquals(Integer.bitCount(d) == 1, r instanceof HadamardRotation);
        SplittableRandom rnd = new SplittableRandom(1);
        for (int trial = 0; trial < 20; trial++) {
            float[] a = gaussian(rnd, d), b = gaussian(rnd, d);
            float[] ra = new float[d], rb = new float[d];
            r.apply(a, 0, ra, 0);
            r.apply(b, 0, rb, 0);
            assertEquals(dot(a, a), dot(ra, ra), 1e-3 * dot(a, a));
            assertEquals(dot(a, b), dot(ra, rb), 1e-3 * Math.sqrt(dot(a, a) * dot(b, b)));
        }
    }

    @Test
    void hadamardMatchesItsDenseMatrixAndIsSeeded() {
        Rotation r = Rotation.forDim(16, 7);
        float[] m = r.matrix();
        float[] x = gaussian(new SplittableRandom(3), 16);
        float[] y = new float[16];
        r.apply(x, 0, y, 0);
        for (int i = 0; i < 16; i++) {
            float s = 0;
            for (int j = 0; j < 16; j++) s += m[i * 16 + j] * x[j];
            assertEquals(s, y[i], 1e-5);
        }
        assertArrayEquals(((HadamardRotation) r).signs(), ((HadamardRotation) Rotation.forDim(16, 7)).signs());
        assertFalse(java.util.Arrays.equals(((HadamardRotation) r).signs(), ((HadamardRotation) Rotation.forDim(16, 8)).signs()));
    }

    @Test
    void orthogonalMatrixIsOrthonormal() {
        float[] m = Rotation.forDim(24, 5).matrix();
        for (int i = 0; i < 24; i++) {
            for (int j = 0; j < 24; j++) {
                double s = 0;
                for (int k = 0; k < 24; k++) s += m[i * 24 + k] * m[j * 24 + k];
                assertEquals(i == j ? 1.0 : 0.0, s, 1e-5, "row " + i + " . row " + j);
            }
        }
    }

    static float[] gaussian(SplittableRandom rnd, int d) {
        float[] v = new float[d];
        for (int i = 0; i < d; i++) v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()));
        return v;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }
}
