package org.pariskv.testing;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.Extension;

/** Skipped tests say why on the console: the watcher is registered for every class and names test and reason. */
class SkipReasonsTest {

    @Test
    void registeredForEveryTestClass() throws IOException {
        assertTrue(ServiceLoader.load(Extension.class).stream().anyMatch(p -> p.type() == SkipReasons.class), "service file lists SkipReasons");
        Properties p = new Properties();
        try (InputStream in = getClass().getResourceAsStream("/junit-platform.properties")) {
            assertNotNull(in, "junit-platform.properties on the test class path");
            p.load(in);
        }
        assertEquals("true", p.getProperty("junit.jupiter.extensions.autodetection.enabled"));
    }

    @Test
    void aLineNamesTheTestAndTheReason() {
        String l = SkipReasons.line("DeviceDecoderTest", "decodes()", "OpenCL tests skipped (no OpenCL device here): no libOpenCL\nsecond");
        assertEquals("[skipped] DeviceDecoderTest decodes(): OpenCL tests skipped (no OpenCL device here): no libOpenCL second", l);
        assertTrue(SkipReasons.line("A", "b()", null).endsWith("no reason given"));
    }
}
