package org.pariskv.attend;

import org.pariskv.kv.RowStore;

/**
 * Attention of a GQA group's query heads over a list of tokens of their KV head: logits
 * {@code q·k / sqrt(D)} (plus an optional per-token log-weight), softmax in fp32 with max subtraction,
 * output {@code Σ p_t v_t}. Every method in the project attends through this one routine, so quality
 * differences come from token choice alone. Full attention is this routine over all tokens.
 */
public final class SparseAttention {
    private SparseAttention() {}

    /**
     * @param queries   {@code g} query rows of {@code D} floats from {@code qOff}
     * @param tokens    token positions {@code tokens[0..n)} to attend
     * @param logitBias null, or per query head {@code n} values added to the logits (importance weights)
     * @param out       receives {@code g} rows of {@code D} floats from {@code outOff}
     */
    public static void attend(float[] queries, int qOff, int g, RowStore keys, RowStore values,
                              int[] tokens, int n, float[][] logitBias, float[] out, int outOff) {
        int d = keys.dim();
        float scale = (float) (1.0 / Math.sqrt(d));
        float[] logits = new float[n];
        for (int h = 0; h < g; h++) {
            int q = qOff + h * d;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                float l = keys.dot(tokens[i], queries, q) * scale;
                if (logitBias != null) l += logitBias[h][i];
                logits[i] = l;
                if (l > max) max = l;
            }
            float sum = 0f;
            for (int i = 0; i < n; i++) {
                float p = (float) Math.exp(logits[i] - max);
                logits[i] = p;
                sum += p;
            }
            int o = outOff + h * d;
            java.util.Arrays.fill(out, o, o + d, 0f);
            if (n == 0) continue;
            float inv = 1f / sum;
            for (int i = 0; i < n; i++) values.axpy(tokens[i], logits[i] * inv, out, o);
        }
    }

    /** Softmax probabilities of one query over {@code tokens} (for attention-mass metrics). */
    public static float[] probabilities(float[] query, int qOff, RowStore keys, int[] tokens, int n) {
        float scale = (float) (1.0 / Math.sqrt(keys.dim()));
        float[] p = new float[n];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            p[i] = keys.dot(tokens[i], query, qOff) * scale;
            max = Math.max(max, p[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = (float) Math.exp(p[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) p[i] = (float) (p[i] / sum);
        return p;
    }
}
