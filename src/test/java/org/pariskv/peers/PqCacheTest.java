package org.pariskv.peers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.cache.KvCache;
import org.pariskv.method.OracleTopK;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;

class PqCacheTest {

    /** g = 1: the group's softmax is monotone in q·k, so the oracle is exact top-k by inner product. */
    static final ModelShape SHAPE = new ModelShape(1, 1, 1, 32);

    /** Mean top-k overlap with the exact oracle over random queries. */
    static double recall(PqCache.Params params, int n, int k, int queries, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = SHAPE.headDim(), zs = PeerFixture.SINK;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            float[] rows = PeerFixture.random(rnd, (zs + n) * d);
            // a little structure: a few dominant directions, as real keys have
            float[] dir = PeerFixture.random(rnd, 4 * d);
            for (int t = 0; t < zs + n; t++) {
                int c = t % 4;
                for (int i = 0; i < d; i++) rows[t * d + i] += 1.5f * dir[c * d + i];
            }
            f.append(rows, zs + n);
            PqCache.Head head = (PqCache.Head) new PqCache(params).newHead(f.context());
            ZoneView zone = f.zone(zs + n, zs + n);
            head.onZoneGrow(zone, zs, zs + n);
            double sum = 0;
            for (int i = 0; i < queries; i++) {
                float[] q = PeerFixture.scaled(PeerFixture.random(rnd, d), 2f);
                Selection s = head.select(zone, q, 0, k);
                int[] exact = OracleTopK.exact(zone, q, 0, k, 1, d, GqaMode.MEAN);
                int hit = 0;
                for (int t : s.tokens()) if (java.util.Arrays.binarySearch(exact, t) >= 0) hit++;
                sum += hit / (double) k;
            }
            return sum / queries;
        }
    }

    @Test
    void oneDimensionalSubspacesWith256CentroidsApproachExactScores() {
        double r = recall(new PqCache.Params(SHAPE.headDim(), 8, 4), 1000, 50, 8, 41);
        System.out.println("PQCache recall@50, M = D, 8 bits: " + r);
        assertTrue(r >= 0.9, "recall@50 with M = D, 8 bits: " + r);
    }

    @Test
    void defaultQuantisationIsBelowOracleButAboveRandom() {
        int n = 1500, k = 50;
        double r = recall(PqCache.Params.defaults(), n, k, 8, 42);
        double random = k / (double) n;
        System.out.println("PQCache recall@50, defaults: " + r + " (random " + random + ")");
        assertTrue(r < 0.95, "defaults should not be exact: " + r);
        assertTrue(r > 3 * random, "defaults should beat random (" + random + "): " + r);
    }

    @Test
    void codebooksAreTrainedOnPrefillOnlyAndNeverRetrained() {
        ModelShape shape = new ModelShape(1, 4, 2, 32);
        int prompt = 300, qn = shape.queryHeads() * shape.headDim(), kv = shape.kvHeads() * shape.headDim();
        SplittableRandom rnd = new SplittableRandom(43);
        try (KvCache cache = PeerFixture.prefilled(shape, PeerFixture.smallConfig(32), new PqCache(), prompt, rnd)) {
            PqCache.Head head = (PqCache.Head) cache.layer(0).head(0, 1);
            int trained = head.trainedOn(), encoded = head.encoded();
            assertEquals(prompt - PeerFixture.SINK - 32, trained);
            float[][] before = head.codebooks();
            float[] out = new float[qn];
            for (int s = 0; s < 64; s++) {
                // later keys from a shifted distribution: retraining would move the codebooks
                float[] k = PeerFixture.random(rnd, kv);
                for (int i = 0; i < kv; i++) k[i] += 5f;
                cache.layer(0).decode(new int[] {0}, PeerFixture.random(rnd, qn), k, PeerFixture.random(rnd, kv), out);
            }
            assertTrue(head.encoded() >= encoded + 48, "decode intervals entered the zone: " + head.encoded());
            assertEquals(trained, head.trainedOn());
            float[][] after = head.codebooks();
            for (int j = 0; j < before.length; j++) assertArrayEquals(before[j], after[j], "codebook " + j + " changed");
            // and the new keys are encoded with the old codebooks (nearest centroid of the prefill codebook)
            assertTrue(head.code(head.encoded() - 1, 0) >= 0);
        }
    }
}
