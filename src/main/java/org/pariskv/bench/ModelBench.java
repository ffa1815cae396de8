package org.pariskv.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.metrics.FloatRows;
import org.pariskv.metrics.KeyRows;
import org.pariskv.metrics.Metrics;
import org.pariskv.select.GroupMerge;

/**
 * A whole model's decode step on one device: every layer has its own {@link DeviceDecoder} (K/V offloaded to host
 * memory when asked), prefilled with synthetic keys, then decode steps run layer after layer as an engine would.
 * Each query head looks at its own planted key (heads of a group disagree, as in real GQA models), so exact
 * attention is concentrated and retrieval quality is measurable: after the timed steps, sampled (layer, KV head)
 * pairs are scored against exact attention computed on the host from the very rows the device reads.
 */
public final class ModelBench {
    private ModelBench() {}

    /**
     * What a run measured; {@code hostMappedBytes}: host memory of all layers at full capacity (host-mapped buffers,
     * and staged K/V rows with --kv staged); {@code hostKvCommittedBytes}: the host K/V segments of all layers in use
     * at the end of the run.
     */
    public record Result(int layers, int context, int steps, double msPerStepMedian, double msPerStepBest, double deviceMsPerStepMedian,
                         double prefillSeconds, long deviceBytes, long hostMappedBytes, long hostKvCommittedBytes, String kvMemory,
                         double recallAtK, double attentionMassRecall, double outputRelError, int samples) {}

    private static final int CHUNK = 1 << 16;
    private static final float FOCUS = 5f; // query = FOCUS x its target key (+ noise): a concentrated, realistic softmax

    public static Result run(Backend backend, ModelShape model, ParisKvConfig cfg, int context, int steps,
                             DeviceDecoder.Options options, int samples, java.util.function.IntConsumer progress) {
        return run(backend, model, cfg, context, 0, steps, options, samples, progress);
    }

    /**
     * As above after {@code warmup} untimed whole-model steps (the host side of a step JIT-compiled). Each timed step is
     * also timed on the device: the sum over layers of each layer's step between queue marks ({@link
     * DeviceDecoder#timeSteps}), i.e. without the host's wait for each layer's output.
     */
    public static Result run(Backend backend, ModelShape model, ParisKvConfig cfg, int context, int warmup, int steps,
                             DeviceDecoder.Options options, int samples, java.util.function.IntConsumer progress) {
        int layers = model.layers(), hkv = model.kvHeads(), hq = model.queryHeads(), d = model.headDim(), g = model.groupSize();
        int prompt = context - steps - warmup;
        if (prompt <= cfg.sink() + cfg.local()) throw new IllegalArgumentException("context " + context + " too small for " + (warmup + steps) + " bench steps");
        ModelShape layer = model.withLayers(1);
        List<DeviceDecoder> decs = new ArrayList<>();
        try {
            long t0 = System.nanoTime();
            for (int l = 0; l < layers; l++) {
                DeviceDecoder dec = new DeviceDecoder(backend, layer, cfg, 1, context + 8, options);
                decs.add(dec);
                for (int done = 0; done < prompt; done += CHUNK) {
                    int n = Math.min(CHUNK, prompt - done);
                    float[][] kv = DecodeBench.synthetic(n, hkv, d, 7919L * l + done);
                    dec.prefill(0, kv[0], kv[1], n);
                }
                if (progress != null) progress.accept(l);
            }
            double prefillSeconds = (System.nanoTime() - t0) / 1e9;
            SplittableRandom rnd = new SplittableRandom(11);
            float[] out = new float[hq * d];
            float[][] q = new float[layers][];
            long[] stepNanos = new long[steps], deviceNanos = new long[steps];
            for (int s = -warmup; s < steps; s++) {
                if (s == 0) for (DeviceDecoder dec : decs) dec.timeSteps(true);
                for (int l = 0; l < layers; l++) q[l] = plantedQueries(decs.get(l), rnd, hkv, g, d, cfg.sink());
                float[] k = random(rnd, hkv * d), v = random(rnd, hkv * d);
                long a = System.nanoTime(), dev = 0;
                for (int l = 0; l < layers; l++) {
                    decs.get(l).decode(q[l], k, v, out, false);
                    dev += decs.get(l).lastStepDeviceNanos();
                }
                if (s < 0) continue;
                stepNanos[s] = System.nanoTime() - a;
                deviceNanos[s] = dev;
            }
            for (DeviceDecoder dec : decs) dec.timeSteps(false);
            // quality at the last step, for sampled (layer, KV head): exact attention from the device's own rows
            double recall = 0, mass = 0, err = 0;
            int scored = 0;
            for (int i = 0; i < samples; i++) {
                int l = (int) ((long) i * layers / Math.max(1, samples)), h = i % hkv;
                DeviceDecoder dec = decs.get(l);
                float[] devOut = new float[hq * d];
                dec.decode(q[l], random(rnd, hkv * d), random(rnd, hkv * d), devOut, false); // one more step, scored
                double[] m = score(dec, q[l], devOut, h, g, d, cfg);
                recall += m[0];
                mass += m[1];
                err += m[2];
                scored++;
            }
            long[] sorted = stepNanos.clone();
            Arrays.sort(sorted);
            long[] sortedDevice = deviceNanos.clone();
            Arrays.sort(sortedDevice);
            long device = 0, host = 0, committed = 0;
            for (DeviceDecoder dec : decs) {
                device += dec.deviceBytes();
                host += dec.hostBytes(); // host-mapped buffers and, when staged, the decoder's own K/V rows
                committed += dec.hostKvCommittedBytes();
            }
            return new Result(layers, context, steps, sorted[steps / 2] / 1e6, sorted[0] / 1e6, sortedDevice[steps / 2] / 1e6, prefillSeconds, device, host, committed,
                    decs.getFirst().kvMemory().toString(), recall / scored, mass / scored, err / scored, scored);
        } finally {
            for (DeviceDecoder dec : decs) dec.close();
        }
    }

