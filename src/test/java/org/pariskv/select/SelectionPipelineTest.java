package org.pariskv.select;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.index.RetrievalIndex;
import org.pariskv.rotate.Rotation;

class SelectionPipelineTest {

    static float[] gaussian(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()));
        return v;
    }

    @Test
    void tierTableMatchesTheDefinition() {
        SplittableRandom rnd = new SplittableRandom(11);
        int blocks = 4;
        float[] q = gaussian(rnd, blocks * 8);
        int[] counts = new int[blocks * 256];
        int n = 0;
        for (int b = 0; b < blocks; b++) {
            int total = 0;
            for (int c = 0; c < 256; c++) total += counts[b * 256 + c] = rnd.nextInt(5) == 0 ? rnd.nextInt(40) : 0;
            n = Math.max(n, total);
        }
        int[] thresholds = Tiers.thresholds(n, 0.5);
        byte[] table = new byte[blocks * 256];
        TierTable.build(q, counts, thresholds, table);
        for (int b = 0; b < blocks; b++) {
            for (int c = 0; c < 256; c++) {
                double sc = score(q, b, c);
                int above = 0;
                for (int o = 0; o < 256; o++) {
                    double so = score(q, b, o);
                    if (so > sc || (so == sc && o < c)) above += counts[b * 256 + o];
                }
                int expected = 0;
                for (int t : thresholds) if (above < t) expected++;
                assertEquals(expected, table[b * 256 + c], "block " + b + " centroid " + c);
            }
        }
    }

    private static double score(float[] q, int b, int c) {
        float s = 0f;
        for (int j = 0; j < 8; j++) s += ((c >> j) & 1) != 0 ? q[b * 8 + j] : -q[b * 8 + j];
        return s;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 97, 1009, 4099})
    void candidateSelectKeepsTheHighestScoresTiesInTokenOrder(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        byte[] scores = new byte[n];
        for (int i = 0; i < n; i++) scores[i] = (byte) rnd.nextInt(97);
        int count = (int) Math.ceil(n * 0.3);
        int[] out = new int[n];
        int m = CandidateSelect.select(scores, n, 96, count, out);
        assertEquals(count, m);
        int[] expected = IntStream.range(0, n).boxed()
                .sorted(Comparator.<Integer>comparingInt(i -> -(scores[i] & 0xff)).thenComparingInt(i -> i))
                .limit(count).mapToInt(Integer::intValue).sorted().toArray();
        assertArrayEquals(expected, Arrays.copyOf(out, m));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 101, 2003})
    void topKMatchesAFullSort(int m) {
        SplittableRandom rnd = new SplittableRandom(m);
        float[] s = new float[m];
        int[] tokens = new int[m];
        for (int i = 0; i < m; i++) {
            s[i] = rnd.nextInt(50) / 7f; // many ties
            tokens[i] = 3 * i + 1;
        }
        int k = Math.max(1, m / 3);
        int[] out = new int[k];
        int r = TopK.ranked(s, tokens, m, k, out);
        int[] expected = IntStream.range(0, m).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -s[i]).thenComparingInt(i -> tokens[i]))
                .limit(k).mapToInt(i -> tokens[i]).toArray();
        assertEquals(k, r);
        assertArrayEquals(expected, out);
    }

    @Test
    void fullCandidateRatioRecoversExactTopKOnWellSeparatedKeys() {
        // with every key a candidate, selection is the 4-bit estimate's top-k: on keys whose inner products are
        // well separated from the crowd it must find the planted ones
        int d = 128, n = 3000;
        Rotation rot = Rotation.forDim(d, 42);
        SplittableRandom rnd = new SplittableRandom(5);
        float[] keys = new float[n * d];
        for (int i = 0; i < keys.length; i++) keys[i] = (float) (rnd.nextDouble() * 2 - 1);
        float[] q = gaussian(rnd, d);
        int[] planted = {17, 400, 1234, 2999, 2500};
        for (int p : planted) for (int i = 0; i < d; i++) keys[p * d + i] = q[i] * 0.8f + keys[p * d + i] * 0.2f;
        RetrievalIndex idx = new RetrievalIndex(d, n);
        idx.append(new KeyEncoder(rot), keys, 0, n);
        int[] out = new int[5];
        int r = ParisKvSelector.rank(idx, RetrievalQuery.of(rot, q, 0), 5, 1.0, 1.0, out);
        assertEquals(5, r);
        int[] got = Arrays.copyOf(out, r);
        Arrays.sort(got);
        assertArrayEquals(IntStream.of(planted).sorted().toArray(), got);
    }

    @Test
    void collisionCountingAloneRanksPlantedKeysHigh() {
        int d = 128, n = 20000;
        Rotation rot = Rotation.forDim(d, 42);
        SplittableRandom rnd = new SplittableRandom(8);
        float[] keys = new float[n * d];
        for (int i = 0; i < keys.length; i++) keys[i] = (float) (rnd.nextDouble() * 2 - 1);
        float[] q = gaussian(rnd, d);
        int[] planted = {3, 999, 15000, 19999};
        for (int p : planted) for (int i = 0; i < d; i++) keys[p * d + i] = q[i] * 0.6f + keys[p * d + i] * 0.4f;
        RetrievalIndex idx = new RetrievalIndex(d, n);
        idx.append(new KeyEncoder(rot), keys, 0, n);
        RetrievalQuery rq = RetrievalQuery.of(rot, q, 0);
        byte[] table = new byte[16 * 256];
        AdaptiveRatios ratios = AdaptiveRatios.forZone(n);
        TierTable.build(rq.rotated(), idx.counts(), Tiers.thresholds(n, ratios.collisionRatio()), table);
        byte[] scores = new byte[n];
        CollisionCounting.scores(idx.codes(), n, 16, table, scores);
        int[] cand = new int[n];
        int m = CandidateSelect.select(scores, n, 96, ratios.candidates(n), cand);
        for (int p : planted) assertTrue(Arrays.binarySearch(cand, 0, m, p) >= 0, "planted key " + p + " dropped by collision counting");
    }

    @Test
    void adaptiveRatiosFollowTheReferenceSchedule() {
        assertEquals(new AdaptiveRatios(0.5, 0.5), AdaptiveRatios.forZone(4999));
        assertEquals(new AdaptiveRatios(0.25, 0.3), AdaptiveRatios.forZone(5000));
        assertEquals(new AdaptiveRatios(0.2, 0.25), AdaptiveRatios.forZone(29999));
        assertEquals(new AdaptiveRatios(0.1, 0.2), AdaptiveRatios.forZone(30000));
        assertEquals(3277, AdaptiveRatios.forZone(32768).candidates(32768));
        assertArrayEquals(new int[] {328, 984, 1967, 3277, 4916, 6554}, Tiers.thresholds(32768, 0.2));
    }

    @Test
    void groupMergeFillsTheBudgetRoundRobinWithoutDuplicates() {
        int[][] lists = {{5, 1, 2, 3}, {5, 9, 8, 7}};
        // (rank, head) order: 5, 5(dup), 1, 9, 2, 8, ...
        assertArrayEquals(new int[] {1, 5, 9}, GroupMerge.roundRobin(lists, new int[] {4, 4}, 3));
        assertArrayEquals(new int[] {1, 2, 5, 9}, GroupMerge.roundRobin(lists, new int[] {4, 4}, 4));
        assertArrayEquals(new int[] {1, 2, 3, 5, 7, 8, 9}, GroupMerge.roundRobin(lists, new int[] {4, 4}, 10));
    }
}
