package org.pariskv.compute;

/** Memory on a backend's device. Close to free it; the owning backend must still be open. */
public interface DeviceBuffer extends AutoCloseable {
    long bytes();

    @Override
    void close();
}
