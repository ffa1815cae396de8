package org.pariskv.compute.jit;

import org.pariskv.compute.ComputeException;

/**
 * A kernel uses something outside the translatable subset. The message names the class, the method, the source line
 * (when the class file has line numbers) and the reason, e.g.
 * {@code org.example.MyKernels.score (MyKernels.java:42): allocation (new) is not supported in kernels}.
 */
public final class UnsupportedKernelException extends ComputeException {
    private static final long serialVersionUID = 1L;
    private final String method;
    private final int line;
    private final String reason;

    UnsupportedKernelException(String method, String sourceFile, int line, String reason) {
        super(method + " (" + (sourceFile == null ? "unknown source" : sourceFile) + (line > 0 ? ":" + line : "") + "): " + reason);
        this.method = method;
        this.line = line;
        this.reason = reason;
    }

    /** {@code owner.name} of the method refused. */
    public String method() {
        return method;
    }

    /** The source line, or -1 when the class file has none. */
    public int line() {
        return line;
    }

    public String reason() {
        return reason;
    }
}
