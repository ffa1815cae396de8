package org.pariskv.peers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.method.FullAttention;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;

class MagicPigTest {

    static final ModelShape SHAPE = new ModelShape(1, 4, 2, 32);

    /** Two unit vectors at cosine {@code cos} in {@code d} dims. */
    static float[][] pairAtCosine(SplittableRandom rnd, int d, double cos) {
        double[] u = new double[d], w = new double[d];
        for (int i = 0; i < d; i++) { u[i] = rnd.nextGaussian(); w[i] = rnd.nextGaussian(); }
        normalise(u);
        double uw = 0;
        for (int i = 0; i < d; i++) uw += u[i] * w[i];
        for (int i = 0; i < d; i++) w[i] -= uw * u[i];
        normalise(w);
        float[] a = new float[d], b = new float[d];
        double s = Math.sqrt(1 - cos * cos);
        for (int i = 0; i < d; i++) { a[i] = (float) u[i]; b[i] = (float) (cos * u[i] + s * w[i]); }
        return new float[][] {a, b};
    }

    static void normalise(double[] v) {
        double n = 0;
        for (double x : v) n += x * x;
        n = Math.sqrt(n);
        for (int i = 0; i < v.length; i++) v[i] /= n;
    }

    @Test
    void collisionProbabilityMatchesEmpiricalFrequencyOnRandomHyperplanes() {
        SplittableRandom rnd = new SplittableRandom(11);
        int d = 32, k = 4, tables = 8, trials = 3000;
        for (double cos : new double[] {0.9, 0.5, 0.0, -0.4}) {
            float[][] ab = pairAtCosine(rnd, d, cos);
            int tableHits = 0, sampled = 0;
            for (int t = 0; t < trials; t++) {
                float[] planes = MagicPig.hyperplanes(k * tables, d, 1000 + t);
                int hits = 0;
                for (int l = 0; l < tables; l++) if (MagicPig.hash(planes, k, l, ab[0], 0, d) == MagicPig.hash(planes, k, l, ab[1], 0, d)) hits++;
                tableHits += hits;
                if (hits >= 2) sampled++;
            }
            double pTable = MagicPig.collisionProbability(cos, k);
            double pSample = MagicPig.sampleProbability(cos, k, tables, 2);
            double fTable = tableHits / (double) (trials * tables), fSample = sampled / (double) trials;
            assertEquals(pTable, fTable, 4 * Math.sqrt(pTable * (1 - pTable) / (trials * tables)) + 1e-3, "per-table collision at cos " + cos);
            assertEquals(pSample, fSample, 4 * Math.sqrt(pSample * (1 - pSample) / trials) + 1e-3, ">= 2 of " + tables + " at cos " + cos);
        }
    }

    @Test
    void sampleProbabilityIsTheBinomialTailAndStableWhenTiny() {
        // L = 3, p known: P[X>=2] = 3p²(1-p) + p³
        double p = MagicPig.collisionProbability(0.3, 2);
        assertEquals(3 * p * p * (1 - p) + p * p * p, MagicPig.sampleProbability(0.3, 2, 3, 2), 1e-12);
        double tiny = MagicPig.sampleProbability(-0.95, 10, 150, 2); // p ~ 1e-10: no cancellation to 0
        double pt = MagicPig.collisionProbability(-0.95, 10);
        assertEquals(150 * 149 / 2.0 * pt * pt, tiny, 1e-3 * tiny);
        assertEquals(1.0, MagicPig.sampleProbability(1.0, 10, 150, 2), 0);
    }

