package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.OpenClTestSupport;

/**
 * {@link DeviceDecoder#decodeBound}: steps whose q/k/v are already on the device give the very bits of
 * {@link DeviceDecoder#decode} with the same inputs from the host (one decoder of each kind, side by side, through
 * prefill, dense and sparse steps and window slides), on device and host-mapped K/V; a non-finite input is recorded
 * in the bound flag with its kind and element; staged K/V and double binding are refused.
 */
class BoundInputsTest {

    static final ModelShape SHAPE = new ModelShape(1, 8, 2, 64);

    static Stream<Arguments> devices() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(KvPlacement.DEVICE, KvPlacement.MAPPED).flatMap(kv -> Stream.of(Arguments.of("opencl", opencl, kv),
                Arguments.of("cuda", cuda, kv)));
    }

    @ParameterizedTest(name = "{0} kv={2}")
    @MethodSource("devices")
    void boundStepsEqualHostStepsBitForBit(String label, Supplier<DeviceInfo> device, KvPlacement placement) {
        Backend backend = Backends.open(device.get());
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0).withTopk(40);
        int batch = 2, hq = SHAPE.queryHeads(), hkv = SHAPE.kvHeads(), d = SHAPE.headDim();
        int nq = batch * hq * d, nkv = batch * hkv * d;
        int[] prompts = {700, 1500};
        SplittableRandom rnd = new SplittableRandom(5);
        DeviceDecoder.Options o = DeviceDecoder.Options.defaults().withPlacement(placement);
        try (Arena arena = Arena.ofConfined();
             DeviceDecoder host = new DeviceDecoder(backend, SHAPE, cfg, batch, 1700, o);
             DeviceDecoder bound = new DeviceDecoder(backend, SHAPE, cfg, batch, 1700, o);
             DeviceBuffer q = backend.allocate(4L * nq); DeviceBuffer k = backend.allocate(4L * nkv);
             DeviceBuffer v = backend.allocate(4L * nkv); DeviceBuffer flags = backend.allocate(8)) {
            for (int b = 0; b < batch; b++) {
                float[] pk = random(rnd, prompts[b] * hkv * d), pv = random(rnd, prompts[b] * hkv * d);
                host.prefill(b, pk, pv, prompts[b]);
                bound.prefill(b, pk, pv, prompts[b]);
            }
            bound.bindInputs(q, k, v, flags, 1);
            backend.zero(flags, 0, 8);
            MemorySegment outSeg = arena.allocate(4L * nq, 16), flagSeg = arena.allocate(8, 4);
            for (int step = 0; step < 40; step++) {
                boolean dense = step % 7 == 3;
                float[] sq = random(rnd, nq), sk = random(rnd, nkv), sv = random(rnd, nkv), want = new float[nq];
                host.decode(sq, sk, sv, want, dense);
                backend.copyIn(q, MemorySegment.ofArray(sq));
                backend.copyIn(k, MemorySegment.ofArray(sk));
                backend.copyIn(v, MemorySegment.ofArray(sv));
                bound.decodeBound(dense);
                backend.copyOut(outSeg, bound.output());
                assertArrayEquals(want, outSeg.toArray(ValueLayout.JAVA_FLOAT), "step " + step + (dense ? " (dense)" : ""));
                for (int b = 0; b < batch; b++) assertEquals(host.length(b), bound.length(b));
            }
            backend.copyOut(flagSeg, flags);
            assertEquals(0, flagSeg.getAtIndex(ValueLayout.JAVA_INT, 1), "finite inputs leave the flag at 0");

            float[] sv = random(rnd, nkv), sq = random(rnd, nq);
            sv[hkv * d + 5] = Float.NaN; // sequence 1, kv head 0, element 5
            sq[3] = Float.POSITIVE_INFINITY;
            backend.copyIn(q, MemorySegment.ofArray(sq));
            backend.copyIn(v, MemorySegment.ofArray(sv));
            bound.decodeBound(false);
            backend.copyOut(flagSeg, flags);
            int code = flagSeg.getAtIndex(ValueLayout.JAVA_INT, 1);
            assertEquals(2, code >>> 28, "the largest record is the value's");
            assertEquals(hkv * d + 5, (code & 0x0fffffff) - 1);
            assertEquals(0, flagSeg.getAtIndex(ValueLayout.JAVA_INT, 0), "flag 0 is not this decoder's");

            var twice = assertThrows(IllegalStateException.class, () -> bound.bindInputs(q, k, v, flags, 0));
            assertTrue(twice.getMessage().contains("bound already"), twice.getMessage());
            var unbound = assertThrows(IllegalStateException.class, () -> host.decodeBound(false));
            assertTrue(unbound.getMessage().contains("bindInputs"), unbound.getMessage());
            var small = assertThrows(IllegalArgumentException.class, () -> host.bindInputs(k, k, v, flags, 0));
            assertTrue(small.getMessage().startsWith("q holds"), small.getMessage());
        }
    }

    static Stream<Arguments> backends() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(Arguments.of("opencl", opencl), Arguments.of("cuda", cuda));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void stagedKvRefusesBoundInputs(String label, Supplier<DeviceInfo> device) {
        Backend backend = Backends.open(device.get());
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0).withTopk(40);
        try (DeviceDecoder dec = new DeviceDecoder(backend, SHAPE, cfg, 1, 600, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED));
             DeviceBuffer b = backend.allocate(1 << 16)) {
            var e = assertThrows(IllegalStateException.class, () -> dec.bindInputs(b, b, b, b, 0));
            assertTrue(e.getMessage().contains("staged"), e.getMessage());
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1) + (i % 64 == 3 ? 2f : 0f);
        return a;
    }
}
