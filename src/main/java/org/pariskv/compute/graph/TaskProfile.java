package org.pariskv.compute.graph;

import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Grid;

/**
 * What one task cost in one execution.
 *
 * @param kernelNanos device time of the kernel (java: wall time of the twin); -1 when profiling is off
 * @param bytesIn     bytes copied host-to-device for this task in this execution (copies are charged to
 *                    the next task)
 * @param bytesOut    bytes copied device-to-host after this task in this execution
 */
public record TaskProfile(String task, long kernelNanos, long bytesIn, long bytesOut, Grid grid, BackendKind backend) {

    String json() {
        return String.format("{\"task\":\"%s\",\"kernelNs\":%d,\"bytesIn\":%d,\"bytesOut\":%d,\"global\":%s,"
                        + "\"local\":%s,\"backend\":\"%s\"}", task, kernelNanos, bytesIn, bytesOut,
                java.util.Arrays.toString(grid.global()),
                grid.local() == null ? "null" : java.util.Arrays.toString(grid.local()), backend.id());
    }
}
