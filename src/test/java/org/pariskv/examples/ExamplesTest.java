package org.pariskv.examples;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every example under examples/ compiles against the library and runs (scaled down) without failing. */
class ExamplesTest {

    @TempDir
    static Path classes;

    @BeforeAll
    static void compileExamples() throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("--add-modules", "jdk.incubator.vector", "-d", classes.toString(),
                "-cp", System.getProperty("java.class.path")));
        try (var files = Files.list(Path.of("examples"))) {
            files.filter(p -> p.toString().endsWith(".java")).forEach(p -> args.add(p.toString()));
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, args.toArray(String[]::new));
        assertEquals(0, rc, "examples do not compile:\n" + err);
    }

    static String run(String cls, String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, ExamplesTest.class.getClassLoader())) {
            System.setOut(new PrintStream(buf, true));
            loader.loadClass(cls).getMethod("main", String[].class).invoke(null, (Object) args);
        } finally {
            System.setOut(old);
        }
        return buf.toString();
    }

    @Test
    void listDevicesNamesTheJavaBackendAndTheAutoChoice() throws Exception {
        String out = run("ListDevices");
        assertTrue(out.contains("java") && out.contains("auto -> "), out);
    }

    @Test
    void decodeLayerRunsOnTheJavaEngine() throws Exception {
        String out = run("DecodeLayer", "java", "3000", "3");
        assertTrue(out.matches("(?s)device java: 3003-token context, 3 steps, [0-9.]+ ms/step.*"), out);
    }

    @Test
    void generateRunsATinyCheckpointAloneAndInABatch(@TempDir Path dir) throws Exception {
        Path model = org.pariskv.model.TinyCheckpoint.write(dir.resolve("tiny"), org.pariskv.model.TinyCheckpoint.Spec.small()).dir;
        String out = run("Generate", model.toString(), "pariskv", "5");
        assertTrue(out.matches("(?s)pariskv: .*prefill \\d+ tokens [0-9.]+ ms, \\d tokens at [0-9.]+ ms/token.*batch of 2: lengths 13 and 43 after 5 steps.*"), out);
    }

    @Test
    @Tag("slow") // 33 s on a fresh machine (PoCL compiles the decoder's program); ./pariskv test --fast leaves it out
    void millionTokenDecodeRunsScaledDownOnOpenCl() throws Exception {
        org.pariskv.compute.OpenClTestSupport.openClDevice(); // CI has PoCL; elsewhere skip without OpenCL
        String out = run("MillionTokenDecode", "16384", "opencl", "3");
        assertTrue(out.contains("16384 tokens prefilled+encoded") && out.contains("decode step best"), out);
    }

    @Test
    void customKernelRunsOnTheJvm() throws Exception {
        String out = run("CustomKernel", "java", "8", "300");
        assertTrue(out.startsWith("device java: saxpy + softmaxRows over 8 x 300"), out);
    }

    @Test
    void customKernelRunsOnOpenCl() throws Exception {
        String device = org.pariskv.compute.OpenClTestSupport.openClDevice().spec(); // CI has PoCL; elsewhere skip without OpenCL
        String out = run("CustomKernel", device, "16", "4096");
        assertTrue(out.startsWith("device " + device + ": saxpy + softmaxRows over 16 x 4096"), out);
        assertTrue(out.contains("softmaxRows"), out);
    }
}
