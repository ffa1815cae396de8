package org.pariskv.metrics;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class MetricsTest {
    /** 3 tokens, D=2: k0=(1,0), k1=(0,1), k2=(1,1); one head. */
    static final KeyRows K = KeyRows.of(new float[] {1, 0, 0, 1, 1, 1}, 1, 2, 0);

    @Test
    void recallCountsIntersectionOverExact() {
        assertEquals(2.0 / 3, Metrics.recallAtK(new int[] {5, 1, 9, 2}, new int[] {1, 2, 3}), 1e-12);
        assertEquals(1.0, Metrics.recallAtK(new int[] {3, 2, 1}, new int[] {1, 2, 3}));
        assertEquals(0.0, Metrics.recallAtK(new int[] {}, new int[] {4}));
        assertThrows(IllegalArgumentException.class, () -> Metrics.recallAtK(new int[] {1}, new int[] {}));
    }

    @Test
    void exactTopKOrdersByScoreThenLowerIndex() {
        float[] q = {1, 1};
        assertArrayEquals(new int[] {2, 0, 1}, Metrics.exactTopK(q, K, 0, 3, 3));
        assertArrayEquals(new int[] {2, 0}, Metrics.exactTopK(q, K, 0, 3, 2));
        assertArrayEquals(new int[] {1}, Metrics.exactTopK(q, K, 1, 2, 1));
        // ties: 6 equal rows, lower index wins at the cut
        KeyRows same = KeyRows.of(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 2, 0);
        assertArrayEquals(new int[] {0, 1, 2}, Metrics.exactTopK(q, same, 0, 6, 3));
        assertArrayEquals(new int[] {2, 3}, Metrics.exactTopK(q, same, 2, 6, 2));
        assertEquals(0, Metrics.exactTopK(q, K, 0, 3, 0).length);
        var e = assertThrows(IllegalArgumentException.class, () -> Metrics.exactTopK(q, K, 0, 3, 4));
        assertTrue(e.getMessage().contains("k = 4") && e.getMessage().contains("holds 3 tokens"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Metrics.exactTopK(q, K, 2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Metrics.exactTopK(new float[3], K, 0, 3, 1));
    }

    @Test
    void exactTopKMatchesSortOnRandomData() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        int n = 997;
        int d = 13;
        float[] data = new float[n * 3 * d];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) r.nextGaussian();
        }
        KeyRows rows = KeyRows.of(data, 3, d, 1);
        float[] q = new float[d];
        for (int i = 0; i < d; i++) {
            q[i] = (float) r.nextGaussian();
        }
        Integer[] idx = new Integer[n - 10];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i + 10;
        }
        java.util.Arrays.sort(idx, (a, b) -> Float.compare(rows.dot(b, q), rows.dot(a, q)));
        int[] top = Metrics.exactTopK(q, rows, 10, n, 50);
        for (int i = 0; i < 50; i++) {
            assertEquals(idx[i], top[i]);
        }
    }

    @Test
    void attentionMassOnHandComputedSoftmax() {
        // q=(1,0), scale 1: logits 1, 0, 1 -> mass of token 1 = 1/(2e+1)
        float[][] g = {{1, 0}};
        double e = Math.E;
        assertEquals(1 / (2 * e + 1), Metrics.attentionMassRecall(g, K, 3, new int[] {1}, 1f), 1e-12);
        assertEquals(2 * e / (2 * e + 1), Metrics.attentionMassRecall(g, K, 3, new int[] {0, 2, 2}, 1f), 1e-12);
        // two heads at scale .5: q=(2,0) gives logits 1,0,1 (token 1: 1/(2e+1)); q=(0,2) gives 0,1,1 (e/(2e+1))
        float[][] g3 = {{2, 0}, {0, 2}};
        assertEquals((1 / (2 * e + 1) + e / (2 * e + 1)) / 2, Metrics.attentionMassRecall(g3, K, 3, new int[] {1}, 0.5f),
                1e-12);
        // only the first 2 tokens: token 1 of q=(1,0): 1/(e+1)
        assertEquals(1 / (e + 1), Metrics.attentionMassRecall(g, K, 2, new int[] {1}, 1f), 1e-12);
        assertEquals(1.0, Metrics.attentionMassRecall(g, K, 3, new int[] {0, 1, 2}, 1f), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Metrics.attentionMassRecall(g, K, 2, new int[] {2}, 1f));
        assertThrows(IllegalArgumentException.class, () -> Metrics.attentionMassRecall(new float[0][], K, 2, new int[] {}, 1f));
    }

    @Test
    void attentionMassIsStableForHugeLogits() {
        float[][] g = {{1000, 0}};
        double m = Metrics.attentionMassRecall(g, K, 3, new int[] {1}, 1f);
        assertFalse(Double.isNaN(m));
        assertEquals(0, m, 1e-300);
        assertEquals(1.0, Metrics.attentionMassRecall(g, K, 3, new int[] {0, 2}, 1f), 1e-12);
    }

    @Test
    void outputRelativeError() {
        assertEquals(2.0 / 5, Metrics.outputRelError(new float[] {3, 2}, new float[] {3, 4}), 1e-12);
        assertEquals(0, Metrics.outputRelError(new float[] {1, 1}, new float[] {1, 1}));
        assertEquals(0, Metrics.outputRelError(new float[] {0, 0}, new float[] {0, 0}));
        assertEquals(Double.POSITIVE_INFINITY, Metrics.outputRelError(new float[] {0, 1e-30f}, new float[] {0, 0}));
        assertThrows(IllegalArgumentException.class, () -> Metrics.outputRelError(new float[1], new float[2]));
    }

    @Test
    void attentionOutputsAndNeedle() {
        KeyRows v = KeyRows.of(new float[] {1, 0, 0, 1, 2, 2}, 1, 2, 0);
        float[] out = new float[2];
        // q=(1,0): weights e,1,e over values (1,0),(0,1),(2,2)
        Metrics.fullAttentionOutput(new float[] {1, 0}, K, v, 3, 1f, out);
        double e = Math.E;
        double z = 2 * e + 1;
        assertEquals((e + 2 * e) / z, out[0], 1e-6);
        assertEquals((1 + 2 * e) / z, out[1], 1e-6);
        Metrics.attentionOutput(new float[] {1, 0}, K, v, new int[] {1, 1}, 1f, out);
        assertArrayEquals(new float[] {0, 1}, out);
        assertTrue(Metrics.needleHit(new int[] {4, 7, 9}, 7));
        assertFalse(Metrics.needleHit(new int[] {4, 9}, 7));
    }

    @Test
    void runningStatsSummary() {
        RunningStats s = new RunningStats();
        assertEquals(0, s.summary().count());
        assertTrue(Double.isNaN(s.summary().mean()));
        for (int i = 1; i <= 100; i++) {
            s.add(101 - i);
        }
        MetricSummary m = s.summary();
        assertEquals(100, m.count());
        assertEquals(50.5, m.mean(), 1e-12);
        assertEquals(1, m.min());
        assertEquals(50, m.p50());
        assertEquals(95, m.p95());
        assertEquals(100, m.max());
        RunningStats one = new RunningStats();
        one.add(3);
        assertEquals(new MetricSummary(1, 3, 3, 3, 3, 3), one.summary());
        assertThrows(IllegalArgumentException.class, () -> one.add(Double.NaN));
    }

    @Test
    void floatRowsLayout() {
        float[] data = new float[4 * 3 * 5];
        for (int i = 0; i < data.length; i++) {
            data[i] = i;
        }
        KeyRows rows = KeyRows.of(data, 3, 5, 2);
        float[] dst = new float[5];
        rows.row(1, dst);
        assertArrayEquals(new float[] {25, 26, 27, 28, 29}, dst);
        float[] q = {1, 0, 0, 0, 2};
        assertEquals(25 + 2 * 29, rows.dot(1, q));
        assertThrows(IllegalArgumentException.class, () -> new FloatRows(data, 4, 2, 5));
    }
}
