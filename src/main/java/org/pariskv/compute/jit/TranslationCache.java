package org.pariskv.compute.jit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Generated programs on disk, one file per (translator version, dialect, kernel class bytes), so that a new JVM skips
 * translation. An entry also records the hash of every class it read (callees, constants' classes) and is used only
 * while they are unchanged. The directory is {@code -Dpariskv.kernelCache=DIR}, else {@code $PARISKV_KERNEL_CACHE},
 * else {@code ~/.cache/pariskv/kernels}; {@code off} turns the disk cache off. A directory that cannot be written is
 * simply not used.
 */
final class TranslationCache {
    private static final TranslationCache SHARED = new TranslationCache(directory());
    private final Path dir;

    TranslationCache(Path dir) {
        this.dir = dir;
    }

    static TranslationCache shared() {
        return SHARED;
    }

    private static Path directory() {
        String d = System.getProperty("pariskv.kernelCache", System.getenv("PARISKV_KERNEL_CACHE"));
        if ("off".equals(d)) return null;
        if (d != null && !d.isBlank()) return Path.of(d);
        String home = System.getProperty("user.home");
        return home == null ? null : Path.of(home, ".cache", "pariskv", "kernels");
    }

    Translation load(String hash, ClassLoader loader, String className, Dialect dialect) {
        if (dir == null) return null;
        long t0 = System.nanoTime();
        Path f = dir.resolve(hash + (dialect == Dialect.CUDA ? ".cu" : ".cl"));
        try {
            if (!Files.isRegularFile(f)) return null;
            String text = Files.readString(f, StandardCharsets.UTF_8);
            int end = text.indexOf("\n// ----\n");
            if (end < 0) return null;
            List<String> kernels = new ArrayList<>();
            for (String line : text.substring(0, end).split("\n")) {
                String[] w = line.split(" ");
                if (w.length == 4 && w[1].equals("dep")) {
                    String now = HexFormat.of().formatHex(KernelTranslator.sha(KernelTranslator.classBytes(loader, w[2])));
                    if (!now.equals(w[3])) return null; // a class it read has changed
                } else if (w.length == 3 && w[1].equals("kernels")) {
                    kernels.addAll(Arrays.asList(w[2].split(",")));
                }
            }
            return new Translation(className, dialect, text.substring(end + 9), kernels, System.nanoTime() - t0, true);
        } catch (IOException | RuntimeException e) {
            return null; // unreadable or stale: translate again
        }
    }

    void store(String hash, Translation t, Map<String, String> deps) {
        if (dir == null) return;
        StringBuilder sb = new StringBuilder("// pariskv " + KernelTranslator.VERSION + " " + t.className() + "\n");
        deps.forEach((c, h) -> sb.append("// dep ").append(c).append(' ').append(h).append('\n'));
        sb.append("// kernels ").append(String.join(",", t.kernels())).append("\n// ----\n").append(t.source());
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, hash, ".tmp");
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(hash + (t.dialect() == Dialect.CUDA ? ".cu" : ".cl")), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            // an unwritable cache only costs the next JVM a translation
        }
    }
}
