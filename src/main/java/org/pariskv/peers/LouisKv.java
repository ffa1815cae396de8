package org.pariskv.peers;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.pariskv.method.HeadContext;
import org.pariskv.method.HeadRetriever;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.RetrievalStats;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;
import org.pariskv.simd.VectorOps;

/**
 * LouisKV (arXiv 2510.11292): retrieval only at semantic boundaries, over coarse units (clusters and
 * segments) instead of single tokens.
 *
 * <p><b>Boundary trigger.</b> Per KV head, at each decode step {@code r_t = mean over the group's query heads
 * of cos(q_{t-1}, q_t)}; the head retrieves when {@code r_t < tau} (and at its first step). Otherwise the
 * previous selection is returned unchanged: tokens that entered the retrieval zone since the last
 * retrieval are <em>not</em> retrievable until the next boundary (they were in the always-attended local
 * window a moment ago, which is why the paper can afford this). Sink and local tokens are always attended
 * by the cache.
 *
 * <p><b>Prompt KV.</b> The keys of the first zone growth (the bulk prefill; if the prompt was shorter than
 * the local window, the first decode interval plays that role) are clustered per KV head by seeded k-means
 * (k-means++ then {@code kmeansIterations} Lloyd steps) into {@code ceil(n / tokensPerCluster)} clusters;
 * empty clusters are dropped, so every prompt token is in exactly one cluster. A cluster is represented by
 * its centroid.
 *
 * <p><b>Generated KV.</b> Tokens of later growths (decode intervals leaving the local window) are cut into
 * temporal segments: a new segment starts at every position where this head detected a boundary
 * ({@code r_t < tau} for the query of that token), after {@code maxSegment} tokens, and at the start of each
 * growth chunk. Each segment is represented by its mean key, appended to the unit pool and never
 * re-clustered.
 *
 * <p><b>Selection</b> (group-consistent): per query head a softmax over the unit representatives'
 * {@code q·c/sqrt(D)}, averaged over the group's query heads; units are taken in descending score
 * (ties: older unit first) <em>while the tokens taken so far are fewer than the budget</em>. The total is
 * therefore at most {@code budget - 1 + size of the last unit taken}, i.e. {@code < budget + largest unit}.
 *
 * <p>Counters: {@link #retrievals()}, {@link #steps()} and {@link #retrievalRate()} over every head of this
 * method instance; per head on {@link Head}.
 */
public final class LouisKv implements RetrievalMethod, RetrievalStats {

    /**
     * @param tau              boundary threshold on the mean query cosine (0.7)
     * @param tokensPerCluster average prompt tokens per k-means cluster (16)
     * @param kmeansIterations Lloyd iterations after k-means++ seeding (5)
     * @param maxSegment       longest generated segment in tokens (16)
     */
    public record Params(double tau, int tokensPerCluster, int kmeansIterations, int maxSegment) {
        public Params {
            if (!(tau >= -1 && tau <= 1)) throw new IllegalArgumentException("tau must be in [-1, 1], got " + tau);
            if (tokensPerCluster <= 0) throw new IllegalArgumentException("tokensPerCluster must be positive, got " + tokensPerCluster);
            if (kmeansIterations < 0) throw new IllegalArgumentException("kmeansIterations must be >= 0, got " + kmeansIterations);
            if (maxSegment <= 0) throw new IllegalArgumentException("maxSegment must be positive, got " + maxSegment);
        }

        public static Params defaults() {
            return new Params(0.7, 16, 5, 16);
        }

        public Params withTau(double t) {
            return new Params(t, tokensPerCluster, kmeansIterations, maxSegment);
        }
    }

    private final Params params;
    private final AtomicLong retrievals = new AtomicLong();
    private final AtomicLong steps = new AtomicLong();

    public LouisKv() {
        this(Params.defaults());
    }

    public LouisKv(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "louiskv";
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        return new Head(context, params, this);
    }

    /** Selections computed afresh, summed over every (sequence, layer, KV head) of this method instance. */
    @Override
    public long retrievals() {
        return retrievals.get();
    }

    /** Decode-step selections asked for, summed over every head. */
    @Override
    public long steps() {
        return steps.get();
    }

    /** {@code retrievals / steps} (0 before any step). */
    @Override
    public double retrievalRate() {
        long s = steps.get();
        return s == 0 ? 0 : (double) retrievals.get() / s;
    }

