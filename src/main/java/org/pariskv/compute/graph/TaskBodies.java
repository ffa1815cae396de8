package org.pariskv.compute.graph;

/**
 * Typed Java twin bodies of device tasks, by arity (the shape of TornadoVM's task functions). A body
 * receives exactly the task's arguments: the arrays themselves ({@code float[]}, {@code int[]},
 * {@code byte[]}, {@code short[]}, {@code long[]}), {@link java.lang.foreign.MemorySegment}s,
 * {@link IntParam} / {@link FloatParam} / {@link LongParam} holders, boxed constants, {@link LocalMem}.
 * It must compute what the kernel computes, over the whole grid, sequentially or not.
 */
public final class TaskBodies {
    private TaskBodies() {}

    @FunctionalInterface
    public interface Task1<A> {
        void apply(A a);
    }

    @FunctionalInterface
    public interface Task2<A, B> {
        void apply(A a, B b);
    }

    @FunctionalInterface
    public interface Task3<A, B, C> {
        void apply(A a, B b, C c);
    }

    @FunctionalInterface
    public interface Task4<A, B, C, D> {
        void apply(A a, B b, C c, D d);
    }

    @FunctionalInterface
    public interface Task5<A, B, C, D, E> {
        void apply(A a, B b, C c, D d, E e);
    }

    @FunctionalInterface
    public interface Task6<A, B, C, D, E, F> {
        void apply(A a, B b, C c, D d, E e, F f);
    }

    @FunctionalInterface
    public interface Task7<A, B, C, D, E, F, G> {
        void apply(A a, B b, C c, D d, E e, F f, G g);
    }

    @FunctionalInterface
    public interface Task8<A, B, C, D, E, F, G, H> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h);
    }

    @FunctionalInterface
    public interface Task9<A, B, C, D, E, F, G, H, I> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i);
    }

    @FunctionalInterface
    public interface Task10<A, B, C, D, E, F, G, H, I, J> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j);
    }

    @FunctionalInterface
    public interface Task11<A, B, C, D, E, F, G, H, I, J, K> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k);
    }

    @FunctionalInterface
    public interface Task12<A, B, C, D, E, F, G, H, I, J, K, L> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l);
    }

    @FunctionalInterface
    public interface Task13<A, B, C, D, E, F, G, H, I, J, K, L, M> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m);
    }

    @FunctionalInterface
    public interface Task14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n);
    }

    @FunctionalInterface
    public interface Task15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> {
        void apply(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o);
    }
}
