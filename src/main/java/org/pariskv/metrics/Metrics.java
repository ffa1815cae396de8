package org.pariskv.metrics;

import java.util.Arrays;

/**
 * Quality metrics of {@code shared/spec/evaluation.md}, as pure functions.
 *
 * <ul>
 *   <li>{@link #recallAtK}: {@code |selected ∩ exact| / |exact|};</li>
 *   <li>{@link #exactTopK}: exact top-k by inner product over a token range (the reference set);</li>
 *   <li>{@link #attentionMassRecall}: share of the full softmax mass the attended tokens carry,
 *       averaged over the G query heads of a group;</li>
 *   <li>{@link #outputRelError}: {@code ||o - o_ref|| / ||o_ref||};</li>
 *   <li>{@link #needleHit}: whether the needle is attended.</li>
 * </ul>
 * Sums are accumulated in double. Invalid arguments give {@link IllegalArgumentException}.
 */
public final class Metrics {

    private Metrics() {}

    /**
     * Recall of a selection against the exact top-k: {@code |selected ∩ exact| / |exact|}.
     * Duplicates in either array count once (|exact| counts distinct tokens).
     *
     * @throws IllegalArgumentException if {@code exactTopK} is empty
     */
    public static double recallAtK(int[] selected, int[] exactTopK) {
        int[] exact = Arrays.stream(exactTopK).distinct().toArray();
        if (exact.length == 0) {
            throw new IllegalArgumentException("recallAtK: exact top-k set is empty");
        }
        int[] sel = selected.clone();
        Arrays.sort(sel);
        int hits = 0;
        for (int e : exact) {
            if (Arrays.binarySearch(sel, e) >= 0) {
                hits++;
            }
        }
        return (double) hits / exact.length;
    }

    /**
     * Exact top-{@code k} tokens of {@code [from, to)} by {@code <query, key>}, best first; equal scores
     * are ordered by lower token index (so the lower index wins at the cut).
     *
     * @throws IllegalArgumentException if the range is empty or reversed, or {@code k} is negative or
     *                                  larger than {@code to - from}
     */
    public static int[] exactTopK(float[] query, KeyRows keys, int from, int to, int k) {
        if (from < 0 || to < from) {
            throw new IllegalArgumentException("exactTopK: bad token range [" + from + ", " + to + ")");
        }
        if (k < 0 || k > to - from) {
            throw new IllegalArgumentException("exactTopK: k = " + k + " but the range [" + from + ", " + to
                    + ") holds " + (to - from) + " tokens");
        }
        if (query.length != keys.dim()) {
            throw new IllegalArgumentException("exactTopK: query has " + query.length + " dims, keys have "
                    + keys.dim());
        }
        if (k == 0) {
            return new int[0];
        }
        // min-heap of the k best so far; the root is the worst kept (lowest score, then highest index)
        float[] hs = new float[k];
        int[] hi = new int[k];
        int size = 0;
        for (int t = from; t < to; t++) {
            float s = keys.dot(t, query);
            if (size < k) {
                hs[size] = s;
                hi[size] = t;
                siftUp(hs, hi, size++);
            } else if (s > hs[0]) { // t > every kept index, so an equal score never displaces
                hs[0] = s;
                hi[0] = t;
                siftDown(hs, hi, 0, size);
            }
        }
        int[] out = new int[k];
        for (int n = size; n > 0; n--) {
            out[n - 1] = hi[0];
            hs[0] = hs[n - 1];
            hi[0] = hi[n - 1];
            siftDown(hs, hi, 0, n - 1);
        }
        return out;
    }

    /** Whether (sa, ia) ranks below (sb, ib): lower score, or equal score and higher index. */
    private static boolean worse(float sa, int ia, float sb, int ib) {
        return sa < sb || (sa == sb && ia > ib);
    }

