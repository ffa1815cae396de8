package org.pariskv.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.kv.RowStore;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.GroupMerge;
import org.pariskv.select.ParisKvSelector;
import org.pariskv.select.RetrievalQuery;

/** ParisKV's adaptive budget end to end on one head; with tau off, exactly the fixed top-k selection. */
class ParisKvAdaptiveTest {
    private static final int D = 64, G = 4, SINK = 4, ZONE_END = 4 + 3000, LENGTH = ZONE_END + 64;
    private static final ModelShape SHAPE = new ModelShape(1, G, 1, D);

    private record Fixture(RowStore keys, RowStore values, ZoneView zone, float[] queries) implements AutoCloseable {
        @Override
        public void close() {
            keys.close();
            values.close();
        }
    }

    private static Fixture fixture(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        RowStore keys = new RowStore(D, "test keys"), values = new RowStore(D, "test values");
        float[] rows = new float[LENGTH * D];
        for (int i = 0; i < rows.length; i++) rows[i] = (float) rnd.nextGaussian() + (i % D == 3 ? 2f : 0f);
        keys.append(rows, 0, LENGTH, D);
        values.append(rows, 0, LENGTH, D);
        float[] q = new float[G * D];
        for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian() * 1.5f;
        return new Fixture(keys, values, new ZoneView(keys, values, SINK, SINK, ZONE_END, LENGTH), q);
    }

    private static int[] select(Fixture f, ParisKvConfig cfg) {
        HeadRetriever h = new ParisKv().newHead(new HeadContext(SHAPE, cfg, 0, 0, Rotation.forDim(D, cfg.seed())));
        h.onZoneGrow(f.zone(), SINK, ZONE_END);
        return h.select(f.zone(), f.queries(), 0, cfg.topk()).tokens();
    }

    private static ParisKvConfig base(GqaMode mode) {
        return ParisKvConfig.defaults().withWindow(SINK, 64).withGqa(mode);
    }

    @Test
    void tauOffIsTheFixedTopK() {
        for (GqaMode mode : GqaMode.values()) {
            try (Fixture f = fixture(3)) {
                ParisKvConfig cfg = base(mode);
                int[] today = select(f, cfg);
                assertEquals(cfg.topk(), today.length);
                // the floor and cap change nothing while tau is off
                assertArrayEquals(today, select(f, cfg.withTopkRange(3, 7)), mode.name());
                // and the selection is the plain pipeline: rank per query (or group mean), merge, top-k
                assertArrayEquals(today, pipeline(f, cfg), mode.name());
            }
        }
    }

    /** The fixed top-k selection recomputed from the selector directly (today's path). */
    private static int[] pipeline(Fixture f, ParisKvConfig cfg) {
        HeadRetriever h = new ParisKv().newHead(new HeadContext(SHAPE, cfg, 0, 0, Rotation.forDim(D, cfg.seed())));
        h.onZoneGrow(f.zone(), SINK, ZONE_END);
        var index = ((ParisKv.Head) h).index();
        Rotation rot = Rotation.forDim(D, cfg.seed());
        int k = cfg.topk();
        int[] ranked;
        if (cfg.gqa() == GqaMode.MEAN) {
            int[] out = new int[k];
            int n = ParisKvSelector.rank(index, RetrievalQuery.of(rot, RetrievalQuery.groupMean(f.queries(), 0, G, D), 0), k,
                    cfg.candidateRatio(), cfg.collisionRatio(), out);
            ranked = java.util.Arrays.copyOf(out, n);
            java.util.Arrays.sort(ranked);
        } else {
            int[][] lists = new int[G][k];
            int[] lengths = new int[G];
            for (int g = 0; g < G; g++) {
                lengths[g] = ParisKvSelector.rank(index, RetrievalQuery.of(rot, f.queries(), g * D), k, cfg.candidateRatio(), cfg.collisionRatio(), lists[g]);
            }
            ranked = GroupMerge.roundRobin(lists, lengths, k);
        }
        for (int i = 0; i < ranked.length; i++) ranked[i] += SINK;
        return ranked;
    }

    @Test
    void adaptiveStaysWithinFloorAndCap() {
        for (GqaMode mode : GqaMode.values()) {
            try (Fixture f = fixture(4)) {
                int heads = mode == GqaMode.MEAN ? 1 : G;
                // tau 1: no prefix short of all candidates reaches the total, so each head takes the cap
                assertEquals(50, select(f, base(mode).withAdaptiveMass(1.0).withTopkRange(5, 50)).length, mode.name());
                // tiny tau: the sink and local window already hold it, so each head takes the floor
                int[] low = select(f, base(mode).withAdaptiveMass(1e-9).withTopkRange(5, 50));
                assertTrue(low.length >= 5 && low.length <= 5 * heads, mode + ": " + low.length);
                int[] mid = select(f, base(mode).withAdaptiveMass(0.9).withTopkRange(5, 50));
                assertTrue(mid.length >= 5 && mid.length <= 50, mode + ": " + mid.length);
                for (int t : mid) assertTrue(t >= SINK && t < ZONE_END);
            }
        }
    }

    @Test
    void configValidatesAndKeepsTheOldConstructor() {
        ParisKvConfig old = new ParisKvConfig(4, 512, 128, 100, 42L, GqaMode.PER_HEAD, Double.NaN, Double.NaN, 2000, true);
        assertEquals(ParisKvConfig.defaults(), old);
        assertTrue(!old.adaptive() && Double.isNaN(old.adaptiveMass()));
        assertEquals(ParisKvConfig.DEFAULT_TOPK_MIN, old.topkMin());
        assertEquals(ParisKvConfig.DEFAULT_TOPK_MAX, old.topkMax());
        assertEquals(old.denseBelow(), Math.max(2000, 4 + 512 + 200));
        ParisKvConfig a = old.withAdaptiveMass(0.95).withTopkMax(300);
        assertTrue(a.adaptive());
        assertEquals(300, a.topkMax());
        assertEquals(0.95, a.withTopk(7).withGqa(GqaMode.MEAN).adaptiveMass()); // carried by the other with-methods
        assertEquals(4 + 512 + 600, a.withMinSparseTokens(0).denseBelow());
        assertThrows(IllegalArgumentException.class, () -> old.withAdaptiveMass(0));
        assertThrows(IllegalArgumentException.class, () -> old.withAdaptiveMass(1.01));
        assertThrows(IllegalArgumentException.class, () -> old.withTopkRange(0, 10));
        assertThrows(IllegalArgumentException.class, () -> old.withTopkRange(20, 10));
        assertThrows(IllegalArgumentException.class, () -> old.withTopkMax(0));
    }
}
