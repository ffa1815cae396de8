package org.pariskv.testing;

import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Says on the console why a test was skipped (an aborted assumption, e.g. no OpenCL device, or a disabled test):
 * Surefire's summary only counts them. Registered for every test class through the service file and
 * {@code junit.jupiter.extensions.autodetection.enabled} in junit-platform.properties.
 */
public final class SkipReasons implements TestWatcher {

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        System.err.println(line(context.getRequiredTestClass().getSimpleName(), context.getDisplayName(), cause == null ? null : cause.getMessage()));
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
        System.err.println(line(context.getRequiredTestClass().getSimpleName(), context.getDisplayName(), reason.orElse(null)));
    }

    /** One console line: which test and why. */
    static String line(String testClass, String test, String reason) {
        return "[skipped] " + testClass + " " + test + ": " + (reason == null || reason.isBlank() ? "no reason given" : reason.strip().replace('\n', ' '));
    }
}
