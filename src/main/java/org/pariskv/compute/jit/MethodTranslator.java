package org.pariskv.compute.jit;

import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeElement;
import java.lang.classfile.CodeModel;
import java.lang.classfile.Instruction;
import java.lang.classfile.Label;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.classfile.TypeKind;
import java.lang.classfile.attribute.SourceFileAttribute;
import java.lang.classfile.instruction.*;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import java.lang.reflect.AccessFlag;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pariskv.compute.jit.Expr.ArrayRef;
import org.pariskv.compute.jit.Expr.Compare;
import org.pariskv.compute.jit.Expr.ContextRef;
import org.pariskv.compute.jit.Expr.JType;

/**
 * Translates one static method's bytecode into a C function: splits it into basic blocks, runs its operand stack
 * symbolically (values become C expressions; a value still on the stack at the end of a block goes through a
 * {@code pkv_s<depth>} variable, which is how ternaries and {@code &&}/{@code ||} values cross), and hands the
 * blocks to the {@link Structurer}. Array reads and arithmetic stay expressions; everything with an effect becomes a
 * statement, and before each statement the values waiting on the stack are saved in temporaries so that the C runs
 * in Java's order.
 */
final class MethodTranslator {
    static final String KERNEL_PKG = "org/pariskv/compute/kernel/";
    static final String CONTEXT = KERNEL_PKG + "KernelContext";

    /** What a method's translation needs from the whole program. */
    interface Unit {
        /** The C name of static method {@code owner.name type} as a device function for these array arguments (their space and length). */
        String function(String owner, String name, MethodTypeDesc type, List<ArrayRef> arrayArgs, MethodTranslator caller);

        /** The value of static final primitive field {@code owner.name}. */
        Object constant(String owner, String name, MethodTranslator caller);

        /** Static final array field {@code owner.name} as a program-scope constant table (its values at translation). */
        ArrayRef table(String owner, String name, MethodTranslator caller);

        /** The dialect being written ({@code ctx.hasWarpShuffle()} is a constant of it). */
        Dialect dialect();

        /** Which array parameters (in order) device function {@code cName} writes, directly or through its callees. */
        boolean[] writes(String cName);
    }

    static final String CONSTANT_ANNOTATION = "L" + "org/pariskv/compute/kernel/Constant;";

    private final Unit unit;
    private final ClassModel cls;
    private final MethodModel method;
    private final String owner;
    final String javaName;
    private final String sourceFile;
    private final boolean kernel;
    private final String cName;
    private final List<ArrayRef> arrayArgs;

    private final List<Instruction> code = new ArrayList<>();
    private final List<Integer> lines = new ArrayList<>();
    private final Map<Label, Integer> labels = new HashMap<>();
    private final List<LocalVariable> lvt = new ArrayList<>();
    private final List<ExceptionCatch> catches = new ArrayList<>();
    private int line = -1;

    // what the C function declares
    private final Map<String, String> decls = new LinkedHashMap<>(); // name -> C type
    private final List<String> localArrays = new ArrayList<>();
    private final Map<String, String> localNames = new HashMap<>(); // "slot:type" -> C name
    private final Set<String> usedNames = new HashSet<>();
    private final Map<Integer, Expr.Ref> refSlots = new HashMap<>();
    private final List<String> params = new ArrayList<>();
    private final Map<Integer, Expr> constantSlots = new HashMap<>(); // @Constant parameters: slot -> their macro
    private final Map<String, String> constantDefaults = new LinkedHashMap<>();
    private final List<ArrayRef> paramArrays = new ArrayList<>(); // per entry of params: its array, null for scalars
    private final Set<String> written = new HashSet<>(); // arrays this method writes (stores, atomics, callees' writes)
    private boolean restrict;
    private int paramSlots;
    private int temps;
    boolean usesDoubles;
    boolean usesBarrier;
    private JType returnType;

    MethodTranslator(Unit unit, ClassModel cls, MethodModel method, boolean kernel, String cName, List<ArrayRef> arrayArgs) {
        this.unit = unit;
        this.cls = cls;
        this.method = method;
        this.owner = cls.thisClass().asInternalName();
        this.javaName = owner.replace('/', '.') + "." + method.methodName().stringValue();
        this.sourceFile = cls.findAttribute(java.lang.classfile.Attributes.sourceFile())
                .map(SourceFileAttribute::sourceFile).map(e -> e.stringValue()).orElse(null);
        this.kernel = kernel;
        this.cName = cName;
        this.arrayArgs = arrayArgs;
    }

    UnsupportedKernelException refuse(String reason) {
        return new UnsupportedKernelException(javaName, sourceFile, line, reason);
    }

    /** The C function: {@code PKV_KERNEL void name(...) {...}} or {@code PKV_FUNC T name(...) {...}}. */
    String translate() {
        if (!method.flags().has(AccessFlag.STATIC)) throw refuse("kernels and the methods they call must be static");
        if (method.flags().has(AccessFlag.SYNCHRONIZED)) throw refuse("synchronized methods are not supported");
        CodeModel cm = method.code().orElseThrow(() -> refuse("no bytecode (abstract or native)"));
        for (CodeElement e : cm) {
            switch (e) {
                case LabelTarget t -> labels.put(t.label(), code.size());
                case LineNumber n -> line = n.line();
                case LocalVariable v -> lvt.add(v);
                case ExceptionCatch c -> catches.add(c);
                case Instruction i -> {
                    code.add(i);
                    lines.add(line);
                }
                default -> { }
            }
        }
        for (int i = 0; i < code.size(); i++) {
            if (code.get(i) instanceof MonitorInstruction) {
                line = lines.get(i);
                throw refuse("synchronized blocks (monitors) are not supported");
            }
        }
        if (!catches.isEmpty()) {
            line = lines.get(Math.min(labels.get(catches.getFirst().tryStart()), lines.size() - 1));
            throw refuse("exceptions (try/catch/finally) are not supported");
        }
        line = lines.isEmpty() ? -1 : lines.getFirst();
        String signature = signature();
        List<Block> blocks = blocks();
        String body = new Structurer(cfg, blocks, (block, reason) -> {
            line = lines.get(blockStart[block + 1] - 1); // the jump that cannot be written
            return refuse(reason);
        }, 1).write();
        signature = qualifiedSignature();
        StringBuilder sb = new StringBuilder();
        for (var e : constantDefaults.entrySet()) { // unspecialised (a whole program printed or compiled): the argument
            sb.append("#ifndef ").append(e.getKey()).append("\n#define ").append(e.getKey()).append(' ').append(e.getValue()).append("\n#endif\n");
        }
        sb.append(signature).append(" {\n");
        for (String a : localArrays) sb.append("    ").append(a).append('\n');
        for (var d : decls.entrySet()) sb.append("    ").append(d.getValue()).append(' ').append(d.getKey()).append(";\n");
        sb.append(body).append("}\n");
        return sb.toString();
    }

    private String prototype;

    /** The prototype of the function (for forward declarations). */
    String prototype() {
        return prototype;
    }

    // ------------------------------------------------------------------ signature

