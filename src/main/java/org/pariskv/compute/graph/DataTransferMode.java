package org.pariskv.compute.graph;

/** When a task graph moves an array between host and device. */
public enum DataTransferMode {
    /** Copy on the plan's first execution only (read-only inputs, weights, indexes). */
    FIRST_EXECUTION,
    /** Copy on every execution (inputs that change between executions, results read every time). */
    EVERY_EXECUTION,
    /** Device to host only, and only when asked: {@link ExecutionResult#transferToHost(Object...)}. */
    UNDER_DEMAND
}
