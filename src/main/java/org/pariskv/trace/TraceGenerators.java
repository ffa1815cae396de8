package org.pariskv.trace;

import java.util.List;
import java.util.Locale;

/** The built-in synthetic generators, by name. See {@code docs/traces.md}. */
public final class TraceGenerators {

    /** Names accepted by {@link #byName(String)}. */
    public static final List<String> NAMES = List.of("iid", "llm", "drift", "needle");

    private TraceGenerators() {}

    /**
     * The generator called {@code name} (case-insensitive) with its default parameters.
     *
     * @throws IllegalArgumentException for an unknown name; the message lists the valid names
     */
    public static TraceGenerator byName(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "iid" -> new IidTraceGenerator();
            case "llm" -> new LlmTraceGenerator(LlmTraceGenerator.Params.defaults());
            case "drift" -> new DriftTraceGenerator(DriftTraceGenerator.Params.defaults());
            case "needle" -> new NeedleTraceGenerator(NeedleTraceGenerator.Params.defaults());
            default -> throw new IllegalArgumentException("unknown trace generator '" + name
                    + "'; valid names: " + String.join(", ", NAMES));
        };
    }
}
