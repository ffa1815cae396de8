package org.pariskv.method;

import org.pariskv.GqaMode;
import org.pariskv.ParisKvConfig;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.index.RetrievalIndex;
import org.pariskv.profile.Stage;
import org.pariskv.profile.StageProfile;
import org.pariskv.select.GroupMerge;
import org.pariskv.select.ParisKvSelector;
import org.pariskv.select.RetrievalQuery;

/** ParisKV: sign-centroid collision counting over rotated keys, then calibrated 4-bit rerank, top-k. */
public final class ParisKv implements RetrievalMethod {

    @Override
    public String name() {
        return "pariskv";
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        return new Head(context);
    }

    /** Index and selection of one (sequence, layer, KV head). */
    public static final class Head implements HeadRetriever {
        private static final int ENCODE_BATCH = 1024;
        private final HeadContext ctx;
        private final KeyEncoder encoder;
        private final RetrievalIndex index;

        Head(HeadContext ctx) {
            this.ctx = ctx;
            this.encoder = new KeyEncoder(ctx.rotation());
            this.index = new RetrievalIndex(ctx.shape().headDim(), 1024);
        }

        /** The compact index (codes, nibbles, weights, counts) built so far. */
        public RetrievalIndex index() {
            return index;
        }

        @Override
        public void onZoneGrow(ZoneView zone, int from, int to) {
            if (from - zone.zoneStart() != index.size()) {
                throw new IllegalStateException("zone grew out of order: index holds " + index.size()
                        + " keys, growth starts at zone index " + (from - zone.zoneStart()));
            }
            long t = StageProfile.start();
            int d = ctx.shape().headDim();
            float[] rows = new float[Math.min(ENCODE_BATCH, to - from) * d];
            if (index.size() == 0 && ctx.config().centerKeys()) index.setCenter(mean(zone, from, to, d));
            for (int s = from; s < to; s += ENCODE_BATCH) {
                int n = Math.min(ENCODE_BATCH, to - s);
                zone.keys().read(s, n, rows, 0); // encode what is stored (bf16), as a device would
                index.append(encoder, rows, 0, n);
            }
            StageProfile.stop(Stage.ENCODE, t);
        }

        /** Mean of the stored keys {@code [from, to)}, accumulated in double. */
        private static float[] mean(ZoneView zone, int from, int to, int d) {
            double[] acc = new double[d];
            float[] row = new float[d];
            for (int t = from; t < to; t++) {
                zone.keys().read(t, 1, row, 0);
                for (int i = 0; i < d; i++) acc[i] += row[i];
            }
            float[] m = new float[d];
            for (int i = 0; i < d; i++) m[i] = (float) (acc[i] / (to - from));
            return m;
        }

        @Override
        public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
            ParisKvConfig cfg = ctx.config();
            int d = ctx.shape().headDim();
            int g = ctx.shape().groupSize();
            boolean adaptive = cfg.adaptive();
            // adaptive: the cap per query head and per KV head is topkMax, each head's count is the rule's choice
            int k = Math.min(adaptive ? cfg.topkMax() : budget, index.size());
            float[] center = adaptive ? index.center() : null;
            int[] ranked;
            if (cfg.gqa() == GqaMode.MEAN || g == 1) {
                long t = StageProfile.start();
                float[] mean = RetrievalQuery.groupMean(queries, qOff, g, d);
                RetrievalQuery q = RetrievalQuery.of(ctx.rotation(), mean, 0);
                StageProfile.stop(Stage.PREPARE_QUERY, t);
                int[] out = new int[k];
                int n = ParisKvSelector.rank(index, q, k, cfg.candidateRatio(), cfg.collisionRatio(), out,
                        adaptive ? adaptive(cfg, zone, mean, 0, center, d) : null);
                ranked = java.util.Arrays.copyOf(out, n);
                java.util.Arrays.sort(ranked);
            } else {
                int[][] lists = new int[g][k];
                int[] lengths = new int[g];
                for (int h = 0; h < g; h++) {
                    long t = StageProfile.start();
                    RetrievalQuery q = RetrievalQuery.of(ctx.rotation(), queries, qOff + h * d);
                    StageProfile.stop(Stage.PREPARE_QUERY, t);
                    lengths[h] = ParisKvSelector.rank(index, q, k, cfg.candidateRatio(), cfg.collisionRatio(), lists[h],
                            adaptive ? adaptive(cfg, zone, queries, qOff + h * d, center, d) : null);
                }
                ranked = GroupMerge.roundRobin(lists, lengths, k);
            }
            for (int i = 0; i < ranked.length; i++) ranked[i] += zone.zoneStart();
            return Selection.of(ranked);
        }

        /** The adaptive rule's inputs for one query: exact logits of sink and local tokens, scale, {@code q·μ}. */
        private static ParisKvSelector.Adaptive adaptive(ParisKvConfig cfg, ZoneView zone, float[] q, int off, float[] center, int d) {
            float scale = (float) (1.0 / Math.sqrt(d));
            int f = zone.sinkEnd() + (zone.length() - zone.zoneEnd());
            float[] fixed = new float[f];
            int n = 0;
            for (int t = 0; t < zone.sinkEnd(); t++) fixed[n++] = zone.keys().dot(t, q, off) * scale;
            for (int t = zone.zoneEnd(); t < zone.length(); t++) fixed[n++] = zone.keys().dot(t, q, off) * scale;
            float qc = 0f;
            if (center != null) for (int i = 0; i < d; i++) qc += q[off + i] * center[i];
            return new ParisKvSelector.Adaptive(cfg.adaptiveMass(), cfg.topkMin(), fixed, f, scale, qc);
        }
    }
}
