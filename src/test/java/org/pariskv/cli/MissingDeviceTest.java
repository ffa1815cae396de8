package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Devices;
import org.pariskv.model.BundledModel;


/**
 * A device that does not exist ends every command that takes {@code --device} with exit 2 and a one-line reason;
 * {@code ruler} and {@code compare} run on the CPU and take no {@code --device}: they refuse the option the same way.
 */
class MissingDeviceTest {

    static Stream<String> commandLines() {
        return Stream.of("eval --context 3000 --steps 2", "demo --context 3000", "bench --context 3000", "bench --model llama3-8b",
                "plan --context 3000", "generate --model " + BundledModel.directory() + " --prompt hi --max-tokens 2",
                "ruler --contexts 1000", "compare --contexts 3000");
    }

    @ParameterizedTest
    @MethodSource("commandLines")
    void nonexistentDeviceIsExitTwoWithOneLine(String commandLine) {
        assertOneLine(commandLine, "opencl:99");
    }

    /** {@code --device cuda} on a machine without CUDA (every CI machine but the GPU one). */
    @ParameterizedTest
    @MethodSource("commandLines")
    void cudaWithoutAGpuIsExitTwoWithOneLine(String commandLine) {
        assumeTrue(Devices.list().unavailable().containsKey(BackendKind.CUDA), "CUDA is available here: --device cuda is a real device");
        assertOneLine(commandLine, "cuda");
    }

    private static void assertOneLine(String commandLine, String device) {
        String[] args = (commandLine + " --device " + device).split(" ");
        String command = args[0];
        CliRun r = CliRun.of(args);
        assertEquals(2, r.code(), command + " stdout: " + r.out() + " stderr: " + r.err());
        assertEquals("", r.out(), command + ": nothing on stdout");
        String err = r.err().strip();
        assertTrue(err.startsWith("pariskv: ") && err.contains(device), err);
        assertEquals(1, err.lines().count(), "one line, no stack trace: " + err);
    }
}
