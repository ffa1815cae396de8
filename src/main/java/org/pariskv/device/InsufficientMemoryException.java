package org.pariskv.device;

/**
 * A {@link MemoryPlan} does not fit the free memory; thrown before anything is allocated, or, for host K/V rows that
 * grow by segments ({@link HostKvStore}), before a segment is brought into use (nothing stored changes). The message says
 * what is needed, what is free (and who said so), and which option to change. An {@link IllegalStateException},
 * so the CLI answers it with exit code 2 and one line.
 */
public final class InsufficientMemoryException extends IllegalStateException {
    public InsufficientMemoryException(String message) {
        super(message);
    }

    public InsufficientMemoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