    /** Each query head points at its own random key of the zone (scaled), plus noise. */
    private static float[] plantedQueries(DeviceDecoder dec, SplittableRandom rnd, int hkv, int g, int d, int sink) {
        float[] q = new float[hkv * g * d];
        int zoneEnd = dec.zoneEnd(0);
        for (int h = 0; h < hkv; h++) {
            for (int j = 0; j < g; j++) {
                int target = sink + rnd.nextInt(Math.max(1, zoneEnd - sink));
                float[] row = dec.rows(true, h, target, 1);
                int o = (h * g + j) * d;
                for (int i = 0; i < d; i++) q[o + i] = FOCUS * row[i] + (float) rnd.nextDouble(-0.5, 0.5);
            }
        }
        return q;
    }

    /** {recall@k, attention-mass recall, output relative error} of one KV head's group at the decoder's last step. */
    private static double[] score(DeviceDecoder dec, float[] q, float[] devOut, int h, int g, int d, ParisKvConfig cfg) {
        int len = dec.length(0), zoneStart = Math.min(cfg.sink(), len), zoneEnd = dec.zoneEnd(0);
        float[] keys = dec.rows(true, h, 0, len), values = dec.rows(false, h, 0, len);
        KeyRows kr = new FloatRows(keys, d, 0, d), vr = new FloatRows(values, d, 0, d);
        int[] sel = dec.selected(h);
        int[] attended = new int[zoneStart + sel.length + (len - zoneEnd)];
        int n = 0;
        for (int t = 0; t < zoneStart; t++) attended[n++] = t;
        for (int z : sel) attended[n++] = zoneStart + z;
        for (int t = zoneEnd; t < len; t++) attended[n++] = t;
        float scale = (float) (1.0 / Math.sqrt(d));
        float[][] group = new float[g][];
        double err = 0;
        int k = Math.min(cfg.topk(), zoneEnd - zoneStart);
        int[][] lists = new int[g][];
        int[] lengths = new int[g];
        for (int j = 0; j < g; j++) {
            group[j] = Arrays.copyOfRange(q, (h * g + j) * d, (h * g + j + 1) * d);
            float[] exact = new float[d];
            Metrics.fullAttentionOutput(group[j], kr, vr, len, scale, exact);
            err += Metrics.outputRelError(Arrays.copyOfRange(devOut, (h * g + j) * d, (h * g + j + 1) * d), exact);
            lists[j] = Metrics.exactTopK(group[j], kr, zoneStart, zoneEnd, k);
            lengths[j] = lists[j].length;
        }
        int[] exactSel;
        if (cfg.gqa() == GqaMode.MEAN) {
            float[] mean = new float[d];
            for (float[] x : group) for (int i = 0; i < d; i++) mean[i] += x[i];
            for (int i = 0; i < d; i++) mean[i] /= g;
            exactSel = Metrics.exactTopK(mean, kr, zoneStart, zoneEnd, k);
        } else {
            exactSel = GroupMerge.roundRobin(lists, lengths, k);
        }
        int[] retrieved = Arrays.stream(sel).map(z -> z + zoneStart).toArray();
        double recall = Metrics.recallAtK(retrieved, exactSel);
        double m = Metrics.attentionMassRecall(group, kr, len, attended, scale);
        return new double[] {recall, m, err / g};
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }

    /** The result as a JSON-ready map. */
    public static Map<String, Object> toMap(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layers", r.layers());
        m.put("context", r.context());
        m.put("steps", r.steps());
        m.put("ms_per_step_median", r.msPerStepMedian());
        m.put("ms_per_step_best", r.msPerStepBest());
        m.put("device_ms_per_step_median", r.deviceMsPerStepMedian());
        m.put("prefill_seconds", r.prefillSeconds());
        m.put("device_bytes", r.deviceBytes());
        m.put("host_mapped_bytes", r.hostMappedBytes());
        m.put("host_kv_committed_bytes", r.hostKvCommittedBytes());
        m.put("kv_memory", r.kvMemory());
        m.put("recall_at_k", r.recallAtK());
        m.put("attention_mass_recall", r.attentionMassRecall());
        m.put("output_rel_error", r.outputRelError());
        m.put("scored_samples", r.samples());
        return m;
    }
}
