package org.pariskv.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.attend.SparseAttention;
import org.pariskv.cache.KvCache;
import org.pariskv.cache.LayerCache;
import org.pariskv.method.FullAttention;
import org.pariskv.method.OracleTopK;
import org.pariskv.compute.Backend;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.RetrievalStats;
import org.pariskv.method.ZoneView;
import org.pariskv.metrics.Metrics;
import org.pariskv.metrics.RunningStats;
import org.pariskv.profile.StageProfile;
import org.pariskv.trace.Trace;

/**
 * Replays a trace through a method and scores every decode step against exact attention over the same
 * stored (bf16) rows: prefill with the prompt, then per step append the step's token and attend with its
 * queries. Only the method's decode calls are timed; references are computed outside the timed region.
 */
public final class Evaluation {
    private Evaluation() {}

    /**
     * Options of a run.
     *
     * @param sampleEvery score quality at every N-th decode step only (steps {@code 0, N, 2N, ...} and the last);
     *                    every step is still decoded and timed. 1 scores every step (the exact references dominate
     *                    the cost of a step, so long-generation runs such as drift sample).
     * @param onPrefill   null, or told {@code l} as layer {@code l}'s prefill starts and {@code layers} when the
     *                    whole prefill is done, so that a progress bar moves during a long prefill
     */
    public record Options(int sampleEvery, IntConsumer onPrefill) {
        public Options {
            if (sampleEvery < 1) throw new IllegalArgumentException("sample-every must be >= 1, got " + sampleEvery);
        }

        public Options(int sampleEvery) {
            this(sampleEvery, null);
        }

        public static Options defaults() {
            return new Options(1);
        }

        public Options withPrefillProgress(IntConsumer onPrefill) {
            return new Options(sampleEvery, onPrefill);
        }

        boolean scores(int step, int steps) {
            return step % sampleEvery == 0 || step == steps - 1;
        }
    }

    /** Runs {@code method} on the Java engine. */
    public static EvalResult run(Trace trace, RetrievalMethod method, ParisKvConfig cfg, String device, IntConsumer onStep) {
        return run(trace, method, cfg, device, onStep, Options.defaults());
    }

    /** Runs {@code method} on the Java engine with options (step sampling). */
    public static EvalResult run(Trace trace, RetrievalMethod method, ParisKvConfig cfg, String device, IntConsumer onStep, Options options) {
        try (StepDecoder dec = StepDecoder.java(trace.shape(), cfg, method)) {
            return run(trace, method.name(), method.sparse(), method instanceof RetrievalStats rs ? rs : null, dec, cfg, device, onStep, options);
        }
    }

    /** Runs ParisKV on an OpenCL or CUDA device (one {@link org.pariskv.device.DeviceDecoder} per layer). */
    public static EvalResult runOnDevice(Trace trace, ParisKvConfig cfg, Backend backend, IntConsumer onStep) {
        return runOnDevice(trace, cfg, backend, org.pariskv.device.DeviceDecoder.Options.defaults(), onStep);
    }

    /** Runs ParisKV on an OpenCL or CUDA device with decoder options (where the K/V rows live). */
    public static EvalResult runOnDevice(Trace trace, ParisKvConfig cfg, Backend backend, org.pariskv.device.DeviceDecoder.Options decoderOptions,
                                         IntConsumer onStep) {
        return runOnDevice(trace, cfg, backend, decoderOptions, onStep, Options.defaults());
    }

    /** ParisKV on a device with run options (step sampling, prefill progress). */
    public static EvalResult runOnDevice(Trace trace, ParisKvConfig cfg, Backend backend, org.pariskv.device.DeviceDecoder.Options decoderOptions,
                                         IntConsumer onStep, Options options) {
        try (StepDecoder dec = StepDecoder.device(backend, trace.shape(), cfg, trace.tokens(), decoderOptions)) {
            return run(trace, "pariskv", true, null, dec, cfg, backend.device().spec(), onStep, options);
        }
    }

