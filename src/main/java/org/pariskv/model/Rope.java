package org.pariskv.model;

/**
 * Rotary position embedding in the Hugging Face convention ({@code rotate_half}): coordinate {@code i} of a head
 * is paired with {@code i + D/2} (not with {@code i + 1} as in the interleaved original). Frequencies are computed
 * in f32 as transformers does, with the Llama-3 scaling when the config asks for it.
 */
final class Rope {

    private final float[] invFreq;
    private final int headDim;

    Rope(LlamaConfig c) {
        this.invFreq = inverseFrequencies(c);
        this.headDim = c.headDim();
    }

    /**
     * {@code inv_freq[i] = 1 / theta^(2i / D)}, then for {@code rope_type: llama3} transformers'
     * {@code _compute_llama3_parameters}: wavelengths {@code 2π / f} above {@code original / low_freq_factor} are
     * divided by {@code factor}, those below {@code original / high_freq_factor} kept, and those between blended
     * with {@code smooth = (original / wavelen - low) / (high - low)}.
     */
    static float[] inverseFrequencies(LlamaConfig c) {
        int half = c.headDim() / 2;
        float[] f = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / c.headDim(); // torch: arange(0, D, 2).float() / D
            f[i] = (float) (1.0 / (float) Math.pow(c.ropeTheta(), exponent));
        }
        LlamaConfig.RopeScaling s = c.ropeScaling();
        if (s == null) return f;
        double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / f[i];
            if (wavelen > lowWavelen) {
                f[i] = (float) (f[i] / s.factor());
            } else if (wavelen >= highWavelen) { // medium: neither below high nor above low
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                f[i] = (float) ((1 - smooth) * f[i] / s.factor() + smooth * f[i]);
            }
        }
        return f;
    }

    float[] inverseFrequencies() {
        return invFreq.clone();
    }

    /** Rotates {@code heads} rows of {@code D} floats from {@code off} in place for position {@code pos}. */
    void rotate(float[] x, int off, int heads, int pos) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float angle = pos * invFreq[i]; // f32 product, as transformers' freqs = inv_freq @ position_ids
            float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
            for (int h = 0; h < heads; h++) {
                int a = off + h * headDim + i, b = a + half;
                float x0 = x[a], x1 = x[b];
                x[a] = x0 * cos - x1 * sin;
                x[b] = x1 * cos + x0 * sin;
            }
        }
    }
}
