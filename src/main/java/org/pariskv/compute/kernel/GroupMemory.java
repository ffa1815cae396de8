package org.pariskv.compute.kernel;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Phaser;

/** One work-group's shared state on the JVM: its local arrays (by allocation order) and its barrier. */
final class GroupMemory {
    private final List<Object> arrays = new ArrayList<>();
    private final Phaser phaser;

    /** {@code threads} work-items meeting at barriers, or 0 when they run one after another (no barrier). */
    GroupMemory(int threads) {
        this.phaser = threads > 0 ? new Phaser(threads) : null;
    }

    synchronized Object local(int index, Class<?> type, int n) {
        while (arrays.size() <= index) arrays.add(null);
        Object a = arrays.get(index);
        if (a == null) {
            a = Array.newInstance(type.componentType(), n);
            arrays.set(index, a);
        } else if (a.getClass() != type || Array.getLength(a) != n) {
            throw new IllegalStateException("work-items of one group allocated different local arrays at allocation #" + index);
        }
        return a;
    }

    void barrier() {
        if (phaser == null) throw new IllegalStateException("barrier() in a kernel run without group threads");
        phaser.arriveAndAwaitAdvance();
    }

    /** A work-item is done: later barriers no longer wait for it (an early return must not hang the group). */
    void leave() {
        if (phaser != null) phaser.arriveAndDeregister();
    }
}
