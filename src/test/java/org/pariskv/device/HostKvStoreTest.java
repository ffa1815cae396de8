package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.CudaBackend;
import org.pariskv.compute.JavaBackend;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.ffm.ReservedMemory;

/**
 * {@link HostKvStore}: the capacity reserved without committing memory, segments brought into use exactly at their
 * boundaries, refusal at the cap with nothing stored changed, everything released (ledger, munmap) on close; on CUDA
 * one registration per (stream, segment) range of keys and of values.
 */
class HostKvStoreTest {
    static final Backend JAVA = Backends.open(JavaBackend.describeJvm());

    /** Bytes of one segment: K and V of every stream. */
    static long segment(int streams, int tokens, int dim) {
        return 2L * 2 * dim * streams * tokens;
    }

    @Test
    void reservesTheCapacityWithoutCommittingAndUnmapsOnClose() throws IOException {
        long live = ReservedMemory.live(), rss0 = rss();
        HostKvStore store = new HostKvStore(JAVA, KvPlacement.STAGED, 4, 1 << 20, 64, 0, "test");
        MemorySegment keys = store.keysHost();
        long start = keys.address();
        try {
            assertEquals(2L * 2 * 4 * (1 << 20) * 64, store.reservedBytes(), "1 GiB of K/V reserved");
            assertEquals(live + 1, ReservedMemory.live());
            assertTrue(mapped(start), "the range is in /proc/self/maps");
            assertTrue(rss() - rss0 < (64L << 20), "reserving 1 GiB commits nothing: RSS grew by " + (rss() - rss0));
            assertEquals(0, store.segments());
            assertEquals(0, store.committedBytes());
            assertEquals(0, start % ReservedMemory.pageSize(), "page-aligned");
            assertEquals(0, store.valuesHost().address() % ReservedMemory.pageSize(), "values page-aligned too");
            boolean populates = canPopulate();
            long rss1 = rss();
            store.ensure(1);
            assertEquals(1, store.segments());
            assertEquals(segment(4, HostKvStore.SEGMENT_TOKENS, 64), store.committedBytes());
            if (populates) { // the new segment's 64 MiB are committed when it comes into use, not at a later first write
                assertTrue(rss() - rss1 >= (60L << 20), "ensure commits the segment: RSS grew by " + (rss() - rss1));
            } else {
                assertTrue(rss() - rss0 < (64L << 20), "no MADV_POPULATE_WRITE: rows are committed as written: RSS grew by " + (rss() - rss0));
            }
            for (int s = 0; s < 4; s++) {
                keys.set(ValueLayout.JAVA_SHORT, 2L * s * (1 << 20) * 64, (short) (s + 1));
                store.valuesHost().set(ValueLayout.JAVA_SHORT, 2L * s * (1 << 20) * 64, (short) -(s + 1));
            }
            assertEquals(3, keys.get(ValueLayout.JAVA_SHORT, 2L * 2 * (1 << 20) * 64));
            assertTrue(rss() - rss0 < (100L << 20), "one segment of 16 in use: RSS grew by " + (rss() - rss0));
        } finally {
            store.close();
        }
        store.close(); // twice is harmless
        assertEquals(live, ReservedMemory.live(), "unmapped");
        assertFalse(mapped(start), "no mapping holds the range any more (munmap)");
        assertThrows(IllegalStateException.class, () -> keys.get(ValueLayout.JAVA_SHORT, 0), "a late access throws instead of crashing");
        assertThrows(IllegalStateException.class, () -> store.ensure(1));
    }

