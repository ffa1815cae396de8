package org.pariskv.peers;

import java.util.Arrays;
import org.pariskv.method.HeadContext;
import org.pariskv.method.HeadRetriever;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;
import org.pariskv.select.TopK;

/**
 * Quest (Tang et al., ICML 2024): query-aware page selection. The retrieval zone is cut into pages of
 * {@code pageSize} tokens (counted from the zone start); per page the element-wise minimum and maximum of
 * its keys are kept, updated as tokens enter the zone (the last page may be partial). At decode the page's
 * upper bound of {@code q·k} is {@code Σ_i max(q_i·min_i, q_i·max_i)}.
 *
 * <p>GQA (the paper is multi-head only): a KV head's page score is the <b>maximum</b> of the bounds of its
 * group's query heads, so a page is kept when any head of the group might attend it, and the score stays a
 * valid upper bound for every head of the group.
 *
 * <p>Budget: pages are taken in descending score while the tokens selected are fewer than the budget, so
 * with full pages that is {@code ceil(budget / pageSize)} pages and at most {@code pageSize - 1} tokens
 * over the budget; a budget of the whole zone returns the whole zone.
 * Not modelled: the paper keeps the first two layers dense.
 */
public final class Quest implements RetrievalMethod {

    /** @param pageSize tokens per page (16) */
    public record Params(int pageSize) {
        public Params {
            if (pageSize <= 0) throw new IllegalArgumentException("pageSize must be positive, got " + pageSize);
        }

        public static Params defaults() {
            return new Params(16);
        }
    }

    private final Params params;

    public Quest() {
        this(Params.defaults());
    }

    public Quest(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "quest";
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        return new Head(context, params);
    }

    /** The page upper bound {@code Σ_i max(q_i·min_i, q_i·max_i)} of {@code q[qOff..qOff+d)}. */
    public static float pageBound(float[] q, int qOff, float[] min, float[] max, int off, int d) {
        float s = 0f;
        for (int i = 0; i < d; i++) {
            float qi = q[qOff + i];
            s += Math.max(qi * min[off + i], qi * max[off + i]);
        }
        return s;
    }

    /** Page metadata and selection of one (sequence, layer, KV head). */
    public static final class Head implements HeadRetriever {
        private final int d;
        private final int g;
        private final int page;
        private float[] min = new float[0];
        private float[] max = new float[0];
        private int indexed; // zone tokens summarised so far

        Head(HeadContext ctx, Params p) {
            this.d = ctx.shape().headDim();
            this.g = ctx.shape().groupSize();
            this.page = p.pageSize();
        }

        /** Pages summarised so far (the last may be partial). */
        public int pages() {
            return (indexed + page - 1) / page;
        }

        /** Element-wise minimum of page {@code p}'s keys (a copy). */
        public float[] pageMin(int p) {
            return Arrays.copyOfRange(min, p * d, (p + 1) * d);
        }

        /** Element-wise maximum of page {@code p}'s keys (a copy). */
        public float[] pageMax(int p) {
            return Arrays.copyOfRange(max, p * d, (p + 1) * d);
        }

        @Override
        public void onZoneGrow(ZoneView zone, int from, int to) {
            if (from - zone.zoneStart() != indexed) {
                throw new IllegalStateException("zone grew out of order: Quest indexed " + indexed + " tokens, growth starts at zone index " + (from - zone.zoneStart()));
            }
            int pagesAfter = (to - zone.zoneStart() + page - 1) / page;
            if (pagesAfter * d > min.length) {
                int cap = Math.max(pagesAfter, 2 * min.length / Math.max(d, 1)) * d;
                min = Arrays.copyOf(min, cap);
                max = Arrays.copyOf(max, cap);
            }
            float[] row = new float[d];
            for (int t = from; t < to; t++, indexed++) {
                zone.keys().read(t, 1, row, 0);
                int base = (indexed / page) * d;
                if (indexed % page == 0) {
                    System.arraycopy(row, 0, min, base, d);
                    System.arraycopy(row, 0, max, base, d);
                } else {
                    for (int i = 0; i < d; i++) {
                        min[base + i] = Math.min(min[base + i], row[i]);
                        max[base + i] = Math.max(max[base + i], row[i]);
                    }
                }
            }
        }

        @Override
        public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
            int n = Math.min(indexed, zone.zoneSize());
            int pages = (n + page - 1) / page;
            if (pages == 0 || budget <= 0) return Selection.NONE;
            float[] score = new float[pages];
            int[] ids = new int[pages];
            for (int p = 0; p < pages; p++) {
                ids[p] = p;
                float best = Float.NEGATIVE_INFINITY;
                for (int h = 0; h < g; h++) best = Math.max(best, pageBound(queries, qOff + h * d, min, max, p * d, d));
                score[p] = best;
            }
            int want = Math.min(pages, (budget + page - 1) / page + 1); // + 1: the last page may be partial
            int[] ranked = new int[want];
            int m = TopK.ranked(score, ids, pages, want, ranked);
            int[] out = new int[Math.min(n, m * page)];
            int k = 0;
            for (int r = 0; r < m && k < budget; r++) {
                int p = ranked[r];
                for (int t = p * page; t < Math.min(n, (p + 1) * page); t++) out[k++] = zone.zoneStart() + t;
            }
            int[] tokens = Arrays.copyOf(out, k);
            Arrays.sort(tokens);
            return Selection.of(tokens);
        }
    }
}
