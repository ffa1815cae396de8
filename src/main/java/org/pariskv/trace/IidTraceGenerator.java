package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * {@code iid}: every coordinate of every key, value and query is an independent N(0, 1) draw.
 * No structure, no planted tokens: a sanity trace on which every retriever should be mediocre and
 * exact top-k is essentially random.
 */
public final class IidTraceGenerator implements TraceGenerator {

    @Override
    public String name() {
        return "iid";
    }

    @Override
    public Trace generate(ModelShape shape, int promptTokens, int steps, long seed) {
        if (promptTokens < 1 || steps < 1) {
            throw new IllegalArgumentException("promptTokens and steps must be >= 1, got " + promptTokens
                    + " and " + steps);
        }
        int tokens = promptTokens + steps;
        int hkv = shape.kvHeads();
        int d = shape.headDim();
        int g = shape.groupSize();
        int layers = shape.layers();
        float[][] k = new float[layers][(int) shape.kvLength(tokens)];
        float[][] v = new float[layers][(int) shape.kvLength(tokens)];
        float[][] q = new float[layers][(int) shape.queryLength(steps)];
        IntStream.range(0, layers * hkv).parallel().forEach(task -> {
            int l = task / hkv;
            int h = task % hkv;
            SplittableRandom rk = Synth.stream(seed, Synth.STREAM_KEYS, l, h);
            SplittableRandom rv = Synth.stream(seed, Synth.STREAM_VALUES, l, h);
            SplittableRandom rq = Synth.stream(seed, Synth.STREAM_QUERIES, l, h);
            for (int t = 0; t < tokens; t++) {
                Synth.gaussian(rk, k[l], (t * hkv + h) * d, d, 1);
                Synth.gaussian(rv, v[l], (t * hkv + h) * d, d, 1);
            }
            for (int s = 0; s < steps; s++) {
                for (int i = 0; i < g; i++) {
                    Synth.gaussian(rq, q[l], (s * shape.queryHeads() + h * g + i) * d, d, 1);
                }
            }
        });
        List<LayerTrace> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            out.add(new LayerTrace(k[l], v[l], q[l]));
        }
        return new Trace("iid", shape, promptTokens, steps, out, Map.of("generator", "iid", "seed", Long.toString(seed)));
    }
}
