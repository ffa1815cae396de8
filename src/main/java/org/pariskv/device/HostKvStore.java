package org.pariskv.device;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import org.pariskv.compute.Backend;
import org.pariskv.compute.CudaBackend;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.MappedHostRange;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.NativeMemoryLedger;
import org.pariskv.compute.cuda.CudaException;
import org.pariskv.compute.ffm.ReservedMemory;

/**
 * One layer's bf16 K/V rows in host memory ({@link KvPlacement#MAPPED}, {@link KvPlacement#STAGED}), laid out as the
 * kernels expect, {@code [stream][capacity][D]} for keys and the same for values, that grow segment by segment as the
 * context grows, without copying anything that is stored.
 *
 * <p>The whole capacity is reserved as address space up front ({@link ReservedMemory}: mmap MAP_NORESERVE), keys
 * then values, each page-aligned; physical pages appear only as segments come into use. A segment is
 * {@link #SEGMENT_TOKENS} consecutive token rows of every stream, keys and values. {@link #ensure} brings segments into
 * use before the decoder writes rows beyond them: it first checks the host cap and the host's available memory and
 * refuses with {@link InsufficientMemoryException} (nothing stored changes), then
 * <ul>
 *   <li>MAPPED on CUDA: page-locks and maps each new (stream, segment) range of keys and of values once
 *       ({@link MappedHostRange#commit}: {@code cuMemHostRegister(PORTABLE|DEVICEMAP)}); kernels address the whole
 *       range at its host address. Where the device cannot use host addresses of registered memory
 *       ({@code CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM} = 0) the store falls back to one {@code cuMemHostAlloc} of the
 *       whole capacity, committed up front, and says so on stderr.</li>
 *   <li>MAPPED on OpenCL: a {@code CL_MEM_USE_HOST_PTR} buffer over the reserved range, read in place by PoCL.
 *       NVIDIA's OpenCL keeps a device copy of host-pointer buffers: there the device holds the whole capacity
 *       anyway.</li>
 *   <li>STAGED (any backend): {@link #keysHost()} and {@link #valuesHost()} are views of the reserved range.</li>
 * </ul>
 * Except on CUDA (where page-locking commits them), a new segment's pages are committed when it comes into use
 * ({@link ReservedMemory#populate}: {@code MADV_POPULATE_WRITE}, Linux 5.14+), so a host that runs short fails that
 * call and the decoder refuses, instead of the process dying at a later first write of a row. Older kernels commit
 * pages as rows are written, and the store says so once.
 * {@link #committedBytes()} counts the segments in use (on the {@link NativeMemoryLedger}, so leak checks see growth
 * and release); {@link #reservedBytes()} the whole capacity. {@link #close()} unregisters, unmaps and takes everything
 * off the ledger. Not thread-safe.
 */
public final class HostKvStore implements AutoCloseable {

    /** Token rows (of every stream) per segment: 16 MiB of keys per stream at D = 128. */
    public static final int SEGMENT_TOKENS = 65536;

    private static final AtomicLong COMMITTED_BY_ALL = new AtomicLong();
    private static final java.util.concurrent.atomic.AtomicBoolean SAID_LAZY = new java.util.concurrent.atomic.AtomicBoolean();

    private final int streams, capacity, dim, segmentTokens, totalSegments;
    private final long rowBytes, planeBytes; // one of keys / values: streams × capacity × D × 2 B
    private final long hostLimit;
    private final String what;
    private final MemoryKind kind;
    private final ReservedMemory reserved;       // null when the fallback committed everything up front
    private final long valuesAt;                 // offset of the values plane in the reserved range
    private final MemorySegment keysHost, valuesHost;
    private final DeviceBuffer keys, values;     // kernels' view (MAPPED), null for STAGED
    private final boolean upFront;
    private int segments;
    private long committed;
    private boolean closed;

