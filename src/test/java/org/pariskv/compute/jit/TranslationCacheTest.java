package org.pariskv.compute.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.compute.smoke.SmokeTasks;

/** The disk cache of translations, and how long translating takes. */
class TranslationCacheTest {
    private static final String SMOKE = SmokeTasks.class.getName().replace('.', '/');

    private static String hashOf(String internalName) {
        return HexFormat.of().formatHex(KernelTranslator.sha(KernelTranslator.classBytes(SmokeTasks.class.getClassLoader(), internalName)));
    }

    @Test
    void storedTranslationsComeBackWhileTheirClassesAreUnchanged(@TempDir Path dir) {
        TranslationCache cache = new TranslationCache(dir);
        Translation t = KernelTranslator.translateUncached(SmokeTasks.class, Dialect.OPENCL);
        cache.store("k1", t, Map.of(SMOKE, hashOf(SMOKE)));
        Translation back = cache.load("k1", SmokeTasks.class.getClassLoader(), t.className(), Dialect.OPENCL);
        assertTrue(back.fromDisk());
        assertEquals(t.source(), back.source());
        assertEquals(t.kernels(), back.kernels());
        assertNull(cache.load("k1", SmokeTasks.class.getClassLoader(), t.className(), Dialect.CUDA), "one file per dialect");
        cache.store("k2", t, Map.of(SMOKE, "0".repeat(64)));
        assertNull(cache.load("k2", SmokeTasks.class.getClassLoader(), t.className(), Dialect.OPENCL),
                "an entry whose classes changed is not used");
    }

    /** The cache key covers the translator's own code, so a changed translator never reuses an older program. */
    @Test
    void theKeyHoldsAFingerprintOfTheTranslatorsClassFiles() throws Exception {
        assertNotEquals(KernelTranslator.VERSION, KernelTranslator.FINGERPRINT, "the class files were read");
        assertTrue(KernelTranslator.FINGERPRINT.matches("[0-9a-f]{16}"), KernelTranslator.FINGERPRINT);
        // the same bytes as this package's class files in the build tree, in name order
        Path dir = Path.of(KernelTranslator.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve(KernelTranslator.class.getPackageName().replace('.', '/'));
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
                md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update(Files.readAllBytes(f));
            }
        }
        assertEquals(HexFormat.of().formatHex(md.digest()).substring(0, 16), KernelTranslator.FINGERPRINT);
    }

    @Test
    void anUnwritableCacheIsNotUsed(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        TranslationCache cache = new TranslationCache(file.resolve("kernels"));
        Translation t = KernelTranslator.translateUncached(SmokeTasks.class, Dialect.CUDA);
        cache.store("k", t, Map.of()); // no exception
        assertNull(cache.load("k", SmokeTasks.class.getClassLoader(), t.className(), Dialect.CUDA));
    }

    @Test
    void theSmokeKernelsTranslateWellUnderTwoSeconds() {
        long total = 0;
        for (Dialect d : Dialect.values()) {
            Translation t = KernelTranslator.translateUncached(SmokeTasks.class, d);
            total += t.nanos();
            assertEquals(java.util.List.of("saxpy", "blockSum", "histogram256", "toBf16"), t.kernels());
        }
        System.out.printf("translation of the smoke kernels (both dialects, uncached): %.1f ms%n", total / 1e6);
        assertTrue(total < 2_000_000_000L, total / 1e6 + " ms");
    }
}
