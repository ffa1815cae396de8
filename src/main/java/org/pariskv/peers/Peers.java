package org.pariskv.peers;

import org.pariskv.method.Methods;

/**
 * The peers of ParisKV, each a {@link org.pariskv.method.RetrievalMethod} run through the same cache and
 * attention code: {@code louiskv}, {@code magicpig}, {@code pqcache}, {@code quest} (default parameters).
 * {@link Methods} calls {@link #registerAll()} from its static initialiser.
 */
public final class Peers {
    private Peers() {}

    /** Names registered by {@link #registerAll()}. */
    public static final java.util.List<String> NAMES = java.util.List.of("louiskv", "magicpig", "pqcache", "quest");

    public static void registerAll() {
        Methods.register("louiskv", LouisKv::new);
        Methods.register("magicpig", MagicPig::new);
        Methods.register("pqcache", PqCache::new);
        Methods.register("quest", Quest::new);
    }
}