    @Test
    void segmentsComeIntoUseExactlyAtTheirBoundaries() {
        long ledger = NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED), buffers = NativeMemoryLedger.liveBuffers(MemoryKind.HOST_STAGED);
        long all = HostKvStore.committedByAll();
        int streams = 3, dim = 64, cap = 1050, seg = 100;
        try (HostKvStore store = new HostKvStore(JAVA, KvPlacement.STAGED, streams, cap, dim, 0, "test", seg)) {
            assertEquals(11, store.totalSegments());
            assertEquals(buffers + 1, NativeMemoryLedger.liveBuffers(MemoryKind.HOST_STAGED), "the store is one live buffer on the ledger");
            int[] tokens = {0, 1, 99, 100, 101, 200, 201, 999, 1000, 1001, 1050};
            int[] want = {0, 1, 1, 1, 2, 2, 3, 10, 10, 11, 11};
            for (int i = 0; i < tokens.length; i++) {
                store.ensure(tokens[i]);
                assertEquals(want[i], store.segments(), "segments for " + tokens[i] + " tokens");
                long bytes = want[i] == 11 ? segment(streams, cap, dim) : segment(streams, want[i] * seg, dim);
                assertEquals(bytes, store.committedBytes(), "committed for " + tokens[i] + " tokens (the last segment holds 50)");
                assertEquals(bytes, NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED) - ledger, "the ledger sees the segments in use");
                assertEquals(bytes, HostKvStore.committedByAll() - all);
            }
            assertEquals(store.reservedBytes(), store.committedBytes(), "all segments in use = the whole capacity");
            assertThrows(IllegalArgumentException.class, () -> store.ensure(cap + 1));
        }
        assertEquals(ledger, NativeMemoryLedger.liveBytes(MemoryKind.HOST_STAGED), "close takes the segments off the ledger");
        assertEquals(buffers, NativeMemoryLedger.liveBuffers(MemoryKind.HOST_STAGED));
        assertEquals(all, HostKvStore.committedByAll());
    }

    @Test
    void growthBeyondTheCapIsRefusedAndNothingStoredChanges() {
        int streams = 2, dim = 64, seg = 100;
        long cap = HostKvStore.committedByAll() + 2 * segment(streams, seg, dim); // two segments of this store
        try (HostKvStore store = new HostKvStore(JAVA, KvPlacement.STAGED, streams, 1000, dim, cap, "the test decoder", seg)) {
            store.ensure(200);
            for (int t = 0; t < 200; t++) store.keysHost().set(ValueLayout.JAVA_SHORT, 2L * (1000 + t) * dim, (short) t);
            var e = assertThrows(InsufficientMemoryException.class, () -> store.ensure(201));
            String m = e.getMessage();
            assertTrue(m.startsWith("not enough host memory to grow the K/V rows of the test decoder to 201 tokens per sequence: segment 3 of 10"), m);
            assertTrue(m.contains("needs 0.05 MiB more"), m);
            assertTrue(m.contains("but " + MemoryPlan.gib(cap) + " is allowed by --host-memory"), m);
            assertTrue(m.contains("nothing was appended"), m);
            assertTrue(m.contains("Raise --host-memory"), m);
            assertFalse(m.contains("\n"));
            assertEquals(2, store.segments(), "no segment added");
            assertEquals(2 * segment(streams, seg, dim), store.committedBytes());
            for (int t = 0; t < 200; t++) assertEquals(t, store.keysHost().get(ValueLayout.JAVA_SHORT, 2L * (1000 + t) * dim));
            store.ensure(200); // what is in use stays usable
            var more = assertThrows(InsufficientMemoryException.class, () -> store.ensure(1000));
            assertTrue(more.getMessage().contains("segments 3-10 of 10"), more.getMessage());
        }
    }

    @Test
    void javaBackendMapsTheRangeItself() {
        try (HostKvStore store = new HostKvStore(JAVA, KvPlacement.MAPPED, 2, 300, 64, 0, "test", 100)) {
            assertEquals(MemoryKind.JVM_NATIVE, store.kind());
            assertEquals(store.keysHost().address(), store.keys().hostSegment().address());
            store.ensure(150);
            JAVA.copyIn(store.values(), 2L * 64 * 120, MemorySegment.ofArray(new short[] {7, 8}));
            assertEquals(8, store.valuesHost().get(ValueLayout.JAVA_SHORT, 2L * 64 * 120 + 2));
        }
    }

    /**
     * PoCL reads a USE_HOST_PTR buffer in place: creating one over 1 GiB of reserved address space commits nothing.
     * A GPU driver may pin or copy it: there the RSS growth is only printed.
     */
    @Test
    void openClMapsTheReservedRangeWithoutCommittingIt() throws IOException {
        var info = OpenClTestSupport.openClDevice();
        Backend backend = Backends.open(info);
        long rss0 = rss();
        try (HostKvStore store = new HostKvStore(backend, KvPlacement.MAPPED, 4, 1 << 20, 64, 0, "test", 1 << 16)) {
            assertEquals(MemoryKind.OPENCL_USE_HOST_PTR, store.kind());
            assertNull(store.keysHost(), "OpenCL: copies go through the queue");
            assertTrue(store.keys().isHostMapped());
            long grew = rss() - rss0;
            System.out.println("USE_HOST_PTR buffer over 1 GiB reserved on " + info.spec() + " (" + info.platform() + "): RSS grew by " + (grew >> 20) + " MiB");
            if (info.type() == org.pariskv.compute.DeviceType.CPU) assertTrue(grew < (64L << 20), "RSS grew by " + grew);
            store.ensure(70_000);
            assertEquals(2, store.segments());
            backend.copyIn(store.keys(), 2L * 64 * 69_999, MemorySegment.ofArray(new short[] {11, 12}));
            short[] back = new short[2];
            backend.copyOut(MemorySegment.ofArray(back), store.keys(), 2L * 64 * 69_999);
            assertArrayEquals(new short[] {11, 12}, back);
        }
    }

    /** CUDA: each new (stream, segment) range of keys and of values is registered once, at the range's own address; close unregisters all. */
    @Test
    void cudaRegistersEachSegmentOnce() {
        Backend backend = Backends.open(OpenClTestSupport.cudaDevice());
        boolean usable = ((CudaBackend) backend).hostPointerIsDevicePointer();
        int streams = 4, dim = 64, seg = 128;
        // capacity 1024: a stream's rows are 128 KiB, a segment's 16 KiB, both whole pages: no page is shared
        try (HostKvStore store = new HostKvStore(backend, KvPlacement.MAPPED, streams, 1024, dim, 0, "test", seg)) {
            if (!usable) { // the fallback: whole capacity up front, said on stderr
                assertTrue(store.upFront());
                assertEquals(MemoryKind.CUDA_HOST_MAPPED, store.kind());
                return;
            }
            assertEquals(MemoryKind.CUDA_HOST_REGISTERED, store.kind());
            assertEquals(store.keysHost().address(), store.keys().hostSegment().address());
            assertEquals(0, store.registrations());
            for (int tokens : new int[] {1, 128, 129, 500, 500, 1024}) {
                store.ensure(tokens);
                int segs = (tokens + seg - 1) / seg;
                assertEquals(segs, store.segments());
                assertEquals(2 * streams * segs, store.registrations(), "one registration per (stream, segment) of keys and of values at " + tokens);
            }
            backend.copyIn(store.keys(), 2L * 64 * 1023, MemorySegment.ofArray(new short[] {5}));
            assertEquals(5, store.keysHost().get(ValueLayout.JAVA_SHORT, 2L * 64 * 1023));
        }
        // capacity 1000: streams share pages with their neighbours; no page is registered twice (the driver would refuse)
        try (HostKvStore store = new HostKvStore(backend, KvPlacement.MAPPED, streams, 1000, dim, 0, "test", seg)) {
            if (!usable) return;
            for (int tokens = 1; tokens <= 1000; tokens += 37) store.ensure(tokens);
            store.ensure(1000);
            assertEquals(8, store.segments());
            assertTrue(store.registrations() >= 2 * streams * 8 - 2 * streams && store.registrations() <= 2 * streams * 8 + 2 * streams,
                    "about one registration per (stream, segment): " + store.registrations());
        }
    }

    /** Whether a mapping of /proc/self/maps contains {@code address} (neighbouring mappings may have merged with ours). */
    static boolean mapped(long address) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = l.substring(0, l.indexOf(' ')).split("-");
            long lo = Long.parseUnsignedLong(range[0], 16), hi = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, lo) >= 0 && Long.compareUnsigned(address, hi) < 0) return true;
        }
        return false;
    }

    /** Whether this kernel commits reserved pages on request (MADV_POPULATE_WRITE, Linux 5.14+). */
    static boolean canPopulate() {
        try (ReservedMemory r = ReservedMemory.reserve(ReservedMemory.pageSize())) {
            return r.populate(0, ReservedMemory.pageSize());
        }
    }

    /** populate commits pages now (keeping what they hold), release gives them back as zeros, both whole pages. */
    @Test
    void populateCommitsPagesAndReleaseGivesThemBack() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(canPopulate(), "MADV_POPULATE_WRITE needs Linux 5.14+");
        long mib = 1L << 20;
        try (ReservedMemory r = ReservedMemory.reserve(256 * mib)) {
            r.segment().set(ValueLayout.JAVA_LONG, 0, 42L);
            long rss0 = rss();
            assertTrue(r.populate(0, 128 * mib));
            long grew = rss() - rss0;
            assertTrue(grew >= 120 * mib && grew < 140 * mib, "populating 128 MiB: RSS grew by " + (grew >> 20) + " MiB");
            assertEquals(42L, r.segment().get(ValueLayout.JAVA_LONG, 0), "a committed page keeps its contents");
            r.release(64 * mib, 64 * mib + 100); // the partial page at the end stays
            long back = rss0 + grew - rss();
            assertTrue(back >= 60 * mib && back <= 68 * mib, "release gave back " + (back >> 20) + " MiB");
            assertEquals(0L, r.segment().get(ValueLayout.JAVA_LONG, 64 * mib), "released pages read as zeros");
            assertThrows(IndexOutOfBoundsException.class, () -> r.populate(200 * mib, 100 * mib));
        }
    }

    static long rss() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
        return 0;
    }
}
