package org.pariskv.compute.graph;

import java.util.List;
import java.util.Map;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelSource;

/** One step of a frozen graph, in program order. */
sealed interface Step {

    record ToDevice(DataTransferMode mode, List<Object> data) implements Step {}

    record ToHost(DataTransferMode mode, List<Object> data) implements Step {}

    /** A task: kernel {@code name} of {@code source} on devices, {@code twin} on the java backend. */
    record Task(String name, KernelSource source, Map<String, String> defines, Grid grid, List<Object> args,
                Twin twin) implements Step {}

    /** The erased Java body: receives the task's arguments in order. */
    @FunctionalInterface
    interface Twin {
        void run(Object[] args);
    }
}
