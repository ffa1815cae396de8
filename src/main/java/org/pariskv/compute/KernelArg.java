package org.pariskv.compute;

/** One kernel argument as a backend receives it. */
public sealed interface KernelArg {
    /** A device buffer ({@code GLOBAL T*}). */
    record Buffer(DeviceBuffer buffer) implements KernelArg {}

    /** Work-group-local scratch of {@code bytes} ({@code LOCAL_ARG(T, name)} in pkv.h). */
    record Local(long bytes) implements KernelArg {}

    record Int(int value) implements KernelArg {}

    record Long(long value) implements KernelArg {}

    record Float(float value) implements KernelArg {}
}
