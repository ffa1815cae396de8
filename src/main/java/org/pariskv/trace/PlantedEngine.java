package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The machinery behind the {@code llm}, {@code drift} and {@code needle} generators.
 *
 * <p>Per (layer, KV head), in parallel and each from its own random streams: keys are drawn token by
 * token from a {@link KeySchedule}, values from a Gaussian head, and for every decode step and query
 * head of the group a query is built as
 * <pre>  q = b + λ t</pre>
 * where {@code b} is an out-of-distribution base query (its own offset, channel scales and subspace),
 * rescaled so that its logits over random keys have standard deviation {@code baseLogitStd}, and
 * {@code t} is the targeting direction: the combination of the targets' de-meaned, de-scaled keys with
 * {@code t · (k_j - mean_j) = w_j} for every target {@code j} (weight 1 for planted, {@code recentWeight}
 * for recent targets). The gain {@code λ} is chosen from the analytic Gaussian background
 * so that the targets carry roughly {@code targetMass} of the softmax mass (scale 1/sqrt(D)) over the
 * step's context; the targeting direction also raises the scores of keys that share the targets'
 * low-rank component, which keeps the targets among moderately similar keys.
 */
final class PlantedEngine {

    private PlantedEngine() {}

    /** The key distribution of one (layer, KV head) as a function of the token position. */
    interface KeySchedule {
        GaussianHead at(int token);
    }

    /** Chooses the targets of each query head of one group, step by step (stateful, sequential). */
    interface TargetPolicy {
        void next(int step, int context, SplittableRandom rng, Targets[] perHead);
    }

    /** Everything one (layer, KV head) group needs. */
    record Group(KeySchedule keys, GaussianHead values, GaussianHead[] queryBases, TargetPolicy policy,
                 double targetMass, double baseLogitStd, double targetWhitening) {}

    interface GroupFactory {
        Group create(int layer, int kvHead, SplittableRandom modelRng);
    }

    /** Mutable target list of one head for one step; positions are kept distinct. */
    static final class Targets {
        int count;
        int[] pos = new int[16];
        double[] weight = new double[16];
        boolean[] planted = new boolean[16];

        void clear() {
            count = 0;
        }

        void add(int p, double w, boolean isPlanted) {
            for (int i = 0; i < count; i++) {
                if (pos[i] == p) {
                    weight[i] = Math.max(weight[i], w);
                    planted[i] |= isPlanted;
                    return;
                }
            }
            if (count == pos.length) {
                pos = Arrays.copyOf(pos, count * 2);
                weight = Arrays.copyOf(weight, count * 2);
                planted = Arrays.copyOf(planted, count * 2);
            }
            pos[count] = p;
            weight[count] = w;
            planted[count] = isPlanted;
            count++;
        }

        int[] plantedSorted() {
            int n = 0;
            int[] out = new int[count];
            for (int i = 0; i < count; i++) {
                if (planted[i]) {
                    out[n++] = pos[i];
                }
            }
            out = Arrays.copyOf(out, n);
            Arrays.sort(out);
            return out;
        }
    }

