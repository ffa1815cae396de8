package org.pariskv.model.tasks;

import java.util.List;

/** A suite's outcome: accuracy per (task, context, method) in plan order, and every answered instance. */
public record SuiteResult(SuitePlan plan, List<CellAccuracy> cells, List<InstanceResult> instances) {

    public SuiteResult {
        cells = List.copyOf(cells);
        instances = List.copyOf(instances);
    }

    public CellAccuracy cell(String task, int context, String method) {
        for (CellAccuracy c : cells) if (c.task().equals(task) && c.context() == context && c.method().equals(method)) return c;
        throw new IllegalArgumentException("no result for " + task + " at " + context + " with " + method);
    }

    /** All instances answered right over all answered, for one method. */
    public double overall(String method) {
        int ok = 0, n = 0;
        for (CellAccuracy c : cells) {
            if (c.method().equals(method)) {
                ok += c.correct();
                n += c.total();
            }
        }
        return ok / (double) n;
    }
}
