package org.pariskv.compute;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live buffers and bytes allocated through {@link Backend#allocate} / {@link Backend#allocateHostMapped}, and
 * host stores decoders manage themselves (bytes in use, not address space reserved), by {@link MemoryKind},
 * process-wide. Leak checks (the soak tests) compare it before and after.
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
     * A host store a decoder manages itself, outside a backend (the K/V rows of a host K/V placement, reserved address
     * space committed segment by segment), recorded under {@code kind} so that leak checks see it too: one live buffer
     * from here to {@link #hostStoreClosed}, holding the bytes added by {@link #hostStoreGrew}.
     */
    public static void hostStoreOpened(MemoryKind kind) {
        COUNT.get(kind).incrementAndGet();
    }

    /** {@code bytes} more of an open host store are in use (segments committed). */
    public static void hostStoreGrew(MemoryKind kind, long bytes) {
        BYTES.get(kind).addAndGet(bytes);
    }

    /** A host store holding {@code bytes} closed. */
    public static void hostStoreClosed(MemoryKind kind, long bytes) {
        freed(kind, bytes);
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
