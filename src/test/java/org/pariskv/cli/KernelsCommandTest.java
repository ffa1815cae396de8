package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pariskv kernels}: lists, prints and dumps the code generated from Java kernel classes. */
class KernelsCommandTest {
    @Test
    void listsTheBuiltInKernels() {
        CliRun r = CliRun.of("kernels");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("org.pariskv.compute.smoke.SmokeTasks (opencl") && r.out().contains("saxpy, blockSum, histogram256, toBf16"), r.out());
    }

    @Test
    void printsOneKernelsProgramInEitherDialect() {
        CliRun cuda = CliRun.of("kernels", "--print", "histogram256", "--dialect", "cuda");
        assertEquals(0, cuda.code(), cuda.err());
        assertTrue(cuda.out().contains("#define PKV_KERNEL extern \"C\" __global__"), cuda.out());
        assertTrue(cuda.out().contains("PKV_KERNEL void histogram256(PKV_GLOBAL const jbyte* codes, PKV_GLOBAL int* counts, int n)"), cuda.out());
        CliRun cl = CliRun.of("kernels", "--print", "saxpy");
        assertTrue(cl.out().contains("#define PKV_KERNEL __kernel") && cl.out().contains("PKV_KERNEL void saxpy("), cl.out());
        CliRun missing = CliRun.of("kernels", "--print", "noSuchKernel");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no @Kernel method 'noSuchKernel'"), missing.err());
        assertEquals(2, CliRun.of("kernels", "--dialect", "ptx").code());
    }

    @Test
    void dumpsBothDialects(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("kernels", "--dump-kernels", dir.toString(), "--class", "org.pariskv.compute.smoke.SmokeTasks");
        assertEquals(0, r.code(), r.err());
        String cl = Files.readString(dir.resolve("org.pariskv.compute.smoke.SmokeTasks.java.cl"));
        String cu = Files.readString(dir.resolve("org.pariskv.compute.smoke.SmokeTasks.java.cu"));
        assertTrue(cl.contains("get_global_id") && cu.contains("threadIdx"));
        assertTrue(cl.contains("PKV_KERNEL void toBf16(") && cu.contains("PKV_KERNEL void toBf16("));
    }
}
