package org.pariskv.compute.graph;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Typed Java twin bodies of device tasks, by arity (the shape of TornadoVM's task functions). A body
 * receives exactly the task's arguments: the arrays themselves ({@code float[]}, {@code int[]},
 * {@code byte[]}, {@code short[]}, {@code long[]}), {@link java.lang.foreign.MemorySegment}s,
 * {@link IntParam} / {@link FloatParam} / {@link LongParam} holders, boxed constants, {@link LocalMem}.
 * It must compute what the kernel computes, over the whole grid, sequentially or not. A
 * {@link org.pariskv.compute.DeviceBuffer} argument reaches the body as its host segment, which no typed
 * parameter can say: such tasks use a {@link TaskN} body.
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

    /**
     * A body over positional arguments, for tasks the typed bodies cannot describe: device-resident buffers
     * (which the body sees as {@link MemorySegment}s), scalars the twin wants as plain {@code int}s, or more than
     * 15 arguments. See {@link TaskGraph#task(String, TaskN, java.util.function.Supplier, Object...)}.
     */
    @FunctionalInterface
    public interface TaskN {
        void apply(Args args);
    }

    /**
     * One execution's arguments of a {@link TaskN} task, in order, as the java backend hands them over: arrays and
     * segments themselves, device-resident buffers as their host segment, parameters as their holders.
     */
    public record Args(List<Object> values) {
        public Object get(int i) {
            return values.get(i);
        }

        /** Argument {@code i} as memory: a segment (device-resident buffers arrive as one) or a view of an array. */
        public MemorySegment segment(int i) {
            Object v = values.get(i);
            if (!TaskGraph.isData(v)) throw notA(i, "memory");
            return ExecutionPlan.hostView(v);
        }

        /** Argument {@code i}'s current value: an {@link IntParam} or an Integer constant. */
        public int intValue(int i) {
            return switch (values.get(i)) {
                case IntParam p -> p.get();
                case Integer v -> v;
                default -> throw notA(i, "int");
            };
        }

        /** Argument {@code i}'s current value: a {@link LongParam} or a Long constant. */
        public long longValue(int i) {
            return switch (values.get(i)) {
                case LongParam p -> p.get();
                case Long v -> v;
                default -> throw notA(i, "long");
            };
        }

        /** Argument {@code i}'s current value: a {@link FloatParam} or a Float constant. */
        public float floatValue(int i) {
            return switch (values.get(i)) {
                case FloatParam p -> p.get();
                case Float v -> v;
                default -> throw notA(i, "float");
            };
        }

        private IllegalArgumentException notA(int i, String what) {
            Object v = values.get(i);
            return new IllegalArgumentException("task argument #" + i + " is " + (v == null ? "null" : v.getClass().getSimpleName())
                    + ", not " + what);
        }
    }
}
