package org.pariskv.soak;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.KvCache;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.ffm.ReservedMemory;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.device.HostKvStore;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.SmallSegments;
import org.pariskv.kv.RowStore;
import org.pariskv.method.ParisKv;

/**
 * Long decode loops that open and close sequences, caches and decoders over and over, growing their K/V rows across
 * segment boundaries (RowStore chunks on the java backend, host K/V segments of the device decoder and of
 * {@link HostKvStore}), then check that off-heap memory is back where it started: the row stores' own count and
 * bytes, the backends' buffer ledger (host K/V segments included), reserved address space (munmap), the JVM's
 * "direct" buffer pool (FFM arenas do not show there: it stays 0 unless something uses
 * direct ByteBuffers), and the process RSS (loosely: it includes the growing Java heap and PoCL's caches).
 * Tagged {@code soak}: excluded from the default suite, run with {@code ./pariskv test -Psoak}
 * ({@code -Dtest=SoakTest -Psoak} for these alone); {@code -Dpariskv.soakScale=10} runs them ten times longer.
 */
@Tag("soak")
class SoakTest {
    static final int SCALE = Integer.getInteger("pariskv.soakScale", 1);
    static final ModelShape SHAPE = new ModelShape(1, 4, 2, 64);
    static final ParisKvConfig CFG = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0).withTopk(32);

    @Test
    void javaBackendHundredThousandSteps() {
        // every twentieth cycle a long prompt: its row stores cross a chunk boundary (4096 rows) while decoding
        int steps = 100_000 * SCALE, cycle = 500, prompt = 100, longPrompt = RowStore.CHUNK_ROWS - 450;
        Snapshot before = Snapshot.take();
        SplittableRandom rnd = new SplittableRandom(5);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        float[] pk = random(rnd, longPrompt * kv), pv = random(rnd, longPrompt * kv);
        float[] q = new float[qn], k = new float[kv], v = new float[kv], out = new float[qn];
        long t0 = System.nanoTime(), peakKv = 0, heldAfterPrefill = 0;
        int grown = 0;
        Snapshot warm = null;
        KvCache cache = KvCache.create(SHAPE, CFG, new ParisKv());
        Deque<Integer> live = new ArrayDeque<>();
        try {
            for (int step = 0; step < steps; step++) {
                if (step % cycle == 0) {
                    if (step % (10 * cycle) == 0 && step > 0) { // a whole new cache now and then
                        cache.close();
                        assertEquals(0, cache.kvBytesHeld());
                        cache = KvCache.create(SHAPE, CFG, new ParisKv());
                        live.clear();
                    }
                    while (!live.isEmpty()) cache.removeSequence(live.removeFirst());
                    while (live.isEmpty()) {
                        int s = cache.newSequence();
                        cache.layer(0).prefill(s, pk, pv, (step / cycle) % 20 == 19 ? longPrompt : prompt);
                        live.addLast(s);
                    }
                    heldAfterPrefill = cache.kvBytesHeld();
                    if (step == 4 * cycle) warm = Snapshot.take();
                }
                fill(rnd, q);
                fill(rnd, k);
                fill(rnd, v);
                cache.layer(0).decode(live.stream().mapToInt(Integer::intValue).toArray(), q, k, v, out);
                peakKv = Math.max(peakKv, cache.kvBytesHeld());
                if (step % cycle == cycle - 1 && cache.kvBytesHeld() > heldAfterPrefill) grown++;
            }
        } finally {
            cache.close();
        }
        assertTrue(Float.isFinite(out[0]));
        Snapshot after = Snapshot.take();
        report("java soak", steps, t0, before, warm, after, peakKv);
        assertEquals(steps / cycle / 20, grown, "every long cycle grew its row stores by a chunk while decoding");
        assertEquals(before.rowStores, after.rowStores, "row stores (arenas) all closed");
        assertEquals(before.rowStoreBytes, after.rowStoreBytes, "row store bytes back to baseline");
        assertEquals(before.direct, after.direct, "direct buffer pool back to baseline");
        assertTrue(after.rss - warm.rss < (1L << 30), "RSS grew by " + mib(after.rss - warm.rss) + " after warm-up");
    }

    /** Host K/V rows in segments of 256 tokens: each mapped or staged decoder starts with 3 and grows to 7 while decoding. */
    @Test
    void deviceDecoderOnOpenClTwentyThousandSteps() {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        int steps = 20_000 * SCALE, cycle = 1_000, prompt = 600, capacity = prompt + cycle + 8, segment = 256;
        SplittableRandom rnd = new SplittableRandom(9);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        float[] pk = random(rnd, prompt * kv), pv = random(rnd, prompt * kv);
        float[] q = new float[2 * qn], k = new float[2 * kv], v = new float[2 * kv], out = new float[2 * qn];
        new DeviceDecoder(backend, SHAPE, CFG, 2, capacity).close(); // compile once outside the measurement
        Snapshot before = Snapshot.take();
        Snapshot warm = null;
        long t0 = System.nanoTime(), peak = 0;
        int grown = 0;
        DeviceDecoder dec = null;
        try {
            for (int step = 0; step < steps; step++) {
                if (step % cycle == 0) {
                    if (dec != null) {
                        if (dec.offload() && dec.hostKvSegments() == 7) grown++;
                        dec.close();
                    }
                    // cycle through device, host-mapped and staged K/V
                    KvPlacement kvAt = KvPlacement.values()[(step / cycle) % 3];
                    dec = SmallSegments.decoder(backend, SHAPE, CFG, 2, capacity, DeviceDecoder.Options.defaults().withPlacement(kvAt), segment);
                    for (int b = 0; b < 2; b++) dec.prefill(b, pk, pv, prompt);
                    if (dec.offload()) assertEquals(3, dec.hostKvSegments(), "600 tokens: 3 segments of 256");
                    if (step == 4 * cycle) warm = Snapshot.take();
                }
                fill(rnd, q);
                fill(rnd, k);
                fill(rnd, v);
                dec.decode(q, k, v, out, false);
                peak = Math.max(peak, NativeMemoryLedger.liveBytes());
            }
            if (dec.offload() && dec.hostKvSegments() == 7) grown++;
        } finally {
            if (dec != null) dec.close();
        }
        assertTrue(Float.isFinite(out[0]));
        Snapshot after = Snapshot.take();
        report("opencl soak", steps, t0, before, warm, after, peak);
        long hostDecoders = java.util.stream.IntStream.range(0, steps / cycle).filter(c -> c % 3 != 0).count(); // DEVICE, MAPPED, STAGED
        assertEquals(hostDecoders, grown, "every mapped and staged decoder grew from 3 to 7 segments");
        assertEquals(before.buffers, after.buffers, "device + host-mapped buffers (and host K/V stores) all freed");
        assertEquals(before.ledger, after.ledger, "buffer bytes (and host K/V segments) back to baseline");
        assertEquals(before.reservations, after.reservations, "reserved host K/V ranges all unmapped");
        assertEquals(0, HostKvStore.committedByAll(), "no host K/V segment in use");
        assertEquals(before.direct, after.direct, "direct buffer pool back to baseline");
        assertTrue(after.rss - warm.rss < (1L << 30), "RSS grew by " + mib(after.rss - warm.rss) + " after warm-up");
    }

    /**
     * Host K/V stores on the java backend (its mapped ranges and staged rows), segments of 512 tokens: one row per
     * stream appended per step, a new store every 5000 steps (10 segments each), rows read back across segment
     * boundaries before each close.
     */
    @Test
    void hostKvStoreOnJavaHundredThousandSteps() {
        Backend backend = Backends.open(org.pariskv.compute.JavaBackend.describeJvm());
        int steps = 100_000 * SCALE, cycle = 5_000, segment = 512, streams = 4, d = SHAPE.headDim();
        Snapshot before = Snapshot.take();
        Snapshot warm = null;
        long t0 = System.nanoTime(), peak = 0;
        short[] row = new short[d];
        HostKvStore store = null;
        int len = 0;
        try {
            for (int step = 0; step < steps; step++) {
                if (step % cycle == 0) {
                    if (store != null) closeChecked(store, len, cycle + 8, streams, d);
                    KvPlacement p = (step / cycle) % 2 == 0 ? KvPlacement.MAPPED : KvPlacement.STAGED;
                    store = SmallSegments.store(backend, p, streams, cycle + 8, d, 0, segment);
                    len = 0;
                    if (step == 4 * cycle) warm = Snapshot.take();
                }
                store.ensure(len + 1);
                for (int s = 0; s < streams; s++) {
                    java.util.Arrays.fill(row, (short) (len * 31 + s));
                    MemorySegment.copy(MemorySegment.ofArray(row), 0, store.keysHost(), 2L * ((long) s * (cycle + 8) + len) * d, 2L * d);
                    java.util.Arrays.fill(row, (short) ~(len * 31 + s));
                    MemorySegment.copy(MemorySegment.ofArray(row), 0, store.valuesHost(), 2L * ((long) s * (cycle + 8) + len) * d, 2L * d);
                }
                len++;
                peak = Math.max(peak, NativeMemoryLedger.liveBytes());
            }
            closeChecked(store, len, cycle + 8, streams, d);
        } finally {
            if (store != null) store.close();
        }
        Snapshot after = Snapshot.take();
        report("host K/V store soak (java)", steps, t0, before, warm, after, peak);
        assertEquals(before.buffers, after.buffers, "every store off the ledger");
        assertEquals(before.ledger, after.ledger, "segment bytes back to baseline");
        assertEquals(before.reservations, after.reservations, "every reserved range unmapped");
        assertEquals(0, HostKvStore.committedByAll());
        assertTrue(after.rss - warm.rss < (256L << 20), "RSS grew by " + mib(after.rss - warm.rss) + " after warm-up");
    }

    /** Every 97th row written is read back (keys and values, across segment boundaries), the segments are as many as needed, then the store closes. */
    private static void closeChecked(HostKvStore store, int len, int capacity, int streams, int d) {
        assertEquals((len + store.segmentTokens() - 1) / store.segmentTokens(), store.segments(), "segments for " + len + " rows");
        for (int t = 0; t < len; t += 97) {
            for (int s = 0; s < streams; s++) {
                long at = 2L * ((long) s * capacity + t) * d + 2L * (d - 1);
                assertEquals((short) (t * 31 + s), store.keysHost().get(ValueLayout.JAVA_SHORT, at), "key row " + t);
                assertEquals((short) ~(t * 31 + s), store.valuesHost().get(ValueLayout.JAVA_SHORT, at), "value row " + t);
            }
        }
        store.close();
    }

    record Snapshot(long rowStores, long rowStoreBytes, long buffers, long ledger, long reservations, long direct, long rss) {
        static Snapshot take() {
            System.gc();
            long direct = 0;
            for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
                if (b.getName().equals("direct")) direct = b.getMemoryUsed();
            }
            return new Snapshot(RowStore.openStores(), RowStore.bytesHeldByAll(), NativeMemoryLedger.liveBuffers(),
                    NativeMemoryLedger.liveBytes(), ReservedMemory.live(), direct, SoakTest.rss());
        }
    }

    static void report(String what, int steps, long t0, Snapshot before, Snapshot warm, Snapshot after, long peak) {
        System.out.printf(Locale.ROOT, "%s: %d steps in %.1f s; peak %s held; row stores %d -> %d (%s -> %s); buffers %d -> %d (%s -> %s);"
                        + " direct pool %d -> %d B; RSS %s (start) %s (warm) %s (end)%n",
                what, steps, (System.nanoTime() - t0) / 1e9, mib(peak), before.rowStores, after.rowStores, mib(before.rowStoreBytes),
                mib(after.rowStoreBytes), before.buffers, after.buffers, mib(before.ledger), mib(after.ledger), before.direct,
                after.direct, mib(before.rss), mib(warm.rss), mib(after.rss));
    }

    /** Resident set size from /proc/self/status (0 where unavailable). */
    static long rss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return 0;
    }

    static String mib(long b) {
        return String.format(Locale.ROOT, "%.1f MiB", b / (double) (1 << 20));
    }

    static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        fill(r, a);
        return a;
    }

    static void fill(SplittableRandom r, float[] a) {
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-1, 1) + (i % 64 == 3 ? 2f : 0f);
    }
}
