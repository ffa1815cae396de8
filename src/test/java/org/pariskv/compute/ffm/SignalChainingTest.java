package org.pariskv.compute.ffm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The tests run with the JVM's signal chaining (pom: LD_PRELOAD=libjsig.so for the forked JVMs). Without it a driver's
 * LLVM took over SIGSEGV and the fork died at a safepoint poll (exit 139, no hs_err) in DecodeKernelsTest and
 * DeviceDecoderTest about one full run in three; the core showed the JVM's polling instruction {@code test %eax,(%r10)}.
 */
class SignalChainingTest {
    @Test
    void libjsigIsLoadedInTheTestJvm() {
        assertTrue(SignalChaining.active(), "libjsig.so is not mapped: LD_PRELOAD=" + System.getenv("LD_PRELOAD"));
    }
}
