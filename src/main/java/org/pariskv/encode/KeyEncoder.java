package org.pariskv.encode;

import org.pariskv.rotate.Rotation;

/**
 * Encodes keys into ParisKV's two compact codes (spec "Encoding a key"):
 * <ol>
 *   <li>normalise, keep {@code ||k||}; rotate: {@code y = R k / ||k||};</li>
 *   <li>collision code: one byte per 8-dim block, bit {@code j} = {@code y[b,j] >= 0}; the 256 byte values are
 *       the block's data-independent centroids {@code {±1/sqrt 8}^8};</li>
 *   <li>rerank code: per coordinate a nibble {@code sign<<3 | t} of the block-normalised {@code u = y_b/||y_b||}
 *       (Lloyd–Max magnitude index {@code t}), even coordinate in the low nibble;</li>
 *   <li>calibrated block weight {@code w_b = ||y_b|| / alpha_b * ||k||}, {@code alpha_b = Σ centers[t_j] |u_j|},
 *       stored as bf16 — it makes {@code ||q|| Σ_b w_b <q̂_b, ũ_b>} an estimator of {@code <k, q>}.</li>
 * </ol>
 * Output per key at D = 128: 16 code bytes, 64 nibble bytes, 16 bf16 weights. Not thread-safe (scratch buffers):
 * one encoder per thread.
 */
public final class KeyEncoder {

    private final Rotation rotation;
    private final int dim;
    private final int blocks;
    private final float[] x;
    private final float[] y;

    public KeyEncoder(Rotation rotation) {
        this.rotation = rotation;
        this.dim = rotation.dim();
        this.blocks = dim / 8;
        this.x = new float[dim];
        this.y = new float[dim];
    }

    public Rotation rotation() {
        return rotation;
    }

    /** Bytes of collision code per key. */
    public int codeBytes() {
        return blocks;
    }

    /** Bytes of rerank nibbles per key. */
    public int nibbleBytes() {
        return dim / 2;
    }

    /**
     * Encodes {@code n} keys stored as consecutive rows of {@code dim} floats from {@code keys[keyOff]}; key {@code i}
     * writes {@code codes[codeOff + i*B ..]}, {@code nibbles[nibOff + i*D/2 ..]}, {@code weights[wOff + i*B ..]}.
     */
    public void encode(float[] keys, int keyOff, int n,
                       byte[] codes, int codeOff, byte[] nibbles, int nibOff, short[] weights, int wOff) {
        encode(keys, keyOff, n, null, codes, codeOff, nibbles, nibOff, weights, wOff);
    }

    /**
     * As {@link #encode(float[], int, int, byte[], int, byte[], int, short[], int)} for the centred keys
     * {@code k - center} ({@code center} null: no centring). Any fixed centre keeps rankings exact, since
     * {@code q·(k-μ) = q·k - q·μ} and {@code q·μ} is the same for every key of the zone.
     */
    public void encode(float[] keys, int keyOff, int n, float[] center,
                       byte[] codes, int codeOff, byte[] nibbles, int nibOff, short[] weights, int wOff) {
        for (int i = 0; i < n; i++) {
            encodeOne(keys, keyOff + i * dim, center, codes, codeOff + i * blocks, nibbles, nibOff + i * (dim / 2), weights, wOff + i * blocks);
        }
    }

    private void encodeOne(float[] k, int kOff, float[] center, byte[] codes, int cOff, byte[] nibbles, int nOff, short[] weights, int wOff) {
        for (int i = 0; i < dim; i++) x[i] = center == null ? k[kOff + i] : k[kOff + i] - center[i];
        float ss = 0f;
        for (int i = 0; i < dim; i++) ss += x[i] * x[i];
        float norm = (float) Math.sqrt(ss);
        float inv = 1f / Math.max(norm, 1e-8f);
        for (int i = 0; i < dim; i++) x[i] = x[i] * inv;
        rotation.apply(x, 0, y, 0);
        for (int b = 0; b < blocks; b++) {
            int base = b * 8;
            int code = 0;
            float r2 = 0f;
            for (int j = 0; j < 8; j++) {
                float v = y[base + j];
                if (v >= 0f) code |= 1 << j;
                r2 += v * v;
            }
            codes[cOff + b] = (byte) code;
            float r = (float) Math.sqrt(r2);
            float invR = 1f / Math.max(r, 1e-8f);
            float alpha = 0f;
            for (int j = 0; j < 8; j += 2) {
                int lo = nibble(y[base + j] * invR);
                int hi = nibble(y[base + j + 1] * invR);
                alpha += LloydMax.CENTERS[lo & 7] * Math.abs(y[base + j] * invR);
                alpha += LloydMax.CENTERS[hi & 7] * Math.abs(y[base + j + 1] * invR);
                nibbles[nOff + b * 4 + (j >> 1)] = (byte) (lo | (hi << 4));
            }
            alpha = Math.max(alpha, 1e-6f);
            weights[wOff + b] = Bf16.fromFloat(r / alpha * norm);
        }
    }

    private static int nibble(float u) {
        int sign = u >= 0f ? 8 : 0;
        return sign | LloydMax.magnitudeIndex(Math.abs(u));
    }
}