    /** Mean over the {@code g} query rows of {@code cos(prev_h, cur_h)}. */
    public static double meanCosine(float[] prev, int pOff, float[] cur, int cOff, int g, int d) {
        double s = 0;
        for (int h = 0; h < g; h++) {
            double dot = 0, a = 0, b = 0;
            for (int i = 0; i < d; i++) {
                double x = prev[pOff + h * d + i], y = cur[cOff + h * d + i];
                dot += x * y;
                a += x * x;
                b += y * y;
            }
            s += dot / Math.max(Math.sqrt(a * b), 1e-30);
        }
        return s / g;
    }

    /** Units (clusters and segments), boundary state and cached selection of one (sequence, layer, KV head). */
    public static final class Head implements HeadRetriever {
        private final int d;
        private final int g;
        private final Params p;
        private final LouisKv owner;
        private final long seed;
        // the unit pool: representatives [unit][d], members CSR (unitStart[u]..unitStart[u+1]) in members
        private float[] reps = new float[0];
        private int[] unitStart = {0};
        private int[] members = new int[0];
        private int units;
        private int promptUnits = -1;
        private int indexed; // zone tokens held in the pool
        // boundaries detected (absolute positions starting a new semantic segment), not yet consumed
        private int[] pendingBoundaries = new int[0];
        private int pendingCount;
        private float[] prevQueries;
        private Selection cached;
        private long retrievals;
        private long steps;
        private double lastR = Double.NaN;

        Head(HeadContext ctx, Params p, LouisKv owner) {
            this.d = ctx.shape().headDim();
            this.g = ctx.shape().groupSize();
            this.p = p;
            this.owner = owner;
            this.seed = Seeds.of(ctx.config().seed(), ctx.layer(), ctx.kvHead(), 0x4C4BL);
        }

        public long retrievals() {
            return retrievals;
        }

        public long steps() {
            return steps;
        }

        public double retrievalRate() {
            return steps == 0 ? 0 : (double) retrievals / steps;
        }

        /** {@code r_t} of the last step (NaN at the first). */
        public double lastSimilarity() {
            return lastR;
        }

        /** Units in the pool: prompt clusters first, then generated segments in time order. */
        public int units() {
            return units;
        }

        /** Units that are prompt clusters (-1 before the first growth). */
        public int promptUnits() {
            return promptUnits;
        }

        /** Absolute token positions of unit {@code u} (ascending). */
        public int[] unitTokens(int u) {
            return Arrays.copyOfRange(members, unitStart[u], unitStart[u + 1]);
        }

        /** Representative (centroid or mean key) of unit {@code u}, a copy. */
        public float[] unitCentroid(int u) {
            return Arrays.copyOfRange(reps, u * d, (u + 1) * d);
        }

        @Override
        public void onZoneGrow(ZoneView zone, int from, int to) {
            if (from - zone.zoneStart() != indexed) {
                throw new IllegalStateException("zone grew out of order: LouisKV holds " + indexed + " tokens, growth starts at zone index " + (from - zone.zoneStart()));
            }
            int n = to - from;
            if (n <= 0) return;
            float[] rows = new float[n * d];
            zone.keys().read(from, n, rows, 0);
            if (promptUnits < 0) {
                clusterPrompt(rows, n, from);
                promptUnits = units;
            } else {
                segmentGenerated(rows, n, from);
            }
            indexed += n;
        }

        private void clusterPrompt(float[] rows, int n, int from) {
            int k = (n + p.tokensPerCluster() - 1) / p.tokensPerCluster();
            KMeans.Result r = KMeans.fit(rows, n, d, k, p.kmeansIterations(), seed);
            int[] remap = new int[r.k()];
            int[] offset = new int[r.k()];
            int nonEmpty = 0;
            for (int c = 0; c < r.k(); c++) remap[c] = r.sizes()[c] > 0 ? nonEmpty++ : -1;
            ensureUnits(nonEmpty, n);
            int pos = unitStart[units];
            for (int c = 0; c < r.k(); c++) {
                if (remap[c] < 0) continue;
                int u = units + remap[c];
                System.arraycopy(r.centroids(), c * d, reps, u * d, d);
                offset[c] = pos;
                pos += r.sizes()[c];
                unitStart[u + 1] = pos;
            }
            for (int i = 0; i < n; i++) members[offset[r.assign()[i]]++] = from + i; // ascending within a cluster
            units += nonEmpty;
        }

