package org.pariskv.compute;

/**
 * Kernels' view of a page-aligned host range the caller owns ({@link Backend#mapHostRange}): a {@link DeviceBuffer}
 * whose device address is the range's base, so a kernel reaches byte {@code i} of the range at base + i. Pieces of
 * the range become usable by kernels through {@link #commit} before kernels touch them (CUDA: page-locked and mapped
 * once per piece; elsewhere there is nothing to do). Closing releases what commit did; the memory stays the caller's.
 * The backend's ledger does not count it: the owner of the range does.
 */
public interface MappedHostRange extends DeviceBuffer {

    /**
     * Makes bytes {@code [offset, offset + bytes)} of the range usable by kernels. Idempotent: pages already committed
     * are not committed again. On failure what this call committed may stay committed until close (it is then
     * found committed when the call is repeated).
     */
    void commit(long offset, long bytes);

    /** Device-side registrations live now (CUDA: cuMemHostRegister calls not yet undone; 0 elsewhere). */
    default int registrations() {
        return 0;
    }

    /** Bytes of the range registered with the device (CUDA; 0 elsewhere). */
    default long registeredBytes() {
        return 0;
    }
}