    private static EvalResult run(Trace trace, String methodName, boolean sparseMethod, RetrievalStats stats, StepDecoder decoder,
                                  ParisKvConfig cfg, String device, IntConsumer onStep, Options options) {
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
        double retrievedSum = 0;
        long retrievedN = 0;
        long retrievals0 = stats == null ? 0 : stats.retrievals(), selections0 = stats == null ? 0 : stats.steps();
        boolean needleTrace = trace.meta().containsKey("needle_position") || trace.name().startsWith("needle");
        StageProfile.reset();
        // the reference: exact attention over the same stored rows, with the same zone boundaries
        try (KvCache reference = KvCache.create(shape, cfg, new FullAttention())) {
            int seq = reference.newSequence();
            int prompt = trace.promptTokens();
            for (int l = 0; l < shape.layers(); l++) {
                if (options.onPrefill() != null) options.onPrefill().accept(l);
                if (prompt > 0) {
                    float[] k = Arrays.copyOf(trace.layer(l).keys(), prompt * hkv * d);
                    float[] v = Arrays.copyOf(trace.layer(l).values(), prompt * hkv * d);
                    decoder.prefill(l, k, v, prompt);
                    boolean profiling = StageProfile.enabled();
                    StageProfile.enable(false);
                    reference.layer(l).prefill(seq, k, v, prompt);
                    StageProfile.enable(profiling);
                }
            }
            if (options.onPrefill() != null) options.onPrefill().accept(shape.layers());
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
                    LayerCache layer = reference.layer(l);
                    float[] q = Arrays.copyOfRange(trace.layer(l).queries(), s * hq * d, (s + 1) * hq * d);
                    float[] k = Arrays.copyOfRange(trace.layer(l).keys(), token * hkv * d, (token + 1) * hkv * d);
                    float[] v = Arrays.copyOfRange(trace.layer(l).values(), token * hkv * d, (token + 1) * hkv * d);
                    long t0 = System.nanoTime();
                    int[][] retrieved = decoder.decode(l, q, k, v, out);
                    stepNanos[s] += System.nanoTime() - t0;
                    boolean profiling = StageProfile.enabled(); // the reference's own attention is not the method's time
                    StageProfile.enable(false);
                    layer.decode(new int[] {seq}, q, k, v, ref);
                    StageProfile.enable(profiling);
                    boolean dense = retrieved == null || !sparseMethod;
                    anySparse |= !dense;
                    if (!scored) continue;

                    int len = layer.length(seq);
                    int[] needles = needleTrace && trace.layer(l).hasPlanted() ? trace.layer(l).plantedAt(s) : null;
                    double[][] perHead = new double[hkv][];
                    IntStream.range(0, hkv).parallel().forEach(h -> {
                        ZoneView zone = layer.zone(seq, h);
                        int[] attended = dense ? IntStream.range(0, len).toArray() : attended(zone, retrieved[h]);
                        float[][] group = new float[g][];
                        double err = 0;
                        for (int i = 0; i < g; i++) {
                            group[i] = Arrays.copyOfRange(q, (h * g + i) * d, (h * g + i + 1) * d);
                            err += Metrics.outputRelError(Arrays.copyOfRange(out, (h * g + i) * d, (h * g + i + 1) * d),
                                    Arrays.copyOfRange(ref, (h * g + i) * d, (h * g + i + 1) * d));
                        }
                        double m = Metrics.attentionMassRecall(group, new StoreRows(zone.keys()), len, attended, scale);
                        double r = Double.NaN;
                        if (!dense && zone.zoneSize() > 0) {
                            // adaptive budget: against the exact top-k at the size this head actually retrieved
                            int kExact = cfg.adaptive() ? Math.max(1, retrieved[h].length) : cfg.topk();
                            int[] exact = OracleTopK.exact(zone, q, h * g * d, kExact, g, d, cfg.gqa());
                            r = Metrics.recallAtK(retrieved[h], exact);
                        }
                        double hit = Double.NaN;
                        if (needles != null && needles.length > 0) hit = Arrays.stream(attended).anyMatch(t -> t == needles[0]) ? 1 : 0;
                        perHead[h] = new double[] {m, err / g, r, hit, dense ? Double.NaN : retrieved[h].length};
                    });
                    for (double[] ph : perHead) {
                        if (!Double.isNaN(ph[4])) {
                            retrievedSum += ph[4];
                            retrievedN++;
                        }
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
        return new EvalResult(methodName, device, trace.name(), trace.tokens(), trace.steps(), cfg.topk(), cfg.gqa().name().toLowerCase().replace('_', '-'),
                recall.summary(), mass.summary(), error.summary(),
                needleTotal == 0 ? Double.NaN : (double) needleHits / needleTotal, median, sparseSteps, stages,
                recallPerStep, retrievalRate, scoredSteps, retrievedN == 0 ? Double.NaN : retrievedSum / retrievedN);
    }

    /** Sink, retrieved and local-window tokens of one head, ascending. */
    private static int[] attended(ZoneView zone, int[] retrieved) {
        int[] t = new int[zone.sinkEnd() + retrieved.length + (zone.length() - zone.zoneEnd())];
        int n = 0;
        for (int i = 0; i < zone.sinkEnd(); i++) t[n++] = i;
        for (int r : retrieved) t[n++] = r;
        for (int i = zone.zoneEnd(); i < zone.length(); i++) t[n++] = i;
        return t;
    }

}