        private void segmentGenerated(float[] rows, int n, int from) {
            // cut points relative to the chunk: its start, every pending boundary inside it, every maxSegment tokens
            int segStart = 0;
            int b = 0;
            int[] bounds = Arrays.copyOf(pendingBoundaries, pendingCount);
            Arrays.sort(bounds);
            ensureUnits(n, n); // at most one segment per token
            for (int i = 1; i <= n; i++) {
                while (b < bounds.length && bounds[b] < from + i) b++;
                boolean cut = i == n || i - segStart >= p.maxSegment() || (b < bounds.length && bounds[b] == from + i);
                if (!cut) continue;
                int u = units++;
                int len = i - segStart;
                int base = unitStart[u];
                for (int t = 0; t < len; t++) members[base + t] = from + segStart + t;
                unitStart[u + 1] = base + len;
                float inv = 1f / len;
                for (int x = 0; x < d; x++) {
                    float s = 0f;
                    for (int t = segStart; t < i; t++) s += rows[t * d + x];
                    reps[u * d + x] = s * inv;
                }
                segStart = i;
            }
            // boundaries inside or before this chunk are consumed
            int keep = 0;
            for (int i = 0; i < pendingCount; i++) if (pendingBoundaries[i] >= from + n) pendingBoundaries[keep++] = pendingBoundaries[i];
            pendingCount = keep;
        }

        private void ensureUnits(int moreUnits, int moreMembers) {
            int u = units + moreUnits;
            if (u * d > reps.length) reps = Arrays.copyOf(reps, Math.max(u * d, 2 * reps.length));
            if (u + 1 > unitStart.length) unitStart = Arrays.copyOf(unitStart, Math.max(u + 1, 2 * unitStart.length));
            int m = unitStart[units] + moreMembers;
            if (m > members.length) members = Arrays.copyOf(members, Math.max(m, 2 * members.length));
        }

        @Override
        public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
            steps++;
            owner.steps.incrementAndGet();
            boolean boundary;
            if (prevQueries == null) {
                prevQueries = new float[g * d];
                boundary = true;
            } else {
                lastR = meanCosine(prevQueries, 0, queries, qOff, g, d);
                boundary = lastR < p.tau();
                if (boundary) {
                    if (pendingCount == pendingBoundaries.length) pendingBoundaries = Arrays.copyOf(pendingBoundaries, Math.max(4, 2 * pendingCount));
                    pendingBoundaries[pendingCount++] = zone.length() - 1; // the token whose query starts a new topic
                }
            }
            System.arraycopy(queries, qOff, prevQueries, 0, g * d);
            if (boundary || cached == null) {
                cached = retrieve(zone, queries, qOff, budget);
                retrievals++;
                owner.retrievals.incrementAndGet();
            }
            return cached;
        }

        /** Scores every unit (softmax per query head, averaged over the group) and takes whole units until the budget. */
        Selection retrieve(ZoneView zone, float[] queries, int qOff, int budget) {
            if (units == 0 || budget <= 0) return Selection.NONE;
            VectorOps ops = VectorOps.current();
            float scale = (float) (1.0 / Math.sqrt(d));
            double[] score = new double[units];
            double[] logit = new double[units];
            for (int h = 0; h < g; h++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u < units; u++) {
                    logit[u] = ops.dot(reps, u * d, queries, qOff + h * d, d) * scale;
                    max = Math.max(max, logit[u]);
                }
                double sum = 0;
                for (int u = 0; u < units; u++) {
                    logit[u] = Math.exp(logit[u] - max);
                    sum += logit[u];
                }
                for (int u = 0; u < units; u++) score[u] += logit[u] / sum / g;
            }
            Integer[] order = new Integer[units];
            for (int u = 0; u < units; u++) order[u] = u;
            Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a]) : Integer.compare(a, b));
            int zoneEnd = zone.zoneEnd();
            int[] out = new int[Math.min(unitStart[units], budget + maxUnit())];
            int k = 0;
            for (int r = 0; r < units && k < budget; r++) {
                int u = order[r];
                for (int i = unitStart[u]; i < unitStart[u + 1]; i++) if (members[i] < zoneEnd) out[k++] = members[i];
            }
            int[] tokens = Arrays.copyOf(out, k);
            Arrays.sort(tokens);
            return Selection.of(tokens);
        }

        private int maxUnit() {
            int m = 0;
            for (int u = 0; u < units; u++) m = Math.max(m, unitStart[u + 1] - unitStart[u]);
            return m;
        }
    }
}
