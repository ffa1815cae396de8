package org.pariskv.peers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.cache.KvCache;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;

class LouisKvTest {

    static final ModelShape SHAPE = new ModelShape(1, 4, 1, 32);
    static final int D = SHAPE.headDim(), G = SHAPE.groupSize(), ZS = PeerFixture.SINK;

    /** A group of G query rows, each {@code cos·u_h + sin·w_h} for orthonormal u_h, w_h (per head). */
    static float[][] queriesAtCosine(SplittableRandom rnd, double cos) {
        float[] a = new float[G * D], b = new float[G * D];
        for (int h = 0; h < G; h++) {
            float[][] ab = MagicPigTest.pairAtCosine(rnd, D, cos);
            System.arraycopy(ab[0], 0, a, h * D, D);
            System.arraycopy(ab[1], 0, b, h * D, D);
        }
        return new float[][] {a, b};
    }

    static LouisKv.Head prompted(PeerFixture f, LouisKv m, int n, SplittableRandom rnd) {
        f.append(PeerFixture.random(rnd, (ZS + n) * D), ZS + n);
        LouisKv.Head head = (LouisKv.Head) m.newHead(f.context());
        head.onZoneGrow(f.zone(ZS + n, ZS + n), ZS, ZS + n);
        return head;
    }

