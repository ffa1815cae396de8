package org.pariskv.compute.graph;

import java.util.List;
import java.util.stream.Collectors;
import org.pariskv.compute.DeviceInfo;

/**
 * What one {@link ExecutionPlan#execute()} did: per-task profiles, totals, and the door to
 * {@link DataTransferMode#UNDER_DEMAND} results. Valid while its plan is open.
 */
public final class ExecutionResult {
    private final ExecutionPlan plan;
    private final DeviceInfo device;
    private final List<TaskProfile> tasks;
    private final long bytesIn, bytesOut, wallNanos;

    ExecutionResult(ExecutionPlan plan, DeviceInfo device, List<TaskProfile> tasks, long bytesIn, long bytesOut,
                    long wallNanos) {
        this.plan = plan;
        this.device = device;
        this.tasks = List.copyOf(tasks);
        this.bytesIn = bytesIn;
        this.bytesOut = bytesOut;
        this.wallNanos = wallNanos;
    }

    public DeviceInfo device() {
        return device;
    }

    /** One profile per task, in execution order. */
    public List<TaskProfile> tasks() {
        return tasks;
    }

    /** The profile of the first task called {@code name}. */
    public TaskProfile task(String name) {
        return tasks.stream().filter(t -> t.task().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + name + "' in this execution"));
    }

    /** All host-to-device bytes of this execution. */
    public long bytesIn() {
        return bytesIn;
    }

    /** All device-to-host bytes of this execution (on-demand transfers not included). */
    public long bytesOut() {
        return bytesOut;
    }

    /** Sum of kernel times; -1 when profiling was off. */
    public long kernelNanos() {
        if (tasks.stream().anyMatch(t -> t.kernelNanos() < 0)) return -1;
        return tasks.stream().mapToLong(TaskProfile::kernelNanos).sum();
    }

    /** Host wall time of the whole execution (transfers, launches, waits). */
    public long wallNanos() {
        return wallNanos;
    }

    /**
     * Copies {@code data} from the device into the host arrays/segments now (for UNDER_DEMAND outputs).
     *
     * @return the number of bytes copied (0 on the java backend, where the arrays are the device memory)
     */
    public long transferToHost(Object... data) {
        return plan.copyToHost(data);
    }

    /** A fixed-width table, one line per task. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-20s %-7s %12s %12s %12s  %s%n", "task", "backend", "kernel us", "bytes in",
                "bytes out", "grid"));
        for (TaskProfile t : tasks) {
            sb.append(String.format("%-20s %-7s %12s %12d %12d  %s%n", t.task(), t.backend().id(),
                    t.kernelNanos() < 0 ? "-" : String.format("%.2f", t.kernelNanos() / 1e3), t.bytesIn(), t.bytesOut(),
                    t.grid()));
        }
        sb.append(String.format("total on %s: kernels %s us, in %d B, out %d B, wall %.2f us%n", device.spec(),
                kernelNanos() < 0 ? "-" : String.format("%.2f", kernelNanos() / 1e3), bytesIn, bytesOut, wallNanos / 1e3));
        return sb.toString();
    }

    public String json() {
        return String.format("{\"device\":\"%s\",\"name\":\"%s\",\"bytesIn\":%d,\"bytesOut\":%d,\"kernelNs\":%d,"
                        + "\"wallNs\":%d,\"tasks\":[%s]}", device.spec(), device.name().replace("\"", "'"), bytesIn,
                bytesOut, kernelNanos(), wallNanos, tasks.stream().map(TaskProfile::json).collect(Collectors.joining(",")));
    }

    @Override
    public String toString() {
        return table();
    }
}
