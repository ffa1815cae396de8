package org.pariskv.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.device.InsufficientMemoryException;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.MemoryBudget;
import org.pariskv.device.MemoryPlan;
import org.pariskv.model.DeviceLlama;
import org.pariskv.model.LlamaConfig;

/**
 * A whole model's decode speed at a real shape: a {@link DeviceLlama#random} model (the configuration's weights
 * generated on the device), every layer prefilled with the same synthetic K/V rows ({@link DecodeBench#synthetic}:
 * a prefill's content does not change a step's cost), then token steps in which ParisKV and exact full attention
 * alternate in the same model, so both are timed side by side on the same caches. A step is timed on the host from
 * the token's upload to its logits read back (the host waits once a token). The share of the weights and the rest is
 * the same graphs run without attention ({@link DeviceLlama#nonAttentionMillis}).
 */
public final class WholeModelBench {
    private WholeModelBench() {}

    /**
     * What one (context, batch) point measured; ms per token step (all sequences of the batch advance one token).
     *
     * @param nonAttentionMs    the step without attention (weights, norms, RoPE, LM head; no decoder)
     * @param weightBytes       bytes of the matrices one step reads (all but the embedding table)
     * @param deviceBytes       the plan's device bytes: weights, K/V and index of every layer
     * @param parisEnqueueMs    the host's median time in a ParisKV step before it waits for the logits
     * @param nonAttentionTaskUs device µs a step of each kernel of the step without attention, by kernel and grid
     * @param parisTaskUs       device µs of each decoder task in one ParisKV step, summed over the layers (launch by launch)
     * @param fullTaskUs        the same for one full-attention step
     */
    public record Point(String model, int context, int batch, int steps, double parisMs, double parisBestMs, double fullMs, double fullBestMs,
                        double nonAttentionMs, long weightBytes, long deviceBytes, double peakBytesPerSec, double prefillSeconds,
                        double parisEnqueueMs, double fullEnqueueMs, Map<String, Double> nonAttentionTaskUs,
                        Map<String, Double> parisTaskUs, Map<String, Double> fullTaskUs) {

        public Point {
            nonAttentionTaskUs = frozen(nonAttentionTaskUs);
            parisTaskUs = frozen(parisTaskUs);
            fullTaskUs = frozen(fullTaskUs);
        }

        private static Map<String, Double> frozen(Map<String, Double> m) {
            return m == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(m));
        }

        public double parisTokensPerSec() {
            return batch * 1000.0 / parisMs;
        }

        public double fullTokensPerSec() {
            return batch * 1000.0 / fullMs;
        }

        public double speedup() {
            return fullMs / parisMs;
        }

        /** Effective bandwidth of the step without attention: the weights' bytes over its time. */
        public double weightGBps() {
            return weightBytes / (nonAttentionMs * 1e-3) / 1e9;
        }

