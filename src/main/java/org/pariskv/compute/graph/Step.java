package org.pariskv.compute.graph;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelSource;

/** One step of a frozen graph, in program order. */
sealed interface Step {

    record ToDevice(DataTransferMode mode, List<Object> data) implements Step {}

    record ToHost(DataTransferMode mode, List<Object> data) implements Step {}

    /** Every execution: enqueue a copy of {@code from} to the start of the device-resident {@code to}. */
    record Upload(MemorySegment from, DeviceBuffer to) implements Step {}

    /** Every execution: a blocking copy of the start of the device-resident {@code from} into {@code to}. */
    record Download(DeviceBuffer from, MemorySegment to) implements Step {}

    /**
     * A task: kernel {@code name} of {@code source} on devices, {@code twin} on the java backend, over the grid
     * {@code grid} gives at each execution; skipped in executions where {@code enabled} says false.
     */
    record Task(String name, KernelSource source, Map<String, String> defines, Supplier<Grid> grid, List<Object> args,
                Twin twin, BooleanSupplier enabled) implements Step {
        Task withEnabled(BooleanSupplier when) {
            return new Task(name, source, defines, grid, args, twin, when);
        }
    }

    /** The erased Java body: receives the task's arguments in order and this execution's grid. */
    @FunctionalInterface
    interface Twin {
        void run(Object[] args, Grid grid);
    }
}
