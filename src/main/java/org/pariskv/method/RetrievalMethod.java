package org.pariskv.method;

/**
 * A KV-retrieval method: given the cache and a decode query, which past tokens does attention read?
 * ParisKV and every peer implement this one contract so they run on the same traces, budgets and
 * attention code.
 */
public interface RetrievalMethod {

    /** Short name used on the command line and in result files. */
    String name();

    /** Fresh state for one (sequence, layer, KV head). */
    HeadRetriever newHead(HeadContext context);

    /** False for exact full attention: the cache then attends every token and never asks for a selection. */
    default boolean sparse() {
        return true;
    }
}