    private String signature() {
        MethodTypeDesc type = method.methodTypeSymbol();
        if (kernel && !type.returnType().descriptorString().equals("V")) throw refuse("a kernel returns void");
        restrict = kernel && method.findAttribute(java.lang.classfile.Attributes.runtimeVisibleAnnotations())
                .map(java.lang.classfile.attribute.RuntimeVisibleAnnotationsAttribute::annotations).orElse(List.of()).stream()
                .filter(a -> a.className().stringValue().equals(KernelTranslator.KERNEL_ANNOTATION))
                .flatMap(a -> a.elements().stream())
                .anyMatch(e -> e.name().stringValue().equals("restrict") && e.value() instanceof java.lang.classfile.AnnotationValue.OfBoolean b && b.booleanValue());
        returnType = type.returnType().descriptorString().equals("V") ? null : scalar(type.returnType(), "return type");
        int slot = 0, arrayIndex = 0, argIndex = 0;
        List<List<java.lang.classfile.Annotation>> paramAnnotations = method.findAttribute(
                        java.lang.classfile.Attributes.runtimeVisibleParameterAnnotations())
                .map(java.lang.classfile.attribute.RuntimeVisibleParameterAnnotationsAttribute::parameterAnnotations).orElse(List.of());
        for (int p = 0; p < type.parameterCount(); p++) {
            ClassDesc d = type.parameterType(p);
            String desc = d.descriptorString();
            String name = paramName(slot, p);
            if (desc.equals("L" + CONTEXT + ";")) {
                refSlots.put(slot, new ContextRef());
                slot++;
                continue;
            }
            int arg = argIndex++;
            boolean constant = p < paramAnnotations.size()
                    && paramAnnotations.get(p).stream().anyMatch(a -> a.className().stringValue().equals(CONSTANT_ANNOTATION));
            if (constant) {
                if (!kernel) throw refuse("@Constant marks parameters of @Kernel methods only (parameter " + name + ")");
                JType t = scalar(d, "parameter " + name);
                if (t == JType.DOUBLE) throw refuse("a @Constant parameter is an int, long, float or boolean (" + name + ")");
                constantSlots.put(slot, Expr.specialised(KernelTranslator.constantMacro(cName, arg), t));
                constantDefaults.put(KernelTranslator.constantMacro(cName, arg), "pkv_unused_" + name);
                params.add(t.c + " pkv_unused_" + name); // bound by position like any argument; the body reads the macro
                paramArrays.add(null);
                slot += t.wide() ? 2 : 1;
                continue;
            }
            ArrayRef array = arrayParam(desc, name, arrayIndex < arrayArgs.size() ? arrayArgs.get(arrayIndex) : null);
            if (array != null) {
                arrayIndex++;
                refSlots.put(slot, array);
                params.add(array.space().qualifier + array.elementC() + "* " + name);
                paramArrays.add(array);
                slot++;
                continue;
            }
            JType t = scalar(d, "parameter " + name);
            if (kernel && t == JType.DOUBLE) throw refuse("double kernel parameters are not supported (pass a float, or the bits as a long)");
            localNames.put(slot + ":" + t, name);
            params.add(t.c + " " + name);
            paramArrays.add(null);
            slot += t.wide() ? 2 : 1;
        }
        paramSlots = slot;
        String ret = returnType == null ? "void" : returnType.c;
        prototype = (kernel ? "PKV_KERNEL void " : "PKV_FUNC " + ret + " ") + cName + "(" + String.join(", ", params) + ")";
        return prototype;
    }

