package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class GridTest {
    @Test
    void linearRoundsUpToWholeGroups() {
        Grid g = Grid.linear(1009, 64);
        assertArrayEquals(new long[] {1024}, g.global());
        assertArrayEquals(new long[] {64}, g.local());
        assertEquals(16, g.groupCount(0));
        assertArrayEquals(new long[] {64}, Grid.linear(0, 64).global()); // at least one group
    }

    @Test
    void groupsAndAuto() {
        assertArrayEquals(new long[] {256}, Grid.groups(4, 64).global());
        assertNull(Grid.of(77).local());
    }

    @Test
    void rejectsIncoherentGeometry() {
        assertThrows(IllegalArgumentException.class, () -> new Grid(new long[] {100}, new long[] {64}));
        assertThrows(IllegalArgumentException.class, () -> new Grid(new long[] {128, 2}, new long[] {64}));
        assertThrows(IllegalArgumentException.class, () -> new Grid(new long[] {0}, null));
        assertThrows(IllegalArgumentException.class, () -> new Grid(new long[] {1, 1, 1, 1}, null));
    }

    @Test
    void isAValue() {
        long[] global = {128};
        Grid g = new Grid(global, new long[] {64});
        global[0] = 4;
        assertEquals(Grid.linear(128, 64), g);
    }
}
