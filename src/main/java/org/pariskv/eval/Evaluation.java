package org.pariskv.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.attend.SparseAttention;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.cache.LayerCache;
import org.pariskv.method.OracleTopK;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.RetrievalStats;
import org.pariskv.method.ZoneView;
import org.pariskv.metrics.Metrics;
import org.pariskv.metrics.RunningStats;
import org.pariskv.profile.Stage;
import org.pariskv.profile.StageProfile;
import org.pariskv.trace.Trace;

/**
 * Replays a trace through a method and scores every decode step against exact attention over the same
 * stored (bf16) rows: prefill with the prompt, then per step append the step's token and attend with its
 * queries. Only the method's decode calls are timed; references are computed outside the timed region.
 * With {@link Options#sampleEvery()} {@code > 1} only every N-th step is scored (all are decoded), which keeps
 * long-generation runs (drift) affordable: the exact references dominate the cost of a step.
 */
public final class Evaluation {
    private Evaluation() {}

    /**
     * Options of a run.
     *
     * @param sampleEvery score quality at every N-th decode step only (steps {@code 0, N, 2N, ...} and the last);
     *                    every step is still decoded and timed. 1 scores every step.
     */
    public record Options(int sampleEvery) {
        public Options {
            if (sampleEvery < 1) throw new IllegalArgumentException("sample-every must be >= 1, got " + sampleEvery);
        }

        public static Options defaults() {
            return new Options(1);
        }

        boolean scores(int step, int steps) {
            return step % sampleEvery == 0 || step == steps - 1;
        }
    }

    public static EvalResult run(Trace trace, RetrievalMethod method, ParisKvConfig cfg, String device, IntConsumer onStep) {
        return run(trace, method, cfg, device, onStep, Options.defaults());
    }

