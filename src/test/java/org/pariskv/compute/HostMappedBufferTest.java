package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Backend#allocateHostMapped}: copies, zero, kernel arguments, memory kind, freeing. */
class HostMappedBufferTest {

    static Stream<Arguments> devices() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(Arguments.of("opencl", opencl), Arguments.of("cuda", cuda));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void hostMappedBufferWorksLikeADeviceBuffer(String label, Supplier<DeviceInfo> device) {
        DeviceInfo info = device.get();
        Backend backend = Backends.open(info);
        int n = 1000;
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i * 0.5f;
            y[i] = 1000 - i;
        }
        var smoke = org.pariskv.compute.jit.KernelTranslator.translate(org.pariskv.compute.smoke.SmokeTasks.class,
                org.pariskv.compute.jit.Dialect.of(info.backend()));
        Kernel saxpy = backend.compile(smoke.sourceName(), smoke.source(), Map.of(Backend.STRICT_FP, "1")).kernel("saxpy");
        long buffers = NativeMemoryLedger.liveBuffers(), bytes = NativeMemoryLedger.liveBytes();
        for (boolean mappedX : new boolean[] {false, true}) {
            DeviceBuffer bx = mappedX ? backend.allocateHostMapped(4L * n) : backend.allocate(4L * n);
            DeviceBuffer by = backend.allocateHostMapped(4L * n);
            MemoryKind expected = info.backend() == BackendKind.CUDA ? MemoryKind.CUDA_HOST_MAPPED : MemoryKind.OPENCL_ALLOC_HOST_PTR;
            assertEquals(expected, by.kind());
            assertTrue(by.isHostMapped());
            assertEquals(info.backend() == BackendKind.CUDA, by.hostSegment() != null, "CUDA exposes the host view");
            assertEquals(mappedX ? expected : MemoryKind.DEVICE, bx.kind());
            backend.copyIn(bx, MemorySegment.ofArray(x));
            backend.copyIn(by, MemorySegment.ofArray(y));
            backend.launch(saxpy, Grid.groups((n + 63) / 64, 64), List.of(new KernelArg.Buffer(bx), new KernelArg.Buffer(by),
                    new KernelArg.Float(2f), new KernelArg.Int(n)), false);
            backend.zero(by, 4L * 10, 4L * 5); // ordered after the kernel
            backend.copyIn(by, 4L * 20, MemorySegment.ofArray(new float[] {-1f, -2f}));
            float[] got = new float[n];
            backend.copyOut(MemorySegment.ofArray(got), by);
            for (int i = 0; i < n; i++) {
                float want = i >= 10 && i < 15 ? 0f : i == 20 ? -1f : i == 21 ? -2f : 2f * x[i] + y[i];
                assertEquals(want, got[i], 1e-6f, label + " element " + i);
            }
            float[] part = new float[3];
            backend.copyOut(MemorySegment.ofArray(part), by, 4L * 19);
            assertArrayEquals(new float[] {2f * x[19] + y[19], -1f, -2f}, part);
            if (by.hostSegment() != null) assertEquals(-1f, by.hostSegment().get(ValueLayout.JAVA_FLOAT, 80));
            bx.close();
            by.close();
            by.close(); // twice is harmless
        }
        assertEquals(buffers, NativeMemoryLedger.liveBuffers(), "every buffer freed");
        assertEquals(bytes, NativeMemoryLedger.liveBytes());
    }

    @Test
    void javaBackendHostMappedIsNativeMemory() {
        Backend backend = Backends.open(JavaBackend.describeJvm());
        long buffers = NativeMemoryLedger.liveBuffers();
        try (DeviceBuffer b = backend.allocateHostMapped(64)) {
            assertEquals(MemoryKind.JVM_NATIVE, b.kind());
            assertNotNull(b.hostSegment());
            assertTrue(b.hostSegment().isNative());
            backend.copyIn(b, 8, MemorySegment.ofArray(new int[] {7}));
            assertEquals(7, b.hostSegment().get(ValueLayout.JAVA_INT, 8));
            assertEquals(buffers + 1, NativeMemoryLedger.liveBuffers());
        }
        assertEquals(buffers, NativeMemoryLedger.liveBuffers());
    }
}
