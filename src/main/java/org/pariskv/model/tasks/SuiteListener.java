package org.pariskv.model.tasks;

/** Hears a suite's progress (a progress bar); every method has a no-op default. */
public interface SuiteListener {
    SuiteListener NONE = new SuiteListener() {};

    /** Before the first instance of (method, task, context). */
    default void starting(String method, String task, int context) {}

    default void answered(InstanceResult result) {}
}
