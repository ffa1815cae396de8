package org.pariskv.select;

import org.pariskv.index.RetrievalIndex;
import org.pariskv.profile.Stage;
import org.pariskv.profile.StageProfile;

/**
 * The ParisKV selection pipeline for one retrieval query over one {@link RetrievalIndex}:
 * tier table → collision counting → candidate select → 4-bit rerank → top-k. Returns zone indices ranked
 * best first. Stateless; per-thread scratch arrays are reused across calls.
 */
public final class ParisKvSelector {
    private ParisKvSelector() {}

    private static final class Scratch {
        byte[] scores = new byte[0];
        int[] candidates = new int[0];
        float[] estimates = new float[0];
        float[] logits = new float[0];
        final byte[] tierTable = new byte[32 * 256];

        void ensure(int n) {
            if (scores.length < n) {
                int cap = Math.max(n, scores.length * 2);
                scores = new byte[cap];
                candidates = new int[cap];
                estimates = new float[cap];
            }
        }
    }

    /** Logits of the candidates (estimates in attention units) and of the ranked ones, then the rule. */
    private static int adaptiveCount(Scratch s, int m, int[] ranked, int r, int kMax, Adaptive a) {
        if (s.logits.length < m) s.logits = new float[Math.max(m, s.logits.length * 2)];
        for (int i = 0; i < m; i++) s.logits[i] = (s.estimates[i] + a.queryDotCenter()) * a.scale();
        float[] top = new float[r];
        for (int i = 0; i < r; i++) {
            int at = java.util.Arrays.binarySearch(s.candidates, 0, m, ranked[i]); // candidates are ascending
            top[i] = s.logits[at];
        }
        return AdaptiveBudget.choose(top, r, s.logits, m, a.fixedLogits(), a.fixedCount(), a.tau(), a.kMin(), kMax);
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Ranks the zone for {@code q}: at most {@code k} zone indices, best first, into {@code out}; returns the count.
     *
     * @param candidateRatio NaN for the adaptive ratio by zone size
     * @param collisionRatio NaN for the adaptive ratio by zone size
     */
    public static int rank(RetrievalIndex index, RetrievalQuery q, int k, double candidateRatio, double collisionRatio, int[] out) {
        return rank(index, q, k, candidateRatio, collisionRatio, out, null);
    }

    /**
     * The adaptive budget's inputs: the rule ({@link AdaptiveBudget}), the exact logits of the always-attended
     * tokens, the attention scale and {@code q·μ} (added back to the estimates of centred keys).
     */
    public record Adaptive(double tau, int kMin, float[] fixedLogits, int fixedCount, float scale, float queryDotCenter) {}

    /**
     * {@link #rank(RetrievalIndex, RetrievalQuery, int, double, double, int[])}; with {@code adaptive} non-null,
     * {@code k} is the cap and the count returned is the adaptive rule's choice among the best {@code k}.
     */
    public static int rank(RetrievalIndex index, RetrievalQuery q, int k, double candidateRatio, double collisionRatio, int[] out,
                           Adaptive adaptive) {
        int n = index.size();
        if (n == 0 || k <= 0) return 0;
        int blocks = index.blocks();
        Scratch s = SCRATCH.get();
        s.ensure(n);
        AdaptiveRatios ratios = AdaptiveRatios.forZone(n, candidateRatio, collisionRatio);

        long t = StageProfile.start();
        TierTable.build(q.rotated(), index.counts(), Tiers.thresholds(n, ratios.collisionRatio()), s.tierTable);
        float[] lut = Rerank.lut(q.rotated());
        StageProfile.stop(Stage.PREPARE_QUERY, t);

        t = StageProfile.start();
        CollisionCounting.scores(index.codes(), n, blocks, s.tierTable, s.scores);
        StageProfile.stop(Stage.COLLISION_SCORES, t);

        t = StageProfile.start();
        int m = CandidateSelect.select(s.scores, n, Tiers.maxScore(blocks), ratios.candidates(n), s.candidates);
        StageProfile.stop(Stage.CANDIDATE_SELECT, t);

        t = StageProfile.start();
        Rerank.estimate(q, lut, index.nibbles(), index.weights(), s.candidates, m, s.estimates);
        StageProfile.stop(Stage.RERANK, t);

        t = StageProfile.start();
        int r = TopK.ranked(s.estimates, s.candidates, m, k, out);
        if (adaptive != null && r > 0) r = adaptiveCount(s, m, out, r, k, adaptive);
        StageProfile.stop(Stage.TOPK, t);
        return r;
    }
}
