package org.pariskv.model;

import org.pariskv.encode.Bf16;

/**
 * An independent reference forward pass written plainly: scalar loops in f64, one position at a time, straight
 * from the Hugging Face modelling code (rotate_half RoPE, repeat_kv GQA, RMSNorm, SwiGLU). The only concession to
 * the engine is that K and V are rounded to bf16 before attention, because that is what the KV cache stores.
 */
final class NaiveLlama {

    /** Which tokens a (layer, KV head) attends at a position; null means all of {@code 0..pos}. */
    interface Mask {
        int[] tokens(int layer, int kvHead, int pos);
    }

    private final java.util.Map<String, float[]> w;
    private final TinyCheckpoint.Spec s;
    private boolean roundKv = true;
    private final double[] invFreq;
    private final boolean interleaved;

    NaiveLlama(TinyCheckpoint c, double[] invFreq) {
        this(c, invFreq, false);
    }

    /** {@code interleaved}: the original RoFormer pairing (2i, 2i+1), which Hugging Face checkpoints do not use. */
    NaiveLlama(TinyCheckpoint c, double[] invFreq, boolean interleaved) {
        this(c.spec, c.tensors, invFreq, interleaved);
    }

    NaiveLlama(TinyCheckpoint.Spec spec, java.util.Map<String, float[]> weights, double[] invFreq, boolean interleaved) {
        this.w = weights;
        this.s = spec;
        this.invFreq = invFreq;
        this.interleaved = interleaved;
    }

    /** Plain RoPE frequencies {@code theta^(-2i/D)}. */
    static double[] plainFrequencies(double theta, int headDim) {
        double[] f = new double[headDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = Math.pow(theta, -2.0 * i / headDim);
        return f;
    }

    /** Keeps K and V in f64 instead of rounding them to bf16 as the cache does (to measure what that rounding costs). */
    NaiveLlama exactKv() {
        roundKv = false;
        return this;
    }

    private float[] t(String name) {
        return w.get(name);
    }

    /** Logits {@code [n][vocab]} after each token. */
    double[][] logits(int[] tokens, Mask mask) {
        int n = tokens.length, d = s.hidden(), hd = s.headDim(), g = s.heads() / s.kvHeads();
        double[][] x = new double[n][d];
        for (int t = 0; t < n; t++) for (int i = 0; i < d; i++) x[t][i] = t("model.embed_tokens.weight")[tokens[t] * d + i];
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            double[][][] keys = new double[n][][], values = new double[n][][];
            double[][] attnOut = new double[n][];
            double[][][] queries = new double[n][][];
            for (int t = 0; t < n; t++) {
                double[] xb = rmsnorm(x[t], t(p + "input_layernorm.weight"));
                queries[t] = heads(matvec(t(p + "self_attn.q_proj.weight"), xb), s.heads());
                keys[t] = heads(matvec(t(p + "self_attn.k_proj.weight"), xb), s.kvHeads());
                values[t] = heads(matvec(t(p + "self_attn.v_proj.weight"), xb), s.kvHeads());
                for (int h = 0; h < s.heads(); h++) {
                    if (s.architecture().equals(LlamaConfig.QWEN3)) queries[t][h] = rmsnorm(queries[t][h], t(p + "self_attn.q_norm.weight"));
                    queries[t][h] = rope(queries[t][h], t);
                }
                for (int h = 0; h < s.kvHeads(); h++) {
                    if (s.architecture().equals(LlamaConfig.QWEN3)) keys[t][h] = rmsnorm(keys[t][h], t(p + "self_attn.k_norm.weight"));
                    keys[t][h] = roundKv ? bf16(rope(keys[t][h], t)) : rope(keys[t][h], t);
                    if (roundKv) values[t][h] = bf16(values[t][h]);
                }
            }
            for (int t = 0; t < n; t++) {
                double[] out = new double[s.heads() * hd];
                for (int h = 0; h < s.heads(); h++) {
                    int kvh = h / g; // repeat_kv: query head h reads KV head h / group
                    int[] allowed = mask == null ? null : mask.tokens(l, kvh, t);
                    if (allowed == null) {
                        allowed = new int[t + 1];
                        for (int j = 0; j <= t; j++) allowed[j] = j;
                    }
                    double[] score = new double[allowed.length];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < allowed.length; j++) {
                        score[j] = dot(queries[t][h], keys[allowed[j]][kvh]) / Math.sqrt(hd);
                        max = Math.max(max, score[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < allowed.length; j++) sum += score[j] = Math.exp(score[j] - max);
                    for (int j = 0; j < allowed.length; j++) {
                        for (int i = 0; i < hd; i++) out[h * hd + i] += score[j] / sum * values[allowed[j]][kvh][i];
                    }
                }
                attnOut[t] = out;
            }
            for (int t = 0; t < n; t++) {
                add(x[t], matvec(t(p + "self_attn.o_proj.weight"), attnOut[t]));
                double[] xb = rmsnorm(x[t], t(p + "post_attention_layernorm.weight"));
                double[] gate = matvec(t(p + "mlp.gate_proj.weight"), xb), up = matvec(t(p + "mlp.up_proj.weight"), xb);
                for (int i = 0; i < gate.length; i++) gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                add(x[t], matvec(t(p + "mlp.down_proj.weight"), gate));
            }
        }
        float[] head = s.tied() ? t("model.embed_tokens.weight") : t("lm_head.weight");
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) logits[t] = matvec(head, rmsnorm(x[t], t("model.norm.weight")));
        return logits;
    }

    /** rotate_half: out = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1]. */
    private double[] rope(double[] x, int pos) {
        int half = x.length / 2;
        double[] out = new double[x.length];
        if (interleaved) {
            for (int i = 0; i < half; i++) {
                double angle = pos * invFreq[i], a = x[2 * i], b = x[2 * i + 1];
                out[2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
                out[2 * i + 1] = b * Math.cos(angle) + a * Math.sin(angle);
            }
            return out;
        }
        for (int i = 0; i < x.length; i++) {
            double angle = pos * invFreq[i % half];
            double rotated = i < half ? -x[i + half] : x[i - half];
            out[i] = x[i] * Math.cos(angle) + rotated * Math.sin(angle);
        }
        return out;
    }

    private double[] rmsnorm(double[] x, float[] w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + s.eps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = w[i] * x[i] * inv;
        return out;
    }

    private static double[] matvec(float[] w, double[] x) {
        double[] out = new double[w.length / x.length];
        for (int r = 0; r < out.length; r++) {
            double acc = 0;
            for (int i = 0; i < x.length; i++) acc += w[r * x.length + i] * x[i];
            out[r] = acc;
        }
        return out;
    }

    private double[][] heads(double[] v, int heads) {
        double[][] out = new double[heads][s.headDim()];
        for (int h = 0; h < heads; h++) System.arraycopy(v, h * s.headDim(), out[h], 0, s.headDim());
        return out;
    }

    private static double[] bf16(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Bf16.round((float) v[i]);
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }
}