    /**
     * @param placement     MAPPED (kernels read the rows in place: {@link #keys()}, {@link #values()}) or STAGED
     *                      (host views only)
     * @param streams       sequences × KV heads
     * @param capacity      tokens per stream
     * @param hostLimit     host bytes the K/V rows of every host store of the process may hold together, 0 = no cap
     *                      (the host's available memory is checked either way)
     * @param what          names the owner in refusals, e.g. "DeviceDecoder (one layer)"
     */
    public HostKvStore(Backend backend, KvPlacement placement, int streams, int capacity, int dim, long hostLimit, String what) {
        this(backend, placement, streams, capacity, dim, hostLimit, what, SEGMENT_TOKENS);
    }

    HostKvStore(Backend backend, KvPlacement placement, int streams, int capacity, int dim, long hostLimit, String what, int segmentTokens) {
        if (!placement.onHost()) throw new IllegalArgumentException("a host K/V store holds MAPPED or STAGED rows, not " + placement);
        if (streams <= 0 || capacity <= 0 || dim <= 0 || segmentTokens <= 0) {
            throw new IllegalArgumentException("streams, capacity, dim and segment tokens must be positive");
        }
        this.streams = streams;
        this.capacity = capacity;
        this.dim = dim;
        this.segmentTokens = segmentTokens;
        this.totalSegments = (int) ((capacity + (long) segmentTokens - 1) / segmentTokens);
        this.rowBytes = 2L * dim;
        this.planeBytes = rowBytes * streams * capacity;
        this.hostLimit = hostLimit;
        this.what = what;
        if (placement == KvPlacement.MAPPED && commitsUpFront(backend, placement)) {
            System.err.println("pariskv: " + backend.device().spec() + " cannot use host addresses of registered memory"
                    + " (CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 0): mapped K/V rows fall back to cuMemHostAlloc of the whole capacity ("
                    + MemoryPlan.gib(2 * planeBytes) + ") up front, no segments");
            DeviceBuffer k = backend.allocateHostMapped(planeBytes), v;
            try {
                v = backend.allocateHostMapped(planeBytes);
            } catch (RuntimeException | Error e) {
                k.close();
                throw e;
            }
            this.reserved = null;
            this.valuesAt = 0;
            this.keys = k;
            this.values = v;
            this.keysHost = k.hostSegment();
            this.valuesHost = v.hostSegment();
            this.kind = k.kind();
            this.upFront = true;
            this.segments = totalSegments;
            this.committed = 2 * planeBytes; // the buffers are on the ledger themselves
            COMMITTED_BY_ALL.addAndGet(committed);
            return;
        }
        long page = ReservedMemory.pageSize(), valuesAt = (planeBytes + page - 1) / page * page;
        ReservedMemory r = ReservedMemory.reserve(valuesAt + planeBytes);
        MappedHostRange k = null, v = null;
        try {
            MemorySegment kh = r.segment().asSlice(0, planeBytes), vh = r.segment().asSlice(valuesAt, planeBytes);
            if (placement == KvPlacement.MAPPED) {
                k = backend.mapHostRange(kh);
                v = backend.mapHostRange(vh);
            }
            this.keysHost = k != null ? k.hostSegment() : kh;   // MAPPED on OpenCL: no host view (copies go through the queue)
            this.valuesHost = v != null ? v.hostSegment() : vh;
        } catch (RuntimeException | Error e) {
            if (k != null) k.close();
            r.close();
            throw e;
        }
        this.reserved = r;
        this.valuesAt = valuesAt;
        this.keys = k;
        this.values = v;
        this.kind = k != null ? k.kind() : MemoryKind.HOST_STAGED;
        this.upFront = false;
        NativeMemoryLedger.hostStoreOpened(kind);
    }

    /** Whether a MAPPED store on {@code backend} commits the whole capacity up front (CUDA without host-pointer use of registered memory). */
    public static boolean commitsUpFront(Backend backend, KvPlacement placement) {
        return placement == KvPlacement.MAPPED && backend instanceof CudaBackend c && !c.hostPointerIsDevicePointer();
    }

    /** Bytes of segment {@code index} (keys and values of every stream; the last may be shorter). */
    static long segmentBytes(int streams, int capacity, int dim, int segmentTokens, int index) {
        long first = (long) index * segmentTokens, rows = Math.min(capacity, first + segmentTokens) - first;
        return 2 * 2L * dim * streams * rows;
    }

