package org.pariskv.compute.jit;

import java.util.List;

/**
 * The device program generated from one kernel class for one dialect.
 *
 * @param source      the complete program (prelude, device functions, kernels), ready for {@code Backend.compile}
 * @param kernels     the kernel names, which are the {@code @Kernel} method names
 * @param nanos       how long translating took (0 when it came from the disk cache)
 * @param fromDisk    whether it was read from the disk cache instead of translated
 */
public record Translation(String className, Dialect dialect, String source, List<String> kernels, long nanos, boolean fromDisk) {
    public Translation {
        kernels = List.copyOf(kernels);
    }

    /** The source name compilers report errors against, e.g. {@code org.example.MyKernels.java.cl}. */
    public String sourceName() {
        return className + (dialect == Dialect.CUDA ? ".java.cu" : ".java.cl");
    }
}
