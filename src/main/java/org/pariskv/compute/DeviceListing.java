package org.pariskv.compute;

import java.util.List;
import java.util.Map;

/**
 * What {@link Devices#list()} found.
 *
 * @param devices     java first, then every OpenCL device (platform order), then every CUDA device
 * @param unavailable for each backend that could not be used, the one-line reason
 */
public record DeviceListing(List<DeviceInfo> devices, Map<BackendKind, String> unavailable) {
    public DeviceListing {
        devices = List.copyOf(devices);
        unavailable = Map.copyOf(unavailable);
    }

    public List<DeviceInfo> of(BackendKind backend) {
        return devices.stream().filter(d -> d.backend() == backend).toList();
    }

    /** A listing for humans: one line per device, one per unavailable backend. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (DeviceInfo d : devices) sb.append(d.describe()).append('\n');
        unavailable.forEach((b, why) -> sb.append(String.format("%-9s unavailable: %s%n", b.id(), why)));
        return sb.toString();
    }
}
