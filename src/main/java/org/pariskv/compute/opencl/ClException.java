package org.pariskv.compute.opencl;

import org.pariskv.compute.ComputeException;

/** An OpenCL call returned an error: carries the call, the code and its symbolic name. */
public final class ClException extends ComputeException {
    private final String call;
    private final int code;

    public ClException(String call, int code) {
        this(call, code, "");
    }

    public ClException(String call, int code, String detail) {
        super(message(call, code, detail));
        this.call = call;
        this.code = code;
    }

    private static String message(String call, int code, String detail) {
        String hint = ClError.hint(code);
        return call + " failed: " + ClError.name(code) + " (" + code + ")"
                + (hint.isEmpty() ? "" : ": " + hint)
                + (detail == null || detail.isEmpty() ? "" : "\n" + detail);
    }

    /** The OpenCL function that failed, e.g. {@code clCreateBuffer}. */
    public String call() {
        return call;
    }

    public int code() {
        return code;
    }

    public String symbolicName() {
        return ClError.name(code);
    }
}
