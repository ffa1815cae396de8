package org.pariskv.compute.jit;

import java.util.List;

/** How a translated basic block ends. Conditions and values are C expressions. */
sealed interface Term {
    record Goto(int target) implements Term {}

    /** {@code if (cond) goto ifTrue; else goto ifFalse;} ({@code negated} is {@code !cond}, written simply where it can be). */
    record Branch(String cond, String negated, int ifTrue, int ifFalse) implements Term {}

    /** {@code switch (key)}: each case value to its block, {@code otherwise} for the rest. */
    record Switch(String key, List<Case> cases, int otherwise) implements Term {}

    record Case(int value, int target) {}

    /** {@code return value;} ({@code value} null for void). */
    record Return(String value) implements Term {}
}
