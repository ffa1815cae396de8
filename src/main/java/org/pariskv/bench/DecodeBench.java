package org.pariskv.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.device.KvPlacement;
import org.pariskv.select.AdaptiveRatios;

/**
 * Per-step latency of one layer's decode on a device: ParisKV (retrieval + sparse attention) against full
 * attention over the whole context, on the same device, same cache, same run. Synthetic keys (a shared
 * offset plus noise, like post-RoPE keys) and values; queries random. Medians over many steps after warm-up;
 * a second pass with per-task device timing gives the breakdown and effective bandwidth. With K/V staged in host
 * memory ({@link KvPlacement#STAGED}) full attention is not run (it would copy the whole context per step).
 */
public final class DecodeBench {
    private DecodeBench() {}

    /** Extra steps of the per-task profiled passes (each of ParisKV and full attention). */
    static final int PROFILED_STEPS = 10;

    /**
     * One (context, batch) measurement. {@code fullMsMedian} and {@code speedup} are NaN when full attention was
     * skipped (staged K/V). {@code h2dBytesPerStep}: host→device bytes per ParisKV step (queries, plan, new rows or
     * staged rows, re-encoded keys), mean over the profiled steps; {@code attendedRowBytesPerStep}: the K/V rows
     * the attention read per step (sink + selected + local, K and V), mean over the same steps.
     * {@code hostBytes} and {@code hostMappedBytes} are at full capacity (host K/V rows reserved);
     * {@code hostKvCommittedBytes}: the host K/V segments in use at the end of the run.
     */
    public record Point(int context, int batch, double parisMsMedian, double fullMsMedian, double speedup,
                        Map<String, Double> parisTaskUs, Map<String, Double> fullTaskUs,
                        Map<String, Double> taskGBps, long deviceBytes, String kvMemory, long hostMappedBytes,
                        long hostBytes, long hostKvCommittedBytes, double h2dBytesPerStep, double attendedRowBytesPerStep,
                        double parisDeviceMsMedian, double fullDeviceMsMedian) {
        /** Full attention over ParisKV by device step time (queue marks: no host waits), NaN without full attention. */
        public double deviceSpeedup() {
            return fullDeviceMsMedian / parisDeviceMsMedian;
        }
    }

    /** Tokens per sequence the decoder of a {@code context} point holds (the profiled passes add steps). */
    public static int capacity(int context) {
        return context + PROFILED_STEPS * 2;
    }

    public static Point run(Backend backend, ModelShape layer, ParisKvConfig cfg, int context, int batch,
                            int warmup, int steps, IntConsumer progress) {
        return run(backend, layer, cfg, context, batch, warmup, steps, DeviceDecoder.Options.defaults(), progress);
    }

    public static Point run(Backend backend, ModelShape layer, ParisKvConfig cfg, int context, int batch,
                            int warmup, int steps, DeviceDecoder.Options options, IntConsumer progress) {
        int hkv = layer.kvHeads(), d = layer.headDim(), hq = layer.queryHeads();
        int prompt = context - warmup - 2 * steps;
        if (prompt <= cfg.sink() + cfg.local()) throw new IllegalArgumentException("context " + context + " too small for " + (warmup + 2 * steps) + " bench steps");
        boolean withFull = options.placement() != KvPlacement.STAGED; // staged K/V: full attention is refused
        try (DeviceDecoder dec = new DeviceDecoder(backend, layer, cfg, batch, capacity(context), options)) {
            for (int b = 0; b < batch; b++) {
                float[][] kv = synthetic(prompt, hkv, d, 1000L + b);
                dec.prefill(b, kv[0], kv[1], prompt);
            }
            SplittableRandom rnd = new SplittableRandom(7);
            float[] q = new float[batch * hq * d], k = new float[batch * hkv * d], v = new float[batch * hkv * d], out = new float[batch * hq * d];
            long[] paris = new long[withFull ? steps : 2 * steps], full = new long[withFull ? steps : 0];
            long[] parisDev = new long[paris.length], fullDev = new long[full.length]; // device step time (queue marks)
            int done = 0;
            for (int i = 0; i < warmup + 2 * steps; i++) {
                fill(rnd, q, 1f);
                fill(rnd, k, 1f);
                fill(rnd, v, 1f);
                boolean dense = withFull && i >= warmup && ((i - warmup) & 1) == 1; // interleave: same cache state for both
                if (i == warmup) dec.timeSteps(true);
                long t0 = System.nanoTime();
                dec.decode(q, k, v, out, dense && i >= warmup);
                dec.finish();
                long dt = System.nanoTime() - t0;
                if (i >= warmup) {
                    int j = (i - warmup) / 2;
                    long dev = dec.lastStepDeviceNanos();
                    if (!withFull) {
                        paris[i - warmup] = dt;
                        parisDev[i - warmup] = dev;
                    } else if (dense) {
                        full[j] = dt;
                        fullDev[j] = dev;
                    } else {
                        paris[j] = dt;
                        parisDev[j] = dev;
                    }
                }
                if (progress != null) progress.accept(++done);
            }
            dec.timeSteps(false);
            // per-task device time: profiled passes (each kernel waited for)
            dec.profile(true);
            long h2d0 = dec.hostToDeviceBytes();
            double attended = 0;
            for (int i = 0; i < PROFILED_STEPS; i++) {
                fill(rnd, q, 1f);
                dec.decode(q, k, v, out, false);
                attended += dec.attendedRowBytes();
            }
            double h2dPerStep = (dec.hostToDeviceBytes() - h2d0) / (double) PROFILED_STEPS;
            Map<String, long[]> pNs = dec.profileNanos();
            dec.profile(true);
            for (int i = 0; withFull && i < PROFILED_STEPS; i++) {
                fill(rnd, q, 1f);
                dec.decode(q, k, v, out, true);
            }
            Map<String, long[]> fNs = dec.profileNanos();
            double pm = median(paris) / 1e6, fm = withFull ? median(full) / 1e6 : Double.NaN;
            Map<String, Double> pUs = perCallUs(pNs), fUs = perCallUs(fNs);
            Map<String, Double> gbps = bandwidth(layer, cfg, context, batch, pUs, fUs);
            Double copyUs = pUs.get("stagingCopy"); // staged: the measured rows over the measured copy time
            if (copyUs != null && copyUs > 0) gbps.put("stagingCopy", attended / PROFILED_STEPS / (copyUs * 1e3));
            return new Point(context, batch, pm, fm, fm / pm, pUs, fUs, gbps,
                    dec.deviceBytes(), dec.kvMemory().name(), dec.hostMappedBytes(), dec.hostBytes(), dec.hostKvCommittedBytes(), h2dPerStep,
                    attended / PROFILED_STEPS, median(parisDev) / 1e6, withFull ? median(fullDev) / 1e6 : Double.NaN);
        }
    }

