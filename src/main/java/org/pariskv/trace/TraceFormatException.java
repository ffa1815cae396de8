package org.pariskv.trace;

import java.nio.file.Path;

/** A trace file that cannot be read; the message starts with the file name. */
public final class TraceFormatException extends IllegalArgumentException {

    private final transient Path file;

    public TraceFormatException(Path file, String message) {
        super(file.getFileName() + ": " + message);
        this.file = file;
    }

    public TraceFormatException(Path file, String message, Throwable cause) {
        super(file.getFileName() + ": " + message, cause);
        this.file = file;
    }

    /** The offending file. */
    public Path file() {
        return file;
    }
}
