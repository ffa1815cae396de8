package org.pariskv.compute.jit;

import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;

/**
 * Kernels outside the subset, one class each (a class is translated whole). The line each must be refused at carries
 * the comment {@code // refused: <class>}; {@link RefusalTest} finds it in this file.
 */
final class RefusedKernels {
    private RefusedKernels() {}

    static final class Allocation {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            int[] tmp = new int[n]; // refused: Allocation
            out.set(0, tmp.length);
        }
    }

    static final class TableWrite {
        static final int[] TABLE = {1, 2, 3};

        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            TABLE[n & 1] = n; // refused: TableWrite
            out.set(0, TABLE[0]);
        }
    }

    static final class ObjectAllocation {
        @Kernel
        public static void k(KernelContext ctx, IntArray out) {
            Object o = new Object(); // refused: ObjectAllocation
            out.set(0, o.hashCode());
        }
    }

    static final class VirtualCall {
        @Kernel
        public static void k(KernelContext ctx, FloatArray out, int n) {
            out.set(0, out.size() + n); // refused: VirtualCall
        }
    }

    static final class Throws {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            if (n < 0) throw new IllegalArgumentException("n"); // refused: Throws
            out.set(0, n);
        }
    }

    static final class TryCatch {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            try {
                out.set(0, 10 / n); // refused: TryCatch
            } catch (ArithmeticException e) {
                out.set(0, -1);
            }
        }
    }

    static final class Monitor {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            synchronized (Monitor.class) { // refused: Monitor
                out.set(0, n);
            }
        }
    }

    static final class StringConcat {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            String s = "n=" + n; // refused: StringConcat
            out.set(0, s.length());
        }
    }

    static final class InstanceField {
        int value;

        @Kernel
        public static void k(KernelContext ctx, IntArray out, InstanceField f) {
            out.set(0, f.value); // refused: InstanceField (a parameter is reported at the method's first line)
        }
    }

    static int counter;

    static final class StaticWrite {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            counter = n; // refused: StaticWrite
            out.set(0, n);
        }
    }

    static final class JdkCall {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            out.set(0, Integer.reverse(n)); // refused: JdkCall
        }
    }

    static final class LabelledBreak {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            int s = 0;
            outer:
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (i * j > 10) break outer; // refused: LabelledBreak
                    s += j;
                }
                s += i;
            }
            out.set(0, s);
        }
    }

    static final class DynamicDimension {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int d) {
            out.set(0, ctx.globalId(d)); // refused: DynamicDimension
        }
    }

    static final class LocalArrayInLoop {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            for (int i = 0; i < n; i++) {
                int[] l = ctx.allocateIntLocalArray(8); // refused: LocalArrayInLoop
                l[0] = i;
                out.set(i, l[0]);
            }
        }
    }

    static final class Recursion {
        @Kernel
        public static void k(KernelContext ctx, IntArray out, int n) {
            out.set(0, factorial(n));
        }

        static int factorial(int n) {
            return n <= 1 ? 1 : n * factorial(n - 1); // refused: Recursion
        }
    }
}