    /**
     * The signature once the body is known: global arrays the method never writes (nor its callees) are {@code const},
     * and in a {@code @Kernel(restrict = true)} every global array is {@code restrict}, as the hand-written kernels
     * declare them: together they let CUDA read through the read-only cache and reorder loads around stores.
     */
    private String qualifiedSignature() {
        List<String> q = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            ArrayRef a = paramArrays.get(i);
            if (a == null || a.space() != Expr.Space.GLOBAL) {
                q.add(params.get(i));
                continue;
            }
            q.add(a.space().qualifier + (written.contains(a.name()) ? "" : "const ") + a.elementC() + "* "
                    + (restrict ? "PKV_RESTRICT " : "") + a.name());
        }
        String ret = returnType == null ? "void" : returnType.c;
        prototype = (kernel ? "PKV_KERNEL void " : "PKV_FUNC " + ret + " ") + cName + "(" + String.join(", ", q) + ")";
        return prototype;
    }

    /** Which array parameters, in order, this method writes (after {@link #translate}). */
    boolean[] writtenArrayParams() {
        List<ArrayRef> arrays = paramArrays.stream().filter(java.util.Objects::nonNull).toList();
        boolean[] w = new boolean[arrays.size()];
        for (int i = 0; i < w.length; i++) w[i] = written.contains(arrays.get(i).name());
        return w;
    }

    private String paramName(int slot, int index) {
        for (LocalVariable v : lvt) {
            if (v.slot() == slot && labels.getOrDefault(v.startScope(), -1) == 0) return unique(v.name().stringValue(), slot);
        }
        return unique("p" + index, slot);
    }

    /** An array parameter; {@code arg} (the caller's array, null for kernels) gives its space and known length. */
    private ArrayRef arrayParam(String desc, String name, ArrayRef arg) {
        Expr.Space space = arg == null ? Expr.Space.GLOBAL : arg.space();
        int length = arg == null ? -1 : arg.length();
        String elem = switch (desc) {
            case "L" + KERNEL_PKG + "FloatArray;", "[F" -> "float";
            case "L" + KERNEL_PKG + "IntArray;", "[I" -> "int";
            case "L" + KERNEL_PKG + "ByteArray;", "[B", "[Z" -> "jbyte";
            case "L" + KERNEL_PKG + "ShortArray;", "[S" -> "short";
            case "[C" -> "jchar";
            case "L" + KERNEL_PKG + "LongArray;", "[J" -> "jlong";
            case "[D" -> "double";
            default -> null;
        };
        if (elem == null) return null;
        if (desc.equals("[D")) usesDoubles = true;
        if (!desc.startsWith("[")) space = Expr.Space.GLOBAL; // kernel arrays are global memory
        return new ArrayRef(name, elem, loads(elem), space, space == Expr.Space.GLOBAL ? -1 : length);
    }

    private static JType loads(String elementC) {
        return switch (elementC) {
            case "float" -> JType.FLOAT;
            case "jlong" -> JType.LONG;
            case "double" -> JType.DOUBLE;
            default -> JType.INT;
        };
    }

    private JType scalar(ClassDesc d, String what) {
        return switch (d.descriptorString()) {
            case "I", "Z", "B", "S", "C" -> JType.INT;
            case "J" -> JType.LONG;
            case "F" -> JType.FLOAT;
            case "D" -> {
                usesDoubles = true;
                yield JType.DOUBLE;
            }
            default -> throw refuse(what + " of type " + d.displayName() + " is not supported (primitives, KernelContext, "
                    + "FloatArray/IntArray/ByteArray/ShortArray/LongArray and primitive arrays)");
        };
    }

    private static final Set<String> RESERVED = Set.of("auto", "break", "case", "char", "const", "continue", "default",
            "do", "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
            "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
            "unsigned", "void", "volatile", "while", "kernel", "global", "local", "constant", "private", "half", "bool",
            "uchar", "ushort", "uint", "ulong", "class", "new", "delete", "template", "this", "namespace", "using",
            "true", "false", "operator", "typename", "virtual", "public", "protected", "friend", "mutable", "explicit",
            "export", "asm", "dim3", "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize", "min", "max", "abs",
            "sqrt", "exp", "log", "fma", "dot", "select", "clamp", "mix", "sign", "step", "cross", "length", "distance",
            "normalize", "barrier", "rotate", "popcount", "clz", "main", "jbyte", "jchar", "juint", "jlong", "julong",
            // math functions and builtins of both dialects: a local of the same name would shadow them in the C
            "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "pow", "floor", "ceil", "trunc",
            "round", "rint", "fabs", "fmin", "fmax", "fmod", "exp2", "exp10", "expm1", "log2", "log10", "log1p", "cbrt",
            "hypot", "rsqrt", "isnan", "isinf", "isfinite", "signbit", "copysign", "nan", "sinf", "cosf", "tanf", "tanhf",
            "powf", "floorf", "ceilf", "truncf", "roundf", "fabsf", "fminf", "fmaxf", "expf", "logf", "sqrtf", "fmaf",
            "exp2f", "log2f", "rsqrtf", "native_exp", "native_log", "printf", "atomic_add", "atomic_max", "atomic_min",
            "atomicAdd", "atomicMax", "atomicMin", "mad", "mul24", "mad24", "as_int", "as_uint", "as_float");

    private String unique(String name, int slot) {
        String n = name;
        if (RESERVED.contains(n) || n.startsWith("pkv_") || n.startsWith("PKV_") || !n.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            n = "v" + slot + "_" + n.replaceAll("[^A-Za-z0-9_]", "_");
        }
        while (usedNames.contains(n)) n = n + "_" + slot;
        usedNames.add(n);
        return n;
    }

    /**
     * The C variable of local {@code slot} holding a {@code t} at instruction {@code at}: one per source variable (the
     * LVT entry whose scope covers it, so that javac's reuse of a slot gives two C names), else one per slot and type.
     */
    private String local(int slot, JType t, int at) {
        String name = null;
        for (LocalVariable v : lvt) {
            if (v.slot() != slot || kindOf(v.type().stringValue()) != t) continue;
            int from = labels.getOrDefault(v.startScope(), 0), to = labels.getOrDefault(v.endScope(), code.size());
            if (at >= from - 1 && at < to) { // a store comes just before its variable's scope
                name = v.name().stringValue();
                break;
            }
        }
        String key = slot + ":" + t + (name == null ? "" : ":" + name);
        String n = localNames.get(key);
        if (n == null && name != null && localNames.containsKey(slot + ":" + t) && isParamSlot(slot)) {
            n = localNames.get(slot + ":" + t); // the parameter itself
        }
        if (n != null) return n;
        n = unique(name != null ? name : "v" + slot, slot);
        localNames.put(key, n);
        decls.put(n, t.c);
        return n;
    }

    private boolean isParamSlot(int slot) {
        return slot < paramSlots;
    }

    private static JType kindOf(String desc) {
        return switch (desc) {
            case "I", "Z", "B", "S", "C" -> JType.INT;
            case "J" -> JType.LONG;
            case "F" -> JType.FLOAT;
            case "D" -> JType.DOUBLE;
            default -> JType.REF;
        };
    }

    // ------------------------------------------------------------------ blocks

    private Cfg cfg;
    private int[] blockStart;
    private int[] blockOf;

    private List<Block> blocks() {
        int n = code.size();
        boolean[] leader = new boolean[n + 1];
        leader[0] = true;
        for (int i = 0; i < n; i++) {
            Instruction ins = code.get(i);
            switch (ins) {
                case BranchInstruction b -> {
                    leader[labels.get(b.target())] = true;
                    leader[i + 1] = true;
                }
                case TableSwitchInstruction s -> {
                    leader[labels.get(s.defaultTarget())] = true;
                    for (SwitchCase c : s.cases()) leader[labels.get(c.target())] = true;
                    leader[i + 1] = true;
                }
                case LookupSwitchInstruction s -> {
                    leader[labels.get(s.defaultTarget())] = true;
                    for (SwitchCase c : s.cases()) leader[labels.get(c.target())] = true;
                    leader[i + 1] = true;
                }
                case ReturnInstruction r -> leader[i + 1] = true;
                case ThrowInstruction t -> {
                    line = lines.get(i);
                    throw refuse("exceptions (throw) are not supported");
                }
                default -> { }
            }
        }
        List<Integer> starts = new ArrayList<>();
        for (int i = 0; i < n; i++) if (leader[i]) starts.add(i);
        int nb = starts.size();
        blockStart = new int[nb + 1];
        blockOf = new int[n + 1];
        for (int b = 0; b < nb; b++) blockStart[b] = starts.get(b);
        blockStart[nb] = n;
        for (int b = 0; b < nb; b++) for (int i = blockStart[b]; i < blockStart[b + 1]; i++) blockOf[i] = b;
        int[][] succ = new int[nb][];
        boolean[] exits = new boolean[nb];
        for (int b = 0; b < nb; b++) {
            Instruction last = code.get(blockStart[b + 1] - 1);
            int fall = b + 1 < nb ? b + 1 : -1;
            succ[b] = switch (last) {
                case BranchInstruction br when br.opcode() == Opcode.GOTO || br.opcode() == Opcode.GOTO_W -> new int[] {target(br.target())};
                case BranchInstruction br -> new int[] {target(br.target()), fall};
                case TableSwitchInstruction s -> switchTargets(s.defaultTarget(), s.cases());
                case LookupSwitchInstruction s -> switchTargets(s.defaultTarget(), s.cases());
                case ReturnInstruction r -> {
                    exits[b] = true;
                    yield new int[0];
                }
                default -> new int[] {fall};
            };
        }
        cfg = new Cfg(succ, exits, b -> {
            line = lines.get(blockStart[b]);
            return refuse("irreducible control flow");
        });
        findCounters();
        return translateBlocks(nb);
    }

    /**
     * Loop counters: the int and long locals a loop's header reads when it ends in the loop's exit test (javac's
     * {@code for}/{@code while}). {@code i = i + step} of one inside the loop is a signed add in C: Java's wrap is
     * undefined there, so the compiler may count the iterations (unroll {@code for (i = t; i < n; i += l)}, keep loads
     * in flight), as it does for pariskv.c. It differs from Java only where the counter itself overflows.
     */
    private void findCounters() {
        for (Cfg.Loop l : cfg.loopAt) {
            if (l == null) continue;
            int h = l.header;
            Instruction last = code.get(blockStart[h + 1] - 1);
            boolean exitTest = last instanceof BranchInstruction br && br.opcode() != Opcode.GOTO && br.opcode() != Opcode.GOTO_W
                    && java.util.Arrays.stream(cfg.succ[h]).anyMatch(x -> !l.body.get(x));
            if (!exitTest) continue;
            Set<Integer> slots = new HashSet<>();
            for (int i = blockStart[h]; i < blockStart[h + 1]; i++) {
                if (code.get(i) instanceof LoadInstruction ld && (ld.typeKind() == TypeKind.INT || ld.typeKind() == TypeKind.LONG)) {
                    slots.add(ld.slot());
                }
            }
            counters.put(l, slots);
        }
    }

    private final Map<Cfg.Loop, Set<Integer>> counters = new HashMap<>();
    /** The operands of each wrapped int/long add's C text, for {@link #isCounterStep}. */
    private final Map<String, String[]> sums = new HashMap<>();

    /** Whether storing {@code slot} here is a counter's step (see {@link #findCounters}). */
    private boolean isCounterStep(int slot) {
        for (Cfg.Loop l = cfg.loopOf[blockOf[currentIndex]]; l != null; l = l.parent) {
            Set<Integer> c = counters.get(l);
            if (c != null && c.contains(slot)) return true;
        }
        return false;
    }

    private int target(Label l) {
        return blockOf[labels.get(l)];
    }

    private int[] switchTargets(Label dflt, List<SwitchCase> cases) {
        Set<Integer> t = new java.util.LinkedHashSet<>();
        t.add(target(dflt));
        for (SwitchCase c : cases) t.add(target(c.target()));
        return t.stream().mapToInt(Integer::intValue).toArray();
    }

    // ------------------------------------------------------------------ symbolic execution

    private List<Expr> stack;
    private List<String> out;
    private List<Expr>[] entry;

    @SuppressWarnings({"unchecked", "rawtypes"})
    private List<Block> translateBlocks(int nb) {
        entry = new List[nb];
        Block[] result = new Block[nb];
        entry[0] = List.of();
        for (int b : cfg.rpo) {
            if (entry[b] == null) throw refuse("internal: block " + b + " has no entry stack");
            stack = new ArrayList<>(entry[b]);
            out = new ArrayList<>();
            Term term = null;
            for (int i = blockStart[b]; i < blockStart[b + 1]; i++) {
                line = lines.get(i);
                currentIndex = i;
                Instruction ins = code.get(i);
                boolean last = i == blockStart[b + 1] - 1;
                term = step(ins, b, last);
                if (term != null && !last) throw refuse("internal: terminator inside a block");
            }
            if (term == null) term = new Term.Goto(cfg.succ[b][0]);
            result[b] = new Block(out, term);
        }
        List<Block> blocks = new ArrayList<>();
        for (int b = 0; b < nb; b++) blocks.add(result[b] != null ? result[b] : new Block(List.of(), new Term.Return(null)));
        return blocks;
    }

    /** Hands the remaining stack to the successors through pkv_s variables (references pass as they are). */
    private void leave(int b, int... succs) {
        List<Expr> exit = new ArrayList<>();
        boolean assigned = false;
        for (int d = 0; d < stack.size(); d++) {
            Expr e = stack.get(d);
            if (e.type() == JType.REF) {
                exit.add(e);
                continue;
            }
            if (e.compare() != null) e = materialise(e);
            String s = "pkv_s" + d + "_" + e.type().name().toLowerCase().charAt(0);
            decls.putIfAbsent(s, e.type().c);
            if (!e.c().equals(s)) {
                if (!assigned) {
                    flush();
                    e = stack.get(d);
                    assigned = true;
                }
                out.add(s + " = " + e.c() + ";");
            }
            exit.add(Expr.name(s, e.type()));
        }
        for (int s : succs) {
            if (entry[s] == null) {
                entry[s] = exit;
            } else if (!sameStack(entry[s], exit)) {
                throw refuse("values of different kinds meet on the operand stack (e.g. a conditional choosing between two arrays)");
            }
        }
    }

    private static boolean sameStack(List<Expr> a, List<Expr> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).type() != b.get(i).type()) return false;
            if (a.get(i).type() == JType.REF && !a.get(i).ref().equals(b.get(i).ref())) return false;
        }
        return true;
    }

    private Term step(Instruction ins, int b, boolean last) {
        switch (ins) {
            case ConstantInstruction c -> push(constant(c.constantValue(), c.typeKind()));
            case LoadInstruction l -> {
                if (l.typeKind() == TypeKind.REFERENCE) {
                    Expr.Ref r = refSlots.get(l.slot());
                    if (r == null) throw refuse("a reference local that is not a kernel array, local array or KernelContext");
                    push(Expr.ref(r));
                } else if (constantSlots.containsKey(l.slot())) {
                    push(constantSlots.get(l.slot()));
                } else {
                    JType t = jtype(l.typeKind());
                    push(Expr.name(local(l.slot(), t, currentIndex), t));
                }
            }
            case StoreInstruction s -> {
                Expr v = pop();
                if (s.typeKind() == TypeKind.REFERENCE) {
                    if (v.ref() == null) throw refuse("storing a reference that is not an array or KernelContext");
                    Expr.Ref old = refSlots.get(s.slot());
                    if (old != null && !old.equals(v.ref())) throw refuse("a reference local assigned two different arrays");
                    refSlots.put(s.slot(), v.ref());
                } else {
                    if (constantSlots.containsKey(s.slot())) throw refuse("a @Constant parameter is assigned (it is a literal on devices)");
                    JType t = jtype(s.typeKind());
                    String n = local(s.slot(), t, currentIndex);
                    String[] add = (t == JType.INT || t == JType.LONG) ? sums.get(v.c()) : null;
                    if (add != null && add[0].equals(n) && isCounterStep(s.slot())) assign(n, n + " = " + n + " + (" + add[1] + ");");
                    else assign(n, n + " = " + value(v) + ";");
                }
            }
            case IncrementInstruction inc -> {
                if (constantSlots.containsKey(inc.slot())) throw refuse("a @Constant parameter is assigned (it is a literal on devices)");
                String n = local(inc.slot(), JType.INT, currentIndex);
                if (isCounterStep(inc.slot())) assign(n, n + " = " + n + " + (" + inc.constant() + ");");
                else assign(n, n + " = " + wrap("+", n, String.valueOf(inc.constant()), JType.INT) + ";");
            }
            case OperatorInstruction o -> operator(o);
            case ConvertInstruction c -> convert(c);
            case StackInstruction s -> stackOp(s.opcode());
            case ArrayLoadInstruction a -> {
                Expr i = pop(), arr = pop();
                ArrayRef r = array(arr);
                push(Expr.of(r.name() + "[" + value(i) + "]", r.loads()));
            }
            case ArrayStoreInstruction a -> {
                Expr v = pop(), i = pop(), arr = pop();
                ArrayRef r = array(arr);
                if (r.space() == Expr.Space.CONSTANT) throw refuse("writing into the table " + r.name() + " (static final arrays are constants on devices)");
                written.add(r.name());
                statement(r.name() + "[" + value(i) + "] = (" + r.elementC() + ") " + value(v) + ";");
            }
            case BranchInstruction br -> {
                return branch(br, b);
            }
            case TableSwitchInstruction s -> {
                return switchOn(s.defaultTarget(), s.cases(), b);
            }
            case LookupSwitchInstruction s -> {
                return switchOn(s.defaultTarget(), s.cases(), b);
            }
            case ReturnInstruction r -> {
                if (r.typeKind() == TypeKind.VOID) return new Term.Return(null);
                Expr v = pop();
                return new Term.Return(value(v));
            }
            case InvokeInstruction inv -> invoke(inv);
            case FieldInstruction f -> field(f);
            case NopInstruction nop -> { }
            case NewObjectInstruction x -> throw refuse("allocation (new " + x.className().asInternalName().replace('/', '.') + ") is not supported in kernels");
            case NewPrimitiveArrayInstruction x -> privateArray(x.typeKind());
            case NewReferenceArrayInstruction x -> throw refuse("array allocation is not supported in kernels");
            case NewMultiArrayInstruction x -> throw refuse("array allocation is not supported in kernels");
            case MonitorInstruction x -> throw refuse("synchronized blocks (monitors) are not supported");
            case InvokeDynamicInstruction x -> throw refuse("invokedynamic (lambdas, string concatenation, pattern switches) is not supported");
            case TypeCheckInstruction x -> throw refuse("casts and instanceof on objects are not supported");
            case ThrowInstruction x -> throw refuse("exceptions (throw) are not supported");
            default -> throw refuse("the instruction " + ins.opcode().name().toLowerCase() + " is not supported");
        }
        if (last) {
            int[] s = cfg.succ[b];
            leave(b, s);
        }
        return null;
    }

    private JType jtype(TypeKind k) {
        return switch (k) {
            case INT, BOOLEAN, BYTE, SHORT, CHAR -> JType.INT;
            case LONG -> JType.LONG;
            case FLOAT -> JType.FLOAT;
            case DOUBLE -> {
                usesDoubles = true;
                yield JType.DOUBLE;
            }
            default -> JType.REF;
        };
    }

    private ArrayRef array(Expr e) {
        if (!(e.ref() instanceof ArrayRef r)) throw refuse("array access on something that is not an array parameter or local array");
        return r;
    }

    private void push(Expr e) {
        stack.add(e);
    }

    private Expr pop() {
        if (stack.isEmpty()) throw refuse("internal: operand stack underflow");
        return stack.removeLast();
    }

    /** The C text of a value (a comparison result becomes the helper call). */
    private String value(Expr e) {
        if (e.compare() == null) return e.c();
        Compare c = e.compare();
        if (!c.floating()) return "pkv_lcmp(" + c.a().c() + ", " + c.b().c() + ")";
        return (c.a().type() == JType.DOUBLE ? "pkv_dcmp(" : "pkv_fcmp(") + c.a().c() + ", " + c.b().c() + ", " + c.nanResult() + ")";
    }

    private Expr materialise(Expr e) {
        if (e.simple() || e.type() == JType.REF) return e;
        String t = "pkv_t" + temps++;
        decls.put(t, e.type().c);
        out.add(t + " = " + value(e) + ";");
        return Expr.name(t, e.type());
    }

    /** Saves every stack value that is not a name or literal, so that the next statement cannot change it. */
    private void flush() {
        for (int i = 0; i < stack.size(); i++) stack.set(i, materialise(stack.get(i)));
    }

    private void statement(String s) {
        flush();
        out.add(s);
    }

    /**
     * A statement that assigns local {@code name}: the stack values that are that local are copied first, since they
     * hold its old value ({@code a[i++]}, {@code x += h[c--]}: javac loads the local, then increments it).
     */
    private void assign(String name, String s) {
        flush();
        for (int i = 0; i < stack.size(); i++) {
            Expr e = stack.get(i);
            if (e.type() != JType.REF && e.constant() == null && name.equals(e.c())) {
                String t = "pkv_t" + temps++;
                decls.put(t, e.type().c);
                out.add(t + " = " + name + ";");
                stack.set(i, Expr.name(t, e.type()));
            }
        }
        out.add(s);
    }

    // ------------------------------------------------------------------ constants

    private Expr constant(java.lang.constant.ConstantDesc v, TypeKind k) {
        return switch (v) {
            case Integer i -> Expr.constant(intLiteral(i), JType.INT, i);
            case Long l -> Expr.constant(longLiteral(l), JType.LONG, l);
            case Float f -> Expr.constant(floatLiteral(f), JType.FLOAT, f);
            case Double d -> {
                usesDoubles = true;
                yield Expr.constant(doubleLiteral(d), JType.DOUBLE, d);
            }
            case null -> throw refuse("null references are not supported");
            default -> throw refuse("constants of type " + v.getClass().getSimpleName() + " (strings, classes) are not supported");
        };
    }

    static String intLiteral(int i) {
        return i == Integer.MIN_VALUE ? "(-2147483647 - 1)" : i < 0 ? "(" + i + ")" : Integer.toString(i);
    }

    static String longLiteral(long l) {
        return l == Long.MIN_VALUE ? "(PKV_L(-9223372036854775807) - 1)" : l < 0 ? "(PKV_L(" + l + "))" : "PKV_L(" + l + ")";
    }

    static String floatLiteral(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) return "PKV_AS_FLOAT(" + intLiteral(Float.floatToRawIntBits(f)) + ")";
        String s = Float.toString(f) + "f";
        return f < 0 || (f == 0 && 1 / f < 0) ? "(" + s + ")" : s;
    }

    static String doubleLiteral(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) return "PKV_AS_DOUBLE(" + longLiteral(Double.doubleToRawLongBits(d)) + ")";
        String s = Double.toString(d);
        return d < 0 || (d == 0 && 1 / d < 0) ? "(" + s + ")" : s;
    }

    private Expr constantOf(Object v) {
        return switch (v) {
            case Integer i -> Expr.constant(intLiteral(i), JType.INT, i);
            case Boolean z -> Expr.constant(z ? "1" : "0", JType.INT, z ? 1 : 0);
            case Character ch -> Expr.constant(intLiteral(ch), JType.INT, (int) ch);
            case Short s -> Expr.constant(intLiteral(s), JType.INT, (int) s);
            case Byte by -> Expr.constant(intLiteral(by), JType.INT, (int) by);
            case Long l -> Expr.constant(longLiteral(l), JType.LONG, l);
            case Float f -> Expr.constant(floatLiteral(f), JType.FLOAT, f);
            case Double d -> {
                usesDoubles = true;
                yield Expr.constant(doubleLiteral(d), JType.DOUBLE, d);
            }
            default -> throw refuse("a static field of type " + v.getClass().getSimpleName() + " is not a primitive constant");
        };
    }

    // ------------------------------------------------------------------ arithmetic

    /** Java's wrapping int/long arithmetic: computed unsigned in C, where signed overflow is undefined. */
    private static String wrap(String op, String a, String b, JType t) {
        return t == JType.INT ? "((int) ((juint) (" + a + ") " + op + " (juint) (" + b + ")))"
                : "((jlong) ((julong) (" + a + ") " + op + " (julong) (" + b + ")))";
    }

    private void operator(OperatorInstruction o) {
        Opcode op = o.opcode();
        switch (op) {
            case INEG, LNEG, FNEG, DNEG -> {
                Expr a = pop();
                JType t = a.type();
                push(Expr.of(switch (t) {
                    case INT -> "((int) (0u - (juint) (" + a.c() + ")))";
                    case LONG -> "((jlong) ((julong) 0 - (julong) (" + a.c() + ")))";
                    default -> "(-(" + a.c() + "))";
                }, t));
            }
            case ARRAYLENGTH -> {
                ArrayRef r = array(pop());
                if (r.length() < 0) throw refuse("the length of a global array is unknown on devices: pass it as an int");
                push(Expr.constant(Integer.toString(r.length()), JType.INT, r.length()));
            }
            case LCMP, FCMPL, FCMPG, DCMPL, DCMPG -> {
                Expr b = pop(), a = pop();
                push(Expr.compare(new Compare(a, b, op == Opcode.FCMPL || op == Opcode.DCMPL ? -1 : 1, op != Opcode.LCMP)));
            }
            default -> {
                Expr b = pop(), a = pop();
                JType t = a.type();
                String x = a.c(), y = b.c();
                String c = switch (op) {
                    case IADD, LADD -> {
                        String w = wrap("+", x, y, t);
                        sums.put(w, new String[] {x, y});
                        yield w;
                    }
                    case ISUB, LSUB -> wrap("-", x, y, t);
                    case IMUL, LMUL -> wrap("*", x, y, t);
                    case FADD, DADD -> "(" + x + " + " + y + ")";
                    case FSUB, DSUB -> "(" + x + " - " + y + ")";
                    case FMUL, DMUL -> "(" + x + " * " + y + ")";
                    case FDIV, DDIV -> "(" + x + " / " + y + ")";
                    case FREM -> "PKV_FMODF(" + x + ", " + y + ")";
                    case DREM -> "fmod(" + x + ", " + y + ")";
                    case IDIV -> safeDivisor(b) ? "(" + x + " / " + y + ")" : "pkv_idiv(" + x + ", " + y + ")";
                    // a - (a / b) * b, Java's definition: next to a / b of the same operands it is one division (CSE)
                    case IREM -> safeDivisor(b) ? "(" + x + " % " + y + ")" : wrap("-", x, wrap("*", "pkv_idiv(" + x + ", " + y + ")", y, t), t);
                    case LDIV -> safeDivisor(b) ? "(" + x + " / " + y + ")" : "pkv_ldiv(" + x + ", " + y + ")";
                    case LREM -> safeDivisor(b) ? "(" + x + " % " + y + ")" : wrap("-", x, wrap("*", "pkv_ldiv(" + x + ", " + y + ")", y, t), t);
                    case IAND, LAND -> "(" + x + " & " + y + ")";
                    case IOR, LOR -> "(" + x + " | " + y + ")";
                    case IXOR, LXOR -> "(" + x + " ^ " + y + ")";
                    case ISHL -> "((int) ((juint) (" + x + ") << " + shift(b, 31) + "))";
                    case ISHR -> "(" + x + " >> " + shift(b, 31) + ")";
                    case IUSHR -> "((int) ((juint) (" + x + ") >> " + shift(b, 31) + "))";
                    case LSHL -> "((jlong) ((julong) (" + x + ") << " + shift(b, 63) + "))";
                    case LSHR -> "(" + x + " >> " + shift(b, 63) + ")";
                    case LUSHR -> "((jlong) ((julong) (" + x + ") >> " + shift(b, 63) + "))";
                    default -> throw refuse("the operator " + op.name().toLowerCase() + " is not supported");
                };
                boolean integral = t == JType.INT || t == JType.LONG;
                push(Expr.of(c, t, integral && a.cConstant() && b.cConstant() && !c.contains("pkv_")));
            }
        }
    }

    private static boolean safeDivisor(Expr b) {
        return switch (b.constant()) {
            case Integer i -> i != 0 && i != -1;
            case Long l -> l != 0 && l != -1;
            case null, default -> false;
        };
    }

    /** Java masks shift counts; a constant count is masked here. */
    private static String shift(Expr count, int mask) {
        if (count.constant() instanceof Integer i) return Integer.toString(i & mask);
        return "((" + count.c() + ") & " + mask + ")";
    }

    private void convert(ConvertInstruction c) {
        Expr a = pop();
        String x = a.c();
        TypeKind from = c.fromType(), to = c.toType();
        if (to == TypeKind.DOUBLE || from == TypeKind.DOUBLE) usesDoubles = true;
        String r = switch (to) {
            case BYTE -> "((int) (jbyte) (" + x + "))";
            case SHORT -> "((int) (short) (" + x + "))";
            case CHAR -> "((int) (jchar) (" + x + "))";
            case INT -> switch (from) {
                case LONG -> "((int) (" + x + "))";
                case FLOAT -> "pkv_f2i(" + x + ")";
                default -> "pkv_d2i(" + x + ")";
            };
            case LONG -> switch (from) {
                case INT -> "((jlong) (" + x + "))";
                case FLOAT -> "pkv_f2l(" + x + ")";
                default -> "pkv_d2l(" + x + ")";
            };
            case FLOAT -> "((float) (" + x + "))";
            case DOUBLE -> "((double) (" + x + "))";
            default -> throw refuse("conversion to " + to + " is not supported");
        };
        push(Expr.of(r, jtype(to)));
    }

    private void stackOp(Opcode op) {
        switch (op) {
            case POP -> pop();
            case POP2 -> {
                if (!pop().type().wide()) pop();
            }
            case DUP -> {
                Expr v = dupable(pop());
                push(v);
                push(v);
            }
            case DUP_X1 -> {
                Expr v1 = dupable(pop()), v2 = pop();
                push(v1);
                push(v2);
                push(v1);
            }
            case DUP_X2 -> {
                Expr v1 = dupable(pop()), v2 = pop();
                if (v2.type().wide()) {
                    push(v1);
                    push(v2);
                    push(v1);
                } else {
                    Expr v3 = pop();
                    push(v1);
                    push(v3);
                    push(v2);
                    push(v1);
                }
            }
            case DUP2 -> {
                Expr v1 = dupable(pop());
                if (v1.type().wide()) {
                    push(v1);
                    push(v1);
                } else {
                    Expr v2 = dupable(pop());
                    push(v2);
                    push(v1);
                    push(v2);
                    push(v1);
                }
            }
            case DUP2_X1 -> {
                Expr v1 = dupable(pop());
                if (v1.type().wide()) {
                    Expr v2 = pop();
                    push(v1);
                    push(v2);
                    push(v1);
                } else {
                    Expr v2 = dupable(pop()), v3 = pop();
                    push(v2);
                    push(v1);
                    push(v3);
                    push(v2);
                    push(v1);
                }
            }
            case SWAP -> {
                Expr v1 = pop(), v2 = pop();
                push(v1);
                push(v2);
            }
            default -> throw refuse("the stack instruction " + op.name().toLowerCase() + " is not supported");
        }
    }

    /** A value about to be duplicated is saved first (it would otherwise be computed twice). */
    private Expr dupable(Expr e) {
        if (e.simple() || e.type() == JType.REF) return e;
        String t = "pkv_t" + temps++;
        decls.put(t, e.type().c);
        flush();
        out.add(t + " = " + value(e) + ";");
        return Expr.name(t, e.type());
    }

    // ------------------------------------------------------------------ control

    private Term branch(BranchInstruction br, int b) {
        Opcode op = br.opcode();
        int taken = target(br.target());
        if (op == Opcode.GOTO || op == Opcode.GOTO_W) {
            leave(b, taken);
            return new Term.Goto(taken);
        }
        String cond = switch (op) {
            case IFEQ, IFNE, IFLT, IFGE, IFGT, IFLE -> {
                Expr a = pop();
                String rel = switch (op) {
                    case IFEQ -> "==";
                    case IFNE -> "!=";
                    case IFLT -> "<";
                    case IFGE -> ">=";
                    case IFGT -> ">";
                    default -> "<=";
                };
                if (a.compare() != null && a.compare().floating()) yield compareCondition(a.compare(), rel);
                if (a.compare() != null) yield intCondition(a.compare().a().c(), rel, a.compare().b().c());
                yield intCondition(a.c(), rel, "0");
            }
            case IF_ICMPEQ, IF_ICMPNE, IF_ICMPLT, IF_ICMPGE, IF_ICMPGT, IF_ICMPLE -> {
                Expr y = pop(), x = pop();
                String rel = switch (op) {
                    case IF_ICMPEQ -> "==";
                    case IF_ICMPNE -> "!=";
                    case IF_ICMPLT -> "<";
                    case IF_ICMPGE -> ">=";
                    case IF_ICMPGT -> ">";
                    default -> "<=";
                };
 
                yield intCondition(x.c(), rel, y.c());
            }
            default -> throw refuse("the branch " + op.name().toLowerCase() + " (object references, null checks) is not supported");
        };
        int fall = b + 1;
        String negated = negation(cond);
        if (!stack.isEmpty()) {
            // the condition reads values that the hand-over below may overwrite: keep it in a temporary
            String t = "pkv_t" + temps++;
            decls.put(t, "int");
            flush();
            out.add(t + " = " + cond + ";");
            cond = t;
            negated = "!" + t;
        }
        leave(b, taken, fall);
        return new Term.Branch(cond, negated, taken, fall);
    }

    /**
     * The negation of a condition written by {@link #branch}: an integer comparison {@code a rel b} (no NaN) turns
     * into the opposite relation; anything else (floating-point comparisons, where NaN makes both false) gets a
     * {@code !}.
     */
    private String negation(String cond) {
        return intConditions.contains(cond) ? negatedInt.get(cond) : "!(" + cond + ")";
    }

    private final Set<String> intConditions = new HashSet<>();
    private final Map<String, String> negatedInt = new HashMap<>();

    private String intCondition(String a, String rel, String b) {
        String c = a + " " + rel + " " + b;
        intConditions.add(c);
        negatedInt.put(c, a + " " + opposite(rel) + " " + b);
        return c;
    }

    private static String opposite(String rel) {
        return switch (rel) {
            case "<" -> ">=";
            case ">=" -> "<";
            case ">" -> "<=";
            case "<=" -> ">";
            case "==" -> "!=";
            default -> "==";
        };
    }

    /**
     * {@code (a <=> b) rel 0} with Java's NaN result: C's {@code a rel b} is false on NaN (true for {@code !=}); where
     * the Java result differs, the negated opposite comparison gives it.
     */
    private static String compareCondition(Compare c, String rel) {
        String a = c.a().c(), b = c.b().c();
        if (!c.floating()) return a + " " + rel + " " + b;
        int nan = c.nanResult();
        boolean javaOnNaN = switch (rel) {
            case "==" -> nan == 0;
            case "!=" -> nan != 0;
            case "<" -> nan < 0;
            case ">=" -> nan >= 0;
            case ">" -> nan > 0;
            default -> nan <= 0;
        };
        boolean cOnNaN = rel.equals("!=");
        if (javaOnNaN == cOnNaN) return a + " " + rel + " " + b;
        String opposite = switch (rel) {
            case "<" -> ">=";
            case ">=" -> "<";
            case ">" -> "<=";
            case "<=" -> ">";
            case "==" -> "!=";
            default -> "==";
        };
        return "!(" + a + " " + opposite + " " + b + ")";
    }

    private Term switchOn(Label dflt, List<SwitchCase> cases, int b) {
        Expr key = pop();
        String k = key.c();
        if (!stack.isEmpty()) {
            flush();
            Expr saved = materialise(key);
            k = saved.c();
        }
        leave(b, cfg.succ[b]);
        List<Term.Case> cs = new ArrayList<>();
        for (SwitchCase c : cases) cs.add(new Term.Case(c.caseValue(), target(c.target())));
        return new Term.Switch(k, cs, target(dflt));
    }

    // ------------------------------------------------------------------ fields and calls

    private void field(FieldInstruction f) {
        if (f.opcode() != Opcode.GETSTATIC) {
            throw refuse(f.opcode() == Opcode.PUTSTATIC ? "writing static fields is not supported"
                    : "instance fields are not supported (kernels are static methods over their parameters)");
        }
        if (f.typeSymbol().isArray()) {
            push(Expr.ref(unit.table(f.owner().asInternalName(), f.name().stringValue(), this)));
            return;
        }
        Object v = unit.constant(f.owner().asInternalName(), f.name().stringValue(), this);
        push(constantOf(v));
    }

    private void invoke(InvokeInstruction inv) {
        String ownerName = inv.owner().asInternalName();
        String name = inv.name().stringValue();
        MethodTypeDesc type = inv.typeSymbol();
        String desc = type.descriptorString();
        if (ownerName.equals(CONTEXT)) {
            context(name, desc, type);
            return;
        }
        if (ownerName.startsWith(KERNEL_PKG) && ownerName.endsWith("Array")) {
            arrayApi(name, desc);
            return;
        }
        String intrinsic = Intrinsics.lookup(ownerName, name, desc);
        if (intrinsic != null) {
            List<String> args = new ArrayList<>();
            for (int i = 0; i < type.parameterCount(); i++) args.addFirst(pop().c());
            if (desc.contains("D")) usesDoubles = true;
            push(Expr.of(Intrinsics.apply(intrinsic, args), scalarOf(type.returnType())));
            return;
        }
        if (inv.opcode() != Opcode.INVOKESTATIC) {
            throw refuse("calls of instance methods (" + ownerName.replace('/', '.') + "." + name + ") are not supported; "
                    + "only static methods, KernelContext and the kernel arrays");
        }
        if (ownerName.startsWith("java/") || ownerName.startsWith("javax/") || ownerName.startsWith("jdk/")
                || ownerName.startsWith("sun/")) {
            throw refuse("the call " + ownerName.replace('/', '.') + "." + name + " is not in the kernel subset");
        }
        List<Expr> args = new ArrayList<>();
        for (int i = 0; i < type.parameterCount(); i++) args.addFirst(pop());
        List<ArrayRef> arrays = new ArrayList<>();
        List<String> cargs = new ArrayList<>();
        for (Expr a : args) {
            if (a.ref() instanceof ContextRef) continue;
            if (a.ref() instanceof ArrayRef r) arrays.add(r);
            cargs.add(value(a));
        }
        String fn = unit.function(ownerName, name, type, arrays, this);
        boolean[] w = unit.writes(fn);
        for (int j = 0; j < arrays.size() && j < w.length; j++) if (w[j]) written.add(arrays.get(j).name());
        String call = fn + "(" + String.join(", ", cargs) + ")";
        if (type.returnType().descriptorString().equals("V")) {
            statement(call + ";");
        } else {
            JType rt = scalarOf(type.returnType());
            String t = "pkv_t" + temps++;
            decls.put(t, rt.c);
            statement(t + " = " + call + ";");
            push(Expr.name(t, rt));
        }
    }

    private JType scalarOf(ClassDesc d) {
        return scalar(d, "a return value");
    }

    private void context(String name, String desc, MethodTypeDesc type) {
        switch (name) {
            case "globalId", "localId", "groupId", "globalSize", "localSize", "groupCount" -> {
                Expr d = pop();
                pop();
                if (!(d.constant() instanceof Integer dim) || dim < 0 || dim > 2) {
                    throw refuse("the dimension of ctx." + name + " must be a constant 0, 1 or 2");
                }
                String macro = switch (name) {
                    case "globalId" -> "PKV_GLOBAL_ID";
                    case "localId" -> "PKV_LOCAL_ID";
                    case "groupId" -> "PKV_GROUP_ID";
                    case "globalSize" -> "PKV_GLOBAL_SIZE";
                    case "localSize" -> "PKV_LOCAL_SIZE";
                    default -> "PKV_GROUP_COUNT";
                };
                push(Expr.of(macro + "(" + dim + ")", JType.INT));
            }
            case "barrier", "globalBarrier" -> {
                pop();
                usesBarrier = true;
                statement(name.equals("barrier") ? "PKV_BARRIER();" : "PKV_GLOBAL_BARRIER();");
            }
            case "allocateIntLocalArray", "allocateFloatLocalArray", "allocateShortLocalArray" -> {
                Expr n = pop();
                pop();
                if (!kernel) throw refuse("local arrays are allocated in the kernel method itself, not in " + name + "'s callers");
                if (cfg.loopOf[blockOf[currentIndex()]] != null) throw refuse("a local array allocated inside a loop");
                int size;
                if (n.constant() instanceof Integer k) {
                    if (k < 1) throw refuse("the size of a local array must be a positive constant");
                    size = k;
                } else if (n.cConstant() && n.type() == JType.INT) {
                    size = -1; // known when the program is compiled (@Constant parameters)
                } else {
                    throw refuse("the size of a local array must be a positive constant (literals, static finals and @Constant parameters)");
                }
                String elem = name.contains("Int") ? "int" : name.contains("Float") ? "float" : "short";
                String arr = "pkv_local" + localArrays.size();
                localArrays.add("PKV_LOCAL_DECL " + elem + " " + arr + "[" + (size > 0 ? String.valueOf(size) : n.c()) + "];");
                push(Expr.ref(new ArrayRef(arr, elem, loads(elem), Expr.Space.LOCAL, size)));
            }
            case "atomicAdd", "atomicMax", "atomicMin" -> {
                Expr v = pop(), i = pop(), arr = pop();
                pop();
                ArrayRef r = array(arr);
                written.add(r.name());
                String macro = "PKV_ATOMIC_" + name.substring(6).toUpperCase();
                String t = "pkv_t" + temps++;
                decls.put(t, "int");
                statement(t + " = " + macro + "(&" + r.name() + "[" + value(i) + "], " + value(v) + ");");
                push(Expr.name(t, JType.INT));
            }
            case "awaitInputs" -> { // pkv.h's AWAIT_INPUTS: programmatic dependent launch on sm_90, else nothing
                pop();
                statement("PKV_AWAIT_INPUTS();");
            }
            case "bytePermute", "funnelShiftRight" -> {
                String c = pop().c(), b2 = pop().c(), a = pop().c();
                push(Expr.of((name.equals("bytePermute") ? "PKV_BYTE_PERM(" : "PKV_FUNNEL_R(") + a + ", " + b2 + ", " + c + ")", JType.INT));
            }
            case "hasWarpShuffle" -> {
                pop();
                boolean cuda = unit.dialect() == Dialect.CUDA;
                push(Expr.constant(cuda ? "1" : "0", JType.INT, cuda ? 1 : 0));
            }
            case "shuffleXor", "shuffleDown", "shuffleUp", "shuffle" -> {
                Expr lane = pop(), v = pop();
                pop();
                String macro = switch (name) {
                    case "shuffleXor" -> "PKV_SHFL_XOR";
                    case "shuffleDown" -> "PKV_SHFL_DOWN";
                    case "shuffleUp" -> "PKV_SHFL_UP";
                    default -> "PKV_SHFL";
                };
                String t = "pkv_t" + temps++; // every lane of the warp runs it here, in Java's order
                decls.put(t, v.type().c);
                statement(t + " = " + macro + "(" + value(v) + ", " + value(lane) + ");");
                push(Expr.name(t, v.type()));
            }
            case "histogramIncrement" -> {
                Expr bin = pop(), arr = pop();
                pop();
                ArrayRef r = array(arr);
                if (r.space() != Expr.Space.LOCAL && r.space() != Expr.Space.GLOBAL) {
                    throw refuse("ctx.histogramIncrement takes a local array or an IntArray parameter");
                }
                written.add(r.name());
                statement("PKV_HIST_INC(" + r.name() + ", " + value(bin) + ");");
            }
            default -> throw refuse("KernelContext." + name + " is not supported on devices yet");
        }
    }

    private int currentIndex;

    /**
     * {@code new T[n]} with a constant {@code n}: a private (per work-item) array, declared once at the top of the
     * function and zeroed where Java allocates it, as Java does.
     */
    private void privateArray(TypeKind kind) {
        Expr n = pop();
        int size;
        String sizeC;
        if (n.constant() instanceof Integer k && k >= 1 && k <= 4096) {
            size = k;
            sizeC = String.valueOf(k);
        } else if (n.constant() == null && n.cConstant() && n.type() == JType.INT) {
            size = -1; // a @Constant expression: known when the program is compiled, as pariskv.c's float acc[(HEAD_DIM + 127) / 128]
            sizeC = n.c();
        } else {
            throw refuse("array allocation needs a constant size of 1 to 4096, or one computed from @Constant parameters"
                    + " (a private array; use ctx.allocate...LocalArray for local memory)");
        }
        String elem = switch (kind) {
            case FLOAT -> "float";
            case INT -> "int";
            case BYTE, BOOLEAN -> "jbyte";
            case SHORT -> "short";
            case CHAR -> "jchar";
            case LONG -> "jlong";
            case DOUBLE -> {
                usesDoubles = true;
                yield "double";
            }
            default -> throw refuse("arrays of " + kind + " are not supported");
        };
        String arr = "pkv_private" + privateArrays++;
        localArrays.add(elem + " " + arr + "[" + sizeC + "];");
        statement("for (int " + arr + "_i = 0; " + arr + "_i < " + sizeC + "; " + arr + "_i++) " + arr + "[" + arr + "_i] = 0;");
        push(Expr.ref(new ArrayRef(arr, elem, loads(elem), Expr.Space.PRIVATE, size)));
    }

    private int privateArrays;

    private int currentIndex() {
        return currentIndex;
    }

    private void arrayApi(String name, String desc) {
        switch (name) {
            case "get" -> {
                Expr i = pop(), arr = pop();
                ArrayRef r = array(arr);
                push(Expr.of(r.name() + "[" + value(i) + "]", r.loads()));
            }
            case "set" -> {
                Expr v = pop(), i = pop(), arr = pop();
                ArrayRef r = array(arr);
                written.add(r.name());
                statement(r.name() + "[" + value(i) + "] = (" + r.elementC() + ") " + value(v) + ";");
            }
            case "getReadOnly" -> {
                Expr i = pop(), arr = pop();
                ArrayRef r = array(arr);
                if (r.space() != Expr.Space.GLOBAL) throw refuse("getReadOnly reads kernel array parameters (global memory)");
                push(Expr.of("PKV_LDG(&" + r.name() + "[" + value(i) + "])", r.loads()));
            }
            case "load2", "load2ReadOnly", "load4", "load4ReadOnly" -> {
                Expr at = pop(), dst = pop(), i = pop(), arr = pop();
                ArrayRef src = array(arr), to = array(dst);
                if (src.space() != Expr.Space.GLOBAL || !src.elementC().equals("int")) throw refuse(name + " reads an IntArray parameter");
                if (to.space() == Expr.Space.GLOBAL || to.space() == Expr.Space.CONSTANT || !to.elementC().equals("int")) {
                    throw refuse(name + " writes into a private or local int[]");
                }
                String macro = "PKV_LOAD" + name.charAt(4) + (name.endsWith("ReadOnly") ? "_RO" : "");
                statement(macro + "(" + to.name() + ", " + value(at) + ", " + src.name() + ", " + value(i) + ");");
            }
            default -> throw refuse("the array method " + name + " is not available on devices (get and set are; pass sizes as ints)");
        }
    }
}
