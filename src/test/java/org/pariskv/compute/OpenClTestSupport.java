package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;

/**
 * Picks the OpenCL device for tests. With {@code CI=true} a missing OpenCL platform is a failure (CI
 * installs PoCL precisely so that these tests run); elsewhere the tests are skipped with the reason.
 */
public final class OpenClTestSupport {
    private OpenClTestSupport() {}

    /** The OpenCL device tests run on: the first GPU, else the first device. */
    public static DeviceInfo openClDevice() {
        DeviceListing listing = Devices.list();
        var devices = listing.of(BackendKind.OPENCL);
        if (devices.isEmpty()) {
            String why = listing.unavailable().getOrDefault(BackendKind.OPENCL, "no OpenCL device");
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("CI=true but no OpenCL device was found: " + why);
            }
            Assumptions.abort("OpenCL tests skipped (no OpenCL device here): " + why);
        }
        // a GPU driver when there is one (it is the stricter compiler), else PoCL
        return devices.stream().filter(d -> d.type() == DeviceType.GPU).findFirst().orElse(devices.getFirst());
    }

    /** The first CUDA device, or the test is skipped (no libcuda.so.1 / no NVRTC / no GPU here). */
    public static DeviceInfo cudaDevice() {
        DeviceListing listing = Devices.list();
        var devices = listing.of(BackendKind.CUDA);
        Assumptions.assumeFalse(devices.isEmpty(), () -> "CUDA tests skipped: "
                + listing.unavailable().getOrDefault(BackendKind.CUDA, "no CUDA device"));
        return devices.getFirst();
    }
}
