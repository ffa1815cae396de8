package org.pariskv.encode;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.RetrievalQuery;
import org.pariskv.select.Rerank;

class KeyEncoderTest {

    static float[] gaussian(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()));
        return v;
    }

    @Test
    void codesFollowTheDefinitionBitByBit() {
        int d = 128;
        Rotation rot = Rotation.forDim(d, 42);
        KeyEncoder enc = new KeyEncoder(rot);
        float[] k = gaussian(new SplittableRandom(9), d);
        byte[] codes = new byte[16];
        byte[] nib = new byte[64];
        short[] w = new short[16];
        enc.encode(k, 0, 1, codes, 0, nib, 0, w, 0);

        double norm = 0;
        for (float v : k) norm += v * v;
        norm = Math.sqrt(norm);
        float[] x = new float[d];
        for (int i = 0; i < d; i++) x[i] = (float) (k[i] / norm);
        float[] y = new float[d];
        rot.apply(x, 0, y, 0);
        for (int b = 0; b < 16; b++) {
            double r = 0;
            for (int j = 0; j < 8; j++) r += y[b * 8 + j] * y[b * 8 + j];
            r = Math.sqrt(r);
            double alpha = 0;
            for (int j = 0; j < 8; j++) {
                float yj = y[b * 8 + j];
                assertEquals(yj >= 0, ((codes[b] >> j) & 1) == 1, "collision bit " + j + " of block " + b);
                int nibble = (nib[b * 4 + j / 2] >> ((j & 1) * 4)) & 15;
                double u = yj / r;
                assertEquals(u >= 0, (nibble & 8) != 0, "sign bit");
                int t = 0;
                for (float th : LloydMax.THRESHOLDS) if (th < Math.abs(u)) t++;
                assertEquals(t, nibble & 7, "magnitude index");
                alpha += LloydMax.CENTERS[t] * Math.abs(u);
            }
            double weight = r / alpha * norm;
            assertEquals(weight, Bf16.toFloat(w[b]), weight * 0.008, "calibrated weight of block " + b);
        }
    }

    /**
     * The estimator is unbiased within noise: over many random (key, query) pairs the mean signed error,
     * relative to |q||k|, is far below its spread; the spread itself is the number README reports.
     */
    @Test
    void fourBitEstimatorIsUnbiasedWithinNoise() {
        int d = 128, pairs = 4000;
        Rotation rot = Rotation.forDim(d, 42);
        KeyEncoder enc = new KeyEncoder(rot);
        SplittableRandom rnd = new SplittableRandom(2026);
        double sum = 0, sumSq = 0;
        byte[] codes = new byte[16], nib = new byte[64];
        short[] w = new short[16];
        for (int p = 0; p < pairs; p++) {
            float[] k = gaussian(rnd, d), q = gaussian(rnd, d);
            enc.encode(k, 0, 1, codes, 0, nib, 0, w, 0);
            RetrievalQuery rq = RetrievalQuery.of(rot, q, 0);
            float[] est = new float[1];
            Rerank.estimate(rq, Rerank.lut(rq.rotated()), nib, w, new int[] {0}, 1, est);
            double exact = 0, nk = 0, nq = 0;
            for (int i = 0; i < d; i++) {
                exact += (double) k[i] * q[i];
                nk += k[i] * k[i];
                nq += q[i] * q[i];
            }
            double err = (est[0] - exact) / Math.sqrt(nk * nq);
            sum += err;
            sumSq += err * err;
        }
        double mean = sum / pairs;
        double sd = Math.sqrt(sumSq / pairs - mean * mean);
        System.out.printf("4-bit estimator error / (|q||k|): mean %.5f, sd %.5f over %d pairs%n", mean, sd, pairs);
        assertTrue(Math.abs(mean) < 4 * sd / Math.sqrt(pairs), "bias " + mean + " vs standard error " + sd / Math.sqrt(pairs));
        assertTrue(sd < 0.05, "spread " + sd + " too large for a 4-bit code of unit vectors");
        assertTrue(sd > 0.001, "spread " + sd + " implausibly small: estimator must be lossy");
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, Bf16.round(1.0f));
        assertEquals(Float.intBitsToFloat(0x3f800000), Bf16.round(Float.intBitsToFloat(0x3f808000))); // tie -> even
        assertEquals(Float.intBitsToFloat(0x3f820000), Bf16.round(Float.intBitsToFloat(0x3f818000))); // tie -> even (up)
        assertEquals(Float.intBitsToFloat(0x3f810000), Bf16.round(Float.intBitsToFloat(0x3f80c000)));
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.round(Float.POSITIVE_INFINITY));
    }
}
