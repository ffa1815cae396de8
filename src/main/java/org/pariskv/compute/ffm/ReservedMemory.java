package org.pariskv.compute.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A page-aligned range of virtual address space reserved up front without committing memory: Linux
 * {@code mmap(NULL, bytes, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)} through the FFM
 * API (libc of {@link Linker#defaultLookup()}), {@code munmap} on {@link #close()}. The kernel backs a page with
 * (zeroed) physical memory the first time it is touched, so a range grows as it is written: nothing is zero-filled
 * by Java and nothing is ever copied. MAP_NORESERVE also skips swap accounting: the caller checks free memory before
 * it writes (an untouched page that cannot be backed later kills the process instead of failing a call).
 *
 * <p>Other systems: plain native memory of the same size (committed and zeroed at once), said in {@link #lazy()}.
 * {@link #segment()} is valid until {@code close()}: closing invalidates it (and its slices) before the range is
 * unmapped, so a late access throws instead of crashing. Thread-safe.
 */
public final class ReservedMemory implements AutoCloseable {
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000,
            SC_PAGESIZE = 30, MADV_DONTNEED = 4, MADV_POPULATE_WRITE = 23, EINVAL = 22;
    private static final AtomicLong LIVE = new AtomicLong(), LIVE_BYTES = new AtomicLong();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;
    private final long address, bytes;
    private final boolean lazy;
    private boolean closed;

    private ReservedMemory(long bytes) {
        this.bytes = bytes;
        MemorySegment s;
        if (LINUX) {
            try {
                s = Libc.INSTANCE.mmap(bytes).reinterpret(bytes, arena, null);
            } catch (RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        } else {
            s = arena.allocate(bytes, pageSize());
        }
        this.segment = s;
        this.address = s.address();
        this.lazy = LINUX;
        LIVE.incrementAndGet();
        LIVE_BYTES.addAndGet(bytes);
    }

    /**
     * Reserves {@code bytes} rounded up to whole pages.
     *
     * @throws IllegalStateException when mmap fails (address space or overcommit limits), with errno's words
     */
    public static ReservedMemory reserve(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        long page = pageSize();
        return new ReservedMemory((bytes + page - 1) / page * page);
    }

    /** The page size ({@code sysconf(_SC_PAGESIZE)}; 4096 where it cannot be asked). */
    public static long pageSize() {
        return LINUX ? Libc.INSTANCE.pageSize : 4096;
    }

    /** The whole range (page-aligned, {@link #bytes()} long); invalid after {@link #close()}. */
    public MemorySegment segment() {
        return segment;
    }

    /** Bytes of the range (a whole number of pages). */
    public long bytes() {
        return bytes;
    }

    /** True when pages are committed as they are first written (Linux mmap); false: committed at once. */
    public boolean lazy() {
        return lazy;
    }

    /**
     * Commits bytes {@code [offset, offset + bytes)} now, as if written (Linux 5.14+ {@code MADV_POPULATE_WRITE}), so
     * that running out of memory fails this call instead of killing the process at a later first write. The range is
     * widened to whole pages. Pages already committed keep their contents.
     *
     * @return false when this kernel has no MADV_POPULATE_WRITE (pages then commit as they are written), and when the
     *         memory is not lazy (already committed)
     * @throws IllegalStateException when the pages cannot be committed (ENOMEM and the like), with errno's words;
     *                               some of the range may be committed then ({@link #release} gives it back)
     */
    public synchronized boolean populate(long offset, long bytes) {
        if (!lazy || bytes <= 0) return false;
        if (closed) throw new IllegalStateException("reserved memory closed");
        long[] r = pages(offset, bytes);
        int e = Libc.INSTANCE.madvise(address + r[0], r[1], MADV_POPULATE_WRITE);
        if (e == 0) return true;
        if (e == EINVAL) return false; // Linux before 5.14
        throw new IllegalStateException("could not commit " + r[1] + " bytes of reserved memory (madvise MADV_POPULATE_WRITE): "
                + Libc.INSTANCE.words(e) + " (errno " + e + ")");
    }

    /**
     * Gives the pages of {@code [offset, offset + bytes)} back to the system ({@code MADV_DONTNEED}): they read as
     * zeros again and commit again when written. Only for ranges that hold nothing worth keeping. The range is
     * narrowed to whole pages.
     */
    public synchronized void release(long offset, long bytes) {
        if (!lazy || closed) return;
        long page = pageSize();
        long from = (offset + page - 1) / page * page, to = (offset + bytes) / page * page;
        java.util.Objects.checkFromToIndex(offset, offset + bytes, this.bytes);
        if (to > from) Libc.INSTANCE.madvise(address + from, to - from, MADV_DONTNEED);
    }

    private long[] pages(long offset, long bytes) {
        java.util.Objects.checkFromIndexSize(offset, bytes, this.bytes);
        long page = pageSize();
        long from = offset / page * page, to = Math.min(this.bytes, (offset + bytes + page - 1) / page * page);
        return new long[] {from, to - from};
    }

    /** Reservations not yet closed, process-wide (leak checks). */
    public static long live() {
        return LIVE.get();
    }

    /** Bytes of address space held by reservations not yet closed, process-wide. */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    /**
     * Invalidates {@link #segment()} and unmaps the range (idempotent). Nothing may still use it: device mappings
     * of it (cuMemHostRegister, OpenCL USE_HOST_PTR buffers) are released first.
     *
     * @throws IllegalStateException when munmap fails (the range stays counted as live)
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close(); // views die first: a late access throws IllegalStateException, never touches unmapped memory
        if (lazy) Libc.INSTANCE.munmap(address, bytes);
        LIVE.decrementAndGet();
        LIVE_BYTES.addAndGet(-bytes);
    }

    /** mmap, munmap, sysconf and strerror of the C library, errno captured after each call. */
    private static final class Libc {
        static final Libc INSTANCE = new Libc();
        private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

        private final MethodHandle mmap, munmap, madvise, strerror;
        final long pageSize;

        private Libc() {
            Linker linker = Linker.nativeLinker();
            var lookup = linker.defaultLookup();
            Linker.Option errno = Linker.Option.captureCallState("errno");
            mmap = linker.downcallHandle(lookup.find("mmap").orElseThrow(),
                    FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), errno);
            munmap = linker.downcallHandle(lookup.find("munmap").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), errno);
            madvise = linker.downcallHandle(lookup.find("madvise").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), errno);
            strerror = linker.downcallHandle(lookup.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));
            MethodHandle sysconf = linker.downcallHandle(lookup.find("sysconf").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
            long p;
            try {
                p = (long) sysconf.invokeExact(SC_PAGESIZE);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
            pageSize = p > 0 ? p : 4096;
        }

        MemorySegment mmap(long bytes) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment state = a.allocate(CAPTURE);
                MemorySegment p = (MemorySegment) mmap.invokeExact(state, MemorySegment.NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
                if (p.address() == -1L || p.address() == 0L) {
                    int e = (int) ERRNO.get(state, 0L);
                    throw new IllegalStateException("mmap of " + bytes + " bytes (MAP_NORESERVE) failed: " + words(e)
                            + " (errno " + e + "); the address space or the overcommit policy (vm.overcommit_memory) refuses it");
                }
                return p;
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }

        void munmap(long address, long bytes) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment state = a.allocate(CAPTURE);
                int rc = (int) munmap.invokeExact(state, MemorySegment.ofAddress(address), bytes);
                if (rc != 0) {
                    int e = (int) ERRNO.get(state, 0L);
                    throw new IllegalStateException("munmap of " + bytes + " bytes at 0x" + Long.toHexString(address)
                            + " failed: " + words(e) + " (errno " + e + ")");
                }
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }

        /** madvise(address, bytes, advice): 0, or the errno it failed with. */
        int madvise(long address, long bytes, int advice) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment state = a.allocate(CAPTURE);
                int rc = (int) madvise.invokeExact(state, MemorySegment.ofAddress(address), bytes, advice);
                return rc == 0 ? 0 : (int) ERRNO.get(state, 0L);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }

        String words(int errno) {
            try {
                MemorySegment s = (MemorySegment) strerror.invokeExact(errno);
                return s.equals(MemorySegment.NULL) ? "errno " + errno : s.reinterpret(256).getString(0);
            } catch (Throwable t) {
                return "errno " + errno;
            }
        }
    }
}
