package org.pariskv.trace;

import java.util.SplittableRandom;

/** Random helpers shared by the generators: seed mixing, Gaussian fills, unit vectors. */
final class Synth {

    static final int STREAM_MODEL = 1;
    static final int STREAM_KEYS = 2;
    static final int STREAM_VALUES = 3;
    static final int STREAM_QUERIES = 4;
    static final int STREAM_TARGETS = 5;
    static final int STREAM_GLOBAL = 6;

    private Synth() {}

    /** splitmix64 finaliser. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** An independent stream for (seed, purpose, layer, head): independent of thread scheduling. */
    static SplittableRandom stream(long seed, int purpose, int layer, int head) {
        long z = mix64(seed ^ 0x9E3779B97F4A7C15L);
        z = mix64(z + purpose * 0x632BE59BD9B4E019L);
        z = mix64(z + layer * 0x85157AF5L);
        z = mix64(z + head * 0x2545F4914F6CDD1DL);
        return new SplittableRandom(z);
    }

    static void gaussian(SplittableRandom r, float[] dst, int off, int n, double std) {
        for (int i = 0; i < n; i++) {
            dst[off + i] = (float) (r.nextGaussian() * std);
        }
    }

    static float[] gaussian(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        gaussian(r, v, 0, n, std);
        return v;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    static double norm(float[] a) {
        return Math.sqrt(dot(a, a));
    }

    static float[] unit(SplittableRandom r, int d) {
        float[] v = gaussian(r, d, 1);
        scale(v, 1 / norm(v));
        return v;
    }

    /** A random unit vector orthogonal to each of the given unit vectors (Gram-Schmidt). */
    static float[] unitOrthogonal(SplittableRandom r, int d, float[]... to) {
        float[] v = gaussian(r, d, 1);
        for (float[] u : to) {
            double p = dot(v, u);
            for (int i = 0; i < d; i++) {
                v[i] -= (float) (p * u[i]);
            }
        }
        scale(v, 1 / norm(v));
        return v;
    }

    /** {@code v} with its components along the given unit vectors removed, normalised. */
    static float[] unitOrthogonal(float[] v, float[]... to) {
        v = v.clone();
        for (float[] u : to) {
            double p = dot(v, u);
            for (int i = 0; i < v.length; i++) {
                v[i] -= (float) (p * u[i]);
            }
        }
        scale(v, 1 / norm(v));
        return v;
    }

    static void scale(float[] v, double s) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (v[i] * s);
        }
    }

    /** {@code count} distinct channels out of {@code d}, avoiding {@code exclude} (may be null). */
    static int[] distinctChannels(SplittableRandom r, int d, int count, int[] exclude) {
        boolean[] taken = new boolean[d];
        int free = d;
        if (exclude != null) {
            for (int c : exclude) {
                if (!taken[c]) {
                    taken[c] = true;
                    free--;
                }
            }
        }
        count = Math.min(count, free);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            int c;
            do {
                c = r.nextInt(d);
            } while (taken[c]);
            taken[c] = true;
            out[i] = c;
        }
        return out;
    }

    /** Channel scales: 1 everywhere, a uniform draw in [min, max] on {@code channels}. */
    static float[] channelScales(SplittableRandom r, int d, int[] channels, double min, double max) {
        float[] s = new float[d];
        java.util.Arrays.fill(s, 1f);
        for (int c : channels) {
            s[c] = (float) (min + (max - min) * r.nextDouble());
        }
        return s;
    }
}
