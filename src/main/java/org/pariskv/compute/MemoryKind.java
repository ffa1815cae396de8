package org.pariskv.compute;

/** Where the bytes of a {@link DeviceBuffer} live, i.e. which memory path a kernel reading it takes. */
public enum MemoryKind {
    /** Device memory (cuMemAlloc / CL_MEM_READ_WRITE). */
    DEVICE("device memory"),
    /** CUDA page-locked host memory mapped into the device's address space (cuMemHostAlloc DEVICEMAP, UVA). */
    CUDA_HOST_MAPPED("page-locked host memory mapped into the GPU (cuMemHostAlloc DEVICEMAP)"),
    /**
     * CUDA: host address space reserved up front (mmap MAP_NORESERVE), page-locked and mapped into the GPU segment by
     * segment as the context grows (cuMemHostRegister DEVICEMAP); kernels use the host address (UVA).
     */
    CUDA_HOST_REGISTERED("host memory reserved up front and page-locked into the GPU segment by segment as the context grows (mmap + cuMemHostRegister DEVICEMAP)"),
    /** An OpenCL buffer the driver allocates in host-visible memory (CL_MEM_ALLOC_HOST_PTR); in place or cached is the driver's choice. */
    OPENCL_ALLOC_HOST_PTR("OpenCL CL_MEM_ALLOC_HOST_PTR buffer (driver-allocated host memory)"),
    /**
     * An OpenCL {@code CL_MEM_USE_HOST_PTR} buffer over host address space the decoder reserved (mmap MAP_NORESERVE),
     * committed as rows are written; in place or cached is the driver's choice (PoCL: in place).
     */
    OPENCL_USE_HOST_PTR("OpenCL CL_MEM_USE_HOST_PTR buffer over host memory reserved up front and committed as the context grows"),
    /** Plain off-heap host memory of a decoder; the selected rows are gathered on the host and copied to the device once per step. */
    HOST_STAGED("plain host memory; selected rows gathered on the host into a pinned staging buffer and copied to the device once per step"),
    /** Plain native memory of the JVM (the Java backend's "device"). */
    JVM_NATIVE("JVM native memory");

    private final String description;

    MemoryKind(String description) {
        this.description = description;
    }

    /** Words for reports, e.g. "page-locked host memory mapped into the GPU (...)". */
    public String description() {
        return description;
    }

    /** True for memory that lives on the host side (everything but {@link #DEVICE}). */
    public boolean isHost() {
        return this != DEVICE;
    }
}
