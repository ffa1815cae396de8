package org.pariskv.device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.pariskv.compute.Backend;
import org.pariskv.compute.CudaBackend;
import org.pariskv.compute.JavaBackend;
import org.pariskv.compute.OpenClBackend;

/**
 * Memory free for a plan: device bytes and host bytes, each with where the number came from; -1 = unknown
 * (then that side is not checked).
 */
public record MemoryBudget(long deviceFree, String deviceSource, long hostFree, String hostSource) {

    /** Nothing known: no check. */
    public static MemoryBudget unknown() {
        return new MemoryBudget(-1, "unknown", -1, "unknown");
    }

    /**
     * Asks the device and the OS. Device: {@code cuMemGetInfo} free bytes (CUDA), {@code CL_DEVICE_GLOBAL_MEM_SIZE}
     * (OpenCL: the total, OpenCL has no "free"), none for the Java backend. Host: {@code MemAvailable} of
     * {@code /proc/meminfo}, else {@link Runtime#maxMemory()}. A positive cap lowers either number.
     */
    public static MemoryBudget of(Backend backend, long deviceCap, long hostCap) {
        long dev = -1;
        String devSrc = "unknown";
        switch (backend) {
            case CudaBackend c -> {
                dev = c.context().memoryInfo()[0];
                devSrc = "free on " + backend.device().spec() + " (cuMemGetInfo)";
            }
            case OpenClBackend o -> {
                dev = backend.device().globalMemBytes();
                devSrc = "on " + backend.device().spec() + " (CL_DEVICE_GLOBAL_MEM_SIZE)";
            }
            case JavaBackend j -> { }
        }
        return capped(dev, devSrc, deviceCap, hostCap);
    }

    /**
     * Planning for a machine that may not be this one: the given sizes as they are (device unknown when 0;
     * host: this machine's MemAvailable when 0).
     */
    public static MemoryBudget ofCaps(long deviceBytes, long hostBytes) {
        if (hostBytes > 0) {
            return new MemoryBudget(deviceBytes > 0 ? deviceBytes : -1, deviceBytes > 0 ? "given by --device-memory" : "unknown",
                    hostBytes, "given by --host-memory");
        }
        return capped(-1, "unknown", deviceBytes, 0);
    }

    private static MemoryBudget capped(long dev, String devSrc, long deviceCap, long hostCap) {
        if (deviceCap > 0 && (dev < 0 || deviceCap < dev)) {
            dev = deviceCap;
            devSrc = "allowed by --device-memory";
        }
        long host = hostAvailable();
        String hostSrc = host >= 0 ? "available on the host (/proc/meminfo MemAvailable)" : "unknown";
        if (host < 0) {
            host = Runtime.getRuntime().maxMemory();
            hostSrc = "JVM max memory (Runtime.maxMemory)";
        }
        if (hostCap > 0 && hostCap < host) {
            host = hostCap;
            hostSrc = "allowed by --host-memory";
        }
        return new MemoryBudget(dev, devSrc, host, hostSrc);
    }

    /** MemAvailable of /proc/meminfo in bytes, or -1. */
    static long hostAvailable() {
        return meminfo("MemAvailable:");
    }

    /**
     * The machine's physical memory: MemTotal of /proc/meminfo, else (not Linux) what the JVM may use at most. Read
     * from the file, not {@code com.sun.management}, which a trimmed runtime (jlink without jdk.management) lacks.
     */
    public static long hostTotal() {
        long total = meminfo("MemTotal:");
        return total > 0 ? total : Runtime.getRuntime().maxMemory();
    }

    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) {
                    String[] f = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(f[0]) * 1024; // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }
}
