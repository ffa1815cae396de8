package org.pariskv.compute.jit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The control-flow graph of one method: blocks {@code 0..n-1} (0 the entry), their successors, dominators,
 * post-dominators (with a virtual exit {@code n} after every return) and natural loops. javac's graphs are reducible;
 * one that is not is refused.
 */
final class Cfg {
    final int n;
    final int[][] succ;
    final List<List<Integer>> pred = new ArrayList<>();
    final int[] rpo; // blocks reachable from 0, reverse postorder
    final int[] rpoIndex;
    final int[] idom;
    final int[] ipdom; // n = the virtual exit
    final Loop[] loopOf; // innermost loop containing each block, or null
    final Loop[] loopAt; // loop headed by each block, or null

    /** A natural loop: its header, its blocks, the loop around it, and the block control reaches when it ends. */
    static final class Loop {
        final int header;
        final BitSet body = new BitSet();
        final List<Integer> latches = new ArrayList<>();
        Loop parent;
        int follow = -1;

        Loop(int header) {
            this.header = header;
        }
    }

    /**
     * @param succ successors of each block
     * @param exits whether each block ends the method (return)
     * @param fail makes the refusal for a block (irreducible flow)
     */
    Cfg(int[][] succ, boolean[] exits, IntFunction<RuntimeException> fail) {
        this.n = succ.length;
        this.succ = succ;
        for (int i = 0; i < n; i++) pred.add(new ArrayList<>());
        for (int b = 0; b < n; b++) for (int s : succ[b]) pred.get(s).add(b);
        rpo = reversePostorder();
        rpoIndex = new int[n];
        Arrays.fill(rpoIndex, -1);
        for (int i = 0; i < rpo.length; i++) rpoIndex[rpo[i]] = i;
        idom = dominators();
        ipdom = postDominators(exits);
        loopAt = new Loop[n];
        loopOf = new Loop[n];
        findLoops(fail);
    }

    boolean reachable(int b) {
        return rpoIndex[b] >= 0;
    }

    boolean dominates(int a, int b) {
        while (true) {
            if (b == a) return true;
            if (b == 0 || b < 0) return false;
            b = idom[b];
        }
    }

    private int[] reversePostorder() {
        List<Integer> post = new ArrayList<>();
        boolean[] seen = new boolean[n];
        int[] stack = new int[n + 1], next = new int[n + 1];
        int sp = 0;
        stack[sp] = 0;
        next[sp++] = 0;
        seen[0] = true;
        while (sp > 0) {
            int b = stack[sp - 1];
            if (next[sp - 1] < succ[b].length) {
                int s = succ[b][next[sp - 1]++];
                if (!seen[s]) {
                    seen[s] = true;
                    stack[sp] = s;
                    next[sp++] = 0;
                }
            } else {
                post.add(b);
                sp--;
            }
        }
        int[] r = new int[post.size()];
        for (int i = 0; i < r.length; i++) r[i] = post.get(r.length - 1 - i);
        return r;
    }