    @Test
    void retrievesOnlyWhenMeanQueryCosineDropsBelowTau() {
        SplittableRandom rnd = new SplittableRandom(51);
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            LouisKv m = new LouisKv();
            LouisKv.Head head = prompted(f, m, 800, rnd);
            ZoneView zone = f.zone(ZS + 800, ZS + 800);
            float[][] close = queriesAtCosine(rnd, 0.8); // above tau = 0.7
            float[][] far = queriesAtCosine(rnd, 0.0);
            Selection first = head.select(zone, close[0], 0, 64);
            assertEquals(1, head.retrievals(), "the first step always retrieves");
            Selection same = head.select(zone, close[0], 0, 64);
            assertEquals(1.0, head.lastSimilarity(), 1e-6);
            assertSame(first, same, "identical queries reuse the selection");
            Selection near = head.select(zone, close[1], 0, 64);
            assertEquals(0.8, head.lastSimilarity(), 1e-5);
            assertSame(first, near, "r_t = 0.8 >= tau: no retrieval");
            assertEquals(1, head.retrievals());
            head.select(zone, far[0], 0, 64);
            head.select(zone, far[1], 0, 64); // orthogonal to the previous query
            assertEquals(0.0, head.lastSimilarity(), 1e-5);
            assertEquals(3, head.retrievals(), "far[0] vs close[1] and far[1] vs far[0] are both boundaries");
            assertEquals(5, head.steps());
            assertEquals(0.6, head.retrievalRate(), 1e-12);
            assertEquals(0.6, m.retrievalRate(), 1e-12);
            // a custom tau: with tau = 0.9 the 0.8-similar step retrieves
            LouisKv strict = new LouisKv(LouisKv.Params.defaults().withTau(0.9));
            LouisKv.Head h2 = (LouisKv.Head) strict.newHead(f.context());
            h2.onZoneGrow(zone, ZS, ZS + 800);
            h2.select(zone, close[0], 0, 64);
            h2.select(zone, close[1], 0, 64);
            assertEquals(2, h2.retrievals());
        }
    }

    @Test
    void promptClustersCoverEveryPromptTokenExactlyOnce() {
        SplittableRandom rnd = new SplittableRandom(52);
        int n = 1000;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            LouisKv.Head head = prompted(f, new LouisKv(), n, rnd);
            int units = head.promptUnits();
            assertEquals(units, head.units());
            assertTrue(units <= (n + 15) / 16 && units >= (n + 15) / 16 / 2, "about n/16 clusters: " + units);
            int[] seen = new int[n];
            for (int u = 0; u < units; u++) {
                int[] t = head.unitTokens(u);
                assertTrue(t.length > 0, "no empty clusters");
                for (int x : t) seen[x - ZS]++;
            }
            for (int i = 0; i < n; i++) assertEquals(1, seen[i], "token " + (ZS + i));
        }
    }

    @Test
    void selectionTakesWholeUnitsUntilTheBudgetIsMet() {
        SplittableRandom rnd = new SplittableRandom(53);
        int n = 1200;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            LouisKv.Head head = prompted(f, new LouisKv(), n, rnd);
            ZoneView zone = f.zone(ZS + n, ZS + n);
            int maxUnit = 0;
            int[] unitOf = new int[ZS + n];
            for (int u = 0; u < head.units(); u++) {
                maxUnit = Math.max(maxUnit, head.unitTokens(u).length);
                for (int t : head.unitTokens(u)) unitOf[t] = u;
            }
            for (int budget : new int[] {1, 50, 100, 333}) {
                for (int trial = 0; trial < 5; trial++) {
                    Selection s = head.retrieve(zone, PeerFixture.random(rnd, G * D), 0, budget);
                    assertTrue(s.size() >= budget, "budget met: " + s.size() + " < " + budget);
                    assertTrue(s.size() <= budget - 1 + maxUnit, "at most budget - 1 + one unit: " + s.size());
                    java.util.Map<Integer, Integer> perUnit = new java.util.HashMap<>();
                    for (int t : s.tokens()) perUnit.merge(unitOf[t], 1, Integer::sum);
                    int largestTaken = 0;
                    for (var e : perUnit.entrySet()) {
                        assertEquals(head.unitTokens(e.getKey()).length, e.getValue(), "unit " + e.getKey() + " taken whole");
                        largestTaken = Math.max(largestTaken, e.getValue());
                    }
                    assertTrue(s.size() - largestTaken < budget, "some unit (the last taken) was needed to meet the budget");
                }
            }
        }
    }

    @Test
    void generatedTokensAreSegmentedAtDetectedBoundaries() {
        SplittableRandom rnd = new SplittableRandom(54);
        int n = 200;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            LouisKv.Head head = prompted(f, new LouisKv(), n, rnd);
            int promptUnits = head.units();
            // decode 64 tokens; the queries of positions 215 and 240 start new topics (orthogonal), others repeat
            int start = ZS + n;
            f.append(PeerFixture.random(rnd, 64 * D), 64);
            float[][] topicA = queriesAtCosine(rnd, 0.0), topicB = queriesAtCosine(rnd, 0.0);
            float[] q = topicA[0];
            for (int pos = start; pos < start + 64; pos++) {
                if (pos == 215) q = topicA[1];
                if (pos == 240) q = topicB[0];
                head.select(f.zone(start, pos + 1), q, 0, 32);
            }
            assertEquals(3, head.retrievals(), "first step + two boundaries");
            // the tokens leave the local window in two chunks
            head.onZoneGrow(f.zone(start + 40, start + 64), start, start + 40);
            head.onZoneGrow(f.zone(start + 64, start + 64), start + 40, start + 64);
            java.util.List<Integer> starts = new java.util.ArrayList<>();
            int next = start;
            for (int u = promptUnits; u < head.units(); u++) {
                int[] t = head.unitTokens(u);
                assertEquals(next, t[0], "segments are contiguous and in order");
                for (int i = 1; i < t.length; i++) assertEquals(t[i - 1] + 1, t[i]);
                assertTrue(t.length <= 16, "max segment length");
                assertFalse(t[0] < 215 && t[t.length - 1] >= 215, "a segment crosses the boundary at 215");
                assertFalse(t[0] < 240 && t[t.length - 1] >= 240, "a segment crosses the boundary at 240");
                // representative = mean key
                float[] mean = new float[D], row = new float[D];
                for (int x : t) {
                    f.keys.read(x, 1, row, 0);
                    for (int i = 0; i < D; i++) mean[i] += row[i] / t.length;
                }
                assertArrayEquals(mean, head.unitCentroid(u), 1e-4f);
                starts.add(t[0]);
                next = t[t.length - 1] + 1;
            }
            assertEquals(start + 64, next, "every generated token in exactly one segment");
            assertTrue(starts.contains(215) && starts.contains(240), "cuts at the boundaries: " + starts);
            // 204..214 (11), 215..230, 231..239, 240..243 (chunk end), 244..259, 260..267
            assertEquals(java.util.List.of(204, 215, 231, 240, 244, 260), starts);
            // prompt clusters untouched by generation
            assertEquals(promptUnits, head.promptUnits());
        }
    }

    @Test
    void rateIsReportedThroughTheCacheAndFollowsQuerySimilarity() {
        ModelShape shape = new ModelShape(2, 8, 2, 32);
        int qn = shape.queryHeads() * shape.headDim(), kv = shape.kvHeads() * shape.headDim();
        for (boolean steady : new boolean[] {true, false}) {
            LouisKv m = new LouisKv();
            SplittableRandom rnd = new SplittableRandom(55);
            try (KvCache cache = PeerFixture.prefilled(shape, PeerFixture.smallConfig(48), m, 400, rnd)) {
                float[] base = PeerFixture.random(rnd, qn), out = new float[qn];
                for (int s = 0; s < 40; s++) {
                    float[] q = steady ? base : PeerFixture.random(rnd, qn);
                    for (int l = 0; l < shape.layers(); l++) cache.layer(l).decode(new int[] {0}, q, PeerFixture.random(rnd, kv), PeerFixture.random(rnd, kv), out);
                }
                assertEquals(40L * shape.layers() * shape.kvHeads(), m.steps());
                if (steady) assertEquals(shape.layers() * shape.kvHeads(), m.retrievals(), "identical queries: only the first step retrieves");
                else assertEquals(1.0, m.retrievalRate(), 0.05, "independent random queries are ~orthogonal");
            }
        }
    }
}
