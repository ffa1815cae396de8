package org.pariskv.compute;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.pariskv.compute.cuda.CudaDriver;
import org.pariskv.compute.cuda.Nvrtc;
import org.pariskv.compute.opencl.ClDevice;
import org.pariskv.compute.opencl.OpenCl;

/** Discovers devices on every backend. Thread-safe; the listing is computed once per process. */
public final class Devices {
    private static volatile DeviceListing cached;

    private Devices() {}

    /**
     * Every usable device; never throws. A backend that cannot be used appears in
     * {@link DeviceListing#unavailable()} with the reason (library missing, no platform, NVRTC missing...).
     */
    public static DeviceListing list() {
        DeviceListing l = cached;
        if (l == null) {
            synchronized (Devices.class) {
                if (cached == null) cached = discover();
                l = cached;
            }
        }
        return l;
    }

    private static DeviceListing discover() {
        List<DeviceInfo> devices = new ArrayList<>();
        Map<BackendKind, String> unavailable = new EnumMap<>(BackendKind.class);
        devices.add(JavaBackend.describeJvm());
        try {
            List<ClDevice> cl = ClDevice.all(OpenCl.load());
            if (cl.isEmpty()) unavailable.put(BackendKind.OPENCL, "OpenCL loader present but no platform/device installed");
            for (int i = 0; i < cl.size(); i++) devices.add(OpenClBackend.describe(i, cl.get(i)));
        } catch (RuntimeException | LinkageError e) {
            unavailable.put(BackendKind.OPENCL, oneLine(e));
        }
        try {
            CudaDriver driver = CudaDriver.load();
            int n = driver.deviceCount();
            if (n == 0) {
                unavailable.put(BackendKind.CUDA, "CUDA driver present but no device");
            } else {
                Nvrtc.load(); // without a compiler the devices are of no use to us
                for (int i = 0; i < n; i++) devices.add(CudaBackend.describe(driver, i));
            }
        } catch (RuntimeException | LinkageError e) {
            unavailable.put(BackendKind.CUDA, oneLine(e));
        }
        return new DeviceListing(devices, unavailable);
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
