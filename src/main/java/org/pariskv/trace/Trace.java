package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A decode trace: prompt KV plus {@code steps} decode steps, for {@code shape.layers()} layers.
 *
 * <p>Decode semantics: step {@code s} (0-based) first appends token {@code promptTokens + s} (its K/V
 * rows), then attends with query row {@code s}. The context of step {@code s} is therefore tokens
 * {@code [0, promptTokens + s + 1)} ({@link #contextAt(int)}), and the trace holds
 * {@link #tokens()} {@code = promptTokens + steps} K/V rows per layer and head.
 *
 * <p>The constructor checks the structure (array lengths, planted arrays) and throws
 * {@link IllegalArgumentException} naming the layer and array; {@link TraceValidator#validate(Trace)}
 * additionally checks that every value is finite.
 *
 * @param name         a short name (generator name or file stem)
 * @param shape        layers, heads and head dimension
 * @param promptTokens tokens present before the first decode step (&ge; 0)
 * @param steps        decode steps (&ge; 1)
 * @param layers       one {@link LayerTrace} per layer
 * @param meta         free-form string metadata (generator, seed, model, ...); iteration order is sorted
 */
public record Trace(String name, ModelShape shape, int promptTokens, int steps, List<LayerTrace> layers,
                    Map<String, String> meta) {

    public Trace {
        if (name == null) {
            throw new IllegalArgumentException("Trace name must not be null");
        }
        if (shape == null) {
            throw new IllegalArgumentException("Trace shape must not be null");
        }
        layers = List.copyOf(layers);
        meta = meta == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(meta));
        TraceValidator.checkStructure(shape, promptTokens, steps, layers);
    }

    /** K/V rows per layer and head: {@code promptTokens + steps}. */
    public int tokens() {
        return promptTokens + steps;
    }

    /** Number of tokens step {@code step} attends over: {@code promptTokens + step + 1}. */
    public int contextAt(int step) {
        return promptTokens + step + 1;
    }

    /** The layer {@code layer}. */
    public LayerTrace layer(int layer) {
        return layers.get(layer);
    }

    /** Offset of the key/value row of ({@code token}, {@code kvHead}) in a layer's keys/values array. */
    public int keyOffset(int token, int kvHead) {
        return (token * shape.kvHeads() + kvHead) * shape.headDim();
    }

    /** Offset of the query row of ({@code step}, {@code queryHead}) in a layer's queries array. */
    public int queryOffset(int step, int queryHead) {
        return (step * shape.queryHeads() + queryHead) * shape.headDim();
    }

    /** Copies the key of ({@code token}, {@code kvHead}) in {@code layer} into {@code dst[0..D)}. */
    public void key(int layer, int token, int kvHead, float[] dst) {
        System.arraycopy(layers.get(layer).keys(), keyOffset(token, kvHead), dst, 0, shape.headDim());
    }

    /** Copies the value of ({@code token}, {@code kvHead}) in {@code layer} into {@code dst[0..D)}. */
    public void value(int layer, int token, int kvHead, float[] dst) {
        System.arraycopy(layers.get(layer).values(), keyOffset(token, kvHead), dst, 0, shape.headDim());
    }

    /** Copies the query of ({@code step}, {@code queryHead}) in {@code layer} into {@code dst[0..D)}. */
    public void query(int layer, int step, int queryHead, float[] dst) {
        System.arraycopy(layers.get(layer).queries(), queryOffset(step, queryHead), dst, 0, shape.headDim());
    }

    /** The {@code G} queries of KV head {@code kvHead}'s group at {@code step}, as new {@code G × D} arrays. */
    public float[][] groupQueries(int layer, int step, int kvHead) {
        int g = shape.groupSize();
        float[][] out = new float[g][shape.headDim()];
        for (int i = 0; i < g; i++) {
            query(layer, step, kvHead * g + i, out[i]);
        }
        return out;
    }

    @Override
    public String toString() {
        return "Trace[" + name + ", " + shape + ", promptTokens=" + promptTokens + ", steps=" + steps + "]";
    }
}
