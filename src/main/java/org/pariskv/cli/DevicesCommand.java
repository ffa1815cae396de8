package org.pariskv.cli;

import java.util.concurrent.Callable;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceListing;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import picocli.CommandLine.Command;

/** {@code pariskv devices}: every backend and device, like {@code tornado --devices}. */
@Command(name = "devices", mixinStandardHelpOptions = true, description = "List backends and devices (backend, platform, name, memory, compute units).")
final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        DeviceListing listing = Devices.list();
        for (DeviceInfo d : listing.devices()) System.out.println("  " + d.describe());
        for (BackendKind k : BackendKind.values()) {
            String why = listing.unavailable().get(k);
            if (why != null) System.out.println("  " + k.id() + ": unavailable — " + why);
        }
        DeviceInfo auto = DeviceSpec.AUTO.resolve(listing);
        System.out.println("auto -> " + auto.spec());
        return 0;
    }
}
