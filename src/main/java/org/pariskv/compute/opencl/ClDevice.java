package org.pariskv.compute.opencl;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An OpenCL device with the properties the compute layer needs.
 *
 * @param id          the {@code cl_device_id}
 * @param platformName name of its platform ("NVIDIA CUDA", "Portable Computing Language")
 * @param type        the CL_DEVICE_TYPE bitfield
 */
public record ClDevice(MemorySegment id, String platformName, String name, String vendor, String version,
                       String driverVersion, long type, long globalMemBytes, int computeUnits,
                       long maxWorkGroupSize, long localMemBytes, long maxAllocBytes, int clockMHz) {

    public boolean isGpu() {
        return (type & OpenCl.CL_DEVICE_TYPE_GPU) != 0;
    }

    public boolean isCpu() {
        return (type & OpenCl.CL_DEVICE_TYPE_CPU) != 0;
    }

    /** Every device of every platform, platform by platform, in driver order (the order of {@code opencl:N}). */
    public static List<ClDevice> all(OpenCl cl) {
        List<ClDevice> out = new ArrayList<>();
        for (MemorySegment platform : cl.platformIds()) {
            String platformName = cl.platformInfo(platform, OpenCl.CL_PLATFORM_NAME);
            for (MemorySegment d : cl.deviceIds(platform, OpenCl.CL_DEVICE_TYPE_ALL)) {
                out.add(new ClDevice(d, platformName,
                        cl.deviceInfoString(d, OpenCl.CL_DEVICE_NAME),
                        cl.deviceInfoString(d, OpenCl.CL_DEVICE_VENDOR),
                        cl.deviceInfoString(d, OpenCl.CL_DEVICE_VERSION),
                        cl.deviceInfoString(d, OpenCl.CL_DRIVER_VERSION),
                        cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_TYPE),
                        cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_GLOBAL_MEM_SIZE),
                        (int) cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_MAX_COMPUTE_UNITS),
                        cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_MAX_WORK_GROUP_SIZE),
                        cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_LOCAL_MEM_SIZE),
                        cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                        (int) cl.deviceInfoNumber(d, OpenCl.CL_DEVICE_MAX_CLOCK_FREQUENCY)));
            }
        }
        return List.copyOf(out);
    }
}