    /** Bytes of the first segment of a store of this shape (what must fit before the first row is written). */
    public static long firstSegmentBytes(int streams, int capacity, int dim) {
        return segmentBytes(streams, capacity, dim, SEGMENT_TOKENS, 0);
    }

    /**
     * Brings into use the segments that hold tokens {@code [0, tokens)} of every stream; a no-op when they are.
     * Call it before writing rows beyond the segments in use.
     *
     * @throws InsufficientMemoryException when the new segments exceed the host cap or the host's available memory;
     *                                     nothing is committed then and nothing stored changes
     */
    public void ensure(int tokens) {
        if (closed) throw new IllegalStateException("host K/V store closed");
        if (tokens > capacity) throw new IllegalArgumentException(tokens + " tokens exceed the capacity of " + capacity);
        int need = (int) ((Math.max(0, tokens) + (long) segmentTokens - 1) / segmentTokens);
        if (need <= segments) return;
        long more = 0;
        for (int i = segments; i < need; i++) more += segmentBytes(streams, capacity, dim, segmentTokens, i);
        refuseIfShort(tokens, need, more);
        if (reserved != null && kind != MemoryKind.CUDA_HOST_REGISTERED) populate(tokens, need);
        if (keys instanceof MappedHostRange k && values instanceof MappedHostRange v) {
            for (int i = segments; i < need; i++) {
                long first = (long) i * segmentTokens, rows = Math.min(capacity, first + segmentTokens) - first;
                for (int s = 0; s < streams; s++) {
                    long off = ((long) s * capacity + first) * rowBytes;
                    try {
                        k.commit(off, rows * rowBytes);
                        v.commit(off, rows * rowBytes);
                    } catch (CudaException e) {
                        if (e.code() != 2) throw e; // CUDA_ERROR_OUT_OF_MEMORY: the pages could not be locked
                        throw new InsufficientMemoryException("could not page-lock segment " + (i + 1) + " of the host K/V rows of " + what
                                + " (stream " + s + ", " + MemoryPlan.gib(2 * rows * rowBytes) + "): " + e.call() + " failed with " + e.symbolicName()
                                + "; nothing was appended: the decoder still holds its tokens. Free host memory, raise the locked-memory"
                                + " limit (ulimit -l), or lower --context or --batch", e);
                    }
                }
            }
        }
        segments = need;
        committed += more;
        COMMITTED_BY_ALL.addAndGet(more);
        NativeMemoryLedger.hostStoreGrew(kind, more);
    }

    /**
     * Commits the new segments' pages now (STAGED, OpenCL and java MAPPED: CUDA page-locks them instead), so that a
     * host short of memory refuses here instead of killing the process at the first write of a row. On failure the
     * new segments' pages go back and nothing stored changes.
     */
    private void populate(int tokens, int need) {
        long first = (long) segments * segmentTokens, rows = Math.min(capacity, (long) need * segmentTokens) - first;
        int s = 0;
        try {
            for (; s < streams; s++) {
                long off = ((long) s * capacity + first) * rowBytes;
                boolean done = reserved.populate(off, rows * rowBytes) & reserved.populate(valuesAt + off, rows * rowBytes);
                if (!done) {
                    if (SAID_LAZY.compareAndSet(false, true)) {
                        System.err.println("pariskv: this kernel has no MADV_POPULATE_WRITE (Linux 5.14+): host K/V pages are committed as"
                                + " rows are written, and a host that runs out of memory after the check kills the process");
                    }
                    return;
                }
            }
        } catch (IllegalStateException e) {
            for (int r = 0; r <= Math.min(s, streams - 1); r++) {
                long off = ((long) r * capacity + first) * rowBytes;
                reserved.release(off, rows * rowBytes);
                reserved.release(valuesAt + off, rows * rowBytes);
            }
            throw new InsufficientMemoryException("not enough host memory to grow the K/V rows of " + what + " to " + tokens
                    + " tokens per sequence: " + e.getMessage() + "; nothing was appended: the decoder still holds its tokens ("
                    + MemoryPlan.gib(committed) + " in use). Free host memory, or lower --context or --batch", e);
        }
    }

