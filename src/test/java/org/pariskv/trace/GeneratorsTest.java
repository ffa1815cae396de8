package org.pariskv.trace;

import org.pariskv.ModelShape;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pariskv.metrics.KeyRows;
import org.pariskv.metrics.Metrics;

class GeneratorsTest {
    static final ModelShape SHAPE = new ModelShape(1, 8, 2, 128);
    static final int PROMPT = 2048;
    static final int STEPS = 96;
    static Trace llm;
    static Trace drift;
    static Trace needle;

    @BeforeAll
    static void generate() {
        llm = TraceGenerators.byName("llm").generate(SHAPE, PROMPT, STEPS, 11);
        drift = TraceGenerators.byName("drift").generate(SHAPE, 1024, 1024, 12);
        needle = TraceGenerators.byName("needle").generate(SHAPE, PROMPT, STEPS, 13);
    }

    @Test
    void byNameListsValidNames() {
        for (String n : TraceGenerators.NAMES) {
            assertEquals(n, TraceGenerators.byName(n).name());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> TraceGenerators.byName("gauss"));
        assertTrue(e.getMessage().contains("'gauss'") && e.getMessage().contains("iid, llm, drift, needle"), e.getMessage());
    }

    @Test
    void deterministicPerSeedAndDifferentAcrossSeeds() {
        ModelShape s = new ModelShape(2, 4, 2, 16);
        for (String n : TraceGenerators.NAMES) {
            TraceGenerator g = TraceGenerators.byName(n);
            Trace a = g.generate(s, 300, 20, 5);
            Trace b = g.generate(s, 300, 20, 5);
            Trace c = g.generate(s, 300, 20, 6);
            for (int l = 0; l < 2; l++) {
                assertArrayEquals(a.layer(l).keys(), b.layer(l).keys(), n);
                assertArrayEquals(a.layer(l).values(), b.layer(l).values(), n);
                assertArrayEquals(a.layer(l).queries(), b.layer(l).queries(), n);
                assertFalse(Arrays.equals(a.layer(l).keys(), c.layer(l).keys()), n);
                assertFalse(Arrays.equals(a.layer(l).queries(), c.layer(l).queries()), n);
            }
            assertFalse(Arrays.equals(a.layer(0).keys(), a.layer(1).keys()), n + ": layers must differ");
            assertEquals(s, a.shape());
            assertEquals(320, a.tokens());
            assertEquals(320 * 2 * 16, a.layer(1).keys().length);
            assertEquals(20 * 4 * 16, a.layer(1).queries().length);
            TraceValidator.validate(a);
        }
    }

    private static double cos(double[] a, double[] b) {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            d += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return d / Math.sqrt(na * nb);
    }

    private static double[] row(float[] a, int off, int d) {
        double[] r = new double[d];
        for (int i = 0; i < d; i++) {
            r[i] = a[off + i];
        }
        return r;
    }

    private static double[] meanKey(Trace t, int head, int from, int to) {
        int d = t.shape().headDim();
        double[] m = new double[d];
        for (int tok = from; tok < to; tok++) {
            int off = t.keyOffset(tok, head);
            for (int c = 0; c < d; c++) {
                m[c] += t.layer(0).keys()[off + c];
            }
        }
        return m;
    }

    @Test
    void llmQueriesAreOutOfDistribution() {
        int d = SHAPE.headDim();
        for (int h = 0; h < SHAPE.kvHeads(); h++) {
            double[] keyMean = meanKey(llm, h, 0, PROMPT);
            double kk = 0;
            for (int t = 0; t < 200; t++) {
                kk += cos(row(llm.layer(0).keys(), llm.keyOffset(t * 7, h), d), keyMean);
            }
            kk /= 200;
            double qk = 0;
            int n = 0;
            for (int s = 0; s < STEPS; s++) {
                for (int g = 0; g < SHAPE.groupSize(); g++) {
                    qk += cos(row(llm.layer(0).queries(), llm.queryOffset(s, h * SHAPE.groupSize() + g), d), keyMean);
                    n++;
                }
            }
            qk /= n;
            assertTrue(kk > 0.6, "keys share a large offset: key-key-mean cosine " + kk);
            assertTrue(qk < 0.1, "queries are not aligned with the key offset: " + qk);
            assertTrue(kk - qk > 0.5, "key-key " + kk + " vs query-key " + qk);
        }
    }