        /** The weights' bytes at the device's peak bandwidth, in ms (0 when the peak is unknown). */
        public double weightFloorMs() {
            return peakBytesPerSec > 0 ? weightBytes / peakBytesPerSec * 1e3 : 0;
        }
    }

    /** Bytes of the matrices a decode step reads: every weight but the embedding table (one row of it is read). */
    public static long weightBytes(LlamaConfig c) {
        long all = 2 * c.parameters();
        return c.tieWordEmbeddings() ? all : all - 2L * c.vocabSize() * c.hiddenSize();
    }

    /** Device bytes of the model at {@code context} tokens a sequence: bf16 weights plus every layer's decoder. */
    public static long deviceBytes(LlamaConfig c, ParisKvConfig kv, int context, int batch, Backend backend) {
        return org.pariskv.model.ModelMemoryPlan.of("model", c, kv, context, batch, KvPlacement.DEVICE, backend.device().backend()).deviceBytes();
    }

    /**
     * The device bytes of a point, refused (before anything is allocated) when they exceed what the device has free
     * or {@code deviceCap} (0: no cap).
     */
    public static long requireFits(String name, LlamaConfig c, ParisKvConfig kv, int context, int batch, Backend backend, long deviceCap) {
        long need = deviceBytes(c, kv, context, batch, backend);
        long free = MemoryBudget.of(backend, deviceCap, 0).deviceFree();
        if (free >= 0 && need > free) {
            throw new InsufficientMemoryException(String.format(java.util.Locale.ROOT,
                    "bench --model %s at context %d, batch %d needs %s of device memory (weights %s, K/V and index %s) but %s is free",
                    name, context, batch, MemoryPlan.gib(need), MemoryPlan.gib(2 * c.parameters()), MemoryPlan.gib(need - 2 * c.parameters()),
                    MemoryPlan.gib(free)));
        }
        return need;
    }

    /**
     * Runs one point: {@code context} tokens a sequence at the end ({@code context - warmup - 2 steps} prefilled),
     * {@code warmup} untimed steps of each method, then {@code steps} timed steps of each, alternating.
     *
     * @throws InsufficientMemoryException before allocating anything when the model does not fit the device
     */
    public static Point run(String name, LlamaConfig c, Backend backend, ParisKvConfig kv, int context, int batch, int warmup, int steps,
                            boolean cudaGraphs, long deviceCap, IntConsumer progress) {
        int prompt = context - 2 * (warmup + steps) - 2; // and one profiled step of each method
        if (prompt <= kv.sink() + kv.local()) throw new IllegalArgumentException("context " + context + " is too small for " + 2 * (warmup + steps) + " bench steps");
        long need = requireFits(name, c, kv, context, batch, backend, deviceCap);
        try (DeviceLlama m = DeviceLlama.random(c, 20261203L, backend, kv, false, batch, context, cudaGraphs)) {
            long t0 = System.nanoTime();
            int chunk = Math.min(prompt, 1 << 16);
            float[][] rows = DecodeBench.synthetic(chunk, c.kvHeads(), c.headDim(), 7919L);
            DeviceLlama.LayerRows same = (layer, from, n) -> n == chunk ? rows
                    : new float[][] {java.util.Arrays.copyOf(rows[0], n * c.kvHeads() * c.headDim()), java.util.Arrays.copyOf(rows[1], n * c.kvHeads() * c.headDim())};
            for (int b = 0; b < batch; b++) {
                int seq = b;
                m.prefillKv(seq, same, prompt, chunk, seq == batch - 1 ? progress : null);
            }
            backend.finish();
            double prefillSeconds = (System.nanoTime() - t0) / 1e9;
            SplittableRandom rnd = new SplittableRandom(3);
            int[] tokens = new int[batch];
            for (int s = 0; s < warmup; s++) {
                step(m, tokens, rnd, false);
                step(m, tokens, rnd, true);
            }
            long[] paris = new long[steps], full = new long[steps], parisHost = new long[steps], fullHost = new long[steps];
            for (int s = 0; s < steps; s++) {
                paris[s] = step(m, tokens, rnd, false);
                parisHost[s] = m.lastEnqueueNanos();
                full[s] = step(m, tokens, rnd, true);
                fullHost[s] = m.lastEnqueueNanos();
            }
            double nonAttention = m.nonAttentionMillis(Math.max(3, steps / 2));
            Map<String, Double> tasks = new LinkedHashMap<>();
            for (var t : m.profileNonAttention()) {
                tasks.merge(t.task() + " " + java.util.Arrays.toString(t.grid().global()), t.kernelNanos() / 1e3, Double::sum);
            }
            Map<String, Double> parisTasks = new LinkedHashMap<>(), fullTasks = new LinkedHashMap<>();
            m.profileAttention(tokens, false).forEach((t, v) -> parisTasks.put(t, v[0]));
            m.profileAttention(tokens, true).forEach((t, v) -> fullTasks.put(t, v[0]));
            return new Point(name, context, batch, steps, DecodeBench.medianMs(paris), DecodeBench.bestMs(paris), DecodeBench.medianMs(full),
                    DecodeBench.bestMs(full), nonAttention, weightBytes(c), need, backend.device().peakBandwidthBytesPerSec(), prefillSeconds,
                    DecodeBench.medianMs(parisHost), DecodeBench.medianMs(fullHost), tasks, parisTasks, fullTasks);
        }
    }

    /** One token step of every sequence (random tokens), timed on the host; nanoseconds. */
    private static long step(DeviceLlama m, int[] tokens, SplittableRandom rnd, boolean dense) {
        for (int b = 0; b < tokens.length; b++) tokens[b] = rnd.nextInt(m.config().vocabSize());
        long a = System.nanoTime();
        m.decode(tokens, dense);
        return System.nanoTime() - a;
    }

    /** A point as a JSON object (bench.json). */
    public static Map<String, Object> toMap(Point p) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", p.model());
        r.put("context", p.context());
        r.put("batch", p.batch());
        r.put("steps", p.steps());
        r.put("pariskv_ms_per_token", p.parisMs());
        r.put("pariskv_best_ms", p.parisBestMs());
        r.put("pariskv_tokens_per_s", p.parisTokensPerSec());
        r.put("full_ms_per_token", p.fullMs());
        r.put("full_best_ms", p.fullBestMs());
        r.put("full_tokens_per_s", p.fullTokensPerSec());
        r.put("speedup", p.speedup());
        r.put("non_attention_ms", p.nonAttentionMs());
        r.put("pariskv_attention_ms", p.parisMs() - p.nonAttentionMs());
        r.put("full_attention_ms", p.fullMs() - p.nonAttentionMs());
        r.put("weight_bytes", p.weightBytes());
        r.put("weight_gbps", p.weightGBps());
        r.put("weight_floor_ms", p.weightFloorMs());
        r.put("device_bytes", p.deviceBytes());
        r.put("prefill_s", p.prefillSeconds());
        r.put("pariskv_host_enqueue_ms", p.parisEnqueueMs());
        r.put("full_host_enqueue_ms", p.fullEnqueueMs());
        r.put("non_attention_task_us", p.nonAttentionTaskUs());
        r.put("pariskv_attention_task_us", p.parisTaskUs());
        r.put("full_attention_task_us", p.fullTaskUs());
        return r;
    }
}
