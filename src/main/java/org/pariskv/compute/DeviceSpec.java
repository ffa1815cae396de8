package org.pariskv.compute;

import java.util.List;
import java.util.Locale;

/**
 * Which device to run on, as a user types it: {@code java}, {@code opencl}, {@code opencl:N}, {@code cuda},
 * {@code cuda:N} or {@code auto}. {@code opencl:N} counts devices across all OpenCL platforms in listing order.
 *
 * @param backend the backend, or null for {@code auto}
 * @param index   the device index, or -1 for "the best one of that backend"
 */
public record DeviceSpec(BackendKind backend, int index) {
    private static final System.Logger LOG = System.getLogger("org.pariskv.compute");
    private static final String FORMS = "java, opencl, opencl:N, cuda, cuda:N, auto";

    public static final DeviceSpec AUTO = new DeviceSpec(null, -1);
    public static final DeviceSpec JAVA = new DeviceSpec(BackendKind.JAVA, 0);

    /** @throws IllegalArgumentException naming the accepted forms when {@code text} is not one of them */
    public static DeviceSpec parse(String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("empty device spec; expected one of " + FORMS);
        String t = text.trim().toLowerCase(Locale.ROOT);
        String name = t;
        int index = -1;
        int colon = t.indexOf(':');
        if (colon >= 0) {
            name = t.substring(0, colon);
            String n = t.substring(colon + 1);
            if (!n.matches("[0-9]{1,4}")) {
                throw new IllegalArgumentException("bad device index in '" + text + "': expected a number after ':' ("
                        + FORMS + ")");
            }
            index = Integer.parseInt(n);
        }
        return switch (name) {
            case "auto" -> {
                if (index >= 0) throw new IllegalArgumentException("'auto' takes no index ('" + text + "')");
                yield AUTO;
            }
            case "java", "jvm" -> {
                if (index > 0) throw new IllegalArgumentException("there is only one java device ('" + text + "')");
                yield JAVA;
            }
            case "opencl", "cl" -> new DeviceSpec(BackendKind.OPENCL, index);
            case "cuda" -> new DeviceSpec(BackendKind.CUDA, index);
            default -> throw new IllegalArgumentException("unknown device '" + text + "'; expected one of " + FORMS);
        };
    }

    public boolean isAuto() {
        return backend == null;
    }

    /**
     * The device this spec names among {@code listing}. {@code auto} picks the first CUDA device, else the
     * first OpenCL GPU, else java (OpenCL CPU devices such as PoCL are never picked by auto), and logs why.
     *
     * @throws BackendUnavailableException when the named backend or index is not there (with the reason)
     */
    public DeviceInfo resolve(DeviceListing listing) {
        if (isAuto()) {
            List<DeviceInfo> cuda = listing.of(BackendKind.CUDA);
            if (!cuda.isEmpty()) return cuda.getFirst();
            String cudaWhy = listing.unavailable().getOrDefault(BackendKind.CUDA, "no CUDA device");
            DeviceInfo gpu = listing.of(BackendKind.OPENCL).stream().filter(d -> d.type() == DeviceType.GPU)
                    .findFirst().orElse(null);
            if (gpu != null) {
                LOG.log(System.Logger.Level.INFO, "device auto -> " + gpu.spec() + " (" + gpu.name() + "); cuda: " + cudaWhy);
                return gpu;
            }
            DeviceInfo java = listing.of(BackendKind.JAVA).getFirst();
            LOG.log(System.Logger.Level.INFO, "device auto -> java; cuda: " + cudaWhy + "; opencl: "
                    + listing.unavailable().getOrDefault(BackendKind.OPENCL, "no OpenCL GPU"));
            return java;
        }
        List<DeviceInfo> candidates = listing.of(backend);
        if (candidates.isEmpty()) {
            throw new BackendUnavailableException("device '" + this + "' requested but " + backend.id()
                    + " is unavailable: " + listing.unavailable().getOrDefault(backend, "no device"));
        }
        if (index < 0) {
            return candidates.stream().filter(d -> d.type() == DeviceType.GPU).findFirst().orElse(candidates.getFirst());
        }
        if (index >= candidates.size()) {
            StringBuilder have = new StringBuilder();
            for (DeviceInfo d : candidates) have.append(have.isEmpty() ? "" : ", ").append(d.spec()).append(' ').append(d.name());
            throw new BackendUnavailableException("device '" + this + "' does not exist (" + backend.id()
                    + " devices: " + have + ")");
        }
        return candidates.get(index);
    }

    @Override
    public String toString() {
        if (isAuto()) return "auto";
        if (backend == BackendKind.JAVA) return "java";
        return index < 0 ? backend.id() : backend.id() + ":" + index;
    }
}