    static Trace generate(String name, ModelShape shape, int promptTokens, int steps, long seed,
                          GroupFactory factory, Map<String, String> meta) {
        if (promptTokens < 1) {
            throw new IllegalArgumentException("promptTokens must be >= 1, got " + promptTokens);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        int layers = shape.layers();
        int hkv = shape.kvHeads();
        int hq = shape.queryHeads();
        int d = shape.headDim();
        int tokens = promptTokens + steps;
        long kvLen = shape.kvLength(tokens);
        if (kvLen > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("trace too large: " + kvLen + " floats per layer");
        }
        float[][] keys = new float[layers][(int) kvLen];
        float[][] values = new float[layers][(int) kvLen];
        float[][] queries = new float[layers][(int) shape.queryLength(steps)];
        int[][][] byHead = new int[layers][steps * hq][];

        IntStream.range(0, layers * hkv).parallel().forEach(task -> {
            int l = task / hkv;
            int h = task % hkv;
            Group g = factory.create(l, h, Synth.stream(seed, Synth.STREAM_MODEL, l, h));
            fillRows(g.keys(), keys[l], tokens, hkv, h, d, Synth.stream(seed, Synth.STREAM_KEYS, l, h));
            fillRows(t -> g.values(), values[l], tokens, hkv, h, d, Synth.stream(seed, Synth.STREAM_VALUES, l, h));
            fillQueries(g, shape, promptTokens, steps, keys[l], queries[l], byHead[l], h,
                    Synth.stream(seed, Synth.STREAM_QUERIES, l, h), Synth.stream(seed, Synth.STREAM_TARGETS, l, h));
        });

        List<LayerTrace> out = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            int[][] union = new int[steps][];
            for (int s = 0; s < steps; s++) {
                int fs = s;
                int[][] layerByHead = byHead[l];
                union[s] = IntStream.range(0, hq).flatMap(qh -> Arrays.stream(layerByHead[fs * hq + qh]))
                        .distinct().sorted().toArray();
            }
            out.add(new LayerTrace(keys[l], values[l], queries[l], union, byHead[l]));
        }
        return new Trace(name, shape, promptTokens, steps, out, meta);
    }

    private static void fillRows(KeySchedule schedule, float[] dst, int tokens, int heads, int head, int d,
                                 SplittableRandom rng) {
        double[] z = new double[Math.max(1, schedule.at(0).r)];
        for (int t = 0; t < tokens; t++) {
            GaussianHead m = schedule.at(t);
            if (z.length < m.r) {
                z = new double[m.r];
            }
            m.sample(rng, dst, (t * heads + head) * d, z);
        }
    }

    private static void fillQueries(Group g, ModelShape shape, int promptTokens, int steps, float[] keys,
                                    float[] queries, int[][] byHead, int h, SplittableRandom qRng,
                                    SplittableRandom tRng) {
        int d = shape.headDim();
        int gs = shape.groupSize();
        int hkv = shape.kvHeads();
        int hq = shape.queryHeads();
        Targets[] targets = new Targets[gs];
        for (int i = 0; i < gs; i++) {
            targets[i] = new Targets();
        }
        float[] b = new float[d];
        float[] t = new float[d];
        float[] tmp = new float[d];
        float[] mean = new float[d];
        double[] z = new double[64];
        double sqrtD = Math.sqrt(d);
        for (int s = 0; s < steps; s++) {
            int context = promptTokens + s + 1;
            GaussianHead cur = g.keys().at(context - 1);
            g.policy().next(s, context, tRng, targets);
            for (int i = 0; i < gs; i++) {
                int qh = h * gs + i;
                GaussianHead base = g.queryBases()[i];
                if (z.length < base.r) {
                    z = new double[base.r];
                }
                base.sample(qRng, b, 0, z);
                double a = cur.quad(b);
                double rescale = g.baseLogitStd() * sqrtD / Math.sqrt(Math.max(a, 1e-30));
                Synth.scale(b, rescale);
                a = cur.quad(b);
                Targets tg = targets[i];
                int m = tg.count;
                double gain = 0;
                Arrays.fill(t, 0f);
                if (m > 0) {
                    float[][] dev = new float[m][d];
                    float[][] dt = new float[m][d];
                    for (int j = 0; j < m; j++) {
                        int p = tg.pos[j];
                        GaussianHead mj = g.keys().at(p);
                        mj.mean(mean);
                        int off = (p * hkv + h) * d;
                        for (int c = 0; c < d; c++) {
                            float dv = keys[off + c] - mean[c];
                            dev[j][c] = dv;
                            tmp[c] = dv / mj.scale[c];
                        }
                        mj.whiten(tmp, g.targetWhitening(), dt[j]);
                        for (int c = 0; c < d; c++) {
                            dt[j][c] /= mj.scale[c];
                        }
                    }
                    double[][] gram = new double[m][m];
                    for (int j = 0; j < m; j++) {
                        for (int k = 0; k < m; k++) {
                            gram[j][k] = Synth.dot(dt[k], dev[j]);
                        }
                    }
                    double[] coef = solve(gram, Arrays.copyOf(tg.weight, m));
                    for (int j = 0; j < m; j++) {
                        for (int c = 0; c < d; c++) {
                            t[c] += (float) (coef[j] * dt[j][c]);
                        }
                    }
                    double ct = cur.quad(t);
                    for (int c = 0; c < d; c++) {
                        tmp[c] = b[c] + t[c];
                    }
                    double ab = (cur.quad(tmp) - a - ct) / 2;
                    gain = solveGain(Arrays.copyOf(tg.weight, m), a, ab, ct, d, context, g.targetMass());
                }
                int qoff = (s * hq + qh) * d;
                double lambda = gain * sqrtD;
                for (int c = 0; c < d; c++) {
                    queries[qoff + c] = (float) (b[c] + lambda * t[c]);
                }
                byHead[s * hq + qh] = tg.plantedSorted();
            }
        }
    }

