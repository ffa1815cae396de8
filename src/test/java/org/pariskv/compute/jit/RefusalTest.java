package org.pariskv.compute.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each construct outside the subset is refused at translation time, naming the method, the source line and the reason. */
class RefusalTest {
    private static final Path SOURCE = Path.of("src/test/java/org/pariskv/compute/jit/RefusedKernels.java");

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "Allocation|array allocation needs a constant size",
            "ObjectAllocation|allocation (new java.lang.Object)",
            "VirtualCall|array method size",
            "Throws|exceptions (throw)",
            "TryCatch|exceptions (try/catch/finally)",
            "Monitor|synchronized",
            "StringConcat|invokedynamic",
            "InstanceField|parameter f of type",
            "StaticWrite|writing static fields",
            "JdkCall|java.lang.Integer.reverse is not in the kernel subset",
            "LabelledBreak|labelled break",
            "DynamicDimension|must be a constant",
            "LocalArrayInLoop|local array allocated inside a loop",
            "Recursion|recursion",
            "TableWrite|writing into the table"})
    void refusedWithMethodLineAndReason(String kernel, String reason) throws Exception {
        Class<?> c = Class.forName(RefusedKernels.class.getName() + "$" + kernel);
        for (Dialect d : Dialect.values()) {
            var e = assertThrows(UnsupportedKernelException.class, () -> KernelTranslator.translateUncached(c, d));
            assertTrue(e.getMessage().contains(reason), e.getMessage());
            String method = c.getName() + (kernel.equals("Recursion") ? ".factorial" : ".k"); // refused where it recurses
            assertEquals(method, e.method(), e.getMessage());
            assertTrue(e.getMessage().startsWith(method + " (RefusedKernels.java:"), e.getMessage());
            int want = markedLine(kernel);
            if (want > 0) assertEquals(want, e.line(), e.getMessage());
            else assertTrue(e.line() > 0, e.getMessage());
        }
    }

    /** The line marked {@code // refused: kernel} in RefusedKernels.java, or -1 when none is (the construct spans lines). */
    private static int markedLine(String kernel) throws IOException {
        List<String> lines = Files.readAllLines(SOURCE);
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains("// refused: " + kernel + " ") || lines.get(i).endsWith("// refused: " + kernel)) return i + 1;
        return -1;
    }
}
