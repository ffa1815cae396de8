package org.pariskv.trace;

import java.util.SplittableRandom;

/**
 * One Gaussian row distribution {@code x = S ⊙ (m + U z + σ ε)} with {@code z ~ N(0, zStd² I_r)},
 * {@code ε ~ N(0, I_D)}: a common offset {@code m}, a rank-{@code r} random subspace {@code U}
 * (entries N(0,1)), isotropic noise, then per-channel scales {@code S} (outlier channels).
 * Mean {@code S ⊙ m}; covariance {@code Σ = S (zStd² U Uᵀ + σ² I) S}.
 */
final class GaussianHead {
    final int d;
    final int r;
    final float[] offset;
    final float[] basis; // d × r, row-major: basis[c * r + i]
    final float[] scale;
    final double zStd;
    final double noiseStd;

    GaussianHead(float[] offset, float[] basis, int r, float[] scale, double zStd, double noiseStd) {
        this.d = offset.length;
        this.r = r;
        this.offset = offset;
        this.basis = basis;
        this.scale = scale;
        this.zStd = zStd;
        this.noiseStd = noiseStd;
    }

    /**
     * Offset of norm {@code offsetNorm} along {@code direction}; variance split so that every unscaled
     * coordinate has variance 1: {@code lowRankShare} from the subspace, the rest isotropic.
     */
    static GaussianHead of(float[] direction, double offsetNorm, float[] basis, int r, double lowRankShare,
                           float[] scale) {
        int d = direction.length;
        float[] m = new float[d];
        for (int c = 0; c < d; c++) {
            m[c] = (float) (direction[c] * offsetNorm);
        }
        double zStd = r == 0 ? 0 : Math.sqrt(lowRankShare / r);
        double noise = Math.sqrt(Math.max(0, r == 0 ? 1 : 1 - lowRankShare));
        return new GaussianHead(m, basis, r, scale, zStd, noise);
    }

    /** Draws one row into {@code dst[off..off+d)}; {@code z} is scratch of length &ge; r. */
    void sample(SplittableRandom rng, float[] dst, int off, double[] z) {
        for (int i = 0; i < r; i++) {
            z[i] = rng.nextGaussian() * zStd;
        }
        for (int c = 0; c < d; c++) {
            double v = offset[c] + noiseStd * rng.nextGaussian();
            int b = c * r;
            for (int i = 0; i < r; i++) {
                v += basis[b + i] * z[i];
            }
            dst[off + c] = (float) (scale[c] * v);
        }
    }

    /** Mean {@code S ⊙ m} into {@code dst}. */
    void mean(float[] dst) {
        for (int c = 0; c < d; c++) {
            dst[c] = scale[c] * offset[c];
        }
    }

    private double whitenAlpha = Double.NaN;
    private double[] whitenInv; // r × r: (σ²/β I + Uᵀ U)^-1, β = alpha · zStd²

    /**
     * {@code dst = (σ² I + alpha·zStd² U Uᵀ)^-1 x} (Woodbury): whitens the unscaled covariance, fully at
     * {@code alpha = 1}, only its isotropic part at {@code alpha = 0}. Not thread-safe (caches).
     */
    void whiten(float[] x, double alpha, float[] dst) {
        double s2 = noiseStd * noiseStd;
        double beta = alpha * zStd * zStd;
        if (r == 0 || beta == 0) {
            for (int c = 0; c < d; c++) {
                dst[c] = (float) (x[c] / s2);
            }
            return;
        }
        if (alpha != whitenAlpha) {
            double[][] m = new double[r][r];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    double v = 0;
                    for (int c = 0; c < d; c++) {
                        v += (double) basis[c * r + i] * basis[c * r + j];
                    }
                    m[i][j] = v + (i == j ? s2 / beta : 0);
                }
            }
            whitenInv = invert(m);
            whitenAlpha = alpha;
        }
        double[] p = new double[r];
        for (int c = 0; c < d; c++) {
            for (int i = 0; i < r; i++) {
                p[i] += basis[c * r + i] * (double) x[c];
            }
        }
        double[] w = new double[r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                w[i] += whitenInv[i * r + j] * p[j];
            }
        }
        for (int c = 0; c < d; c++) {
            double v = x[c];
            for (int i = 0; i < r; i++) {
                v -= basis[c * r + i] * w[i];
            }
            dst[c] = (float) (v / s2);
        }
    }

    private static double[] invert(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) {
                    piv = r;
                }
            }
            double[] t = m[col];
            m[col] = m[piv];
            m[piv] = t;
            double f = m[col][col];
            for (int c = 0; c < 2 * n; c++) {
                m[col][c] /= f;
            }
            for (int r = 0; r < n; r++) {
                if (r != col && m[r][col] != 0) {
                    double g = m[r][col];
                    for (int c = 0; c < 2 * n; c++) {
                        m[r][c] -= g * m[col][c];
                    }
                }
            }
        }
        double[] out = new double[n * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(m[i], n, out, i * n, n);
        }
        return out;
    }

    /**
     * Projections for {@link #bilinear}: {@code y = S x} (length d) and {@code p = Uᵀ y} (length r).
     */
    void project(float[] x, double[] y, double[] p) {
        java.util.Arrays.fill(p, 0, r, 0);
        for (int c = 0; c < d; c++) {
            double v = (double) scale[c] * x[c];
            y[c] = v;
            int b = c * r;
            for (int i = 0; i < r; i++) {
                p[i] += basis[b + i] * v;
            }
        }
    }

    /** {@code xᵀ Σ x'} from the projections of {@code x} and {@code x'} ({@link #project}). */
    double bilinear(double[] y1, double[] p1, double[] y2, double[] p2) {
        double iso = 0;
        for (int c = 0; c < d; c++) {
            iso += y1[c] * y2[c];
        }
        double lr = 0;
        for (int i = 0; i < r; i++) {
            lr += p1[i] * p2[i];
        }
        return zStd * zStd * lr + noiseStd * noiseStd * iso;
    }

    /** Quadratic form {@code xᵀ Σ x}: variance of {@code x·k} over keys k of this distribution. */
    double quad(float[] x) {
        double iso = 0;
        double[] p = new double[r];
        for (int c = 0; c < d; c++) {
            double y = (double) scale[c] * x[c];
            iso += y * y;
            int b = c * r;
            for (int i = 0; i < r; i++) {
                p[i] += basis[b + i] * y;
            }
        }
        double lr = 0;
        for (double v : p) {
            lr += v * v;
        }
        return zStd * zStd * lr + noiseStd * noiseStd * iso;
    }
}
