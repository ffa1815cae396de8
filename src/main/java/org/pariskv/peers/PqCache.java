package org.pariskv.peers;

import java.util.Arrays;
import org.pariskv.method.HeadContext;
import org.pariskv.method.HeadRetriever;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;
import org.pariskv.select.TopK;
import org.pariskv.simd.VectorOps;

/**
 * PQCache (Zhang et al., SIGMOD 2025): product quantisation of keys per (layer, KV head). The key is split
 * into {@code M} sub-spaces of {@code D/M} dims, each quantised to one of {@code 2^bits} centroids learned by
 * k-means.
 *
 * <p>Training happens exactly once, on the first growth of the retrieval zone (the bulk prefill of the
 * prompt). Every later token (decode intervals) is encoded with the same codebooks and never retrains
 * them: this is the drift PQCache suffers in long generation, kept on purpose.
 *
 * <p>Decode, per query head of the group: tables {@code q_m · c_{m,j}}, the approximate score of every zone
 * key {@code Σ_m table[m][code_m]}, its softmax (scale {@code 1/sqrt(D)}) over the zone; the KV head's score
 * is the sum of the softmax over the group's query heads; the top {@code budget} keys are selected.
 */
public final class PqCache implements RetrievalMethod {

    /**
     * @param subspaces  {@code M}, must divide the head dim (2)
     * @param bits       centroids per sub-space are {@code 2^bits}, 1..8 (6)
     * @param iterations Lloyd iterations after k-means++ seeding (10)
     */
    public record Params(int subspaces, int bits, int iterations) {
        public Params {
            if (subspaces <= 0) throw new IllegalArgumentException("subspaces must be positive, got " + subspaces);
            if (bits < 1 || bits > 8) throw new IllegalArgumentException("bits must be in [1, 8], got " + bits);
            if (iterations < 0) throw new IllegalArgumentException("iterations must be >= 0, got " + iterations);
        }

        public static Params defaults() {
            return new Params(2, 6, 10);
        }
    }

    private final Params params;

    public PqCache() {
        this(Params.defaults());
    }

    public PqCache(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "pqcache";
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        if (context.shape().headDim() % params.subspaces() != 0) {
            throw new IllegalArgumentException("pqcache: " + params.subspaces() + " sub-spaces do not divide head dim " + context.shape().headDim());
        }
        return new Head(context, params);
    }

    /** Codebooks, codes and scoring of one (sequence, layer, KV head). */
    public static final class Head implements HeadRetriever {
        private final int d;
        private final int g;
        private final int m;
        private final int sub;
        private final int centroidsWanted;
        private final int iterations;
        private final long seed;
        private float[][] codebooks; // [m][c * sub]
        private float[][] codebookNorms; // [m][c]
        private int centroids;
        private int trainedOn = -1;
        private byte[] codes = new byte[0]; // [key][m]
        private int encoded;

        Head(HeadContext ctx, Params p) {
            this.d = ctx.shape().headDim();
            this.g = ctx.shape().groupSize();
            this.m = p.subspaces();
            this.sub = d / m;
            this.centroidsWanted = 1 << p.bits();
            this.iterations = p.iterations();
            this.seed = Seeds.of(ctx.config().seed(), ctx.layer(), ctx.kvHead(), 0x5043L);
        }

        /** Keys the codebooks were trained on (-1 before the first growth). */
        public int trainedOn() {
            return trainedOn;
        }

        /** Keys encoded so far. */
        public int encoded() {
            return encoded;
        }

        /** A deep copy of the codebooks, {@code [subspace][centroid * (D/M) + i]}; null before training. */
        public float[][] codebooks() {
            if (codebooks == null) return null;
            float[][] c = new float[m][];
            for (int j = 0; j < m; j++) c[j] = codebooks[j].clone();
            return c;
        }

        /** Code of zone key {@code i} (zone index) in sub-space {@code j}. */
        public int code(int i, int j) {
            return codes[i * m + j] & 0xff;
        }

        @Override
        public void onZoneGrow(ZoneView zone, int from, int to) {
            if (from - zone.zoneStart() != encoded) {
                throw new IllegalStateException("zone grew out of order: PQCache encoded " + encoded + " keys, growth starts at zone index " + (from - zone.zoneStart()));
            }
            int n = to - from;
            if (n <= 0) return;
            float[] rows = new float[n * d];
            zone.keys().read(from, n, rows, 0);
            if (codebooks == null) train(rows, n);
            if ((encoded + n) * m > codes.length) codes = Arrays.copyOf(codes, Math.max((encoded + n) * m, 2 * codes.length));
            VectorOps ops = VectorOps.current();
            float[] x = new float[sub];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    System.arraycopy(rows, i * d + j * sub, x, 0, sub);
                    codes[(encoded + i) * m + j] = (byte) KMeans.nearest(ops, x, 0, codebooks[j], codebookNorms[j], centroids, sub);
                }
            }
            encoded += n;
        }

        private void train(float[] rows, int n) {
            codebooks = new float[m][];
            codebookNorms = new float[m][];
            float[] part = new float[n * sub];
            int k = Math.min(centroidsWanted, n);
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < n; i++) System.arraycopy(rows, i * d + j * sub, part, i * sub, sub);
                KMeans.Result r = KMeans.fit(part, n, sub, k, iterations, seed + j);
                codebooks[j] = r.centroids();
                codebookNorms[j] = new float[k];
                for (int c = 0; c < k; c++) codebookNorms[j][c] = VectorOps.current().dot(codebooks[j], c * sub, codebooks[j], c * sub, sub);
            }
            centroids = k;
            trainedOn = n;
        }

        /** Approximate {@code q·k} of every encoded key for query row {@code q[qOff..]}. */
        public float[] approximateScores(float[] q, int qOff) {
            VectorOps ops = VectorOps.current();
            float[] table = new float[m * centroids];
            for (int j = 0; j < m; j++) {
                for (int c = 0; c < centroids; c++) table[j * centroids + c] = ops.dot(q, qOff + j * sub, codebooks[j], c * sub, sub);
            }
            float[] s = new float[encoded];
            for (int i = 0; i < encoded; i++) {
                float v = 0f;
                for (int j = 0; j < m; j++) v += table[j * centroids + (codes[i * m + j] & 0xff)];
                s[i] = v;
            }
            return s;
        }

        @Override
        public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
            int n = Math.min(encoded, zone.zoneSize());
            if (n == 0 || budget <= 0) return Selection.NONE;
            float scale = (float) (1.0 / Math.sqrt(d));
            float[] score = new float[n];
            for (int h = 0; h < g; h++) {
                float[] a = approximateScores(queries, qOff + h * d);
                float max = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) max = Math.max(max, a[i] * scale);
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    a[i] = (float) Math.exp(a[i] * scale - max);
                    sum += a[i];
                }
                float inv = (float) (1.0 / sum);
                for (int i = 0; i < n; i++) score[i] += a[i] * inv;
            }
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) tokens[i] = zone.zoneStart() + i;
            int k = Math.min(budget, n);
            int[] out = new int[k];
            TopK.select(score, tokens, n, k, out);
            return Selection.of(out);
        }
    }
}
