package org.pariskv.compute;

/** A failure of the compute layer: a native call that returned an error, a build that failed, a bad launch. */
public class ComputeException extends RuntimeException {
    public ComputeException(String message) {
        super(message);
    }

    public ComputeException(String message, Throwable cause) {
        super(message, cause);
    }
}
