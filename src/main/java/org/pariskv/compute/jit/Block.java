package org.pariskv.compute.jit;

import java.util.List;

/** A translated basic block: its C statements in order and how it ends. */
record Block(List<String> statements, Term term) {}
