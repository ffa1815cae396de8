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
 * token from a {@link KeySchedule} (sink tokens get an extra component along the group's sink
 * direction), values from a Gaussian head, and for every decode step and query head of the group a
 * query is built as
 * <pre>  q = b + sqrt(D) (λ t + β u)</pre>
 * where {@code b} is an out-of-distribution base query (its own offset, channel scales and subspace,
 * partly shared inside the GQA group), rescaled so that its logits over the context keys have standard
 * deviation {@code baseLogitStd}; {@code t} and {@code u} are combinations of the targets' and sinks'
 * de-meaned, partly whitened keys with {@code t · (k_j - mean_j) = w_j} on targets (weight 1 for
 * planted, {@code recentWeight} for recent) and 0 on sinks, {@code u} 1 on sinks and 0 on targets.
 * The gains {@code (λ, β)} make the targets carry {@code targetMass} and the sinks {@code sinkMass} of
 * the softmax mass (scale 1/sqrt(D)): target and sink logits are exact, the background partition is
 * analytic per run of keys from one distribution (small runs exact); see {@link #solveGains}. The
 * targeting direction also raises the scores of keys that share the targets' low-rank component, which
 * keeps the targets among moderately similar keys.
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
    record Group(KeySchedule keys, GaussianHead values, GaussianHead[] queryBases, GaussianHead querySharedDev,
                 double groupQueryShare, TargetPolicy policy, double targetMass, double baseLogitStd,
                 double targetWhitening, int sinkTokens, double sinkMass, float[] sinkKeyDir, double sinkKeyOffset) {}

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
            markSinks(g, keys[l], tokens, hkv, h, d);
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

    /** Segments with fewer keys than this enter the background partition exactly, key by key. */
    static final int EXACT_SEGMENT = 32;

    /** The background of one query: analytic segments ({@code coef}) and exact logits {@code eb + λ et + β eu}. */
    record Background(double[][] coef, int nseg, double[] eb, double[] et, double[] eu, int ne) {}

    /** Runs of consecutive context tokens drawn from the same key distribution. */
    private static final class Segments {
        GaussianHead[] head = new GaussianHead[4];
        int[] start = new int[4];
        int[] count = new int[4];
        int tokens;
        float[][] mean = new float[4][];
        int n;

        void add(GaussianHead h) {
            tokens++;
            if (n > 0 && head[n - 1] == h) {
                count[n - 1]++;
                return;
            }
            if (n == head.length) {
                head = Arrays.copyOf(head, n * 2);
                start = Arrays.copyOf(start, n * 2);
                count = Arrays.copyOf(count, n * 2);
                mean = Arrays.copyOf(mean, n * 2);
            }
            head[n] = h;
            start[n] = tokens - 1;
            count[n] = 1;
            mean[n] = new float[h.d];
            h.mean(mean[n]);
            n++;
        }
    }

    /** Adds {@code sinkKeyOffset·sqrt(D)·e} to the keys of the sink tokens (a distinct key direction). */
    private static void markSinks(Group g, float[] keys, int tokens, int hkv, int h, int d) {
        if (g.sinkTokens() == 0 || g.sinkKeyDir() == null) {
            return;
        }
        double a = g.sinkKeyOffset() * Math.sqrt(d);
        for (int t = 0; t < Math.min(g.sinkTokens(), tokens); t++) {
            int off = (t * hkv + h) * d;
            for (int c = 0; c < d; c++) {
                keys[off + c] += (float) (a * g.sinkKeyDir()[c]);
            }
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
        Segments segs = new Segments();
        for (int tok = 0; tok < promptTokens; tok++) {
            segs.add(g.keys().at(tok));
        }
        float[] b = new float[d];
        float[] t = new float[d];
        float[] u = new float[d];
        float[] tmp = new float[d];
        float[] mean = new float[d];
        float[] baseMean = new float[d];
        float[] sharedDev = new float[d];
        double[] z = new double[64];
        double[][] y = new double[3][d];
        double[][] pr = new double[3][];
        double sqrtD = Math.sqrt(d);
        double share = g.groupQueryShare();
        double[] warm = new double[2 * gs];
        for (int s = 0; s < steps; s++) {
            int context = promptTokens + s + 1;
            segs.add(g.keys().at(context - 1));
            g.policy().next(s, context, tRng, targets);
            if (share > 0) {
                GaussianHead sh = g.querySharedDev();
                if (z.length < sh.r) {
                    z = new double[sh.r];
                }
                sh.sample(qRng, sharedDev, 0, z);
            }
            for (int i = 0; i < gs; i++) {
                int qh = h * gs + i;
                GaussianHead base = g.queryBases()[i];
                if (z.length < base.r) {
                    z = new double[base.r];
                }
                base.sample(qRng, b, 0, z);
                if (share > 0) {
                    base.mean(baseMean);
                    double own = Math.sqrt(1 - share);
                    double sh = Math.sqrt(share);
                    for (int c = 0; c < d; c++) {
                        b[c] = (float) (baseMean[c] + own * (b[c] - baseMean[c]) + sh * sharedDev[c]);
                    }
                }
                double pooled = 0;
                for (int k = 0; k < segs.n; k++) {
                    pooled += segs.count[k] * segs.head[k].quad(b);
                }
                pooled /= context;
                Synth.scale(b, g.baseLogitStd() * sqrtD / Math.sqrt(Math.max(pooled, 1e-30)));

                Targets tg = targets[i];
                int m = tg.count;
                int sinkEnd = Math.min(g.sinkTokens(), context);
                int[] special = new int[m + sinkEnd];
                System.arraycopy(tg.pos, 0, special, 0, m);
                int ns = 0;
                for (int p = 0; p < sinkEnd; p++) {
                    boolean isTarget = false;
                    for (int j = 0; j < m; j++) {
                        isTarget |= tg.pos[j] == p;
                    }
                    if (!isTarget) {
                        special[m + ns++] = p;
                    }
                }
                int total = m + ns;
                int qoff = (s * hq + qh) * d;
                byHead[s * hq + qh] = tg.plantedSorted();
                if (total == 0) {
                    System.arraycopy(b, 0, queries, qoff, d);
                    continue;
                }
                float[][] dev = new float[total][d];
                float[][] dt = new float[total][d];
                for (int j = 0; j < total; j++) {
                    int p = special[j];
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
                double[][] gram = new double[total][total];
                for (int j = 0; j < total; j++) {
                    for (int k = 0; k < total; k++) {
                        gram[j][k] = Synth.dot(dt[k], dev[j]);
                    }
                }
                double[] rhsT = new double[total];
                double[] rhsU = new double[total];
                System.arraycopy(tg.weight, 0, rhsT, 0, m);
                for (int j = m; j < total; j++) {
                    rhsU[j] = 1;
                }
                Arrays.fill(t, 0f);
                Arrays.fill(u, 0f);
                if (m > 0) {
                    combine(solve(copy(gram), rhsT), dt, t);
                }
                if (ns > 0) {
                    combine(solve(copy(gram), rhsU), dt, u);
                }
                // exact logits of the special tokens: B + λ T + β U
                double[] lb = new double[total];
                double[] lt = new double[total];
                double[] lu = new double[total];
                for (int j = 0; j < total; j++) {
                    int off = (special[j] * hkv + h) * d;
                    double db = 0, dtt = 0, du = 0;
                    for (int c = 0; c < d; c++) {
                        float k = keys[off + c];
                        db += b[c] * k;
                        dtt += t[c] * k;
                        du += u[c] * k;
                    }
                    lb[j] = db / sqrtD;
                    lt[j] = dtt;
                    lu[j] = du;
                }
                // background: small segments (fewer than EXACT_SEGMENT keys: a lognormal expectation means
                // little for them) exactly, the others analytically (log n + mean + variance / 2, truncated)
                int exactCount = 0;
                for (int k = 0; k < segs.n; k++) {
                    if (segs.count[k] < EXACT_SEGMENT) {
                        exactCount += segs.count[k];
                    }
                }
                double[] eb = new double[exactCount];
                double[] et = new double[exactCount];
                double[] eu = new double[exactCount];
                int ne = 0;
                int nseg = 0;
                double[][] coef = new double[segs.n][];
                for (int k = 0; k < segs.n; k++) {
                    GaussianHead sh = segs.head[k];
                    if (segs.count[k] < EXACT_SEGMENT) {
                        for (int p = segs.start[k]; p < segs.start[k] + segs.count[k]; p++) {
                            boolean isSpecial = false;
                            for (int j = 0; j < total; j++) {
                                isSpecial |= special[j] == p;
                            }
                            if (isSpecial) {
                                continue;
                            }
                            int off = (p * hkv + h) * d;
                            double db = 0, dtt = 0, du = 0;
                            for (int c = 0; c < d; c++) {
                                float kv = keys[off + c];
                                db += b[c] * kv;
                                dtt += t[c] * kv;
                                du += u[c] * kv;
                            }
                            eb[ne] = db / sqrtD;
                            et[ne] = dtt;
                            eu[ne] = du;
                            ne++;
                        }
                        continue;
                    }
                    double[] cf = new double[10];
                    coef[nseg++] = cf;
                    for (int v = 0; v < 3; v++) {
                        if (pr[v] == null || pr[v].length < sh.r) {
                            pr[v] = new double[Math.max(1, sh.r)];
                        }
                    }
                    sh.project(b, y[0], pr[0]);
                    sh.project(t, y[1], pr[1]);
                    sh.project(u, y[2], pr[2]);
                    double bb = sh.bilinear(y[0], pr[0], y[0], pr[0]);
                    double bt = sh.bilinear(y[0], pr[0], y[1], pr[1]);
                    double bu = sh.bilinear(y[0], pr[0], y[2], pr[2]);
                    double tt = sh.bilinear(y[1], pr[1], y[1], pr[1]);
                    double tu = sh.bilinear(y[1], pr[1], y[2], pr[2]);
                    double uu = sh.bilinear(y[2], pr[2], y[2], pr[2]);
                    float[] mk = segs.mean[k];
                    int cnt = Math.max(1, segs.count[k] - (k == 0 ? total : 0));
                    cf[0] = Math.log(cnt);
                    cf[1] = Synth.dot(b, mk) / sqrtD;
                    cf[2] = Synth.dot(t, mk);
                    cf[3] = Synth.dot(u, mk);
                    cf[4] = bb / d;
                    cf[5] = 2 * bt / sqrtD;
                    cf[6] = 2 * bu / sqrtD;
                    cf[7] = tt;
                    cf[8] = 2 * tu;
                    cf[9] = uu;
                }
                double phiT = m > 0 ? g.targetMass() : 0;
                double phiS = ns > 0 ? g.sinkMass() : 0;
                double phiB = 1 - phiT - phiS;
                double[] x = {warm[2 * i], warm[2 * i + 1]};
                Background bg = new Background(coef, nseg, eb, et, eu, ne);
                solveGains(x, m, total, lb, lt, lu, bg,
                        m > 0 ? Math.log(phiT / phiB) : Double.NaN, ns > 0 ? Math.log(phiS / phiB) : Double.NaN);
                warm[2 * i] = x[0];
                warm[2 * i + 1] = x[1];
                for (int c = 0; c < d; c++) {
                    queries[qoff + c] = (float) (b[c] + sqrtD * (x[0] * t[c] + x[1] * u[c]));
                }
            }
        }
    }

    private static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    private static void combine(double[] coef, float[][] dirs, float[] out) {
        for (int j = 0; j < coef.length; j++) {
            for (int c = 0; c < out.length; c++) {
                out[c] += (float) (coef[j] * dirs[j][c]);
            }
        }
    }

    /**
     * Log of the expected background partition of one segment at gains {@code (λ, β)}: {@code n} keys
     * with Gaussian logits of mean {@code M} and variance {@code V}. The plain lognormal expectation
     * {@code log n + M + V/2} is dominated, for large {@code V} or small {@code n}, by values no sample of
     * {@code n} reaches; the factor {@code Φ(sqrt(2 ln n) - sqrt(V))} keeps only logits up to the typical
     * maximum of {@code n} draws.
     */
    static double segmentLogPartition(double[] q, double lam, double beta) {
        double mean = q[1] + lam * q[2] + beta * q[3];
        double var = Math.max(0, q[4] + lam * q[5] + beta * q[6] + lam * lam * q[7] + lam * beta * q[8] + beta * beta * q[9]);
        double logN = q[0];
        return logN + mean + var / 2 + logPhi(Math.sqrt(2 * logN) - Math.sqrt(var));
    }

    /** {@code log Φ(x)}, Φ the standard normal CDF. */
    static double logPhi(double x) {
        if (x < -5) {
            double x2 = x * x;
            return -x2 / 2 - Math.log(-x) - 0.5 * Math.log(2 * Math.PI) + Math.log1p(-1 / x2 + 3 / (x2 * x2));
        }
        // Zelen & Severo (Abramowitz-Stegun 26.2.17), |error| < 7.5e-8
        double ax = Math.abs(x);
        double k = 1 / (1 + 0.2316419 * ax);
        double poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))));
        double tail = Math.exp(-ax * ax / 2) / Math.sqrt(2 * Math.PI) * poly;
        return x >= 0 ? Math.log1p(-tail) : Math.log(tail);
    }

    /** Residuals of the mass equations at gains {@code (λ, β) = x}. */
    private static void residuals(double[] x, int m, int total, double[] lb, double[] lt, double[] lu,
                                  Background bg, double c1, double c2, double[] r) {
        double lam = x[0], beta = x[1];
        double zMax = Double.NEGATIVE_INFINITY;
        double[] ls = new double[bg.nseg() + bg.ne()];
        for (int k = 0; k < bg.nseg(); k++) {
            ls[k] = segmentLogPartition(bg.coef()[k], lam, beta);
        }
        for (int e = 0; e < bg.ne(); e++) {
            ls[bg.nseg() + e] = bg.eb()[e] + lam * bg.et()[e] + beta * bg.eu()[e];
        }
        for (double v : ls) {
            zMax = Math.max(zMax, v);
        }
        double zs = 0;
        for (double v : ls) {
            zs += Math.exp(v - zMax);
        }
        double logZ = zMax + Math.log(zs);
        for (int part = 0; part < 2; part++) {
            int from = part == 0 ? 0 : m;
            int to = part == 0 ? m : total;
            if (from == to) {
                r[part] = 0;
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int j = from; j < to; j++) {
                max = Math.max(max, lb[j] + lam * lt[j] + beta * lu[j]);
            }
            double s = 0;
            for (int j = from; j < to; j++) {
                s += Math.exp(lb[j] + lam * lt[j] + beta * lu[j] - max);
            }
            r[part] = max + Math.log(s) - logZ - (part == 0 ? c1 : c2);
        }
    }

    /**
     * Residuals and a finite-difference Jacobian (row-major 2 × 2); an absent part (no targets or no
     * sinks) has residual 0 and an identity row.
     */
    private static void residuals(double[] x, int m, int total, double[] lb, double[] lt, double[] lu,
                                  Background bg, double c1, double c2, double[] r, double[] jac) {
        residuals(x, m, total, lb, lt, lu, bg, c1, c2, r);
        double[] xp = new double[2];
        double[] rp = new double[2];
        double h = 1e-5;
        for (int v = 0; v < 2; v++) {
            xp[0] = x[0];
            xp[1] = x[1];
            xp[v] += h;
            residuals(xp, m, total, lb, lt, lu, bg, c1, c2, rp);
            jac[v] = (rp[0] - r[0]) / h;
            jac[2 + v] = (rp[1] - r[1]) / h;
        }
        if (m == 0) {
            jac[0] = 1;
            jac[1] = 0;
        }
        if (m == total) {
            jac[2] = 0;
            jac[3] = 1;
        }
    }

    /**
     * Gains {@code (λ, β) >= 0} (in place, {@code x} holds the start) such that the targets carry
     * {@code c1} and the sinks {@code c2} log-odds against the analytic Gaussian background (damped
     * Newton; where the equations have no solution the best point found is kept).
     */
    static void solveGains(double[] x, int m, int total, double[] lb, double[] lt, double[] lu,
                           Background bg, double c1, double c2) {
        double[] r = new double[2];
        double[] jac = new double[4];
        double[] xt = new double[2];
        double[] rt = new double[2];
        double[] jt = new double[4];
        if (m == 0) {
            x[0] = 0;
        }
        if (m == total) {
            x[1] = 0;
        }
        residuals(x, m, total, lb, lt, lu, bg, c1, c2, r, jac);
        double f = r[0] * r[0] + r[1] * r[1];
        for (int it = 0; it < 60 && f > 1e-10; it++) {
            double det = jac[0] * jac[3] - jac[1] * jac[2];
            double dl, db;
            if (Math.abs(det) > 1e-12) {
                dl = -(jac[3] * r[0] - jac[1] * r[1]) / det;
                db = -(-jac[2] * r[0] + jac[0] * r[1]) / det;
            } else {
                dl = -(jac[0] * r[0] + jac[2] * r[1]);
                db = -(jac[1] * r[0] + jac[3] * r[1]);
            }
            double stepLen = Math.hypot(dl, db);
            if (stepLen > 8) {
                dl *= 8 / stepLen;
                db *= 8 / stepLen;
            }
            boolean improved = false;
            for (double a = 1; a > 1e-4; a /= 2) {
                xt[0] = m == 0 ? 0 : Math.min(200, Math.max(0, x[0] + a * dl));
                xt[1] = m == total ? 0 : Math.min(200, Math.max(0, x[1] + a * db));
                residuals(xt, m, total, lb, lt, lu, bg, c1, c2, rt, jt);
                double ft = rt[0] * rt[0] + rt[1] * rt[1];
                if (ft < f) {
                    x[0] = xt[0];
                    x[1] = xt[1];
                    System.arraycopy(rt, 0, r, 0, 2);
                    System.arraycopy(jt, 0, jac, 0, 4);
                    f = ft;
                    improved = true;
                    break;
                }
            }
            if (!improved) {
                break;
            }
        }
        if (f > 1e-8) {
            // no root found from this start (typically none exists): per coordinate, the first crossing
            // of zero or else the closest approach, sinks outside, targets inside
            double[] alt = new double[2];
            alt[1] = m == total ? 0 : scan(bb -> {
                alt[0] = m == 0 ? 0 : scan(ll -> residual(new double[] {ll, bb}, m, total, lb, lt, lu, bg, c1, c2, 0));
                return residual(new double[] {alt[0], bb}, m, total, lb, lt, lu, bg, c1, c2, 1);
            });
            alt[0] = m == 0 ? 0 : scan(ll -> residual(new double[] {ll, alt[1]}, m, total, lb, lt, lu, bg, c1, c2, 0));
            residuals(alt, m, total, lb, lt, lu, bg, c1, c2, rt);
            if (rt[0] * rt[0] + rt[1] * rt[1] < f) {
                x[0] = alt[0];
                x[1] = alt[1];
            }
        }
    }

    private static double residual(double[] x, int m, int total, double[] lb, double[] lt, double[] lu,
                                   Background bg, double c1, double c2, int part) {
        double[] r = new double[2];
        residuals(x, m, total, lb, lt, lu, bg, c1, c2, r);
        return r[part];
    }

    /** The smallest gain in [0, 64] where {@code f} crosses zero upwards, else the one maximising {@code f}. */
    private static double scan(java.util.function.DoubleUnaryOperator f) {
        double step = 4;
        double prev = f.applyAsDouble(0);
        if (prev >= 0) {
            return 0;
        }
        double best = 0;
        double bestVal = prev;
        for (double g = step; g <= 64; g += step) {
            double v = f.applyAsDouble(g);
            if (v >= 0) {
                double lo = g - step, hi = g;
                for (int it = 0; it < 16; it++) {
                    double mid = (lo + hi) / 2;
                    if (f.applyAsDouble(mid) >= 0) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return hi;
            }
            if (v > bestVal) {
                bestVal = v;
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
