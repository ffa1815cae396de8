package org.pariskv.compute;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live buffers and bytes allocated through {@link Backend#allocate} / {@link Backend#allocateHostMapped},
 * by {@link MemoryKind}, process-wide. Leak checks (the soak tests) compare it before and after.
 */
public final class NativeMemoryLedger {
    private NativeMemoryLedger() {}

    private static final Map<MemoryKind, AtomicLong> BYTES = new EnumMap<>(MemoryKind.class);
    private static final Map<MemoryKind, AtomicLong> COUNT = new EnumMap<>(MemoryKind.class);

    static {
        for (MemoryKind k : MemoryKind.values()) {
            BYTES.put(k, new AtomicLong());
            COUNT.put(k, new AtomicLong());
        }
    }

    static void allocated(MemoryKind kind, long bytes) {
        BYTES.get(kind).addAndGet(bytes);
        COUNT.get(kind).incrementAndGet();
    }

    static void freed(MemoryKind kind, long bytes) {
        BYTES.get(kind).addAndGet(-bytes);
        COUNT.get(kind).decrementAndGet();
    }

    /**
     * Host memory a decoder allocates itself, outside a backend (the K/V rows of {@code --kv staged}), recorded as
     * {@link MemoryKind#HOST_STAGED} so that leak checks see it too; pair with {@link #hostStagedFreed}.
     */
    public static void hostStagedAllocated(long bytes) {
        allocated(MemoryKind.HOST_STAGED, bytes);
    }

    public static void hostStagedFreed(long bytes) {
        freed(MemoryKind.HOST_STAGED, bytes);
    }

    /** Bytes of live buffers of {@code kind}. */
    public static long liveBytes(MemoryKind kind) {
        return BYTES.get(kind).get();
    }

    /** Live buffers of {@code kind}. */
    public static long liveBuffers(MemoryKind kind) {
        return COUNT.get(kind).get();
    }

    /** Bytes of all live buffers. */
    public static long liveBytes() {
        long n = 0;
        for (AtomicLong a : BYTES.values()) n += a.get();
        return n;
    }

    /** All live buffers. */
    public static long liveBuffers() {
        long n = 0;
        for (AtomicLong a : COUNT.values()) n += a.get();
        return n;
    }
}
