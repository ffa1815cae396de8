package org.pariskv.compute;

/** A compiled kernel source on one device. Thread-safe; owned (and cached) by its backend. */
public interface Program {
    String sourceName();

    /** The exact text the compiler saw (pkv.h prepended). */
    String source();

    /** What the device runs, as text, when there is one: PTX for CUDA; empty otherwise. Computed on demand. */
    String assembly();

    /** The kernel called {@code name} (the task name). */
    Kernel kernel(String name);
}
