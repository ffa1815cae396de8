package org.pariskv.compute.opencl;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A built program; hands out its kernels (one {@link ClKernel} per name, cached). Thread-safe. */
public final class ClProgram implements AutoCloseable {
    private final ClContext owner;
    private final MemorySegment program;
    private final String sourceName;
    private final String buildLog;
    private final Map<String, ClKernel> kernels = new ConcurrentHashMap<>();

    ClProgram(ClContext owner, MemorySegment program, String sourceName, String buildLog) {
        this.owner = owner;
        this.program = program;
        this.sourceName = sourceName;
        this.buildLog = buildLog;
    }

    public String sourceName() {
        return sourceName;
    }

    /** Warnings the compiler printed on success (may be empty). */
    public String buildLog() {
        return buildLog;
    }

    /** The kernel called {@code name}; CL_INVALID_KERNEL_NAME when the source has none. */
    public ClKernel kernel(String name) {
        return kernels.computeIfAbsent(name, n -> new ClKernel(owner, owner.cl().createKernel(program, n), n));
    }

    @Override
    public void close() {
        kernels.values().forEach(ClKernel::close);
        kernels.clear();
        owner.cl().releaseProgram(program);
    }
}
