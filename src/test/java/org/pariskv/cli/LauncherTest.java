package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher {@code ./pariskv} itself, run on a stand-in jar (a class that prints a JSON line on stdout, a progress
 * redraw and a line on stderr, and exits 3) so no real build or device is needed: the first automatic build writes
 * nothing to stdout (a stand-in {@code mvn} that prints ANSI escapes), and on a terminal the JVM's incubator warning
 * is dropped while the rest of stderr and the exit code pass through.
 */
class LauncherTest {
    static final String WARNING = "WARNING: Using incubator modules";
    static final String OUT = "{\"ok\": true}\n";

    @TempDir
    static Path tmp;
    static Path fakeJar;

    @BeforeAll
    static void fakeJar() throws IOException {
        Path src = Files.writeString(Files.createDirectories(tmp.resolve("src")).resolve("Fake.java"), """
                public class Fake {
                    public static void main(String[] args) {
                        System.out.print("{\\"ok\\": true}\\n");
                        System.out.flush();
                        System.err.print("step 1\\r");
                        System.err.println("done");
                        System.exit(3);
                    }
                }
                """);
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(), src.toString()));
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "Fake");
        fakeJar = tmp.resolve("fake.jar");
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(fakeJar), mf)) {
            jar.putNextEntry(new JarEntry("Fake.class"));
            jar.write(Files.readAllBytes(classes.resolve("Fake.class")));
        }
    }

    /** A copy of the launcher in its own folder, with the stand-in jar already built there (or not). */
    static Path launcherIn(String name, boolean built) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name).resolve("target"));
        Path launcher = Files.copy(Path.of("pariskv"), dir.getParent().resolve("pariskv"));
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        if (built) Files.copy(fakeJar, dir.resolve("pariskv.jar"));
        return launcher;
    }

    record Run(int code, String out, String err) {}

    static Run run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PARISKV_JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("PARISKV_JVM_WARNINGS");
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "launcher finished");
        return new Run(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8), new String(err.get(), StandardCharsets.UTF_8));
    }

    static byte[] readAll(java.io.InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void theFirstBuildWritesNothingToStdout() throws Exception {
        Path launcher = launcherIn("first-build", false);
        Path bin = Files.createDirectories(launcher.getParent().resolve("bin"));
        Path mvn = Files.writeString(bin.resolve("mvn"), "#!/usr/bin/env bash\nprintf '\\033[1;34m[INFO]\\033[m BUILD SUCCESS\\n'\ncp '" + fakeJar + "' target/pariskv.jar\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
        Run r = run(List.of(launcher.toString(), "plan", "--format", "json"), Map.of("PATH", bin + ":" + System.getenv("PATH")));
        assertEquals(3, r.code(), r.err());
        assertEquals(OUT, r.out(), "stdout is the command's alone, the first time too; stderr: " + r.err());
        assertTrue(r.err().contains("pariskv: building target/pariskv.jar") && r.err().contains("BUILD SUCCESS"), r.err());
    }

    @Test
    void theIncubatorWarningIsDroppedAndTheRestPassesThrough() throws Exception {
        Path launcher = launcherIn("filtered", true);
        Run r = run(List.of(launcher.toString()), Map.of("PARISKV_JVM_WARNINGS", "0"));
        assertEquals(3, r.code(), r.err());
        assertEquals(OUT, r.out());
        assertEquals("step 1\rdone\n", r.err());
        // not on a terminal (scripts, CI) the JVM is exec'd as it is: its pid and signals, the warning kept
        Run plain = run(List.of(launcher.toString()), Map.of());
        assertEquals(3, plain.code(), plain.err());
        assertTrue(plain.err().startsWith(WARNING) && plain.err().endsWith("step 1\rdone\n"), plain.err());
    }

    @Test
    void onATerminalTheWarningIsGone() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "no /usr/bin/script (util-linux) to give the launcher a terminal");
        Path launcher = launcherIn("terminal", true);
        Run r = run(List.of("/usr/bin/script", "-qec", launcher.toString(), "/dev/null"), Map.of());
        assertEquals(3, r.code(), r.out() + r.err());
        assertFalse(r.out().contains(WARNING), r.out());
        assertTrue(r.out().contains("{\"ok\": true}") && r.out().contains("step 1\rdone"), r.out());
    }
}
