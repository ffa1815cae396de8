package org.pariskv.device;

import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;

/** Tests outside this package: decoders and host K/V stores with small segments (a constant, 65536 tokens, otherwise). */
public final class SmallSegments {
    private SmallSegments() {}

    public static DeviceDecoder decoder(Backend backend, ModelShape shape, ParisKvConfig cfg, int batch, int capacity,
                                        DeviceDecoder.Options options, int segmentTokens) {
        return new DeviceDecoder(backend, shape, cfg, batch, capacity, options, segmentTokens);
    }

    public static HostKvStore store(Backend backend, KvPlacement placement, int streams, int capacity, int dim, long hostLimit,
                                    int segmentTokens) {
        return new HostKvStore(backend, placement, streams, capacity, dim, hostLimit, "soak store", segmentTokens);
    }
}
