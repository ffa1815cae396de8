package org.pariskv.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The byte-level Llama the project trained itself (profiles/results/2026-12-03-h200-bundled-model): 4 layers,
 * hidden 256, 4 query / 2 KV heads of dim 128, 4.0 M parameters, bf16. It ships inside the jar; weights are
 * memory-mapped, so a jar's copy is written once to a cache folder ({@code ~/.cache/pariskv/models}, else the
 * temporary folder) and reused by later runs.
 */
public final class BundledModel {
    /** The model's name; also its resource folder under {@code /model/}. */
    public static final String NAME = "pariskv-byte";

    private static final String[] FILES = {"config.json", "model.safetensors", "heldout.txt"};

    private BundledModel() {}

    /** A folder holding config.json, model.safetensors and heldout.txt of the bundled model. */
    public static synchronized Path directory() {
        URL config = resource("config.json");
        if ("file".equals(config.getProtocol())) {
            try {
                return Path.of(config.toURI()).getParent(); // classes on disk (a build tree): use them in place
            } catch (URISyntaxException e) {
                throw new IllegalStateException("bundled model at an unreadable URL " + config, e);
            }
        }
        long size = size("model.safetensors");
        IOException last = null;
        for (Path base : new Path[] {Path.of(System.getProperty("user.home"), ".cache", "pariskv", "models"),
                Path.of(System.getProperty("java.io.tmpdir"), "pariskv-models")}) {
            Path dir = base.resolve(NAME + "-" + size);
            try {
                if (!complete(dir)) extract(dir);
                return dir;
            } catch (IOException e) {
                last = e; // unwritable: try the next place
            }
        }
        throw new UncheckedIOException("cannot write the bundled model to a cache folder", last);
    }

    /** Held-out text (Python 3.12 standard library files, PSF License) the model never trained on, for bits per byte. */
    public static byte[] heldOutText() {
        try (InputStream in = resource("heldout.txt").openStream()) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the bundled held-out text", e);
        }
    }

    private static boolean complete(Path dir) throws IOException {
        for (String f : FILES) {
            Path p = dir.resolve(f);
            if (!Files.isRegularFile(p) || Files.size(p) != size(f)) return false;
        }
        return true;
    }

    private static void extract(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : FILES) {
            Path tmp = Files.createTempFile(dir, f, ".part");
            try (InputStream in = resource(f).openStream()) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static long size(String file) {
        try {
            return resource(file).openConnection().getContentLengthLong();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the bundled model's " + file, e);
        }
    }

    private static URL resource(String file) {
        URL u = BundledModel.class.getResource("/model/" + NAME + "/" + file);
        if (u == null) throw new IllegalStateException("the bundled model's " + file + " is missing from the classpath (/model/" + NAME + "/)");
        return u;
    }
}
