package org.pariskv.compute.cuda;

import java.lang.foreign.MemorySegment;

/**
 * An instantiated CUDA graph ({@code CUgraphExec}) recorded by {@link CudaContext#capture}: one
 * {@link #launch()} replays all its kernels and copies with one driver call. Kernel arguments and copy
 * sources are the values and addresses seen at capture: replays read whatever those addresses hold then.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext context;
    private MemorySegment exec;

    CudaGraph(CudaContext context, MemorySegment exec) {
        this.context = context;
        this.exec = exec;
    }

    /** Enqueues one replay on the context's stream; returns at once. */
    public void launch() {
        if (exec == null) throw new IllegalStateException("CUDA graph is closed");
        context.launchGraph(exec);
    }

    @Override
    public synchronized void close() {
        if (exec == null) return;
        context.destroyGraph(exec);
        exec = null;
    }
}