    /** Bytes each kernel must at least read (index, rows), over its measured time: GB/s. */
    static Map<String, Double> bandwidth(ModelShape layer, ParisKvConfig cfg, int context, int batch, Map<String, Double> p, Map<String, Double> f) {
        int hkv = layer.kvHeads(), d = layer.headDim(), blocks = layer.blocks();
        long streams = (long) batch * hkv;
        int nq = cfg.gqa() == GqaMode.PER_HEAD ? layer.groupSize() : 1;
        int n = context - cfg.sink() - cfg.local(); // approximately the zone
        int cand = AdaptiveRatios.forZone(n, cfg.candidateRatio(), cfg.collisionRatio()).candidates(n);
        Map<String, Double> gbps = new LinkedHashMap<>();
        put(gbps, "collisionScores", streams * n * blocks, p);
        put(gbps, "rerank", streams * nq * (long) cand * (d / 2 + 2 * blocks + 4), p);
        long attended = cfg.sink() + cfg.topk() + cfg.local() + cfg.interval() / 2;
        put(gbps, "sparseAttention", streams * attended * d * 4, p);
        put(gbps, "sparseAttentionStaged", streams * attended * d * 4, p);
        Map<String, Double> fullOnly = new LinkedHashMap<>();
        put(fullOnly, "sparseAttention", streams * (long) context * d * 4, f);
        if (fullOnly.containsKey("sparseAttention")) gbps.put("fullAttention", fullOnly.get("sparseAttention"));
        return gbps;
    }

    private static void put(Map<String, Double> m, String task, long bytes, Map<String, Double> us) {
        Double t = us.get(task);
        if (t != null && t > 0) m.put(task, bytes / (t * 1e3));
    }

    private static Map<String, Double> perCallUs(Map<String, long[]> ns) {
        Map<String, Double> m = new LinkedHashMap<>();
        ns.forEach((k, v) -> m.put(k, v[0] / 1e3 / PROFILED_STEPS)); // summed over the profiled steps -> per step
        return m;
    }

    /** Keys with a shared offset direction plus noise, values noise; rows {@code [tokens][Hkv][D]}. */
    static float[][] synthetic(int tokens, int hkv, int d, long seed) {
        float[] k = new float[tokens * hkv * d], v = new float[tokens * hkv * d];
        float[] offset = new float[hkv * d];
        SplittableRandom base = new SplittableRandom(seed);
        for (int i = 0; i < offset.length; i++) offset[i] = (float) base.nextDouble(-1, 1);
        int parts = 64;
        IntStream.range(0, parts).parallel().forEach(p -> {
            SplittableRandom r = new SplittableRandom(seed * 31 + p);
            int from = (int) ((long) tokens * p / parts), to = (int) ((long) tokens * (p + 1) / parts);
            for (int t = from; t < to; t++) {
                int o = t * hkv * d;
                for (int i = 0; i < hkv * d; i++) {
                    k[o + i] = offset[i] + (float) r.nextDouble(-1, 1);
                    v[o + i] = (float) r.nextDouble(-1, 1);
                }
            }
        });
        return new float[][] {k, v};
    }

    private static void fill(SplittableRandom r, float[] a, float scale) {
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-scale, scale);
    }

    /** The median of nanosecond timings, in ms. */
    static double medianMs(long[] nanos) {
        return median(nanos) / 1e6;
    }

    /** The fastest of nanosecond timings, in ms. */
    static double bestMs(long[] nanos) {
        return Arrays.stream(nanos).min().orElse(0) / 1e6;
    }

    private static double median(long[] a) {
        long[] s = a.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s[s.length / 2];
    }

    public static List<String> taskOrder() {
        return new ArrayList<>(DeviceDecoder.TASKS);
    }
}
