package org.pariskv.kv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.pariskv.encode.Bf16;
import org.pariskv.simd.VectorOps;

/**
 * Token rows of one (sequence, layer, KV head) — keys or values — as bf16 in off-heap, page-aligned chunks
 * of {@link #CHUNK_ROWS} rows. Appending allocates a new chunk when the last is full and never moves what
 * is stored, so a device that mapped a chunk keeps a valid view of it. Single writer; readers may run
 * concurrently with each other (not with an append).
 */
public final class RowStore implements AutoCloseable {

    /** Rows per chunk (a power of two): 4096 rows of D = 128 bf16 are 1 MiB. */
    public static final int CHUNK_ROWS = 4096;
    private static final int SHIFT = Integer.numberOfTrailingZeros(CHUNK_ROWS);
    private static final long PAGE = 4096;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int dim;
    private final long rowBytes;
    private static final java.util.concurrent.atomic.AtomicLong OPEN = new java.util.concurrent.atomic.AtomicLong();
    private static final java.util.concurrent.atomic.AtomicLong HELD = new java.util.concurrent.atomic.AtomicLong();

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> chunks = new ArrayList<>();
    private final String label;
    private int rows;

    /** @param label names the store in errors, e.g. "keys of layer 3, sequence 0, kv head 5" */
    public RowStore(int dim, String label) {
        this.dim = dim;
        this.rowBytes = 2L * dim;
        this.label = label;
        OPEN.incrementAndGet();
    }

    /** Row stores created and not yet closed, process-wide (each owns one Arena): for leak checks. */
    public static long openStores() {
        return OPEN.get();
    }

    /** Off-heap bytes held by all open row stores, process-wide. */
    public static long bytesHeldByAll() {
        return HELD.get();
    }

    public int dim() {
        return dim;
    }

    public int rows() {
        return rows;
    }

    /** Appends {@code n} rows of {@code dim} floats (rounded to bf16) from {@code src[off]}. */
    public void append(float[] src, int off, int n, int srcStride) {
        reserve(rows + n); // allocate first: a failed allocation leaves the store unchanged
        for (int i = 0; i < n; i++) {
            MemorySegment c = chunks.get(rows >>> SHIFT);
            long base = (long) (rows & (CHUNK_ROWS - 1)) * rowBytes;
            int s = off + i * srcStride;
            for (int d = 0; d < dim; d++) c.set(BF16, base + 2L * d, Bf16.fromFloat(src[s + d]));
            rows++;
        }
    }

    private void reserve(int total) {
        long bytes = CHUNK_ROWS * rowBytes;
        try {
            while ((long) chunks.size() * CHUNK_ROWS < total) {
                chunks.add(arena.allocate(bytes, PAGE));
                HELD.addAndGet(bytes);
            }
        } catch (OutOfMemoryError e) {
            throw new HostMemoryException("out of host memory: could not allocate " + (bytes >> 10) + " KiB more for " + label
                    + " (holding " + rows + " rows); lower the context or batch, or raise the JVM's -XX:MaxDirectMemorySize/-Xmx", e);
        }
    }

    /** The chunk holding row {@code t}; row offset inside it is {@link #offsetInChunk(int)}. */
    public MemorySegment chunkOf(int t) {
        return chunks.get(t >>> SHIFT);
    }

    public long offsetInChunk(int t) {
        return (long) (t & (CHUNK_ROWS - 1)) * rowBytes;
    }

    /** The chunks themselves (read-only view), for devices that map host memory. */
    public List<MemorySegment> chunks() {
        return java.util.Collections.unmodifiableList(chunks);
    }

    /** {@code <row t, q>} in fp32. */
    public float dot(int t, float[] q, int qOff) {
        return VectorOps.current().dotBf16(chunkOf(t), offsetInChunk(t), q, qOff, dim);
    }

    /** {@code acc += w * row t}. */
    public void axpy(int t, float w, float[] acc, int accOff) {
        VectorOps.current().axpyBf16(w, chunkOf(t), offsetInChunk(t), acc, accOff, dim);
    }

    /** Copies rows {@code [from, from+n)} as floats into {@code dst[off..]}. */
    public void read(int from, int n, float[] dst, int off) {
        for (int i = 0; i < n; i++) {
            int t = from + i;
            MemorySegment c = chunkOf(t);
            long base = offsetInChunk(t);
            for (int d = 0; d < dim; d++) dst[off + i * dim + d] = Bf16.toFloat(c.get(BF16, base + 2L * d));
        }
    }

    /** Bytes of off-heap memory held. */
    public long bytesHeld() {
        return chunks.size() * CHUNK_ROWS * rowBytes;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            HELD.addAndGet(-bytesHeld());
            OPEN.decrementAndGet();
        }
        chunks.clear();
        rows = 0;
        arena.close();
    }
}
