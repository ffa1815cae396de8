package org.pariskv.compute;

/**
 * One device as the compute layer sees it.
 *
 * @param backend            which backend drives it
 * @param index              index within its backend ({@code opencl:N} counts across all platforms)
 * @param platform           OpenCL platform name, "CUDA driver x.y", or "JVM"
 * @param name               device name as reported by the driver
 * @param type               GPU, CPU, ...
 * @param globalMemBytes     global (device) memory
 * @param computeUnits       compute units / streaming multiprocessors / JVM processors
 * @param maxWorkGroup       largest work-group (thread block) size
 * @param localMemBytes      local / shared memory per work-group
 * @param peakBandwidthBytesPerSec theoretical memory bandwidth, 0 when the driver does not say
 */
public record DeviceInfo(BackendKind backend, int index, String platform, String name, DeviceType type,
                         long globalMemBytes, int computeUnits, long maxWorkGroup, long localMemBytes,
                         double peakBandwidthBytesPerSec) {

    /** The spec that selects exactly this device, e.g. {@code cuda:0}. */
    public String spec() {
        return backend == BackendKind.JAVA ? "java" : backend.id() + ":" + index;
    }

    /** One line for listings: {@code opencl:0  NVIDIA H100 (GPU, NVIDIA CUDA) 79.1 GiB, 132 CUs, wg 1024}. */
    public String describe() {
        String bw = peakBandwidthBytesPerSec > 0 ? String.format(", peak %.0f GB/s", peakBandwidthBytesPerSec / 1e9) : "";
        // the java backend has no device memory: its figure is the JVM's heap limit (K/V rows live off-heap beside it)
        String memory = String.format("%s%.1f GiB", backend == BackendKind.JAVA ? "JVM heap " : "", globalMemBytes / (double) (1L << 30));
        return String.format("%-9s %s (%s, %s) %s, %d CUs, work-group <= %d, local %d KiB%s",
                spec(), name, type, platform, memory, computeUnits, maxWorkGroup, localMemBytes >> 10, bw);
    }
}
