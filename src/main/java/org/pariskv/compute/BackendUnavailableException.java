package org.pariskv.compute;

/**
 * A backend cannot be used on this machine (library missing, no platform, no device).
 * The message says why in one line, so that callers can print it and move to the next backend.
 */
public final class BackendUnavailableException extends ComputeException {
    public BackendUnavailableException(String reason) {
        super(reason);
    }

    public BackendUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
