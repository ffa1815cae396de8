package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.OpenClTestSupport;

/** The memory budget arithmetic, its agreement with what DeviceDecoder allocates, and the refusal. */
class MemoryPlanTest {
    static final ModelShape LLAMA = ModelShape.llama3_8b();
    static final ParisKvConfig CFG = ParisKvConfig.defaults().withTopk(100);
    static final long GIB = 1L << 30;

    @Test
    void indexIs112BytesPerKeyPerHeadAtD128() {
        assertEquals(112, MemoryPlan.indexBytesPerKey(128));
        assertEquals(56, MemoryPlan.indexBytesPerKey(64));
        MemoryPlan p = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, true, BackendKind.CUDA);
        assertEquals(112L * 8 * (1 << 20), p.layer().get(1).device(), "index row of one layer: 112 B x Hkv x tokens");
    }

    @Test
    void millionTokenLlamaKvIs128GiB() {
        assertEquals(128 * GIB, MemoryPlan.kvBytes(LLAMA, 1 << 20, 1));
        MemoryPlan onDevice = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, false, BackendKind.CUDA);
        MemoryPlan offloaded = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, true, BackendKind.CUDA);
        assertEquals(4 * GIB, onDevice.layer().getFirst().device(), "K/V of one layer");
        assertEquals(128 * GIB, offloaded.hostBytes());
        assertEquals(0, onDevice.hostBytes());
        // the device keeps each layer's sink and local rows (the window): 8 streams of (sink + ring) K and V rows
        long window = 2L * 2 * 8 * (CFG.sink() + DeviceDecoder.ringRows(CFG)) * 128 - 2 * 4; // (less the 4-byte placeholders)
        assertEquals(onDevice.deviceBytes() - 128 * GIB + 32 * window, offloaded.deviceBytes(), "offload moves the K/V rows but the window's");
        assertEquals(32 * offloaded.deviceBytesPerLayer(), offloaded.deviceBytes());
        // the java backend: RowStore chunks of 4096 rows, K and V
        MemoryPlan java = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, false, BackendKind.JAVA);
        assertEquals(0, java.deviceBytes());
        assertEquals(128 * GIB, java.hostBytes());
        assertEquals(2L * 2 * 8 * 128 * 4096 * 32, MemoryPlan.of(LLAMA, CFG, 1, 1, false, BackendKind.JAVA).hostBytes(), "one chunk per store");
    }

    @Test
    void planUsesTheDecodersOwnSizes() {
        ModelShape layer = LLAMA.withLayers(1);
        for (GqaMode mode : GqaMode.values()) {
            ParisKvConfig cfg = CFG.withGqa(mode);
            Map<String, Long> b = DeviceDecoder.bufferBytes(layer, cfg, 2, 70_000);
            long all = b.values().stream().mapToLong(Long::longValue).sum();
            MemoryPlan p = MemoryPlan.of(layer, cfg, 70_000, 2, false, BackendKind.OPENCL);
            assertEquals(all, p.deviceBytesPerLayer());
            assertEquals(DeviceDecoder.deviceBytes(layer, cfg, 2, 70_000, false), p.deviceBytesPerLayer());
            MemoryPlan o = MemoryPlan.of(layer, cfg, 70_000, 2, true, BackendKind.OPENCL);
            assertEquals(DeviceDecoder.deviceBytes(layer, cfg, 2, 70_000, true), o.deviceBytesPerLayer());
            assertEquals(DeviceDecoder.hostBytes(layer, cfg, 2, 70_000, true), o.hostBytesPerLayer());
            assertEquals(2L * 2 * 2 * 8 * 70_000 * 128, o.hostBytesPerLayer());
            MemoryPlan st = MemoryPlan.of(layer, cfg, 70_000, 2, KvPlacement.STAGED, BackendKind.OPENCL);
            assertEquals(DeviceDecoder.deviceBytes(layer, cfg, 2, 70_000, KvPlacement.STAGED), st.deviceBytesPerLayer());
            assertEquals(DeviceDecoder.hostBytes(layer, cfg, 2, 70_000, KvPlacement.STAGED), st.hostBytesPerLayer());
            Map<String, Long> sb = DeviceDecoder.bufferBytes(layer, cfg, 2, 70_000, KvPlacement.STAGED);
            assertEquals(sb.values().stream().mapToLong(Long::longValue).sum(), st.deviceBytesPerLayer() + st.hostBytesPerLayer(), "every buffer in one row");
        }
    }

    @Test
    void stagedKvAreHostBytesPlusOneStepOfStagingRows() {
        ModelShape layer = LLAMA.withLayers(1);
        MemoryPlan onDevice = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, KvPlacement.DEVICE, BackendKind.CUDA);
        MemoryPlan staged = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, KvPlacement.STAGED, BackendKind.CUDA);
        // defaults: sink 4, local 512, interval 128, top-k 100 (KMAX 128) -> 772 rows; the dense threshold 2000 is larger
        assertEquals(1999, DeviceDecoder.stagedSlots(CFG, 1 << 20));
        long stagingRows = 2L * 2 * 8 * 1999 * 128; // K and V, 8 streams, bf16 D=128: 7.8 MiB per layer
        long scratch = 2L * 8 * (65536 / 8) * 128;  // encodeKeys scratch: 16 MiB per layer
        Map<String, Long> b = DeviceDecoder.bufferBytes(layer, CFG, 1, 1 << 20, KvPlacement.STAGED);
        assertEquals(stagingRows, b.get("stagedPinned"));
        assertEquals(stagingRows, b.get("staged"));
        assertEquals(scratch, b.get("encodeScratch"));
        assertEquals(128 * GIB + 32 * stagingRows, staged.hostBytes(), "K/V and the pinned staging rows on the host");
        long window = 2L * 2 * 8 * (CFG.sink() + DeviceDecoder.ringRows(CFG)) * 128 - 2 * 4; // the device window (less the 4-byte placeholders)
        assertEquals(onDevice.deviceBytes() - 128 * GIB + 32 * (stagingRows + scratch + window), staged.deviceBytes());
        assertEquals("K/V rows (host, staged)", staged.layer().getFirst().name());
        assertTrue(staged.describe().endsWith("K/V in host memory, staged per step"), staged.describe());
        assertTrue(staged.layer().stream().anyMatch(r -> r.name().startsWith("staging") && r.device() == stagingRows + scratch && r.host() == stagingRows));
    }

    @Test
    void refusalSaysWhatIsNeededWhatIsFreeAndWhatToChange() {
        MemoryPlan p = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, false, BackendKind.CUDA);
        MemoryBudget b = new MemoryBudget(70 * GIB, "free on cuda:0 (cuMemGetInfo)", 500 * GIB, "available");
        var e = assertThrows(InsufficientMemoryException.class, () -> p.require(b, "bench"));
        assertTrue(e.getMessage().startsWith("not enough device memory for bench (context 1048576, batch 1, 32 layers"), e.getMessage());
        assertTrue(e.getMessage().contains("needs " + MemoryPlan.gib(p.deviceBytes()) + " but 70.00 GiB is free on cuda:0 (cuMemGetInfo)"), e.getMessage());
        assertTrue(e.getMessage().contains("pass --offload"), e.getMessage());
        assertTrue(e.getMessage().contains("--context or --batch"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));

        MemoryPlan o = MemoryPlan.of(LLAMA, CFG, 1 << 20, 1, true, BackendKind.CUDA);
        o.require(b, "bench"); // fits
        String host = o.refusal(new MemoryBudget(70 * GIB, "x", 100 * GIB, "allowed by --host-memory"), "bench");
        assertTrue(host.startsWith("not enough host memory"), host);
        assertTrue(host.contains("needs 128.00 GiB but 100.00 GiB is allowed by --host-memory"), host);
        assertNull(o.refusal(MemoryBudget.unknown(), "bench"), "unknown budgets are not checked");
    }

    @Test
    void parsesSizes() {
        assertEquals(70 * GIB, MemoryPlan.parseBytes("70G"));
        assertEquals(70 * GIB, MemoryPlan.parseBytes("70GiB"));
        assertEquals(512L << 20, MemoryPlan.parseBytes("512m"));
        assertEquals(1L << 40, MemoryPlan.parseBytes("1T"));
        assertEquals(1234, MemoryPlan.parseBytes("1234"));
        assertThrows(IllegalArgumentException.class, () -> MemoryPlan.parseBytes("7X"));
        assertThrows(IllegalArgumentException.class, () -> MemoryPlan.parseBytes("-3G"));
    }

    @Test
    void decoderAllocatesWhatThePlanSaysAndRefusesBeforeAllocating() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ModelShape shape = new ModelShape(1, 8, 2, 64);
        ParisKvConfig cfg = ParisKvConfig.defaults().withTopk(50);
        for (boolean offload : new boolean[] {false, true}) {
            try (DeviceDecoder dec = new DeviceDecoder(backend, shape, cfg, 2, 5000, DeviceDecoder.Options.defaults().withOffload(offload))) {
                assertEquals(DeviceDecoder.deviceBytes(shape, cfg, 2, 5000, offload), dec.deviceBytes());
                assertEquals(DeviceDecoder.hostBytes(shape, cfg, 2, 5000, offload), dec.hostMappedBytes());
                assertEquals(offload ? MemoryKind.OPENCL_USE_HOST_PTR : MemoryKind.DEVICE, dec.kvMemory());
            }
        }
        try (DeviceDecoder dec = new DeviceDecoder(backend, shape, cfg, 2, 5000, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED))) {
            assertEquals(DeviceDecoder.deviceBytes(shape, cfg, 2, 5000, KvPlacement.STAGED), dec.deviceBytes());
            assertEquals(DeviceDecoder.hostBytes(shape, cfg, 2, 5000, KvPlacement.STAGED), dec.hostBytes());
            assertEquals(MemoryKind.HOST_STAGED, dec.kvMemory());
        }
        long buffers = NativeMemoryLedger.liveBuffers(), bytes = NativeMemoryLedger.liveBytes();
        var e = assertThrows(InsufficientMemoryException.class, () -> new DeviceDecoder(backend, shape, cfg, 2, 5000,
                DeviceDecoder.Options.defaults().withDeviceMemory(1 << 20)));
        assertTrue(e.getMessage().contains("but 1.00 MiB is allowed by --device-memory"), e.getMessage());
        assertTrue(e.getMessage().contains("--offload"), e.getMessage());
        // host K/V rows grow by segments: the decoder needs its first segment (here the whole 5000 tokens, 5.12 MB) up front
        var h = assertThrows(InsufficientMemoryException.class, () -> new DeviceDecoder(backend, shape, cfg, 2, 5000,
                DeviceDecoder.Options.defaults().withOffload(true).withHostMemory(1 << 20)));
        assertTrue(h.getMessage().startsWith("not enough host memory"), h.getMessage());
        assertTrue(h.getMessage().contains("needs 4.88 MiB (what is allocated up front and the first segment of the K/V rows;"
                + " the rest is committed as the context grows) but 1.00 MiB is allowed by --host-memory"), h.getMessage());
        assertEquals(buffers, NativeMemoryLedger.liveBuffers(), "nothing allocated by a refused decoder");
        assertEquals(bytes, NativeMemoryLedger.liveBytes());
    }
}
