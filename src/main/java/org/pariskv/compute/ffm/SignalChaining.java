package org.pariskv.compute.ffm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether the JVM's signal chaining library ({@code libjsig.so}) is loaded. The JVM serves the safepoint polls of
 * compiled Java code with its SIGSEGV handler. OpenCL and CUDA drivers and compilers (PoCL's LLVM, NVRTC) install
 * handlers of their own, and a poll that reaches one of those kills the JVM: exit 139, no hs_err file, at a random
 * moment (seen on PoCL in CI and on the H200). With {@code LD_PRELOAD=$JAVA_HOME/lib/libjsig.so} the JVM's handler
 * stays first and chains to theirs. The launcher, the tests and the GPU scripts preload it. An embedding application
 * must do the same; if it has not, this says so once on stderr before a driver is loaded.
 */
public final class SignalChaining {
    private static volatile boolean checked;

    private SignalChaining() {}

    /** Whether libjsig is mapped into this process (Linux; true elsewhere, where nothing can be checked). */
    public static boolean active() {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) return true;
        try (var lines = Files.lines(maps)) {
            return lines.anyMatch(l -> l.endsWith("/libjsig.so"));
        } catch (IOException | java.io.UncheckedIOException e) {
            return true;
        }
    }

    /** Warns once, on stderr, when {@code library} is about to load without signal chaining. */
    public static void warnIfMissing(String library) {
        if (checked) return;
        synchronized (SignalChaining.class) {
            if (checked) return;
            checked = true;
        }
        if (!active()) {
            System.err.println("pariskv: warning: " + library + " is loaded without the JVM's signal chaining; its LLVM may take over "
                    + "the JVM's SIGSEGV handler and kill the JVM at a safepoint (exit 139, no hs_err). Start Java with "
                    + "LD_PRELOAD=" + System.getProperty("java.home") + "/lib/libjsig.so (./pariskv does).");
        }
    }
}