    public static EvalResult run(Trace trace, RetrievalMethod method, ParisKvConfig cfg, String device, IntConsumer onStep, Options options) {
        ModelShape shape = trace.shape();
        int d = shape.headDim(), hq = shape.queryHeads(), hkv = shape.kvHeads(), g = shape.groupSize();
        float scale = (float) (1.0 / Math.sqrt(d));
        RunningStats recall = new RunningStats(), mass = new RunningStats(), error = new RunningStats();
        long needleHits = 0, needleTotal = 0;
        int sparseSteps = 0;
        long[] stepNanos = new long[trace.steps()];
        double[] recallPerStep = new double[trace.steps()];
        Arrays.fill(recallPerStep, Double.NaN);
        int scoredSteps = 0;
        RetrievalStats stats = method instanceof RetrievalStats rs ? rs : null;
        long retrievals0 = stats == null ? 0 : stats.retrievals(), selections0 = stats == null ? 0 : stats.steps();
        StageProfile.reset();
        try (KvCache cache = KvCache.create(shape, cfg, method)) {
            int seq = cache.newSequence();
            int prompt = trace.promptTokens();
            for (int l = 0; l < shape.layers(); l++) {
                if (prompt > 0) {
                    float[] k = trace.layer(l).keys(), v = trace.layer(l).values();
                    cache.layer(l).prefill(seq, Arrays.copyOf(k, prompt * hkv * d), Arrays.copyOf(v, prompt * hkv * d), prompt);
                }
            }
            StageProfile.reset(); // time decode steps only, not the prefill encoding
            float[] out = new float[hq * d];
            float[] ref = new float[hq * d];
            for (int s = 0; s < trace.steps(); s++) {
                int token = prompt + s;
                boolean anySparse = false;
                boolean scored = options.scores(s, trace.steps());
                if (scored) scoredSteps++;
                double stepRecall = 0;
                int stepRecallN = 0;
                for (int l = 0; l < shape.layers(); l++) {
                    LayerCache layer = cache.layer(l);
                    float[] q = Arrays.copyOfRange(trace.layer(l).queries(), s * hq * d, (s + 1) * hq * d);
                    float[] k = Arrays.copyOfRange(trace.layer(l).keys(), token * hkv * d, (token + 1) * hkv * d);
                    float[] v = Arrays.copyOfRange(trace.layer(l).values(), token * hkv * d, (token + 1) * hkv * d);
                    long t0 = System.nanoTime();
                    Attended a = layer.decode(new int[] {seq}, q, k, v, out)[0];
                    stepNanos[s] += System.nanoTime() - t0;
                    anySparse |= !a.dense();
                    if (!scored) continue;

                    int len = a.length();
                    int[] needles = trace.layer(l).hasPlanted() ? trace.layer(l).plantedAt(s) : null;
                    double[][] perHead = new double[hkv][];
                    IntStream.range(0, hkv).parallel().forEach(h -> {
                        ZoneView zone = layer.zone(seq, h);
                        StoreRows keys = new StoreRows(zone.keys());
                        int[] all = IntStream.range(0, len).toArray();
                        SparseAttention.attend(q, h * g * d, g, zone.keys(), zone.values(), all, len, null, ref, h * g * d);
                        float[][] group = new float[g][];
                        double err = 0;
                        for (int i = 0; i < g; i++) {
                            group[i] = Arrays.copyOfRange(q, (h * g + i) * d, (h * g + i + 1) * d);
                            err += Metrics.outputRelError(Arrays.copyOfRange(out, (h * g + i) * d, (h * g + i + 1) * d),
                                    Arrays.copyOfRange(ref, (h * g + i) * d, (h * g + i + 1) * d));
                        }
                        double m = Metrics.attentionMassRecall(group, keys, len, a.tokensPerKvHead()[h], scale);
                        double r = Double.NaN;
                        if (!a.dense() && a.retrievedPerKvHead() != null && zone.zoneSize() > 0) {
                            int[] exact = OracleTopK.exact(zone, q, h * g * d, cfg.topk(), g, d, cfg.gqa());
                            r = Metrics.recallAtK(a.retrievedPerKvHead()[h], exact);
                        }
                        double hit = Double.NaN;
                        if (needles != null && needles.length > 0) {
                            hit = Arrays.stream(a.tokensPerKvHead()[h]).anyMatch(t -> t == needles[0]) ? 1 : 0;
                        }
                        perHead[h] = new double[] {m, err / g, r, hit};
                    });
                    for (double[] ph : perHead) {
                        mass.add(ph[0]);
                        error.add(ph[1]);
                        if (!Double.isNaN(ph[2])) {
                            recall.add(ph[2]);
                            stepRecall += ph[2];
                            stepRecallN++;
                        }
                        if (!Double.isNaN(ph[3])) {
                            needleTotal++;
                            needleHits += (long) ph[3];
                        }
                    }
                }
                if (stepRecallN > 0) recallPerStep[s] = stepRecall / stepRecallN;
                if (anySparse) sparseSteps++;
                if (onStep != null) onStep.accept(s);
            }
        }
        double retrievalRate = Double.NaN;
        if (stats != null) {
            long sel = stats.steps() - selections0;
            retrievalRate = sel == 0 ? Double.NaN : (double) (stats.retrievals() - retrievals0) / sel;
        }
        long[] sorted = stepNanos.clone();
        Arrays.sort(sorted);
        double median = sorted.length == 0 ? 0 : sorted[sorted.length / 2] / 1e6;
        Map<String, Double> stages = new LinkedHashMap<>();
        StageProfile.nanos().forEach((stage, ns) -> stages.put(stage.task(), ns / 1e6 / Math.max(1, trace.steps())));
        return new EvalResult(method.name(), device, trace.name(), trace.tokens(), trace.steps(), cfg.topk(), cfg.gqa().name().toLowerCase().replace('_', '-'),
                recall.summary(), mass.summary(), error.summary(),
                needleTotal == 0 ? Double.NaN : (double) needleHits / needleTotal, median, sparseSteps, stages,
                recallPerStep, retrievalRate, scoredSteps);
    }

    /** Stage names in pipeline order, for tables. */
    public static String[] stageNames() {
        return Arrays.stream(Stage.values()).map(Stage::task).toArray(String[]::new);
    }
}
