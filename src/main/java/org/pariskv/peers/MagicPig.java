package org.pariskv.peers;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.pariskv.method.HeadContext;
import org.pariskv.method.HeadRetriever;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;
import org.pariskv.simd.VectorOps;

/**
 * MagicPIG (Chen et al., ICLR 2025): LSH sampling with an importance-sampling estimate of attention.
 *
 * <p>Hashing: SimHash with {@code K} bits per table and {@code L} tables, seeded standard-Gaussian
 * hyperplanes (one set per layer, shared by its KV heads). Keys are centred by the mean key before hashing:
 * the mean of the keys of the first zone growth (the prompt at prefill) is frozen then and used for every
 * later token too (the prompt mean is the statistic the method has; recomputing would re-hash everything).
 * Queries are normalised (SimHash only sees their direction) and not centred.
 *
 * <p>Sampling: zone key {@code i} is sampled for query head {@code h} when its code equals the query's
 * in at least {@code minCollisions} (2) of the {@code L} tables. With {@code θ} the angle between the
 * centred key and the query, one table collides with probability {@code p = (1 - θ/π)^K} and the key is
 * sampled with {@code P = P[Binomial(L, p) ≥ 2]}.
 *
 * <p>Estimator: self-normalised importance sampling, logits {@code q·k/sqrt(D) - log P} over the sampled
 * keys, merged with the always-attended sink and local tokens in one softmax (the log-sum-exp merge): the
 * selection is the union over the group's query heads, with {@link Selection#logitBias()} {@code -log P_h(i)}
 * for head {@code h}, or {@link #NOT_SAMPLED} where head {@code h} did not sample token {@code i}.
 *
 * <p>MagicPIG has no top-k: the {@code budget} argument is ignored, the number of keys attended follows
 * from {@code K}, {@code L} and the data.
 */
public final class MagicPig implements RetrievalMethod {

    /** Logit bias of a token in the group's union that a given query head did not sample: no weight. */
    public static final float NOT_SAMPLED = -1e30f;

    /**
     * @param bits          {@code K}, hash bits per table, 1..16 (10)
     * @param tables        {@code L}, hash tables (150)
     * @param minCollisions tables a key must share with the query to be sampled (2)
     */
    public record Params(int bits, int tables, int minCollisions) {
        public Params {
            if (bits < 1 || bits > 16) throw new IllegalArgumentException("bits (K) must be in [1, 16], got " + bits);
            if (tables < 1) throw new IllegalArgumentException("tables (L) must be positive, got " + tables);
            if (minCollisions < 1 || minCollisions > tables) {
                throw new IllegalArgumentException("minCollisions must be in [1, L=" + tables + "], got " + minCollisions);
            }
        }

        public static Params defaults() {
            return new Params(10, 150, 2);
        }

        public static Params of(int bits, int tables) {
            return new Params(bits, tables, 2);
        }
    }

    private final Params params;
    private final ConcurrentHashMap<PlaneKey, float[]> planesByLayer = new ConcurrentHashMap<>();

    private record PlaneKey(long seed, int layer, int dim) {}

    public MagicPig() {
        this(Params.defaults());
    }

    public MagicPig(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "magicpig";
    }

    @Override
    public HeadRetriever newHead(HeadContext ctx) {
        int d = ctx.shape().headDim();
        long seed = Seeds.of(ctx.config().seed(), ctx.layer(), -1, 0x4D50L);
        float[] planes = planesByLayer.computeIfAbsent(new PlaneKey(ctx.config().seed(), ctx.layer(), d), k -> hyperplanes(params.bits() * params.tables(), d, seed));
        return new Head(ctx, params, planes);
    }

    /** {@code count} standard-Gaussian hyperplanes of {@code d} floats, rows {@code [table * K + bit]}. */
    public static float[] hyperplanes(int count, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = new float[count * d];
        for (int i = 0; i < p.length; i++) p[i] = (float) rnd.nextGaussian();
        return p;
    }

    /** SimHash code of {@code x[off..off+d)} in table {@code l}: bit {@code j} is {@code planes[l*K+j]·x >= 0}. */
    public static int hash(float[] planes, int bits, int l, float[] x, int off, int d) {
        VectorOps ops = VectorOps.current();
        int code = 0;
        for (int j = 0; j < bits; j++) {
            if (ops.dot(planes, (l * bits + j) * d, x, off, d) >= 0f) code |= 1 << j;
        }
        return code;
    }

    /** Per-table collision probability of two vectors at cosine {@code cos}: {@code (1 - θ/π)^K}. */
    public static double collisionProbability(double cos, int bits) {
        double theta = Math.acos(Math.max(-1.0, Math.min(1.0, cos)));
        return Math.pow(1.0 - theta / Math.PI, bits);
    }

