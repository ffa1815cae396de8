package org.pariskv.method;

import org.pariskv.GqaMode;
import org.pariskv.select.GroupMerge;
import org.pariskv.select.RetrievalQuery;
import org.pariskv.select.TopK;

/**
 * Exact top-k by inner product over the whole zone — the upper bound of any top-k method, and the
 * reference of recall@k. Follows the configured GQA mode like ParisKV does, so recall compares like with like.
 */
public final class OracleTopK implements RetrievalMethod {

    @Override
    public String name() {
        return "oracle";
    }

    @Override
    public HeadRetriever newHead(HeadContext ctx) {
        return new HeadRetriever() {
            @Override
            public void onZoneGrow(ZoneView zone, int from, int to) {}

            @Override
            public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
                return Selection.of(exact(zone, queries, qOff, budget, ctx.shape().groupSize(), ctx.shape().headDim(), ctx.config().gqa()));
            }
        };
    }

    /** Exact selection (absolute positions, ascending) for a group's queries under a GQA mode. */
    public static int[] exact(ZoneView zone, float[] queries, int qOff, int budget, int g, int d, GqaMode mode) {
        int n = zone.zoneSize();
        int k = Math.min(budget, n);
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) tokens[i] = zone.zoneStart() + i;
        float[] score = new float[n];
        if (mode == GqaMode.MEAN || g == 1) {
            float[] q = RetrievalQuery.groupMean(queries, qOff, g, d);
            for (int i = 0; i < n; i++) score[i] = zone.keys().dot(tokens[i], q, 0);
            int[] out = new int[k];
            TopK.select(score, tokens, n, k, out);
            return out;
        }
        int[][] lists = new int[g][k];
        int[] lengths = new int[g];
        for (int h = 0; h < g; h++) {
            for (int i = 0; i < n; i++) score[i] = zone.keys().dot(tokens[i], queries, qOff + h * d);
            lengths[h] = TopK.ranked(score, tokens, n, k, lists[h]);
        }
        return GroupMerge.roundRobin(lists, lengths, k);
    }
}