    private void refuseIfShort(int tokens, int need, long more) {
        String growth = "not enough host memory to grow the K/V rows of " + what + " to " + tokens + " tokens per sequence: "
                + (need - segments == 1 ? "segment " + need : "segments " + (segments + 1) + "-" + need) + " of " + totalSegments
                + " (" + segmentTokens + " tokens of " + streams + " streams each) need" + (need - segments == 1 ? "s " : " ") + MemoryPlan.gib(more) + " more";
        String kept = "; nothing was appended: the decoder still holds its tokens (" + MemoryPlan.gib(committed) + " of "
                + MemoryPlan.gib(reservedBytes()) + " reserved in use)";
        if (hostLimit > 0) {
            long all = COMMITTED_BY_ALL.get();
            if (all + more > hostLimit) {
                throw new InsufficientMemoryException(growth + ", but " + MemoryPlan.gib(hostLimit) + " is allowed by --host-memory"
                        + " (DeviceDecoder.Options.hostMemoryLimit) and the host K/V rows of all decoders hold " + MemoryPlan.gib(all)
                        + kept + ". Raise --host-memory, or lower --context or --batch");
            }
        }
        long available = MemoryBudget.hostAvailable();
        if (available >= 0 && more > available) {
            throw new InsufficientMemoryException(growth + ", but " + MemoryPlan.gib(available)
                    + " is available on the host (/proc/meminfo MemAvailable)" + kept
                    + ". Free host memory, lower --context or --batch, or keep the K/V rows on the device (--kv device) if it can hold them");
        }
    }

    /** Host view of the keys ({@code [stream][capacity][D]} bf16), or null where the rows are reached through the queue (MAPPED on OpenCL). */
    public MemorySegment keysHost() {
        return keysHost;
    }

    /** Host view of the values, as {@link #keysHost()}. */
    public MemorySegment valuesHost() {
        return valuesHost;
    }

    /** Kernels' view of the keys (MAPPED), null for STAGED. */
    public DeviceBuffer keys() {
        return keys;
    }

    /** Kernels' view of the values (MAPPED), null for STAGED. */
    public DeviceBuffer values() {
        return values;
    }

    /** The memory path of the rows. */
    public MemoryKind kind() {
        return kind;
    }

    /** True when the whole capacity was committed at construction (the CUDA fallback). */
    public boolean upFront() {
        return upFront;
    }

    /** Segments in use. */
    public int segments() {
        return segments;
    }

    /** Segments of the whole capacity. */
    public int totalSegments() {
        return totalSegments;
    }

    public int segmentTokens() {
        return segmentTokens;
    }

    /** Bytes of the segments in use (keys and values of every stream). */
    public long committedBytes() {
        return committed;
    }

    /** Bytes of the whole capacity (keys and values), reserved as address space (or committed, for the fallback). */
    public long reservedBytes() {
        return 2 * planeBytes;
    }

    /** Device registrations live now (CUDA MAPPED: one per committed (stream, segment) range of keys and of values, less pages shared with a neighbour). */
    public int registrations() {
        int n = 0;
        if (keys instanceof MappedHostRange k) n += k.registrations();
        if (values instanceof MappedHostRange v) n += v.registrations();
        return n;
    }

    /** Host K/V bytes committed by all open stores of the process (what the host cap limits). */
    public static long committedByAll() {
        return COMMITTED_BY_ALL.get();
    }

    /** Unregisters (CUDA), releases the buffers, unmaps the range and takes the committed bytes off the ledger (idempotent). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            if (keys != null) keys.close();
        } finally {
            try {
                if (values != null) values.close();
            } finally {
                try {
                    if (reserved != null) reserved.close();
                } finally {
                    COMMITTED_BY_ALL.addAndGet(-committed);
                    if (!upFront) NativeMemoryLedger.hostStoreClosed(kind, committed);
                }
            }
        }
    }
}