    /** Mean relative output error against full attention over several decode queries. */
    static double errorAgainstFull(RetrievalMethod m, int prompt, int queries) {
        ParisKvConfig cfg = PeerFixture.smallConfig(64);
        int qn = SHAPE.queryHeads() * SHAPE.headDim();
        try (KvCache sparse = PeerFixture.prefilled(SHAPE, cfg, m, prompt, new SplittableRandom(21));
             KvCache full = PeerFixture.prefilled(SHAPE, cfg, new FullAttention(), prompt, new SplittableRandom(21))) {
            SplittableRandom rnd = new SplittableRandom(22);
            double err = 0;
            for (int i = 0; i < queries; i++) {
                float[] q = PeerFixture.scaled(PeerFixture.random(rnd, qn), 4f);
                float[] a = new float[qn], b = new float[qn];
                Attended[] at = sparse.layer(0).attend(new int[] {0}, q, a);
                assertFalse(at[0].dense());
                full.layer(0).attend(new int[] {0}, q, b);
                err += PeerFixture.relError(a, b);
            }
            return err / queries;
        }
    }

    @Test
    void estimatorConvergesToFullAttentionAsTablesGrow() {
        int prompt = 500;
        double[] err = new double[3];
        int[] ls = {2, 16, 400};
        for (int i = 0; i < ls.length; i++) err[i] = errorAgainstFull(new MagicPig(MagicPig.Params.of(5, ls[i])), prompt, 6);
        System.out.println("MagicPIG K=5 relative error by L " + java.util.Arrays.toString(ls) + ": " + java.util.Arrays.toString(err));
        assertTrue(err[1] < err[0], java.util.Arrays.toString(err));
        assertTrue(err[2] < err[1], java.util.Arrays.toString(err));
        assertTrue(err[2] < 0.05, java.util.Arrays.toString(err));
    }

    @Test
    void biasIsMinusLogSamplingProbabilityPerHeadAndBudgetIsIgnored() {
        SplittableRandom rnd = new SplittableRandom(31);
        int d = SHAPE.headDim(), g = SHAPE.groupSize(), n = 400;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            f.append(PeerFixture.random(rnd, (PeerFixture.SINK + n) * d), PeerFixture.SINK + n);
            MagicPig.Params p = MagicPig.Params.of(6, 24);
            MagicPig.Head head = (MagicPig.Head) new MagicPig(p).newHead(f.context());
            ZoneView zone = f.zone(PeerFixture.SINK + n, PeerFixture.SINK + n);
            head.onZoneGrow(zone, PeerFixture.SINK, PeerFixture.SINK + n);
            float[] q = PeerFixture.random(rnd, g * d);
            Selection s = head.select(zone, q, 0, 5);
            Selection s2 = head.select(zone, q, 0, 100_000);
            assertArrayEquals(s.tokens(), s2.tokens(), "budget must not matter");
            assertTrue(s.size() > 5, "more than the (ignored) budget sampled: " + s.size());
            float[] mean = head.mean();
            for (int h = 0; h < g; h++) {
                double qq = 0;
                for (int i = 0; i < d; i++) qq += q[h * d + i] * (double) q[h * d + i];
                int sampledByHead = 0;
                for (int j = 0; j < s.size(); j++) {
                    float b = s.logitBias()[h][j];
                    if (b == MagicPig.NOT_SAMPLED) continue;
                    sampledByHead++;
                    float[] k = new float[d];
                    f.keys.read(s.tokens()[j], 1, k, 0);
                    double dot = 0, kk = 0;
                    for (int i = 0; i < d; i++) {
                        double c = k[i] - mean[i];
                        dot += c * q[h * d + i];
                        kk += c * c;
                    }
                    double prob = MagicPig.sampleProbability(dot / Math.sqrt(kk * qq), 6, 24, 2);
                    assertEquals(-Math.log(prob), b, 1e-3 * (1 + Math.abs(b)));
                }
                assertTrue(sampledByHead > 0);
            }
            for (int j = 0; j < s.size(); j++) {
                boolean any = false;
                for (int h = 0; h < g; h++) any |= s.logitBias()[h][j] != MagicPig.NOT_SAMPLED;
                assertTrue(any, "every token of the union is sampled by some head");
            }
        }
    }
}