    /**
     * Logit gain {@code g} (target j gets logit {@code g·w_j} above the background mean) such that
     * {@code Σ_j exp(g w_j) = φ/(1-φ) · n · exp(v(g)/2)}, where {@code v(g)} is the background logit
     * variance of {@code b + g·sqrt(D)·t}. Where no gain reaches the target share, the best one is taken.
     */
    static double solveGain(double[] w, double a, double ab, double ct, int d, int n, double mass) {
        double k = Math.log(mass / (1 - mass)) + Math.log(n);
        double sqrtD = Math.sqrt(d);
        java.util.function.DoubleUnaryOperator h = g -> {
            double max = Double.NEGATIVE_INFINITY;
            for (double wj : w) {
                max = Math.max(max, g * wj);
            }
            double sum = 0;
            for (double wj : w) {
                sum += Math.exp(g * wj - max);
            }
            double v = (a + 2 * ab * sqrtD * g + ct * d * g * g) / d;
            return max + Math.log(sum) - v / 2 - k;
        };
        double step = 0.25;
        double best = 0;
        double bestVal = h.applyAsDouble(0);
        if (bestVal >= 0) {
            return 0;
        }
        for (double g = step; g <= 64; g += step) {
            double val = h.applyAsDouble(g);
            if (val >= 0) {
                double lo = g - step;
                double hi = g;
                for (int it = 0; it < 40; it++) {
                    double mid = (lo + hi) / 2;
                    if (h.applyAsDouble(mid) >= 0) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return hi;
            }
            if (val > bestVal) {
                bestVal = val;
                best = g;
            }
        }
        return best;
    }

    /** Solves {@code A x = y} by Gaussian elimination with partial pivoting and a tiny ridge. */
    static double[] solve(double[][] a, double[] y) {
        int m = y.length;
        double trace = 0;
        for (int i = 0; i < m; i++) {
            trace += Math.abs(a[i][i]);
        }
        for (int i = 0; i < m; i++) {
            a[i][i] += 1e-6 * trace / m;
        }
        for (int col = 0; col < m; col++) {
            int piv = col;
            for (int r = col + 1; r < m; r++) {
                if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) {
                    piv = r;
                }
            }
            double[] rowTmp = a[col];
            a[col] = a[piv];
            a[piv] = rowTmp;
            double yt = y[col];
            y[col] = y[piv];
            y[piv] = yt;
            for (int r = col + 1; r < m; r++) {
                double f = a[r][col] / a[col][col];
                for (int c = col; c < m; c++) {
                    a[r][c] -= f * a[col][c];
                }
                y[r] -= f * y[col];
            }
        }
        double[] x = new double[m];
        for (int r = m - 1; r >= 0; r--) {
            double s = y[r];
            for (int c = r + 1; c < m; c++) {
                s -= a[r][c] * x[c];
            }
            x[r] = s / a[r][r];
        }
        return x;
    }
}
