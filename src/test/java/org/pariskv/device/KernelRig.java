package org.pariskv.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pariskv.compute.Backend;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.Program;

/**
 * One kernel of {@code pariskv.c} launched by hand, for tests that feed it inputs the pipeline rarely makes: the
 * program under chosen defines, device buffers uploaded from arrays, and host copies to hand the kernel's twin.
 * Closing frees every buffer and host copy.
 */
final class KernelRig implements AutoCloseable {
    final Backend backend;
    private final Arena arena = Arena.ofConfined();
    private final List<DeviceBuffer> buffers = new ArrayList<>();

    KernelRig(Backend backend) {
        this.backend = backend;
    }

    /** The defines the decoder sets for one layer of {@code hkv} KV heads of D = {@code headDim}, GROUP 2. */
    static Map<String, String> defines(int headDim, int hkv, int nq, int kmax) {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("HEAD_DIM", "" + headDim);
        d.put("BLOCKS", "" + headDim / 8);
        d.put("GROUP", "2");
        d.put("HKV", "" + hkv);
        d.put("NQ", "" + nq);
        d.put("KMAX", "" + kmax);
        d.put("HADAMARD", "1");
        d.put("ROT_SCALE_BITS", "0x" + Integer.toHexString(Float.floatToRawIntBits((float) (1 / Math.sqrt(headDim)))) + "u");
        d.put(Backend.STRICT_FP, "1");
        return d;
    }

    Program compile(Map<String, String> defines) {
        return backend.compile("pariskv.c", KernelSource.resource("pariskv.c").compilable(), defines);
    }

    /** Launches {@code task} (buffers or kernel arguments) and waits for it. */
    void launch(Program program, String task, Grid grid, Object... args) {
        List<KernelArg> a = new ArrayList<>();
        for (Object o : args) a.add(o instanceof DeviceBuffer b ? new KernelArg.Buffer(b) : (KernelArg) o);
        backend.launch(program.kernel(task), grid, a, false);
        backend.finish();
    }

    DeviceBuffer upload(MemorySegment data) {
        DeviceBuffer b = backend.allocate(data.byteSize());
        buffers.add(b);
        backend.copyIn(b, data);
        return b;
    }

    DeviceBuffer fill(int[] a, int v) {
        java.util.Arrays.fill(a, v);
        return upload(MemorySegment.ofArray(a));
    }

    DeviceBuffer fill(float[] a, float v) {
        java.util.Arrays.fill(a, v);
        return upload(MemorySegment.ofArray(a));
    }

    /** The buffer's bytes now, in host memory. */
    MemorySegment read(DeviceBuffer b) {
        MemorySegment m = arena.allocate(b.bytes(), 64);
        backend.copyOut(m, b);
        return m;
    }

    /** A host copy of what the buffer holds now (the twin's input or output to be). */
    MemorySegment host(DeviceBuffer b) {
        return read(b);
    }

    MemorySegment host(byte[] a) {
        return arena.allocate(a.length, 64).copyFrom(MemorySegment.ofArray(a));
    }

    MemorySegment host(int[] a) {
        return arena.allocate(4L * a.length, 64).copyFrom(MemorySegment.ofArray(a));
    }

    MemorySegment host(float[] a) {
        return arena.allocate(4L * a.length, 64).copyFrom(MemorySegment.ofArray(a));
    }

    @Override
    public void close() {
        for (DeviceBuffer b : buffers) b.close();
        arena.close();
    }
}
