package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Slices share their parent's memory both ways, are not counted again, and refuse misaligned offsets. */
class BufferSliceTest {

    private static Backend backend(String name) {
        return switch (name) {
            case "java" -> Backends.open(DeviceSpec.JAVA);
            case "cuda" -> Backends.open(OpenClTestSupport.cudaDevice());
            default -> Backends.open(OpenClTestSupport.openClDevice());
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "opencl", "cuda"})
    void slicesShareTheParentsMemory(String name) {
        Backend b = backend(name);
        long a = b.sliceAlignment();
        int floats = (int) (3 * a / 4);
        long buffers = NativeMemoryLedger.liveBuffers();
        try (DeviceBuffer parent = b.allocate(4L * floats)) {
            float[] all = new float[floats];
            for (int i = 0; i < floats; i++) all[i] = i;
            b.copyIn(parent, MemorySegment.ofArray(all));
            try (DeviceBuffer mid = b.slice(parent, a, a)) {
                assertEquals(buffers + 1, NativeMemoryLedger.liveBuffers(), "a slice is not another allocation");
                float[] seen = new float[(int) (a / 4)];
                b.copyOut(MemorySegment.ofArray(seen), mid);
                for (int i = 0; i < seen.length; i++) assertEquals(a / 4 + i, seen[i], 0f);
                float[] ones = new float[seen.length];
                java.util.Arrays.fill(ones, -1f);
                b.copyIn(mid, MemorySegment.ofArray(ones));
                float[] back = new float[floats];
                b.copyOut(MemorySegment.ofArray(back), parent);
                for (int i = 0; i < floats; i++) all[i] = i >= a / 4 && i < a / 2 ? -1f : i;
                assertArrayEquals(all, back, "writes through the slice land in the parent");
            }
            if (a > 1) assertThrows(IllegalArgumentException.class, () -> b.slice(parent, a / 2, 4).close());
        }
        assertEquals(buffers, NativeMemoryLedger.liveBuffers());
    }
}
