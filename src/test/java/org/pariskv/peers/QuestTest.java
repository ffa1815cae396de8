package org.pariskv.peers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;

class QuestTest {

    static final ModelShape SHAPE = new ModelShape(1, 4, 1, 64);

    @Test
    void pageBoundIsAtLeastEveryKeysTrueScore() {
        SplittableRandom rnd = new SplittableRandom(3);
        int d = SHAPE.headDim(), n = 16 * 60 + 7; // 60 full pages and a partial one
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            f.append(PeerFixture.random(rnd, PeerFixture.SINK * d), PeerFixture.SINK);
            float[] rows = PeerFixture.random(rnd, n * d);
            for (int i = 0; i < rows.length; i++) rows[i] *= (float) Math.exp(rnd.nextGaussian()); // heavy-ish tails
            f.append(rows, n);
            Quest.Head head = (Quest.Head) new Quest().newHead(f.context());
            int zs = PeerFixture.SINK;
            // grow in uneven chunks, crossing page edges, to exercise incremental min/max
            int[] cuts = {zs, zs + 5, zs + 200, zs + 617, zs + n};
            for (int c = 0; c + 1 < cuts.length; c++) head.onZoneGrow(f.zone(cuts[c + 1], zs + n), cuts[c], cuts[c + 1]);
            assertEquals(61, head.pages());
            ZoneView zone = f.zone(zs + n, zs + n);
            for (int trial = 0; trial < 20; trial++) {
                float[] q = PeerFixture.scaled(PeerFixture.random(rnd, d), 3f);
                for (int p = 0; p < head.pages(); p++) {
                    float bound = Quest.pageBound(q, 0, head.pageMin(p), head.pageMax(p), 0, d);
                    for (int t = zs + 16 * p; t < Math.min(zs + n, zs + 16 * (p + 1)); t++) {
                        float exact = zone.keys().dot(t, q, 0);
                        assertTrue(bound >= exact - 1e-4f * (1 + Math.abs(exact)), "page " + p + " bound " + bound + " < q·k " + exact + " of token " + t);
                    }
                }
            }
        }
    }

    @Test
    void budgetOfTheWholeZoneReturnsEverythingAndSmallBudgetsWholePages() {
        SplittableRandom rnd = new SplittableRandom(4);
        int d = SHAPE.headDim(), n = 16 * 20 + 9;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            f.append(PeerFixture.random(rnd, (PeerFixture.SINK + n) * d), PeerFixture.SINK + n);
            Quest.Head head = (Quest.Head) new Quest().newHead(f.context());
            int zs = PeerFixture.SINK;
            ZoneView zone = f.zone(zs + n, zs + n);
            head.onZoneGrow(zone, zs, zs + n);
            float[] q = PeerFixture.random(rnd, SHAPE.groupSize() * d);
            Selection all = head.select(zone, q, 0, n);
            assertEquals(n, all.size());
            for (int i = 0; i < n; i++) assertEquals(zs + i, all.tokens()[i]);
            for (int budget : new int[] {1, 16, 40, 100}) {
                Selection s = head.select(zone, q, 0, budget);
                assertTrue(s.size() >= budget && s.size() < budget + 16, "budget " + budget + " gave " + s.size());
                java.util.Set<Integer> pages = new java.util.HashSet<>();
                for (int t : s.tokens()) pages.add((t - zs) / 16);
                int expectedTokens = 0;
                for (int p : pages) expectedTokens += Math.min(16, n - 16 * p);
                assertEquals(expectedTokens, s.size(), "selection is whole pages");
            }
        }
    }

    @Test
    void aPageWithAPlantedKeyAlignedWithTheQueryIsChosen() {
        SplittableRandom rnd = new SplittableRandom(5);
        int d = SHAPE.headDim(), n = 16 * 40;
        try (PeerFixture f = new PeerFixture(SHAPE)) {
            float[] rows = PeerFixture.random(rnd, (PeerFixture.SINK + n) * d);
            float[] dir = PeerFixture.random(rnd, d);
            int planted = PeerFixture.SINK + 16 * 23 + 5;
            for (int i = 0; i < d; i++) rows[planted * d + i] = 4 * dir[i];
            f.append(rows, PeerFixture.SINK + n);
            Quest.Head head = (Quest.Head) new Quest().newHead(f.context());
            ZoneView zone = f.zone(PeerFixture.SINK + n, PeerFixture.SINK + n);
            head.onZoneGrow(zone, PeerFixture.SINK, PeerFixture.SINK + n);
            float[] q = new float[SHAPE.groupSize() * d];
            for (int h = 0; h < SHAPE.groupSize(); h++) for (int i = 0; i < d; i++) q[h * d + i] = dir[i];
            Selection s = head.select(zone, q, 0, 32);
            assertTrue(java.util.Arrays.binarySearch(s.tokens(), planted) >= 0);
        }
    }
}
