package org.pariskv.method;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/** The methods selectable by name ({@code --method}). */
public final class Methods {
    private Methods() {}

    private static final Map<String, Supplier<RetrievalMethod>> BY_NAME = new LinkedHashMap<>();

    static {
        register("pariskv", ParisKv::new);
        register("full", FullAttention::new);
        register("oracle", OracleTopK::new);
        register("streaming", StreamingLlm::new);
        org.pariskv.peers.Peers.registerAll();
    }

    /** Adds a method (peers register themselves here). */
    public static synchronized void register(String name, Supplier<RetrievalMethod> factory) {
        BY_NAME.put(name, factory);
    }

    public static synchronized RetrievalMethod byName(String name) {
        Supplier<RetrievalMethod> f = BY_NAME.get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown method '" + name + "' (expected one of " + String.join(", ", BY_NAME.keySet()) + ")");
        }
        return f.get();
    }

    public static synchronized java.util.Set<String> names() {
        return java.util.Set.copyOf(BY_NAME.keySet());
    }
}
