package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.CudaBackend;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.JavaBackend;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.ffm.ReservedMemory;

/**
 * A decoder whose host K/V rows grow by segments ({@link HostKvStore}, small segments here) against a decoder with
 * K/V rows in device memory: the same outputs bit for bit at every step while segments come into use exactly as the
 * longest sequence crosses their boundaries; a segment refused at the host cap leaves the decoder as it was, and it
 * goes on once memory is free; close releases everything. OpenCL (PoCL on CI) and CUDA where present.
 */
class SegmentedKvTest {
    static final ModelShape SHAPE = new ModelShape(1, 8, 2, 64);
    static final int D = 64, HQ = 8, HKV = 2, BATCH = 2, STREAMS = BATCH * HKV, SEG = 128;
    static final ParisKvConfig CFG = ParisKvConfig.defaults().withGqa(GqaMode.PER_HEAD).withWindow(4, 128).withInterval(32)
            .withMinSparseTokens(0).withTopk(50);

    static Stream<Arguments> devices() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        // capacity 1024: whole pages per stream; 1000: streams share pages (CUDA registers no page twice)
        return Stream.of(KvPlacement.MAPPED, KvPlacement.STAGED).flatMap(kv -> Stream.of(
                Arguments.of("opencl", opencl, kv, 1024), Arguments.of("cuda", cuda, kv, 1024), Arguments.of("cuda", cuda, kv, 1000)));
    }

    static float[] random(SplittableRandom rnd, int n, float offset) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble(-1, 1) + (i % 64 == 3 ? offset : 0f);
        return v;
    }

    static long segmentBytes(int segments) {
        return 2L * 2 * D * STREAMS * SEG * segments;
    }

    @ParameterizedTest(name = "{0} kv={2} capacity {3}")
    @MethodSource("devices")
    void growsBySegmentsWithTheOutputsOfDeviceKv(String label, Supplier<DeviceInfo> device, KvPlacement placement, int capacity) {
        DeviceInfo info = device.get();
        Backend backend = Backends.open(info);
        boolean registers = placement == KvPlacement.MAPPED && info.backend() == BackendKind.CUDA && ((CudaBackend) backend).hostPointerIsDevicePointer();
        MemoryKind kind = placement == KvPlacement.STAGED ? MemoryKind.HOST_STAGED
                : info.backend() == BackendKind.OPENCL ? MemoryKind.OPENCL_USE_HOST_PTR
                : registers ? MemoryKind.CUDA_HOST_REGISTERED : MemoryKind.CUDA_HOST_MAPPED;
        boolean segmented = kind != MemoryKind.CUDA_HOST_MAPPED;
        long ledger0 = NativeMemoryLedger.liveBytes(kind), buffers0 = NativeMemoryLedger.liveBuffers(), bytes0 = NativeMemoryLedger.liveBytes();
        long reservations0 = ReservedMemory.live();
        int kv = HKV * D, qn = HQ * D;
        SplittableRandom rnd = new SplittableRandom(31);
        DeviceDecoder.Options options = DeviceDecoder.Options.defaults().withPlacement(placement);
        try (DeviceDecoder ref = new DeviceDecoder(backend, SHAPE, CFG, BATCH, capacity);
             DeviceDecoder seg = new DeviceDecoder(backend, SHAPE, CFG, BATCH, capacity, options, SEG)) {
            assertEquals(kind, seg.kvMemory());
            assertEquals(SEG, seg.hostKvSegmentTokens());
            assertEquals(segmented ? 0 : 8, seg.hostKvSegments(), "nothing committed before the first row");
            assertEquals(2L * 2 * D * STREAMS * capacity, seg.hostBytes() - (placement == KvPlacement.STAGED ? seg.hostMappedBytes() : 0),
                    "host bytes: the whole capacity, reserved");
            int[] prompts = {200, 500};
            for (int b = 0; b < BATCH; b++) {
                float[] k = random(rnd, prompts[b] * kv, 2.5f), v = random(rnd, prompts[b] * kv, 0f);
                ref.prefill(b, k, v, prompts[b]);
                seg.prefill(b, k, v, prompts[b]);
                if (segmented) assertEquals((prompts[b] + SEG - 1) / SEG, seg.hostKvSegments(), "after prefill of sequence " + b);
            }
            float[] outRef = new float[BATCH * qn], outSeg = new float[BATCH * qn];
            int crossed = 0;
            for (int step = 0; step < 150; step++) {
                float[] q = random(rnd, BATCH * qn, 0f), k = random(rnd, BATCH * kv, 2.5f), v = random(rnd, BATCH * kv, 0f);
                int before = seg.hostKvSegments();
                ref.decode(q, k, v, outRef, false);
                seg.decode(q, k, v, outSeg, false);
                assertArrayEquals(outRef, outSeg, label + " step " + step + ": the same output as K/V in device memory");
                int longest = Math.max(seg.length(0), seg.length(1));
                if (!segmented) continue;
                int segs = (longest + SEG - 1) / SEG;
                assertEquals(segs, seg.hostKvSegments(), "segments at length " + longest);
                if (segs > before) {
                    crossed++;
                    assertEquals(0, (longest - 1) % SEG, "a segment comes into use with the first row beyond the last: length " + longest);
                }
                assertEquals(segmentBytes(segs), seg.hostKvCommittedBytes());
                assertEquals(segmentBytes(segs), NativeMemoryLedger.liveBytes(kind) - ledger0, "the ledger counts the segments in use");
                if (registers && capacity % SEG == 0) assertEquals(2 * STREAMS * segs, seg.hostKvRegistrations(), "one registration per (stream, segment) of K and of V");
            }
            if (segmented) assertEquals(2, crossed, "lengths 500 -> 650 cross 512 and 640");
            for (int s = 0; s < STREAMS; s++) {
                int len = seg.length(s / HKV);
                assertArrayEquals(ref.rows(true, s, 0, len), seg.rows(true, s, 0, len), "keys of stream " + s);
                assertArrayEquals(ref.rows(false, s, 0, len), seg.rows(false, s, 0, len), "values of stream " + s);
            }
        }
        assertEquals(buffers0, NativeMemoryLedger.liveBuffers(), "close frees every buffer and the host store");
        assertEquals(bytes0, NativeMemoryLedger.liveBytes(), "and takes the segments off the ledger");
        assertEquals(ledger0, NativeMemoryLedger.liveBytes(kind));
        assertEquals(reservations0, ReservedMemory.live(), "and unmaps the reserved range");
    }

    static Stream<Arguments> refusals() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(KvPlacement.MAPPED, KvPlacement.STAGED).flatMap(kv -> Stream.of(
                Arguments.of("opencl", opencl, kv), Arguments.of("cuda", cuda, kv)));
    }

    /**
     * The host cap holds another store's segment and two of the decoder's: the step that needs a third is refused
     * with what is needed, what is allowed and what to change; lengths, rows and index are unchanged; once the
     * other store closes, the same step goes on with the output of K/V in device memory.
     */
    @ParameterizedTest(name = "{0} kv={2}")
    @MethodSource("refusals")
    void refusedGrowthLeavesTheDecoderAsItWas(String label, Supplier<DeviceInfo> device, KvPlacement placement) {
        Backend backend = Backends.open(device.get());
        if (backend instanceof CudaBackend c && !c.hostPointerIsDevicePointer() && placement == KvPlacement.MAPPED) return; // no segments to refuse
        int kv = HKV * D, qn = HQ * D, capacity = 1024;
        SplittableRandom rnd = new SplittableRandom(37);
        HostKvStore other = new HostKvStore(Backends.open(JavaBackend.describeJvm()), KvPlacement.STAGED, STREAMS, capacity, D, 0, "another decoder", SEG);
        other.ensure(1);
        long cap = HostKvStore.committedByAll() + segmentBytes(2);
        DeviceDecoder.Options options = DeviceDecoder.Options.defaults().withPlacement(placement).withHostMemory(cap);
        try (DeviceDecoder ref = new DeviceDecoder(backend, SHAPE, CFG, BATCH, capacity);
             DeviceDecoder seg = new DeviceDecoder(backend, SHAPE, CFG, BATCH, capacity, options, SEG)) {
            for (int b = 0; b < BATCH; b++) {
                float[] k = random(rnd, 200 * kv, 2.5f), v = random(rnd, 200 * kv, 0f);
                ref.prefill(b, k, v, 200);
                seg.prefill(b, k, v, 200);
            }
            float[] outRef = new float[BATCH * qn], outSeg = new float[BATCH * qn];
            for (int step = 0; step < 56; step++) { // to 256 tokens: two segments
                float[] q = random(rnd, BATCH * qn, 0f), k = random(rnd, BATCH * kv, 2.5f), v = random(rnd, BATCH * kv, 0f);
                ref.decode(q, k, v, outRef, false);
                seg.decode(q, k, v, outSeg, false);
            }
            assertEquals(256, seg.length(0));
            assertEquals(2, seg.hostKvSegments());
            float[] q = random(rnd, BATCH * qn, 0f), k = random(rnd, BATCH * kv, 2.5f), v = random(rnd, BATCH * kv, 0f);
            float[] keysBefore = seg.rows(true, 1, 0, 256), valuesBefore = seg.rows(false, 1, 0, 256);
            int zone = seg.zoneEnd(0);
            byte[] codesBefore = seg.codes(1, zone - CFG.sink());
            var e = assertThrows(InsufficientMemoryException.class, () -> seg.decode(q, k, v, outSeg, false));
            String m = e.getMessage();
            assertTrue(m.startsWith("not enough host memory to grow the K/V rows of DeviceDecoder (one layer) to 257 tokens per sequence: segment 3 of 8"), m);
            assertTrue(m.contains("needs " + MemoryPlan.gib(segmentBytes(1)) + " more, but " + MemoryPlan.gib(cap) + " is allowed by --host-memory"), m);
            assertTrue(m.contains("Raise --host-memory"), m);
            assertEquals(256, seg.length(0), "nothing appended");
            assertEquals(256, seg.length(1));
            assertEquals(zone, seg.zoneEnd(0));
            assertEquals(2, seg.hostKvSegments());
            assertEquals(segmentBytes(2), seg.hostKvCommittedBytes());
            assertArrayEquals(keysBefore, seg.rows(true, 1, 0, 256), "stored keys unchanged");
            assertArrayEquals(valuesBefore, seg.rows(false, 1, 0, 256), "stored values unchanged");
            assertArrayEquals(codesBefore, seg.codes(1, zone - CFG.sink()), "index unchanged");
            other.close(); // memory freed: the same step goes on
            ref.decode(q, k, v, outRef, false);
            seg.decode(q, k, v, outSeg, false);
            assertArrayEquals(outRef, outSeg, label + ": after the refusal the decoder goes on as if nothing happened");
            assertEquals(3, seg.hostKvSegments());
        } finally {
            other.close();
        }
    }
}