    private static void siftUp(float[] s, int[] idx, int i) {
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (!worse(s[i], idx[i], s[p], idx[p])) {
                return;
            }
            swap(s, idx, i, p);
            i = p;
        }
    }

    private static void siftDown(float[] s, int[] idx, int i, int n) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= n) {
                return;
            }
            int m = l;
            if (l + 1 < n && worse(s[l + 1], idx[l + 1], s[l], idx[l])) {
                m = l + 1;
            }
            if (!worse(s[m], idx[m], s[i], idx[i])) {
                return;
            }
            swap(s, idx, i, m);
            i = m;
        }
    }

    private static void swap(float[] s, int[] idx, int a, int b) {
        float ts = s[a];
        s[a] = s[b];
        s[b] = ts;
        int ti = idx[a];
        idx[a] = idx[b];
        idx[b] = ti;
    }

    /**
     * Attention-mass recall of a group: for each of the G query heads, the softmax of
     * {@code scale·<q, k_t>} over all tokens {@code [0, tokens)}, summed over the distinct
     * {@code attended} tokens; the mean over the G heads. Stable (max subtracted) and accumulated in double.
     *
     * @throws IllegalArgumentException if there are no heads or tokens, or an attended token is outside
     *                                  {@code [0, tokens)}
     */
    public static double attentionMassRecall(float[][] groupQueries, KeyRows keys, int tokens, int[] attended,
                                             float scale) {
        if (groupQueries.length == 0) {
            throw new IllegalArgumentException("attentionMassRecall: no query heads");
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException("attentionMassRecall: tokens must be positive, got " + tokens);
        }
        boolean[] mark = new boolean[tokens];
        for (int t : attended) {
            if (t < 0 || t >= tokens) {
                throw new IllegalArgumentException("attentionMassRecall: attended token " + t
                        + " outside [0, " + tokens + ")");
            }
            mark[t] = true;
        }
        double[] logits = new double[tokens];
        double total = 0;
        for (float[] q : groupQueries) {
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < tokens; t++) {
                logits[t] = (double) scale * keys.dot(t, q);
                max = Math.max(max, logits[t]);
            }
            double all = 0;
            double hit = 0;
            for (int t = 0; t < tokens; t++) {
                double e = Math.exp(logits[t] - max);
                all += e;
                if (mark[t]) {
                    hit += e;
                }
            }
            total += hit / all;
        }
        return total / groupQueries.length;
    }

    /**
     * Relative output error {@code ||out - ref|| / ||ref||} (double accumulation). When {@code ref} is
     * all zeros the result is 0 if {@code out} is all zeros too, else positive infinity.
     *
     * @throws IllegalArgumentException on a length mismatch
     */
    public static double outputRelError(float[] out, float[] ref) {
        if (out.length != ref.length) {
            throw new IllegalArgumentException("outputRelError: lengths differ (" + out.length + " vs "
                    + ref.length + ")");
        }
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) out[i] - ref[i];
            diff += d * d;
            norm += (double) ref[i] * ref[i];
        }
        if (norm == 0) {
            return diff == 0 ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(diff / norm);
    }

    /** Whether {@code needle} is among the {@code attended} tokens. */
    public static boolean needleHit(int[] attended, int needle) {
        for (int t : attended) {
            if (t == needle) {
                return true;
            }
        }
        return false;
    }

    /**
     * Reference attention output over the distinct {@code attended} tokens:
     * {@code out = Σ softmax(scale·<q,k_t>) v_t}, in double, written to {@code out[0..D)}.
     *
     * @throws IllegalArgumentException if {@code attended} is empty
     */
    public static void attentionOutput(float[] q, KeyRows keys, KeyRows values, int[] attended, float scale,
                                       float[] out) {
        int[] tokens = Arrays.stream(attended).distinct().toArray();
        if (tokens.length == 0) {
            throw new IllegalArgumentException("attentionOutput: no attended tokens");
        }
        double[] logits = new double[tokens.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < tokens.length; i++) {
            logits[i] = (double) scale * keys.dot(tokens[i], q);
            max = Math.max(max, logits[i]);
        }
        int d = values.dim();
        double[] acc = new double[d];
        float[] row = new float[d];
        double sum = 0;
        for (int i = 0; i < tokens.length; i++) {
            double w = Math.exp(logits[i] - max);
            sum += w;
            values.row(tokens[i], row);
            for (int c = 0; c < d; c++) {
                acc[c] += w * row[c];
            }
        }
        for (int c = 0; c < d; c++) {
            out[c] = (float) (acc[c] / sum);
        }
    }

    /** Full attention output over tokens {@code [0, tokens)}: the reference every method is scored against. */
    public static void fullAttentionOutput(float[] q, KeyRows keys, KeyRows values, int tokens, float scale,
                                           float[] out) {
        if (tokens <= 0) {
            throw new IllegalArgumentException("fullAttentionOutput: tokens must be positive, got " + tokens);
        }
        int[] all = new int[tokens];
        Arrays.setAll(all, i -> i);
        attentionOutput(q, keys, values, all, scale, out);
    }
}
