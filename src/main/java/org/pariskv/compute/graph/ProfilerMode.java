package org.pariskv.compute.graph;

/** What an execution reports about itself. Timing is measured unless OFF (OFF keeps launches asynchronous). */
public enum ProfilerMode {
    /** No timing, no printing. */
    OFF,
    /** Per-task table on standard output after each measured execution. */
    CONSOLE,
    /** One JSON object per measured execution on standard output. */
    JSON,
    /** Timing recorded in the result, nothing printed. */
    SILENT
}
