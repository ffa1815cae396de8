package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.OpenClTestSupport;

/**
 * K/V staged in host memory ({@link KvPlacement#STAGED}): the same outputs as K/V in device memory, bit for bit;
 * host→device bytes per step equal to the selected rows (the sink and local rows are in the device window) plus the step's input copy; full attention refused;
 * memory as planned, nothing leaked.
 */
class StagedKvTest {
    static final ModelShape SHAPE = new ModelShape(1, 8, 2, 64);
    static final int D = 64, HQ = 8, HKV = 2, BATCH = 2, STREAMS = BATCH * HKV;

    static Stream<Arguments> devices() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(GqaMode.MEAN, GqaMode.PER_HEAD).flatMap(m -> Stream.of(Arguments.of("opencl", opencl, m), Arguments.of("cuda", cuda, m)));
    }

    static ParisKvConfig config(GqaMode mode) {
        // denseBelow = 4 + 128 + 2·50 = 232: sequence 0 (prompt 200) attends densely for 32 steps, then sparsely
        return ParisKvConfig.defaults().withGqa(mode).withWindow(4, 128).withInterval(32).withMinSparseTokens(0).withTopk(50);
    }

    static float[] random(SplittableRandom rnd, int n, float offset) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble(-1, 1) + (i % 64 == 3 ? offset : 0f);
        return v;
    }

    /**
     * The staged step against the device step on the same inputs: equal outputs and selections at every step, and
     * per step exactly these host→device bytes, the first four in one copy of the step's input buffer (its parts
     * 4 KiB-aligned: the gaps go too): queries 4·batch·Hq·D = 4096, one plan 4·streams·16 = 256, the new rows for the
     * device window (streams × D × 2 B × 2); the staged rows = Σ over streams of (its selected rows, or all rows below
     * the dense threshold) × D × 2 B × 2 (K and V): the sink and local rows are read from the device window. On steps
     * where the window slides, one more plan upload and the keys to encode (streams × 32 × D × 2 B).
     */
    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("devices")
    void stagedStepEqualsTheDeviceStepAndCopiesOnlyTheAttendedRows(String label, Supplier<DeviceInfo> device, GqaMode mode) {
        Backend backend = Backends.open(device.get());
        ParisKvConfig cfg = config(mode);
        int kv = HKV * D, qn = HQ * D;
        int[] prompts = {200, 5000};
        SplittableRandom rnd = new SplittableRandom(23);
        try (DeviceDecoder ref = new DeviceDecoder(backend, SHAPE, cfg, BATCH, 5200);
             DeviceDecoder st = new DeviceDecoder(backend, SHAPE, cfg, BATCH, 5200, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED))) {
            assertEquals(MemoryKind.HOST_STAGED, st.kvMemory());
            for (int b = 0; b < BATCH; b++) {
                float[] k = random(rnd, prompts[b] * kv, 2.5f), v = random(rnd, prompts[b] * kv, 0f);
                ref.prefill(b, k, v, prompts[b]);
                st.prefill(b, k, v, prompts[b]);
            }
            for (int s = 0; s < STREAMS; s++) {
                int n = st.zoneEnd(s / HKV) - cfg.sink();
                assertArrayEquals(ref.codes(s, n), st.codes(s, n), "codes of stream " + s + " (encoded from the scratch)");
                assertArrayEquals(ref.nibbles(s, n), st.nibbles(s, n));
                assertArrayEquals(ref.weights(s, n), st.weights(s, n));
                assertArrayEquals(ref.counts(s), st.counts(s));
            }
            float[] outRef = new float[BATCH * qn], outSt = new float[BATCH * qn];
            long planBytes = 4L * STREAMS * 16, queryBytes = 4L * BATCH * qn;
            int slid = 0, denseSteps = 0;
            for (int step = 0; step < 70; step++) {
                float[] q = random(rnd, BATCH * qn, 0f), k = random(rnd, BATCH * kv, 2.5f), v = random(rnd, BATCH * kv, 0f);
                int[] zoneBefore = {st.zoneEnd(0), st.zoneEnd(1)};
                ref.decode(q, k, v, outRef, false);
                st.decode(q, k, v, outSt, false);
                assertArrayEquals(outRef, outSt, label + " step " + step + ": staged output equals the device output bit for bit");
                long rows = 0, stagedRows = 0;
                for (int s = 0; s < STREAMS; s++) {
                    int b = s / HKV, len = st.length(b);
                    boolean dense = len < cfg.denseBelow();
                    if (dense) {
                        denseSteps++;
                        rows += len;
                        stagedRows += len;
                    } else {
                        assertArrayEquals(ref.selected(s), st.selected(s), "selection of stream " + s + " at step " + step);
                        rows += Math.min(cfg.sink(), len) + st.selected(s).length + (len - st.zoneEnd(b));
                        stagedRows += st.selected(s).length;
                    }
                }
                long attended = rows * D * 2 * 2, staged = stagedRows * D * 2 * 2, newRows = 2L * STREAMS * D * 2;
                assertEquals(attended, st.attendedRowBytes(), "attended row bytes at step " + step);
                assertEquals(attended, ref.attendedRowBytes(), "the analytic figure of the device placement agrees");
                long encoded = 0;
                int encodes = 0;
                for (int b = 0; b < BATCH; b++) {
                    int moved = st.zoneEnd(b) - zoneBefore[b];
                    if (moved > 0) encodes = 1;
                    encoded += (long) moved * HKV * D * 2;
                }
                slid += encodes;
                Map<String, Long> h2d = st.lastStepHostToDevice();
                assertEquals(queryBytes, h2d.get("queries"));
                assertEquals(newRows, h2d.get("newTokens"), "the new rows go up for the device window");
                assertEquals(planBytes * (1 + encodes), h2d.get("plan"));
                assertEquals(staged, h2d.get("stagedRows"), "staged bytes are exactly the selected rows (and dense streams' rows) at step " + step);
                assertTrue(staged < attended, "the window's rows are not staged");
                assertEquals(encoded, h2d.get("encodeRows"));
                long stGaps = h2d.get("alignment");
                assertTrue(stGaps >= 0 && stGaps < 3 * 4096, "alignment gaps " + stGaps);
                assertEquals(queryBytes + newRows + planBytes * (1 + encodes) + stGaps + staged + encoded, st.lastStepHostToDeviceBytes());
                // the device placement uploads the new rows instead of staged rows, all in one copy of the step's
                // input buffer (its parts 4 KiB-aligned: the gaps go too)
                long gaps = ref.lastStepHostToDevice().get("alignment");
                assertTrue(gaps >= 0 && gaps < 3 * 4096, "alignment gaps " + gaps);
                assertEquals(queryBytes + planBytes + 2L * STREAMS * D * 2, ref.lastStepHostToDeviceBytes() - gaps,
                        "device placement: queries, one plan for the whole step (encode included), the new rows");
            }
            assertTrue(slid >= 2, "the window slid during the run: " + slid);
            assertTrue(denseSteps > 0, "a short sequence attended densely (all its rows staged)");
            assertTrue(st.stagedBytes() > 0);
            assertEquals(0, ref.stagedBytes());
        }
    }

    /** Batch 8: the encode scratch holds 65536 / 16 streams = 4096 keys per stream, so a 9000-token prefill encodes in 3 launches. */
    @Test
    void prefillEncodesInBoundedSlicesFromTheScratch() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig cfg = config(GqaMode.MEAN);
        assertEquals(4096, DeviceDecoder.encodeSlice(cfg, 8, HKV, 9100));
        SplittableRandom rnd = new SplittableRandom(3);
        try (DeviceDecoder ref = new DeviceDecoder(backend, SHAPE, cfg, 8, 9100);
             DeviceDecoder st = new DeviceDecoder(backend, SHAPE, cfg, 8, 9100, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED))) {
            int[] prompts = {9000, 300};
            for (int b = 0; b < 2; b++) {
                float[] k = random(rnd, prompts[b] * HKV * D, 2.5f), v = random(rnd, prompts[b] * HKV * D, 0f);
                ref.prefill(b, k, v, prompts[b]);
                st.prefill(b, k, v, prompts[b]);
            }
            assertEquals(9000 - 128, st.zoneEnd(0));
            for (int s = 0; s < 2 * HKV; s++) {
                int n = st.zoneEnd(s / HKV) - cfg.sink();
                assertArrayEquals(ref.codes(s, n), st.codes(s, n), "codes of stream " + s);
                assertArrayEquals(ref.nibbles(s, n), st.nibbles(s, n), "nibbles of stream " + s);
                assertArrayEquals(ref.weights(s, n), st.weights(s, n), "weights of stream " + s);
                assertArrayEquals(ref.counts(s), st.counts(s), "counts of stream " + s);
                assertArrayEquals(ref.rows(true, s, 0, 50), st.rows(true, s, 0, 50), "stored keys of stream " + s);
            }
        }
    }

    @Test
    void fullAttentionOverStagedKvIsRefused() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig cfg = config(GqaMode.PER_HEAD);
        SplittableRandom rnd = new SplittableRandom(5);
        try (DeviceDecoder st = new DeviceDecoder(backend, SHAPE, cfg, 1, 1000, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED))) {
            st.prefill(0, random(rnd, 600 * HKV * D, 0f), random(rnd, 600 * HKV * D, 0f), 600);
            float[] q = random(rnd, HQ * D, 0f), k = random(rnd, HKV * D, 0f), v = random(rnd, HKV * D, 0f), out = new float[HQ * D];
            var e = assertThrows(IllegalArgumentException.class, () -> st.decode(q, k, v, out, true));
            assertEquals("full attention over staged K/V would copy the whole context per step; use MAPPED or DEVICE", e.getMessage());
            assertEquals(600, st.length(0), "nothing appended");
            st.decode(q, k, v, out, false); // the sparse step still works
            assertEquals(601, st.length(0));
        }
    }

    @Test
    void stagedMemoryIsAsPlannedAndNothingLeaks() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig cfg = config(GqaMode.PER_HEAD);
        long buffers = NativeMemoryLedger.liveBuffers(), bytes = NativeMemoryLedger.liveBytes();
        long staged0 = NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED);
        Map<String, Long> sizes = DeviceDecoder.bufferBytes(SHAPE, cfg, 2, 5000, KvPlacement.STAGED);
        assertFalse(sizes.containsKey("newKeys"), "no device buffers for new rows");
        int slots = DeviceDecoder.stagedSlots(cfg, 5000);
        assertEquals(Math.max(4 + 64 + 128 + 32, cfg.denseBelow() - 1), slots, "sink + KMAX + local + interval, or the dense threshold");
        assertEquals(2L * 2 * STREAMS * slots * D, sizes.get("staged"));
        assertEquals(sizes.get("staged"), sizes.get("stagedPinned"));
        try (DeviceDecoder dec = new DeviceDecoder(backend, SHAPE, cfg, 2, 5000, DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED))) {
            assertEquals(DeviceDecoder.deviceBytes(SHAPE, cfg, 2, 5000, KvPlacement.STAGED), dec.deviceBytes());
            assertEquals(DeviceDecoder.hostBytes(SHAPE, cfg, 2, 5000, KvPlacement.STAGED), dec.hostBytes());
            long kv = 2L * 2 * STREAMS * 5000 * D;
            assertEquals(kv + sizes.get("stagedPinned"), dec.hostBytes(), "host bytes at full capacity (the K/V rows reserved)");
            assertEquals(0, NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED) - staged0, "no K/V row committed before the first is written");
            SplittableRandom rnd = new SplittableRandom(1);
            dec.prefill(0, random(rnd, 10 * HKV * D, 0f), random(rnd, 10 * HKV * D, 0f), 10);
            assertEquals(kv, NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED) - staged0,
                    "the first row commits the first segment (all 5000 tokens: one segment) and the ledger sees it");
            assertEquals(kv, dec.hostKvCommittedBytes());
            assertEquals(DeviceDecoder.deviceBytes(SHAPE, cfg, 2, 5000, KvPlacement.DEVICE) - kv
                    + sizes.get("staged") + sizes.get("encodeScratch") + sizes.get("winKeys") + sizes.get("winValues") - 2 * 4,
                    dec.deviceBytes(), "device: no K/V; the staging rows, the scratch and the window");
        }
        assertEquals(buffers, NativeMemoryLedger.liveBuffers(), "close frees every buffer");
        assertEquals(bytes, NativeMemoryLedger.liveBytes(), "and the host K/V rows");
        // refused before allocating: host memory too small for the staged K/V
        var h = assertThrows(InsufficientMemoryException.class, () -> new DeviceDecoder(backend, SHAPE, cfg, 2, 5000,
                DeviceDecoder.Options.defaults().withPlacement(KvPlacement.STAGED).withHostMemory(1 << 20)));
        assertTrue(h.getMessage().startsWith("not enough host memory"), h.getMessage());
        assertTrue(h.getMessage().contains("K/V in host memory, staged per step"), h.getMessage());
        assertEquals(buffers, NativeMemoryLedger.liveBuffers(), "nothing allocated by a refused decoder");
        assertEquals(bytes, NativeMemoryLedger.liveBytes());
    }
}
