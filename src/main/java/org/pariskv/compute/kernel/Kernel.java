package org.pariskv.compute.kernel;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a {@code public static void} method as a device kernel (an entry point a task names). The translator
 * ({@code org.pariskv.compute.jit}) turns every {@code @Kernel} method of a class, and the static methods they call,
 * into OpenCL C and CUDA C; the java backend runs the method itself over the grid ({@link KernelExecutor}). Other
 * methods of the class (a {@code main}, host helpers) are left alone unless a kernel calls them.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Kernel {
    /**
     * A promise that no array this kernel writes shares memory with another of its array arguments: on devices every
     * array parameter is then {@code restrict} (C99; {@code __restrict__} on CUDA), so reads may go through the
     * read-only cache and be reordered around stores, as the hand-written kernels declare theirs. Breaking the
     * promise gives undefined results on devices; the JVM ignores it.
     */
    boolean restrict() default false;
}
