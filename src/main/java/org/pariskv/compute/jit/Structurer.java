package org.pariskv.compute.jit;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * Writes a method's blocks as structured C: {@code if}/{@code else}, {@code while}/{@code for (;;)} with
 * {@code break}/{@code continue}, {@code switch} — never {@code goto}, because device compilers (PoCL's work-group
 * compiler in particular) need barriers in structured control flow.
 *
 * <p>Loops are the CFG's natural loops: a loop is entered at its header, a jump back to it is {@code continue}, a
 * jump to its follow is {@code break}. The two arms of an {@code if} run up to the block that post-dominates it,
 * where they meet. Every line written lies on a path of the CFG, so the result is exact even where a block has to be
 * written twice. A jump that would leave two constructs at once (a labelled break or continue) is refused.
 */
final class Structurer {
    private static final int NONE = -1;
    /** How often one block may be written: an arm that skips the natural merge (a continue in one case of a switch) copies what follows into the other arms. */
    private static final int MAX_COPIES = 32;

    private final Cfg cfg;
    private final List<Block> blocks;
    private final BiFunction<Integer, String, RuntimeException> refusal;
    private int current; // the block being written, for refusals
    private final StringBuilder out = new StringBuilder();
    private final Deque<Construct> constructs = new ArrayDeque<>();
    private final int[] copies;
    private int indent;

    /** What a {@code break} or {@code continue} refers to. */
    private sealed interface Construct {}

    private record InLoop(Cfg.Loop loop) implements Construct {}

    private record InSwitch(int follow) implements Construct {}

    /** @param refusal makes the refusal of a construct C cannot say without goto, at a block */
    Structurer(Cfg cfg, List<Block> blocks, BiFunction<Integer, String, RuntimeException> refusal, int indent) {
        this.cfg = cfg;
        this.blocks = blocks;
        this.refusal = refusal;
        this.copies = new int[blocks.size()];
        this.indent = indent;
    }

    String write() {
        sequence(0, Set.of(), false);
        dropTrailing("return;"); // a void function's last line
        return out.toString();
    }

    /**
     * Emits from block {@code b} until control reaches one of {@code stops}: returns that stop, or NONE when the
     * sequence ended in a break, continue or return. {@code loopBody}: {@code b} is the header of the loop just opened.
     */
    private int sequence(int b, Set<Integer> stops, boolean loopBody) {
        boolean check = !loopBody;
        while (true) {
            if (check) {
                if (stops.contains(b)) return b;
                String jump = jumpTo(b);
                if (jump != null) {
                    line(jump);
                    return NONE;
                }
                Cfg.Loop loop = cfg.loopAt[b];
                if (loop != null) {
                    writeLoop(loop);
                    if (loop.follow < 0) return NONE;
                    b = loop.follow;
                    continue;
                }
            }
            check = true;
            if (++copies[b] > MAX_COPIES) throw fail("control flow too tangled to write without goto");
            Block block = blocks.get(b);
            current = b;
            for (String s : block.statements()) line(s);
            switch (block.term()) {
                case Term.Return r -> {
                    line(r.value() == null ? "return;" : "return " + r.value() + ";");
                    return NONE;
                }
                case Term.Goto g -> b = g.target();
                case Term.Branch br -> b = branch(b, br, stops);
                case Term.Switch sw -> b = writeSwitch(b, sw);
            }
            if (b == NONE) return NONE;
        }
    }

    /** {@code break;} or {@code continue;} when {@code target} ends or repeats an enclosing construct, else null. */
    private String jumpTo(int target) {
        boolean innermost = true, innermostLoop = true;
        for (Construct c : constructs) {
            switch (c) {
                case InLoop(Cfg.Loop l) -> {
                    if (target == l.header) {
                        if (!innermostLoop) throw fail("continue to an outer loop (labelled continue) is not supported");
                        return "continue;";
                    }
                    if (target == l.follow) {
                        if (!innermost) {
                            throw fail(innermostLoop ? "break out of a loop from inside a switch is not supported"
                                    : "break out of an outer loop (labelled break) is not supported");
                        }
                        return "break;";
                    }
                    innermostLoop = false;
                }
                case InSwitch(int follow) -> {
                    if (target == follow) {
                        if (!innermost) throw fail("leaving a switch from a loop inside it is not supported");
                        return "break;";
                    }
                }
            }
            innermost = false;
        }
        return null;
    }

    private void writeLoop(Cfg.Loop loop) {
        Block head = blocks.get(loop.header);
        constructs.push(new InLoop(loop));
        if (head.statements().isEmpty() && head.term() instanceof Term.Branch br
                && (br.ifTrue() == loop.follow) != (br.ifFalse() == loop.follow)) {
            boolean stayIfTrue = br.ifFalse() == loop.follow;
            copies[loop.header]++;
            line("while (" + (stayIfTrue ? br.cond() : br.negated()) + ") {");
            indent++;
            sequence(stayIfTrue ? br.ifTrue() : br.ifFalse(), Set.of(), false);
        } else {
            line("for (;;) {");
            indent++;
            sequence(loop.header, Set.of(), true);
        }
        dropTrailing("continue;"); // the end of the body goes round anyway
        indent--;
        line("}");
        constructs.pop();
    }