    @Test
    void llmPlantedTokensRankHighButNotAllMassInTop100() {
        float scale = (float) (1 / Math.sqrt(SHAPE.headDim()));
        int planted = 0;
        int inTop20 = 0;
        double mass100 = 0;
        int n = 0;
        for (int s = 0; s < STEPS; s += 4) {
            int ctx = llm.contextAt(s);
            for (int qh = 0; qh < SHAPE.queryHeads(); qh++) {
                KeyRows keys = KeyRows.keys(llm, 0, SHAPE.kvHeadOf(qh));
                float[] q = new float[SHAPE.headDim()];
                llm.query(0, s, qh, q);
                int[] top = Metrics.exactTopK(q, keys, 0, ctx, 100);
                int[] top20 = Arrays.copyOf(top, 20);
                int[] pl = llm.layer(0).plantedByHead()[s * SHAPE.queryHeads() + qh];
                assertTrue(pl.length >= 3 && pl.length <= 4, "planted per head " + Arrays.toString(pl));
                for (int p : pl) {
                    planted++;
                    if (Metrics.needleHit(top20, p)) {
                        inTop20++;
                    }
                    assertTrue(Arrays.binarySearch(llm.layer(0).plantedAt(s), p) >= 0, "union holds per-head planted");
                }
                mass100 += Metrics.attentionMassRecall(new float[][] {q}, keys, ctx, top, scale);
                n++;
            }
        }
        assertTrue(inTop20 >= 0.9 * planted, inTop20 + " of " + planted + " planted in exact top-20");
        mass100 /= n;
        assertTrue(mass100 > 0.85 && mass100 < 0.995, "top-100 attention mass " + mass100);
    }

