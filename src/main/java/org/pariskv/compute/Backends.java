package org.pariskv.compute;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.pariskv.compute.cuda.CudaDriver;
import org.pariskv.compute.cuda.Nvrtc;
import org.pariskv.compute.opencl.ClDevice;
import org.pariskv.compute.opencl.OpenCl;

/**
 * Opens backends, one shared instance per device for the life of the process (so contexts and compiled
 * programs are reused). Thread-safe.
 */
public final class Backends {
    private static final Map<String, Backend> OPEN = new ConcurrentHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Backends::closeAll, "pariskv-backends-close"));
    }

    private Backends() {}

    /** The backend driving {@code device}. @throws BackendUnavailableException when it cannot be opened */
    public static Backend open(DeviceInfo device) {
        return OPEN.computeIfAbsent(device.spec(), k -> create(device));
    }

    /** Resolves {@code spec} against {@link Devices#list()} and opens it. */
    public static Backend open(DeviceSpec spec) {
        return open(spec.resolve(Devices.list()));
    }

    private static Backend create(DeviceInfo device) {
        return switch (device.backend()) {
            case JAVA -> new JavaBackend(device);
            case OPENCL -> {
                OpenCl cl = OpenCl.load();
                var all = ClDevice.all(cl);
                if (device.index() >= all.size()) throw new BackendUnavailableException("no OpenCL device " + device.index());
                yield new OpenClBackend(device, cl, all.get(device.index()));
            }
            case CUDA -> new CudaBackend(device, CudaDriver.load(), Nvrtc.load());
        };
    }

    /** Closes every open backend (also done at JVM exit). */
    public static synchronized void closeAll() {
        for (var it = OPEN.values().iterator(); it.hasNext(); ) {
            Backend b = it.next();
            it.remove();
            try {
                b.close();
            } catch (RuntimeException ignored) {
                // shutting down: nothing useful to do with a release failure
            }
        }
    }
}
