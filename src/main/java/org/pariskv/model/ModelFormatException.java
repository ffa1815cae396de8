package org.pariskv.model;

import java.nio.file.Path;

/**
 * A model directory that cannot be loaded: a config.json or weight file that is missing, malformed, or disagrees
 * with the other. The message names the file first, then the tensor or key and what was expected and found.
 */
public final class ModelFormatException extends IllegalArgumentException {

    private final transient Path file;

    public ModelFormatException(Path file, String message) {
        super(file.getFileName() + ": " + message);
        this.file = file;
    }

    public ModelFormatException(Path file, String message, Throwable cause) {
        super(file.getFileName() + ": " + message, cause);
        this.file = file;
    }

    /** The offending file. */
    public Path file() {
        return file;
    }
}
