package org.pariskv.io;

import java.nio.file.Path;

/** A safetensors file that cannot be read; the message starts with the file name, the detail is {@link #detail}. */
public class SafetensorsException extends IllegalArgumentException {

    private final transient Path file;
    private final String detail;

    public SafetensorsException(Path file, String detail) {
        super(file.getFileName() + ": " + detail);
        this.file = file;
        this.detail = detail;
    }

    public SafetensorsException(Path file, String detail, Throwable cause) {
        super(file.getFileName() + ": " + detail, cause);
        this.file = file;
        this.detail = detail;
    }

    public Path file() {
        return file;
    }

    /** The message without the file name. */
    public String detail() {
        return detail;
    }
}
