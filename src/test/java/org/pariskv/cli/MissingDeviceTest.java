package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


/** A device that does not exist ends every command that takes {@code --device} with exit 2 and a one-line reason. */
class MissingDeviceTest {

    @ParameterizedTest
    @ValueSource(strings = {"eval --context 3000 --steps 2", "demo --context 3000 --steps 2", "bench --context 3000",
            "plan --context 3000"})
    void nonexistentDeviceIsExitTwoWithOneLine(String commandLine) {
        String[] args = (commandLine + " --device opencl:99").split(" ");
        String command = args[0];
        CliRun r = CliRun.of(args);
        assertEquals(2, r.code(), command + " stdout: " + r.out() + " stderr: " + r.err());
        String err = r.err().strip();
        assertTrue(err.startsWith("pariskv: ") && err.contains("opencl:99"), err);
        assertEquals(1, err.lines().count(), "one line, no stack trace: " + err);
    }
}
