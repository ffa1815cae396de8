package org.pariskv.compute;

/** The three ways a task runs: its Java twin on the JVM, an OpenCL kernel, or a CUDA kernel. */
public enum BackendKind {
    JAVA("java"), OPENCL("opencl"), CUDA("cuda");

    private final String id;

    BackendKind(String id) {
        this.id = id;
    }

    /** The lower-case name used in device specs ({@code opencl:1}). */
    public String id() {
        return id;
    }
}
