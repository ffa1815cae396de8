package org.pariskv.method;

/**
 * A method's state for one (sequence, layer, KV head). The cache calls {@link #onZoneGrow} whenever tokens
 * move into the retrieval zone (bulk at prefill, {@code interval} at a time while decoding) and
 * {@link #select} once per decode step. One thread at a time per instance.
 */
public interface HeadRetriever extends AutoCloseable {

    /** Tokens {@code [from, to)} (absolute positions) entered the retrieval zone; their rows are in {@code zone}. */
    void onZoneGrow(ZoneView zone, int from, int to);

    /**
     * Chooses zone tokens for this step.
     *
     * @param queries the group's {@code G} query rows of {@code D} floats from {@code qOff}
     * @param budget  tokens to retrieve ({@code topk}); a method may return fewer, or more if it says so
     */
    Selection select(ZoneView zone, float[] queries, int qOff, int budget);

    @Override
    default void close() {}
}
