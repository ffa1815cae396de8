package org.pariskv.compute.graph;

import java.util.List;

/** A frozen {@link TaskGraph} ({@link TaskGraph#snapshot()}): what an {@link ExecutionPlan} runs. */
public final class ImmutableTaskGraph {
    private final String name;
    private final List<Step> steps;

    ImmutableTaskGraph(String name, List<Step> steps) {
        this.name = name;
        this.steps = List.copyOf(steps);
    }

    public String name() {
        return name;
    }

    /** Task names (= kernel names) in execution order. */
    public List<String> taskNames() {
        return steps.stream().filter(s -> s instanceof Step.Task).map(s -> ((Step.Task) s).name()).toList();
    }

    List<Step> steps() {
        return steps;
    }
}
