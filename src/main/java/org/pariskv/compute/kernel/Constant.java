package org.pariskv.compute.kernel;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A kernel parameter (int, long, float or boolean) whose value is fixed per task: the device program is compiled with
 * the value as a literal, as a C {@code #define} would be ({@code HEAD_DIM}, {@code GROUP} of the hand-written
 * kernels), so loops over it unroll and private arrays indexed by them stay in registers. The task's argument must be
 * a plain value ({@code Integer}, ...), not an {@code IntParam}; each distinct value compiles its own program. In the
 * kernel method itself it may size local arrays ({@code ctx.allocateFloatLocalArray(256 * group)}). On the JVM it is
 * an ordinary parameter.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface Constant {}
