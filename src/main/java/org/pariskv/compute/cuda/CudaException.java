package org.pariskv.compute.cuda;

import org.pariskv.compute.ComputeException;

/** A CUDA driver call returned an error: carries the call, the CUresult and its symbolic name. */
public final class CudaException extends ComputeException {
    private final String call;
    private final int code;
    private final String symbolicName;

    public CudaException(String call, int code, String symbolicName, String detail) {
        super(call + " failed: " + symbolicName + " (" + code + ")" + hint(code)
                + (detail == null || detail.isEmpty() ? "" : "\n" + detail));
        this.call = call;
        this.code = code;
        this.symbolicName = symbolicName;
    }

    private static String hint(int code) {
        return switch (code) {
            case 2 -> ": out of device memory";
            case 100 -> ": no CUDA-capable device";
            case 209 -> ": no kernel image for this device (compiled for another architecture)";
            case 218 -> ": PTX was compiled by a newer toolkit than the driver supports";
            case 700 -> ": illegal memory access in a kernel (the context is now unusable)";
            case 701 -> ": too many resources requested for launch (block too large for registers/shared memory)";
            default -> "";
        };
    }

    public String call() {
        return call;
    }

    public int code() {
        return code;
    }

    public String symbolicName() {
        return symbolicName;
    }
}
