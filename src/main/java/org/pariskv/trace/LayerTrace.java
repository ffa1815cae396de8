package org.pariskv.trace;

/**
 * One layer of a trace: keys, values and decode queries, flat and row-major.
 *
 * <ul>
 *   <li>{@code keys}, {@code values}: {@code tokens × kvHeads × headDim}; the row of token {@code t},
 *       KV head {@code h} starts at {@code (t * kvHeads + h) * headDim}
 *       (see {@link Trace#keyOffset(int, int)});</li>
 *   <li>{@code queries}: {@code steps × queryHeads × headDim}; the row of step {@code s}, query head
 *       {@code qh} starts at {@code (s * queryHeads + qh) * headDim} (see {@link Trace#queryOffset(int, int)}).</li>
 * </ul>
 *
 * <p>The arrays are shared, not copied: callers must not modify them.
 *
 * @param keys           post-RoPE keys
 * @param values         values
 * @param queries        decode queries, one row per (step, query head)
 * @param planted        optional (may be {@code null}): per decode step, the sorted distinct token positions
 *                       a generator planted as relevant for that step (union over the layer's query heads);
 *                       {@code planted.length == steps}
 * @param plantedByHead  optional (may be {@code null}): per (step, query head) at index
 *                       {@code step * queryHeads + queryHead}, the sorted planted positions of that head
 */
public record LayerTrace(float[] keys, float[] values, float[] queries, int[][] planted, int[][] plantedByHead) {

    /** A layer without planted positions. */
    public LayerTrace(float[] keys, float[] values, float[] queries) {
        this(keys, values, queries, null, null);
    }

    /** A layer with per-step planted positions only. */
    public LayerTrace(float[] keys, float[] values, float[] queries, int[][] planted) {
        this(keys, values, queries, planted, null);
    }

    public LayerTrace {
        if (keys == null || values == null || queries == null) {
            throw new IllegalArgumentException("LayerTrace: keys, values and queries must not be null (keys "
                    + (keys == null ? "null" : "ok") + ", values " + (values == null ? "null" : "ok")
                    + ", queries " + (queries == null ? "null" : "ok") + ")");
        }
    }

    /** Whether per-step planted positions are present. */
    public boolean hasPlanted() {
        return planted != null;
    }

    /** Planted positions of decode step {@code step} (union over heads); empty when none are recorded. */
    public int[] plantedAt(int step) {
        return planted == null ? new int[0] : planted[step];
    }
}
