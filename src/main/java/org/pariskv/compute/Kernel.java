package org.pariskv.compute;

/** A handle to one kernel of a {@link Program}; launched through its backend. */
public interface Kernel {
    String name();
}