    @Test
    void llmGqaHeadsOverlapButDiffer() {
        double overlap = 0;
        int n = 0;
        boolean someSharedPlanted = false;
        for (int s = 0; s < STEPS; s += 8) {
            int ctx = llm.contextAt(s);
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                KeyRows keys = KeyRows.keys(llm, 0, h);
                float[][] gq = llm.groupQueries(0, s, h);
                int[] first = Metrics.exactTopK(gq[0], keys, 0, ctx, 100);
                for (int g = 1; g < gq.length; g++) {
                    overlap += Metrics.recallAtK(Metrics.exactTopK(gq[g], keys, 0, ctx, 100), first);
                    n++;
                    int[] a = llm.layer(0).plantedByHead()[s * SHAPE.queryHeads() + h * gq.length];
                    int[] b = llm.layer(0).plantedByHead()[s * SHAPE.queryHeads() + h * gq.length + g];
                    assertFalse(Arrays.equals(a, b), "heads of a group must not share every planted target");
                    someSharedPlanted |= Arrays.stream(a).anyMatch(x -> Arrays.binarySearch(b, x) >= 0);
                }
            }
        }
        overlap /= n;
        assertTrue(overlap > 0.3 && overlap < 0.7, "exact top-100 overlap inside a GQA group " + overlap);
        assertTrue(someSharedPlanted, "planted targets partially overlap inside a group");
    }

    @Test
    void groupMeanQueryLosesMass() {
        float scale = (float) (1 / Math.sqrt(SHAPE.headDim()));
        double perHead = 0;
        double viaMean = 0;
        int n = 0;
        for (int s = 0; s < STEPS; s += 8) {
            int ctx = llm.contextAt(s);
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                KeyRows keys = KeyRows.keys(llm, 0, h);
                float[][] gq = llm.groupQueries(0, s, h);
                float[] mean = new float[SHAPE.headDim()];
                for (float[] q : gq) {
                    for (int c = 0; c < mean.length; c++) {
                        mean[c] += q[c] / gq.length;
                    }
                }
                viaMean += Metrics.attentionMassRecall(gq, keys, ctx, Metrics.exactTopK(mean, keys, 0, ctx, 32), scale);
                for (float[] q : gq) {
                    perHead += Metrics.attentionMassRecall(new float[][] {q}, keys, ctx,
                            Metrics.exactTopK(q, keys, 0, ctx, 32), scale) / gq.length;
                }
                n++;
            }
        }
        assertTrue(viaMean / n < perHead / n - 0.05, "group-mean top-32 mass " + viaMean / n
                + " vs per-head top-32 mass " + perHead / n);
    }


    /** Softmax weights of one query over the first {@code ctx} keys of a KV head. */
    private static double[] softmax(Trace t, int step, int qh, int ctx) {
        int d = t.shape().headDim();
        float[] q = new float[d];
        t.query(0, step, qh, q);
        KeyRows keys = KeyRows.keys(t, 0, t.shape().kvHeadOf(qh));
        double[] w = new double[ctx];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < ctx; i++) {
            w[i] = keys.dot(i, q) / Math.sqrt(d);
            max = Math.max(max, w[i]);
        }
        double z = 0;
        for (int i = 0; i < ctx; i++) {
            w[i] = Math.exp(w[i] - max);
            z += w[i];
        }
        for (int i = 0; i < ctx; i++) {
            w[i] /= z;
        }
        return w;
    }

    @Test
    void sinksCarryTheirMassShare() {
        for (Trace t : new Trace[] {llm, needle}) {
            LlmTraceGenerator.Params p = LlmTraceGenerator.Params.defaults();
            double sink = 0;
            int n = 0;
            for (int s = 0; s < t.steps(); s += 4) {
                for (int qh = 0; qh < SHAPE.queryHeads(); qh++) {
                    double[] w = softmax(t, s, qh, t.contextAt(s));
                    for (int i = 0; i < p.sinkTokens(); i++) {
                        sink += w[i];
                    }
                    n++;
                }
            }
            sink /= n;
            assertEquals(p.sinkMass(), sink, 0.03, t.name() + ": mean sink share");
        }
        // without sinks nothing special happens at the first tokens
        Trace none = new LlmTraceGenerator(LlmTraceGenerator.Params.defaults().withSinks(0, 0))
                .generate(new ModelShape(1, 4, 2, 128), 1024, 8, 3);
        double first = 0;
        for (int qh = 0; qh < 4; qh++) {
            double[] w = softmax(none, 7, qh, none.contextAt(7));
            first += (w[0] + w[1] + w[2] + w[3]) / 4;
        }
        assertTrue(first < 0.05, "share of the first 4 tokens without sinks " + first);
    }

    @Test
    void oracleTop100PlusSinkAndWindowHoldsMostMass() {
        for (Trace t : new Trace[] {llm, drift, needle}) {
            double held = 0;
            double background = 0;
            int n = 0;
            for (int s = 0; s < t.steps(); s += Math.max(1, t.steps() / 12)) {
                int ctx = t.contextAt(s);
                for (int qh = 0; qh < SHAPE.queryHeads(); qh++) {
                    double[] w = softmax(t, s, qh, ctx);
                    float[] q = new float[SHAPE.headDim()];
                    t.query(0, s, qh, q);
                    int[] top = Metrics.exactTopK(q, KeyRows.keys(t, 0, SHAPE.kvHeadOf(qh)), 0, ctx, 100);
                    boolean[] in = new boolean[ctx];
                    for (int i : top) {
                        in[i] = true;
                    }
                    for (int i = 0; i < Math.min(4, ctx); i++) {
                        in[i] = true;
                    }
                    for (int i = Math.max(0, ctx - 512); i < ctx; i++) {
                        in[i] = true;
                    }
                    double h = 0;
                    for (int i = 0; i < ctx; i++) {
                        h += in[i] ? w[i] : 0;
                    }
                    held += h;
                    n++;
                }
            }
            held /= n;
            assertTrue(held >= 0.9 && held < 0.999, t.name() + ": exact top-100 + sink 4 + last 512 hold " + held);
        }
        // the budget matters: sink + window alone leave most of the mass out
        double windowOnly = 0;
        for (int qh = 0; qh < SHAPE.queryHeads(); qh++) {
            int ctx = llm.contextAt(0);
            double[] w = softmax(llm, 0, qh, ctx);
            double h = 0;
            for (int i = 0; i < ctx; i++) {
                h += (i < 4 || i >= ctx - 512) ? w[i] : 0;
            }
            windowOnly += h / SHAPE.queryHeads();
        }
        assertTrue(windowOnly < 0.6, "sink + window alone hold " + windowOnly);
    }

    @Test
    void driftMovesKeysAwayFromThePrompt() {
        for (int h = 0; h < SHAPE.kvHeads(); h++) {
            double[] first = meanKey(drift, h, 0, 512);
            double[] second = meanKey(drift, h, 512, 1024);
            double[] last = meanKey(drift, h, drift.tokens() - 256, drift.tokens());
            double[] early = meanKey(drift, h, 1024, 1280);
            double inPrompt = cos(first, second);
            double atEnd = cos(first, last);
            assertTrue(inPrompt > 0.95, "prompt halves agree: " + inPrompt);
            assertTrue(atEnd < 0.8, "last generated keys moved away: " + atEnd);
            assertTrue(cos(first, early) > atEnd, "drift grows with generation");
        }
        int generated = 0;
        int all = 0;
        for (int s = 512; s < drift.steps(); s++) {
            for (int p : drift.layer(0).plantedAt(s)) {
                all++;
                if (p >= drift.promptTokens()) {
                    generated++;
                }
            }
        }
        double share = (double) generated / all;
        assertTrue(all > 0);
        assertTrue(share > 0.55 && share < 0.95, "share of planted targets in generated tokens " + share);
    }

    @Test
    void needleIsExactTop1() {
        int pos = Integer.parseInt(needle.meta().get("needle_position"));
        assertTrue(pos >= 0.05 * PROMPT && pos < 0.95 * PROMPT);
        int hits = 0;
        int n = 0;
        for (int s = 0; s < STEPS; s++) {
            assertArrayEquals(new int[] {pos}, needle.layer(0).plantedAt(s));
            for (int qh = 0; qh < SHAPE.queryHeads(); qh++) {
                float[] q = new float[SHAPE.headDim()];
                needle.query(0, s, qh, q);
                int[] top = Metrics.exactTopK(q, KeyRows.keys(needle, 0, SHAPE.kvHeadOf(qh)), 0, needle.contextAt(s), 1);
                hits += top[0] == pos ? 1 : 0;
                n++;
            }
        }
        assertTrue(hits >= 0.95 * n, hits + " of " + n + " steps/heads have the needle as exact top-1");
        NeedleTraceGenerator g = new NeedleTraceGenerator();
        assertNotEquals(g.needlePosition(100_000, 1), g.needlePosition(100_000, 2));
    }

    @Test
    void massParametersAreValidated() {
        LlmTraceGenerator.Params p = LlmTraceGenerator.Params.defaults();
        var e = assertThrows(IllegalArgumentException.class, () -> p.withSinks(4, 0.5));
        assertTrue(e.getMessage().contains("targetMass + sinkMass"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> p.withSinks(-1, 0.1));
        assertThrows(IllegalArgumentException.class, () -> new NeedleTraceGenerator.Params(p, 0.75, 0.1, 0.9, true));
    }

    @Test
    void iidHasNoStructure() {
        Trace t = new IidTraceGenerator().generate(SHAPE, 4000, 4, 3);
        double sum = 0;
        double sq = 0;
        float[] k = t.layer(0).keys();
        for (float x : k) {
            sum += x;
            sq += x * x;
        }
        assertEquals(0, sum / k.length, 0.01);
        assertEquals(1, sq / k.length, 0.02);
        assertFalse(t.layer(0).hasPlanted());
    }

    @Test
    void generates32kTokensQuickly() {
        long t0 = System.nanoTime();
        Trace t = TraceGenerators.byName("llm").generate(new ModelShape(1, 32, 8, 128), 32_000, 32, 1);
        double sec = (System.nanoTime() - t0) / 1e9;
        assertEquals(32_032, t.tokens());
        assertTrue(sec < 20, "32K x 8 x 128 took " + sec + " s");
    }
}
