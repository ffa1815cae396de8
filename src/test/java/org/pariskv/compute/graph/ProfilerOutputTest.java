package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.smoke.SmokeTasks;

class ProfilerOutputTest {
    private static String run(ProfilerMode mode) {
        PrintStream saved = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true));
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(SmokeTasks.Data.random(100, 1)))
                .withDevice(DeviceSpec.JAVA).withProfiler(mode)) {
            ExecutionResult r = plan.execute();
            if (mode == ProfilerMode.OFF) assertEquals(-1, r.kernelNanos());
        } finally {
            System.setOut(saved);
        }
        return bytes.toString();
    }

    @Test
    void consolePrintsOneLinePerTaskAndATotal() {
        String out = run(ProfilerMode.CONSOLE);
        for (String task : new String[] {"saxpy", "blockSum", "histogram256", "toBf16"}) {
            assertTrue(out.lines().anyMatch(l -> l.startsWith(task + " ")), out);
        }
        assertTrue(out.contains("total on java"), out);
    }

    @Test
    void jsonIsOneObjectWithEveryTask() {
        String out = run(ProfilerMode.JSON).strip();
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.startsWith("{\"device\":\"java\"") && out.endsWith("]}"), out);
        assertEquals(4, out.split("\"task\":").length - 1, out);
    }

    @Test
    void offPrintsNothingAndMeasuresNothing() {
        assertEquals("", run(ProfilerMode.OFF));
    }
}
