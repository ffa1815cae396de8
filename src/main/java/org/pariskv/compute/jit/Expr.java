package org.pariskv.compute.jit;

/**
 * A value on the translator's operand stack: its C text and Java type, the constant it is when known, the array or
 * context it refers to for references, the comparison it is for {@code lcmp}/{@code fcmp*}/{@code dcmp*} results
 * (folded into the branch that tests it), and whether it is simple (a name or a literal: safe to keep on the stack
 * across statements and to duplicate), and whether its C text is an integer constant expression (literals and
 * {@code @Constant} parameters, and int arithmetic of them: fit to size a local array).
 */
record Expr(String c, JType type, Object constant, Ref ref, Compare compare, boolean simple, boolean cConstant) {

    /** The Java computational types (int covers boolean, byte, short and char). */
    enum JType {
        INT("int"), LONG("jlong"), FLOAT("float"), DOUBLE("double"), REF(null);

        final String c;

        JType(String c) {
            this.c = c;
        }

        boolean wide() {
            return this == LONG || this == DOUBLE;
        }
    }

    /** What a reference value is. */
    sealed interface Ref {}

    /** An array: a kernel parameter, a local array, a private one or a table (a static final array); its C element type, address space and length (-1: unknown). */
    record ArrayRef(String name, String elementC, JType loads, Space space, int length) implements Ref {}

    /** Where an array lives, and the qualifier a pointer to it carries in a parameter list. */
    enum Space {
        GLOBAL("PKV_GLOBAL "), LOCAL("PKV_LOCAL_PTR "), PRIVATE(""), CONSTANT("PKV_CONSTANT_PTR ");

        final String qualifier;

        Space(String qualifier) {
            this.qualifier = qualifier;
        }
    }

    /** The {@code KernelContext}. */
    record ContextRef() implements Ref {}

    /** {@code a <=> b} as {@code lcmp}, {@code fcmpl}/{@code dcmpl} (NaN gives -1) or {@code fcmpg}/{@code dcmpg} (NaN gives 1). */
    record Compare(Expr a, Expr b, int nanResult, boolean floating) {}

    static Expr of(String c, JType t) {
        return new Expr(c, t, null, null, null, false, false);
    }

    /** An expression that is a C integer constant expression when {@code cConstant} (arithmetic of constants). */
    static Expr of(String c, JType t, boolean cConstant) {
        return new Expr(c, t, null, null, null, false, cConstant);
    }

    static Expr name(String c, JType t) {
        return new Expr(c, t, null, null, null, true, false);
    }

    /** A {@code @Constant} parameter: the macro the program is compiled with ({@code PKV_CONST_kernel_i}). */
    static Expr specialised(String macro, JType t) {
        return new Expr(macro, t, null, null, null, true, t == JType.INT || t == JType.LONG);
    }

    static Expr constant(String c, JType t, Object value) {
        return new Expr(c, t, value, null, null, true, true);
    }

    static Expr ref(Ref r) {
        return new Expr(r instanceof ArrayRef a ? a.name() : "/*ctx*/", JType.REF, null, r, null, true, false);
    }

    static Expr compare(Compare cmp) {
        return new Expr(null, JType.INT, null, null, cmp, false, false);
    }
}
