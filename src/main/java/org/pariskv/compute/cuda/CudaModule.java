package org.pariskv.compute.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A loaded module; hands out its kernels ({@code CUfunction}), cached by name. Thread-safe. */
public final class CudaModule implements AutoCloseable {
    private final CudaContext owner;
    private final MemorySegment module;
    private final Map<String, MemorySegment> functions = new ConcurrentHashMap<>();

    CudaModule(CudaContext owner, MemorySegment module) {
        this.owner = owner;
        this.module = module;
    }

    /** The {@code extern "C"} kernel called {@code name}; CUDA_ERROR_NOT_FOUND when absent. */
    public MemorySegment function(String name) {
        return functions.computeIfAbsent(name, n -> {
            owner.makeCurrent();
            return owner.driver().moduleGetFunction(module, n);
        });
    }

    @Override
    public void close() {
        owner.makeCurrent();
        owner.driver().moduleUnload(module);
    }
}
