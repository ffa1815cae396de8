package org.pariskv.trace;

import org.pariskv.ModelShape;
/**
 * A seeded synthetic trace source. Implementations are deterministic: the same shape, lengths and seed
 * give bit-identical traces, whatever the number of threads.
 */
public interface TraceGenerator {

    /** The generator's name as accepted by {@link TraceGenerators#byName(String)}. */
    String name();

    /**
     * Generates a trace of {@code promptTokens + steps} tokens.
     *
     * @param shape        layers, heads, head dimension
     * @param promptTokens tokens before the first decode step (&ge; 1)
     * @param steps        decode steps (&ge; 1)
     * @param seed         the seed; every (layer, head) draws from its own stream derived from it
     */
    Trace generate(ModelShape shape, int promptTokens, int steps, long seed);
}
