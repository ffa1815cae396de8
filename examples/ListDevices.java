import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceListing;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;

/**
 * Lists every backend and device ParisKV can use, and the one auto-selection picks.
 * Run: ./pariskv example ListDevices
 */
public class ListDevices {
    public static void main(String[] args) {
        DeviceListing listing = Devices.list();
        for (DeviceInfo d : listing.devices()) System.out.println(d.describe());
        listing.unavailable().forEach((backend, why) -> System.out.println(backend.id() + ": unavailable (" + why + ")"));
        System.out.println("auto -> " + DeviceSpec.AUTO.resolve(listing).spec());
    }
}