    /** Removes {@code statement} when it is the last line written, at the current indentation. */
    private void dropTrailing(String statement) {
        String last = "    ".repeat(indent) + statement + "\n";
        if (out.length() >= last.length() && out.substring(out.length() - last.length()).equals(last)
                && (out.length() == last.length() || out.charAt(out.length() - last.length() - 1) == '\n')) {
            out.setLength(out.length() - last.length());
        }
    }

    /** The block where the arms of the branch or switch at {@code b} meet (NONE: they never do). */
    private int mergeOf(int b) {
        int m = cfg.ipdom[b];
        return m < 0 || m >= cfg.n ? NONE : m;
    }

    /** Writes the branch at {@code b}; returns the block control goes on with (NONE: none). */
    private int branch(int b, Term.Branch br, Set<Integer> stops) {
        int t = br.ifTrue(), f = br.ifFalse();
        if (t == f) return t;
        // one arm is a break/continue: if (c) break; and go on with the other arm
        String jt = stops.contains(t) ? null : jumpTo(t), jf = stops.contains(f) ? null : jumpTo(f);
        if (jt != null && jf == null) {
            line("if (" + br.cond() + ") " + jt);
            return f;
        }
        if (jf != null && jt == null) {
            line("if (" + br.negated() + ") " + jf);
            return t;
        }
        int m = mergeOf(b);
        // one arm returns: if (c) { ...; return; } and go on with the other arm
        if (t != m && f != m && isLoneReturn(t) && !isLoneReturn(f)) {
            armIf(br.cond(), t, stops, NONE);
            return f;
        }
        if (t != m && f != m && isLoneReturn(f) && !isLoneReturn(t)) {
            armIf(br.negated(), f, stops, NONE);
            return t;
        }
        Set<Integer> inner = new HashSet<>(stops);
        if (m != NONE) inner.add(m);
        if (t == m) {
            armIf(br.negated(), f, inner, m);
        } else if (f == m) {
            armIf(br.cond(), t, inner, m);
        } else {
            int start = out.length();
            line("if (" + br.cond() + ") {");
            int thenStart = out.length();
            arm(t, inner, m);
            int thenEnd = out.length();
            line("} else {");
            int elseStart = out.length();
            arm(f, inner, m);
            if (out.length() == elseStart) { // an empty else
                out.setLength(thenEnd);
            } else if (thenEnd == thenStart) { // an empty then: if (!c) { else arm }
                String elseArm = out.substring(elseStart);
                out.setLength(start);
                line("if (" + br.negated() + ") {");
                out.append(elseArm);
            }
            line("}");
        }
        return m;
    }

    private boolean isLoneReturn(int b) {
        return blocks.get(b).term() instanceof Term.Return && cfg.loopAt[b] == null && cfg.pred.get(b).size() == 1;
    }

    private void armIf(String cond, int target, Set<Integer> stops, int merge) {
        line("if (" + cond + ") {");
        arm(target, stops, merge);
        line("}");
    }

    private void arm(int target, Set<Integer> stops, int merge) {
        indent++;
        int reached = sequence(target, stops, false);
        if (reached != NONE && reached != merge) {
            throw fail("internal: an if arm reached block " + reached + " before its merge " + merge);
        }
        indent--;
    }

    private int writeSwitch(int b, Term.Switch sw) {
        int m = mergeOf(b);
        List<Integer> targets = new ArrayList<>();
        for (Term.Case c : sw.cases()) if (!targets.contains(c.target())) targets.add(c.target());
        if (!targets.contains(sw.otherwise())) targets.add(sw.otherwise());
        targets.sort((x, y) -> cfg.rpoIndex[x] - cfg.rpoIndex[y]);
        line("switch (" + sw.key() + ") {");
        constructs.push(new InSwitch(m));
        for (int k = 0; k < targets.size(); k++) {
            int t = targets.get(k);
            for (Term.Case c : sw.cases()) if (c.target() == t) line("case " + c.value() + ":");
            if (sw.otherwise() == t) line("default:");
            indent++;
            if (t == m) {
                line("break;");
            } else {
                Set<Integer> inner = new HashSet<>();
                if (m != NONE) inner.add(m);
                int next = k + 1 < targets.size() ? targets.get(k + 1) : NONE;
                if (next != NONE && next != m) inner.add(next);
                line("{");
                indent++;
                int reached = sequence(t, inner, false);
                indent--;
                line("}");
                if (reached == m && m != NONE) line("break;");
            }
            indent--;
        }
        constructs.pop();
        line("}");
        return m;
    }

    private RuntimeException fail(String reason) {
        return refusal.apply(current, reason);
    }

    private void line(String s) {
        out.append("    ".repeat(indent)).append(s).append('\n');
    }
}
