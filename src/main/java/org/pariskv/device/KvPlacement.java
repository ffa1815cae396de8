package org.pariskv.device;

import java.util.Locale;

/**
 * Where a {@link DeviceDecoder} keeps the bf16 K/V rows, and how a step's attention reaches them. The compact
 * index and all work buffers are on the device in every case.
 */
public enum KvPlacement {
    /** K/V rows in device memory ({@code --kv device}, the default). */
    DEVICE,
    /**
     * K/V rows in host memory the device reads in place ({@link org.pariskv.compute.Backend#mapHostRange}, grown by
     * segments: {@link HostKvStore}): CUDA page-locked + mapped (cuMemHostRegister DEVICEMAP, segment by segment), read
     * over PCIe by the attention kernel; OpenCL {@code CL_MEM_USE_HOST_PTR}, which NVIDIA's driver is expected to mirror
     * on the device (measured with ALLOC_HOST_PTR), so there it is no real offload ({@code --kv mapped},
     * {@code --offload}).
     */
    MAPPED,
    /**
     * K/V rows only in plain off-heap host memory owned by the decoder; each step the host reads back the merged
     * selection, gathers the attended rows (sink, top-k, local window) of every stream into one pinned staging
     * buffer and copies it to the device once ({@code --kv staged}). Works on any driver; full attention over the
     * whole context is refused.
     */
    STAGED;

    /** {@code device}, {@code mapped} or {@code staged} (case-insensitive). */
    public static KvPlacement parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "device" -> DEVICE;
            case "mapped" -> MAPPED;
            case "staged" -> STAGED;
            default -> throw new IllegalArgumentException("unknown --kv '" + s + "' (expected device, mapped or staged)");
        };
    }

    /** True when the K/V rows live in host memory (MAPPED, STAGED). */
    public boolean onHost() {
        return this != DEVICE;
    }

    /** The CLI spelling. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
