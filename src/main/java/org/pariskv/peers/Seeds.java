package org.pariskv.peers;

/** Per-(layer, KV head, purpose) seeds derived from the configuration seed, so every peer is deterministic for a seed. */
final class Seeds {
    private Seeds() {}

    /** SplitMix64 finaliser over the seed and the coordinates. */
    static long of(long seed, int layer, int kvHead, long salt) {
        long z = seed;
        z = mix(z + 0x9E3779B97F4A7C15L * (layer + 1));
        z = mix(z + 0xBF58476D1CE4E5B9L * (kvHead + 1));
        return mix(z + 0x94D049BB133111EBL * salt);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