    /** Probability that a key at cosine {@code cos} collides in at least {@code min} of {@code L} tables. */
    public static double sampleProbability(double cos, int bits, int tables, int min) {
        double p = collisionProbability(cos, bits);
        if (p >= 1.0) return 1.0;
        if (p <= 0.0) return 0.0;
        // P[X >= min] = 1 - Σ_{j<min} pmf(j); when that is tiny, sum the upper tail directly (no cancellation).
        // pmf(j+1) = pmf(j) · (L-j)/(j+1) · p/(1-p)
        double ratio = p / (1.0 - p);
        double t = Math.pow(1.0 - p, tables);
        double below = 0;
        for (int j = 0; j < min; j++) {
            below += t;
            t *= (double) (tables - j) / (j + 1) * ratio;
        }
        double tail = 1.0 - below;
        if (tail > 1e-6) return tail;
        double s = 0;
        for (int j = min; j <= tables; j++) {
            s += t;
            if (t < s * 1e-17) break;
            t *= (double) (tables - j) / (j + 1) * ratio;
        }
        return s;
    }

    /** Hash codes and sampling of one (sequence, layer, KV head). */
    public static final class Head implements HeadRetriever {
        private final int d;
        private final int g;
        private final int bits;
        private final int tables;
        private final int minCollisions;
        private final float[] planes;
        private float[] mean;
        private char[] codes = new char[0]; // [key][table]
        private float[] centredNorm = new float[0];
        private int hashed;
        private long sampledTotal;
        private long selections;

        Head(HeadContext ctx, Params p, float[] planes) {
            this.d = ctx.shape().headDim();
            this.g = ctx.shape().groupSize();
            this.bits = p.bits();
            this.tables = p.tables();
            this.minCollisions = p.minCollisions();
            this.planes = planes;
        }

        /** The centring mean (a copy; null before the first growth). */
        public float[] mean() {
            return mean == null ? null : mean.clone();
        }

        /** Mean number of distinct tokens selected (union over the group) per decode step. */
        public double meanSampled() {
            return selections == 0 ? 0 : (double) sampledTotal / selections;
        }

        @Override
        public void onZoneGrow(ZoneView zone, int from, int to) {
            if (from - zone.zoneStart() != hashed) {
                throw new IllegalStateException("zone grew out of order: MagicPIG hashed " + hashed + " keys, growth starts at zone index " + (from - zone.zoneStart()));
            }
            int n = to - from;
            if (n <= 0) return;
            float[] rows = new float[n * d];
            zone.keys().read(from, n, rows, 0);
            if (mean == null) {
                double[] s = new double[d];
                for (int i = 0; i < n; i++) for (int x = 0; x < d; x++) s[x] += rows[i * d + x];
                mean = new float[d];
                for (int x = 0; x < d; x++) mean[x] = (float) (s[x] / n);
            }
            if ((hashed + n) * tables > codes.length) codes = Arrays.copyOf(codes, Math.max((hashed + n) * tables, 2 * codes.length));
            if (hashed + n > centredNorm.length) centredNorm = Arrays.copyOf(centredNorm, Math.max(hashed + n, 2 * centredNorm.length));
            for (int i = 0; i < n; i++) {
                double ss = 0;
                for (int x = 0; x < d; x++) {
                    float c = rows[i * d + x] - mean[x];
                    rows[i * d + x] = c;
                    ss += c * (double) c;
                }
                centredNorm[hashed + i] = (float) Math.sqrt(ss);
                for (int l = 0; l < tables; l++) codes[(hashed + i) * tables + l] = (char) hash(planes, bits, l, rows, i * d, d);
            }
            hashed += n;
        }

        @Override
        public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
            int n = Math.min(hashed, zone.zoneSize());
            if (n == 0) return Selection.NONE;
            int zs = zone.zoneStart();
            float[][] biasByZone = new float[g][];
            boolean[] any = new boolean[n];
            int[] qCodes = new int[tables];
            float[] qn = new float[d];
            for (int h = 0; h < g; h++) {
                int off = qOff + h * d;
                double ss = 0;
                for (int x = 0; x < d; x++) ss += queries[off + x] * (double) queries[off + x];
                float inv = (float) (1.0 / Math.max(Math.sqrt(ss), 1e-8));
                for (int x = 0; x < d; x++) qn[x] = queries[off + x] * inv;
                for (int l = 0; l < tables; l++) qCodes[l] = hash(planes, bits, l, qn, 0, d);
                float qMean = VectorOps.current().dot(qn, 0, mean, 0, d);
                float[] bias = new float[n];
                Arrays.fill(bias, NOT_SAMPLED);
                for (int i = 0; i < n; i++) {
                    int hits = 0;
                    int base = i * tables;
                    for (int l = 0; l < tables && hits < minCollisions; l++) if (codes[base + l] == qCodes[l]) hits++;
                    if (hits < minCollisions) continue;
                    double cos = (zone.keys().dot(zs + i, qn, 0) - qMean) / Math.max(centredNorm[i], 1e-8);
                    double prob = sampleProbability(cos, bits, tables, minCollisions);
                    bias[i] = (float) -Math.log(Math.max(prob, 1e-300));
                    any[i] = true;
                }
                biasByZone[h] = bias;
            }
            int m = 0;
            for (int i = 0; i < n; i++) if (any[i]) m++;
            int[] tokens = new int[m];
            float[][] bias = new float[g][m];
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (!any[i]) continue;
                tokens[k] = zs + i;
                for (int h = 0; h < g; h++) bias[h][k] = biasByZone[h][i];
                k++;
            }
            sampledTotal += m;
            selections++;
            return new Selection(tokens, bias);
        }
    }
}
