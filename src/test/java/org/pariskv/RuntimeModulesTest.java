package org.pariskv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The product's classes need only the modules the GPU machine's jlink'd runtime holds (profiles/gpu/prepare.sh) and
 * java.desktop for the PNG plots: a reference to com.sun.management (jdk.management) once made `generate` fail there
 * with NoClassDefFoundError.
 */
class RuntimeModulesTest {
    private static final Set<String> ALLOWED = Set.of("java.base", "java.desktop", "java.logging", "java.management",
            "jdk.incubator.vector", "jdk.unsupported", "jdk.zipfs");

    @Test
    void theProductNeedsOnlyTheModulesOfTheDeviceRuntime() {
        Path classes = Path.of("target/classes");
        assertTrue(Files.isDirectory(classes), "run after compilation (target/classes)");
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow();
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-q", "--ignore-missing-deps", "--multi-release", "25",
                "--print-module-deps", classes.toString());
        assertEquals(0, rc, err.toString());
        Set<String> used = new TreeSet<>(Set.of(out.toString().trim().split(",")));
        used.removeAll(ALLOWED);
        assertTrue(used.isEmpty(), "modules outside the device runtime: " + used);
    }
}