    private int[] dominators() {
        int[] dom = new int[n];
        Arrays.fill(dom, -1);
        dom[0] = 0;
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int i = 1; i < rpo.length; i++) {
                int b = rpo[i], d = -1;
                for (int p : pred.get(b)) {
                    if (dom[p] < 0) continue;
                    d = d < 0 ? p : intersect(dom, d, p, rpoIndex);
                }
                if (d != dom[b]) {
                    dom[b] = d;
                    changed = true;
                }
            }
        }
        return dom;
    }

    /** Post-dominators over the reverse graph from the virtual exit {@code n}; -1 where no exit is reachable. */
    private int[] postDominators(boolean[] exits) {
        int m = n + 1;
        List<List<Integer>> rsucc = new ArrayList<>(); // reverse edges: from a block to its predecessors
        for (int i = 0; i < m; i++) rsucc.add(new ArrayList<>());
        for (int b = 0; b < n; b++) {
            if (!reachable(b)) continue;
            for (int s : succ[b]) rsucc.get(s).add(b);
            if (exits[b]) rsucc.get(n).add(b);
        }
        // postorder of the reverse graph from the exit
        List<Integer> post = new ArrayList<>();
        boolean[] seen = new boolean[m];
        int[] stack = new int[m + 1], next = new int[m + 1];
        int sp = 0;
        stack[sp] = n;
        next[sp++] = 0;
        seen[n] = true;
        while (sp > 0) {
            int b = stack[sp - 1];
            if (next[sp - 1] < rsucc.get(b).size()) {
                int s = rsucc.get(b).get(next[sp - 1]++);
                if (!seen[s]) {
                    seen[s] = true;
                    stack[sp] = s;
                    next[sp++] = 0;
                }
            } else {
                post.add(b);
                sp--;
            }
        }
        int[] order = new int[m];
        Arrays.fill(order, -1);
        int[] rorder = new int[post.size()];
        for (int i = 0; i < post.size(); i++) rorder[i] = post.get(post.size() - 1 - i);
        for (int i = 0; i < rorder.length; i++) order[rorder[i]] = i;
        int[] pdom = new int[m];
        Arrays.fill(pdom, -1);
        pdom[n] = n;
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int i = 1; i < rorder.length; i++) {
                int b = rorder[i], d = -1;
                // successors in the forward graph are predecessors in the reverse one
                int[] fs = b < n ? succ[b] : new int[0];
                List<Integer> outs = new ArrayList<>();
                for (int s : fs) outs.add(s);
                if (b < n && exits[b]) outs.add(n);
                for (int s : outs) {
                    if (pdom[s] < 0) continue;
                    d = d < 0 ? s : intersect(pdom, d, s, order);
                }
                if (d != pdom[b]) {
                    pdom[b] = d;
                    changed = true;
                }
            }
        }
        return Arrays.copyOf(pdom, n);
    }

    private static int intersect(int[] dom, int a, int b, int[] order) {
        while (a != b) {
            while (order[a] > order[b]) a = dom[a];
            while (order[b] > order[a]) b = dom[b];
        }
        return a;
    }

    private void findLoops(IntFunction<RuntimeException> fail) {
        for (int b : rpo) {
            for (int s : succ[b]) {
                if (rpoIndex[s] > rpoIndex[b]) continue; // forward edge
                if (!dominates(s, b)) throw fail.apply(b);
                Loop l = loopAt[s];
                if (l == null) l = loopAt[s] = new Loop(s);
                l.latches.add(b);
                // natural loop: everything that reaches the latch without passing the header
                l.body.set(s);
                List<Integer> work = new ArrayList<>(List.of(b));
                while (!work.isEmpty()) {
                    int x = work.removeLast();
                    if (l.body.get(x)) continue;
                    l.body.set(x);
                    for (int p : pred.get(x)) if (reachable(p)) work.add(p);
                }
            }
        }
        List<Loop> loops = new ArrayList<>();
        for (Loop l : loopAt) if (l != null) loops.add(l);
        loops.sort((a, b) -> b.body.cardinality() - a.body.cardinality()); // outer loops first
        for (Loop l : loops) {
            for (int x = l.body.nextSetBit(0); x >= 0; x = l.body.nextSetBit(x + 1)) {
                loopOf[x] = l; // later (smaller) loops overwrite: innermost wins
            }
        }
        for (Loop l : loops) {
            for (Loop o : loops) {
                if (o != l && o.body.get(l.header) && o.body.cardinality() > l.body.cardinality()
                        && (l.parent == null || l.parent.body.cardinality() > o.body.cardinality())) {
                    l.parent = o;
                }
            }
        }
        for (Loop l : loops) l.follow = chooseFollow(l);
    }

    /**
     * Where control goes when the loop ends: of the blocks outside it that it jumps to, one that the others flow into
     * (a break's own statements then run inside the loop before the break), preferring the exit of the loop's own
     * condition (at the header or a latch); -1 when the loop ends only by returning.
     */
    private int chooseFollow(Loop l) {
        List<Integer> exits = new ArrayList<>();
        for (int x = l.body.nextSetBit(0); x >= 0; x = l.body.nextSetBit(x + 1)) {
            for (int s : succ[x]) if (!l.body.get(s) && !exits.contains(s)) exits.add(s);
        }
        if (exits.size() <= 1) return exits.isEmpty() ? -1 : exits.getFirst();
        List<Integer> sinks = new ArrayList<>();
        for (int e : exits) {
            boolean flowsOn = false;
            for (int f : exits) if (f != e && reaches(e, f, l)) flowsOn = true;
            if (!flowsOn) sinks.add(e);
        }
        if (sinks.isEmpty()) sinks = exits;
        for (int e : sinks) {
            for (int s : succ[l.header]) if (s == e) return e;
            for (int latch : l.latches) for (int s : succ[latch]) if (s == e) return e;
        }
        sinks.sort((a, b) -> rpoIndex[a] - rpoIndex[b]);
        return sinks.getFirst();
    }

    /** Whether {@code to} is reachable from {@code from} without entering loop {@code l}. */
    private boolean reaches(int from, int to, Loop l) {
        BitSet seen = new BitSet();
        List<Integer> work = new ArrayList<>(List.of(from));
        while (!work.isEmpty()) {
            int x = work.removeLast();
            if (x == to) return true;
            if (seen.get(x) || l.body.get(x)) continue;
            seen.set(x);
            for (int s : succ[x]) work.add(s);
        }
        return false;
    }
}
