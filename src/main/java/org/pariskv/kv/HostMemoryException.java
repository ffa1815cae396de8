package org.pariskv.kv;

/** Host memory ran out while growing the KV store; the store is left as it was before the call. */
public final class HostMemoryException extends RuntimeException {
    public HostMemoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
