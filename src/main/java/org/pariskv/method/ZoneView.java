package org.pariskv.method;

import org.pariskv.kv.RowStore;

/**
 * What a method sees of one (sequence, layer, KV head): the stored rows and the zone boundaries.
 * Tokens {@code [0, sinkEnd)} are the sink, {@code [zoneStart, zoneEnd)} the retrieval zone,
 * {@code [zoneEnd, length)} the local window; sink and local are always attended by the cache.
 */
public record ZoneView(RowStore keys, RowStore values, int sinkEnd, int zoneStart, int zoneEnd, int length) {

    /** Tokens in the retrieval zone ({@code n}). */
    public int zoneSize() {
        return zoneEnd - zoneStart;
    }
}
