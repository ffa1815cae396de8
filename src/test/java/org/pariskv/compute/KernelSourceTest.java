package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KernelSourceTest {
    @Test
    void prependsHeaderAndResetsLineNumbers() {
        String s = KernelSource.resource("pariskv.c").compilable();
        int header = s.indexOf("#define KERNEL __kernel");
        int line = s.indexOf("#line 1 \"pariskv.c\"");
        int kernel = s.indexOf("KERNEL void ", line);
        assertTrue(header >= 0 && line > header && kernel > line, "pkv.h, then #line, then the task file");
    }

    @Test
    void headerDefinesBothDialects() {
        String h = KernelSource.header();
        for (String macro : new String[] {"KERNEL", "GLOBAL", "LOCAL", "CONSTANT", "GLOBAL_ID", "LOCAL_ID", "GROUP_ID",
                "LOCAL_SIZE", "NUM_GROUPS", "SYNC_THREADS", "ATOMIC_ADD_INT", "ATOMIC_MAX", "LOCAL_ARRAY", "LOCAL_ARG"}) {
            long definitions = java.util.regex.Pattern.compile("#define " + macro + "[\\s(]").matcher(h).results().count();
            assertEquals(2, definitions, macro + " must be defined once for CUDA and once for OpenCL");
        }
        assertTrue(h.lines().noneMatch(l -> l.strip().startsWith("#include")), "pkv.h must not include toolkit headers");
    }

    @Test
    void missingResourceIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelSource.resource("nope.c"));
        assertTrue(e.getMessage().contains("/tasks/nope.c"));
    }
}
