package org.pariskv.method;

/**
 * Optional counters of a method that does not retrieve at every decode step (LouisKV retrieves only at
 * semantic boundaries and reuses its selection in between). The evaluation reads them before and after a
 * run and reports {@code Δretrievals / Δsteps} as the run's retrieval rate; methods without this interface
 * retrieve at every sparse step and report NaN.
 */
public interface RetrievalStats {

    /** Selections computed afresh, summed over every (sequence, layer, KV head) of this method instance. */
    long retrievals();

    /** Selections asked for (decode steps × heads), summed the same way. */
    long steps();

    /** {@code retrievals / steps} (0 before any step). */
    default double retrievalRate() {
        long s = steps();
        return s == 0 ? 0 : (double) retrievals() / s;
    }
}
