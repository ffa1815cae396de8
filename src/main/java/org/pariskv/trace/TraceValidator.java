package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.List;

/**
 * Checks a trace: structure (array lengths, planted positions) and finiteness of every value.
 * Every failure is an {@link IllegalArgumentException} whose message names the array kind
 * ({@code keys}, {@code values}, {@code queries}), the layer, the head and the position (token or step).
 */
public final class TraceValidator {

    private TraceValidator() {}

    /** Full check: {@link #checkStructure} and no NaN/Inf in keys, values or queries. */
    public static void validate(Trace trace) {
        checkStructure(trace.shape(), trace.promptTokens(), trace.steps(), trace.layers());
        ModelShape s = trace.shape();
        for (int l = 0; l < trace.layers().size(); l++) {
            LayerTrace layer = trace.layers().get(l);
            checkFinite("keys", l, layer.keys(), s.kvHeads(), s.headDim(), "token");
            checkFinite("values", l, layer.values(), s.kvHeads(), s.headDim(), "token");
            checkFinite("queries", l, layer.queries(), s.queryHeads(), s.headDim(), "step");
        }
    }

    /**
     * Checks array lengths against the shape and the planted positions against the context of each step.
     * Called by the {@link Trace} constructor.
     */
    public static void checkStructure(ModelShape shape, int promptTokens, int steps, List<LayerTrace> layers) {
        if (promptTokens < 0) {
            throw new IllegalArgumentException("promptTokens must be >= 0, got " + promptTokens);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        if (layers.size() != shape.layers()) {
            throw new IllegalArgumentException("trace has " + layers.size() + " layers but shape says "
                    + shape.layers());
        }
        long tokens = (long) promptTokens + steps;
        long kvLen = shape.kvLength((int) Math.min(tokens, Integer.MAX_VALUE));
        long qLen = shape.queryLength(steps);
        if (tokens > Integer.MAX_VALUE || kvLen > Integer.MAX_VALUE - 8 || qLen > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("trace too large for one float[] per layer: " + tokens
                    + " tokens x " + shape.kvHeads() + " KV heads x " + shape.headDim() + " dims");
        }
        for (int l = 0; l < layers.size(); l++) {
            LayerTrace layer = layers.get(l);
            if (layer == null) {
                throw new IllegalArgumentException("layer " + l + " is null");
            }
            checkLength("keys", l, layer.keys().length, kvLen,
                    tokens + " tokens x " + shape.kvHeads() + " KV heads x " + shape.headDim());
            checkLength("values", l, layer.values().length, kvLen,
                    tokens + " tokens x " + shape.kvHeads() + " KV heads x " + shape.headDim());
            checkLength("queries", l, layer.queries().length, qLen,
                    steps + " steps x " + shape.queryHeads() + " query heads x " + shape.headDim());
            if (layer.planted() != null) {
                if (layer.planted().length != steps) {
                    throw new IllegalArgumentException("layer " + l + ": planted has " + layer.planted().length
                            + " entries, expected one per step (" + steps + ")");
                }
                for (int s = 0; s < steps; s++) {
                    checkPositions(layer.planted()[s], l, s, -1, promptTokens + s + 1);
                }
            }
            if (layer.plantedByHead() != null) {
                long expected = (long) steps * shape.queryHeads();
                if (layer.plantedByHead().length != expected) {
                    throw new IllegalArgumentException("layer " + l + ": plantedByHead has "
                            + layer.plantedByHead().length + " entries, expected steps x queryHeads = " + expected);
                }
                for (int i = 0; i < expected; i++) {
                    int s = i / shape.queryHeads();
                    checkPositions(layer.plantedByHead()[i], l, s, i % shape.queryHeads(), promptTokens + s + 1);
                }
            }
        }
    }

    private static void checkLength(String kind, int layer, int actual, long expected, String what) {
        if (actual != expected) {
            throw new IllegalArgumentException(kind + " of layer " + layer + " has " + actual
                    + " floats, expected " + expected + " (" + what + ")");
        }
    }

    private static void checkPositions(int[] positions, int layer, int step, int head, int context) {
        String where = "layer " + layer + (head >= 0 ? ", query head " + head : "") + ", step " + step;
        if (positions == null) {
            throw new IllegalArgumentException("planted positions of " + where + " are null");
        }
        for (int p : positions) {
            if (p < 0 || p >= context) {
                throw new IllegalArgumentException("planted position " + p + " of " + where
                        + " is outside the step's context [0, " + context + ")");
            }
        }
    }

    /**
     * Throws if {@code data} (rows of {@code heads × dim}) holds a NaN or infinity, naming
     * kind, layer, head, position ({@code positionName} = "token" or "step"), channel and value.
     */
    public static void checkFinite(String kind, int layer, float[] data, int heads, int dim, String positionName) {
        for (int i = 0; i < data.length; i++) {
            float x = data[i];
            if (!Float.isFinite(x)) {
                int row = i / dim;
                throw new IllegalArgumentException("non-finite value " + x + " in " + kind + " at layer " + layer
                        + ", head " + (row % heads) + ", " + positionName + " " + (row / heads)
                        + ", channel " + (i % dim));
            }
        }
    }
}
