package org.pariskv.eval;

import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.compute.Backend;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.method.RetrievalMethod;

/** What an evaluation drives: one sequence decoded layer by layer, on the Java engine or a device. */
interface StepDecoder extends AutoCloseable {

    void prefill(int layer, float[] keys, float[] values, int tokens);

    /**
     * Appends the step's token and attends; returns per KV head the retrieved absolute token positions, or
     * null when the layer attended densely.
     */
    int[][] decode(int layer, float[] q, float[] k, float[] v, float[] out);

    @Override
    void close();

    /** The Java engine: {@link KvCache} under any method. */
    static StepDecoder java(ModelShape shape, ParisKvConfig cfg, RetrievalMethod method) {
        KvCache cache = KvCache.create(shape, cfg, method);
        int seq = cache.newSequence();
        return new StepDecoder() {
            @Override
            public void prefill(int layer, float[] keys, float[] values, int tokens) {
                cache.layer(layer).prefill(seq, keys, values, tokens);
            }

            @Override
            public int[][] decode(int layer, float[] q, float[] k, float[] v, float[] out) {
                Attended a = cache.layer(layer).decode(new int[] {seq}, q, k, v, out)[0];
                return a.dense() ? null : a.retrievedPerKvHead();
            }

            @Override
            public void close() {
                cache.close();
            }
        };
    }

    /** ParisKV on an OpenCL/CUDA device: one {@link DeviceDecoder} per layer. */
    static StepDecoder device(Backend backend, ModelShape shape, ParisKvConfig cfg, int capacity, DeviceDecoder.Options options) {
        DeviceDecoder[] layers = new DeviceDecoder[shape.layers()];
        try {
            for (int l = 0; l < layers.length; l++) layers[l] = new DeviceDecoder(backend, shape.withLayers(1), cfg, 1, capacity, options);
        } catch (RuntimeException | Error e) {
            for (DeviceDecoder d : layers) if (d != null) d.close();
            throw e;
        }
        return new StepDecoder() {
            @Override
            public void prefill(int layer, float[] keys, float[] values, int tokens) {
                layers[layer].prefill(0, keys, values, tokens);
            }

            @Override
            public int[][] decode(int layer, float[] q, float[] k, float[] v, float[] out) {
                DeviceDecoder dec = layers[layer];
                dec.decode(q, k, v, out, false);
                if (dec.length(0) < cfg.denseBelow()) return null;
                int[][] sel = new int[shape.kvHeads()][];
                int zoneStart = Math.min(cfg.sink(), dec.length(0));
                for (int h = 0; h < sel.length; h++) {
                    sel[h] = dec.selected(h);
                    for (int i = 0; i < sel[h].length; i++) sel[h][i] += zoneStart;
                }
                return sel;
            }

            @Override
            public void close() {
                for (DeviceDecoder d : layers) d.close();
            }
        };
    }
}
