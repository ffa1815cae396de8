package org.pariskv.compute.opencl;

import org.pariskv.compute.ComputeException;

/** {@code clBuildProgram} failed: the message carries the source name, options and the full build log. */
public final class ClBuildException extends ComputeException {
    private final String buildLog;

    public ClBuildException(String sourceName, String options, int code, String buildLog) {
        super("clBuildProgram failed for " + sourceName + ": " + ClError.name(code) + " (" + code + ")"
                + (options.isBlank() ? "" : " with options [" + options + "]") + "\n--- build log ---\n" + buildLog);
        this.buildLog = buildLog;
    }

    public String buildLog() {
        return buildLog;
    }
}
