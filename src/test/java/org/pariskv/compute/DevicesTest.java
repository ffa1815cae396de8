package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DevicesTest {
    @Test
    void listsJavaFirstAndExplainsEveryMissingBackend() {
        DeviceListing listing = Devices.list();
        assertEquals(BackendKind.JAVA, listing.devices().getFirst().backend());
        for (BackendKind b : BackendKind.values()) {
            boolean listed = !listing.of(b).isEmpty();
            boolean explained = listing.unavailable().containsKey(b);
            assertTrue(listed ^ explained, b + ": either devices or a reason, not both/neither: " + listing.describe());
        }
        listing.unavailable().values().forEach(why -> assertFalse(why.isBlank()));
    }

    @Test
    void theJavaBackendsMemoryIsCalledTheHeapNotDeviceMemory() {
        DeviceInfo java = Devices.list().of(BackendKind.JAVA).getFirst();
        assertTrue(java.describe().contains("JVM heap "), java.describe());
        assertFalse(OpenClTestSupport.openClDevice().describe().contains("heap"));
    }

    @Test
    void openClDevicesReportRealProperties() {
        DeviceInfo d = OpenClTestSupport.openClDevice();
        assertFalse(d.name().isBlank());
        assertFalse(d.platform().isBlank());
        assertTrue(d.globalMemBytes() > 1 << 20, d.describe());
        assertTrue(d.computeUnits() >= 1, d.describe());
        assertTrue(d.maxWorkGroup() >= 64, d.describe());
        assertTrue(d.localMemBytes() >= 16 * 1024, d.describe());
        assertEquals("opencl:" + d.index(), d.spec());
    }

    @Test
    void cudaAbsenceIsAReasonNotACrash() {
        DeviceListing listing = Devices.list();
        if (listing.of(BackendKind.CUDA).isEmpty()) {
            assertTrue(listing.unavailable().get(BackendKind.CUDA).startsWith("CUDA"), listing.unavailable().toString());
        }
    }
}
