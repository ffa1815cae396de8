package org.pariskv.compute.jit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.attribute.RuntimeVisibleAnnotationsAttribute;
import java.lang.constant.MethodTypeDesc;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Java bytecode to OpenCL C / CUDA C. {@link #translate} reads a kernel class's bytes with the JDK's ClassFile API and
 * writes one program: every {@code @Kernel} method as a kernel, every static method they call (in any class but the
 * JDK's) as a device function. Translations are cached in memory per class and dialect and on disk
 * ({@link TranslationCache}) by the content hash of the classes involved.
 *
 * <p>See docs/kernels.md for the subset; anything outside it is refused with an {@link UnsupportedKernelException}
 * that names the method, the line and the reason.
 */
public final class KernelTranslator {
    /** Bumped whenever the generated code changes, so that older disk-cache entries are not used. */
    static final String VERSION = "jit-13";

    /**
     * A hash of the translator's own class files (this package), part of every disk-cache key: a translator changed
     * without a {@link #VERSION} bump must not reuse programs an older one wrote. {@link #VERSION} alone where the
     * class files cannot be read.
     */
    static final String FINGERPRINT = translatorFingerprint();
    static final String KERNEL_ANNOTATION = "Lorg/pariskv/compute/kernel/Kernel;";

    private static final Map<String, Translation> MEMORY = new ConcurrentHashMap<>();

    private KernelTranslator() {}

    /** The program for {@code kernels} in {@code dialect}, from the memory or disk cache when there. */
    public static Translation translate(Class<?> kernels, Dialect dialect) {
        String key = kernels.getName() + "@" + System.identityHashCode(kernels.getClassLoader()) + ":" + dialect;
        return MEMORY.computeIfAbsent(key, k -> {
            byte[] bytes = classBytes(kernels.getClassLoader(), kernels.getName().replace('.', '/'));
            String hash = sha256(VERSION, FINGERPRINT, dialect.name(), kernels.getName(), HexFormat.of().formatHex(sha(bytes)));
            Translation cached = TranslationCache.shared().load(hash, kernels.getClassLoader(), kernels.getName(), dialect);
            if (cached != null) return cached;
            Program p = new Program(kernels.getClassLoader(), dialect);
            Translation t = p.translation(kernels);
            TranslationCache.shared().store(hash, t, p.classHashes);
            return t;
        });
    }

    /** The macro a {@code @Constant} parameter is compiled as: argument {@code index} (KernelContext not counted) of {@code kernel}. */
    public static String constantMacro(String kernel, int index) {
        return "PKV_CONST_" + kernel + "_" + index;
    }

    /** Translates without any cache (tests, timing). */
    public static Translation translateUncached(Class<?> kernels, Dialect dialect) {
        return new Program(kernels.getClassLoader(), dialect).translation(kernels);
    }

    /** The names of the {@code @Kernel} methods of {@code kernels}, from its bytecode. */
    public static List<String> kernelNames(Class<?> kernels) {
        ClassModel cm = ClassFile.of().parse(classBytes(kernels.getClassLoader(), kernels.getName().replace('.', '/')));
        List<String> names = new ArrayList<>();
        for (MethodModel m : cm.methods()) if (isKernel(m)) names.add(m.methodName().stringValue());
        return names;
    }

    static boolean isKernel(MethodModel m) {
        return m.findAttribute(Attributes.runtimeVisibleAnnotations()).map(RuntimeVisibleAnnotationsAttribute::annotations)
                .orElse(List.of()).stream().anyMatch(a -> a.className().stringValue().equals(KERNEL_ANNOTATION));
    }

    static byte[] classBytes(ClassLoader loader, String internalName) {
        ClassLoader l = loader != null ? loader : ClassLoader.getSystemClassLoader();
        try (InputStream in = l.getResourceAsStream(internalName + ".class")) {
            if (in == null) throw new IllegalArgumentException("the class file of " + internalName.replace('/', '.') + " is not on the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the class file of " + internalName, e);
        }
    }

    private static String translatorFingerprint() {
        String prefix = KernelTranslator.class.getPackageName().replace('.', '/') + "/";
        try {
            java.nio.file.Path src = java.nio.file.Path.of(KernelTranslator.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            if (java.nio.file.Files.isDirectory(src)) { // classes on disk (a build tree)
                try (var files = java.nio.file.Files.list(src.resolve(prefix))) {
                    for (java.nio.file.Path f : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
                        md.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                        md.update(java.nio.file.Files.readAllBytes(f));
                    }
                }
            } else {
                try (var jar = new java.util.zip.ZipFile(src.toFile())) {
                    var entries = jar.stream().filter(e -> e.getName().startsWith(prefix) && e.getName().endsWith(".class")
                            && e.getName().indexOf('/', prefix.length()) < 0).sorted(java.util.Comparator.comparing(java.util.zip.ZipEntry::getName)).toList();
                    for (var e : entries) {
                        md.update(e.getName().getBytes(StandardCharsets.UTF_8));
                        try (var in = jar.getInputStream(e)) {
                            md.update(in.readAllBytes());
                        }
                    }
                }
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (Exception e) { // no readable code source (custom class loaders): the version string alone
            return VERSION;
        }
    }

    static byte[] sha(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String s : parts) {
                md.update(s.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One program being written: the classes read, the functions translated so far. */
    private static final class Program implements MethodTranslator.Unit {
        private final ClassLoader loader;
        private final Dialect dialect;
        private final Map<String, ClassModel> classes = new HashMap<>();
        final Map<String, String> classHashes = new LinkedHashMap<>();
        private final Map<String, String> functionNames = new HashMap<>(); // key -> C name
        private final Map<String, Integer> nameUses = new HashMap<>();
        private final java.util.Set<String> inProgress = new java.util.HashSet<>(); // device functions being translated
        private final List<String> prototypes = new ArrayList<>();
        private final List<String> functions = new ArrayList<>();
        private final List<String> tables = new ArrayList<>();
        private final Map<String, Expr.ArrayRef> tableRefs = new HashMap<>();
        private final List<String> kernels = new ArrayList<>();
        final List<String> kernelNames = new ArrayList<>();
        private boolean doubles;

        Program(ClassLoader loader, Dialect dialect) {
            this.loader = loader;
            this.dialect = dialect;
        }

        Translation translation(Class<?> kernels) {
            long t0 = System.nanoTime();
            String source = build(kernels.getName().replace('.', '/'));
            return new Translation(kernels.getName(), dialect, source, kernelNames, System.nanoTime() - t0, false);
        }

        String build(String mainClass) {
            ClassModel cm = model(mainClass);
            for (MethodModel m : cm.methods()) {
                if (!isKernel(m)) continue;
                String name = m.methodName().stringValue();
                if (kernelNames.contains(name)) {
                    throw new UnsupportedKernelException(mainClass.replace('/', '.') + "." + name, null, -1,
                            "two @Kernel methods share the name " + name + " (the kernel name must be unique)");
                }
                kernelNames.add(name);
                nameUses.merge(name, 1, Integer::sum);
                MethodTranslator t = new MethodTranslator(this, cm, m, true, name, List.of());
                // a task's program holds its own kernel only (PKV_ONLY_name): the others' @Constant macros are not set
                kernels.add("#if !defined(PKV_ONLY) || defined(PKV_ONLY_" + name + ")\n" + t.translate() + "#endif\n");
                doubles |= t.usesDoubles;
            }
            if (kernelNames.isEmpty()) {
                throw new IllegalArgumentException(mainClass.replace('/', '.') + " has no @Kernel methods");
            }
            StringBuilder sb = new StringBuilder(dialect.prelude(doubles));
            sb.append("\n/* ---- ").append(mainClass.replace('/', '.')).append(" ---- */\n");
            for (String t : tables) sb.append(t).append('\n');
            for (String p : prototypes) sb.append(p).append(";\n");
            if (!prototypes.isEmpty()) sb.append('\n');
            for (String f : functions) sb.append(f).append('\n');
            for (String k : kernels) sb.append(k).append('\n');
            return sb.toString();
        }

        private ClassModel model(String internalName) {
            return classes.computeIfAbsent(internalName, n -> {
                byte[] bytes = classBytes(loader, n);
                classHashes.put(n, HexFormat.of().formatHex(sha(bytes)));
                return ClassFile.of().parse(bytes);
            });
        }

        @Override
        public String function(String owner, String name, MethodTypeDesc type, List<Expr.ArrayRef> arrayArgs, MethodTranslator caller) {
            // one device function per address space (and known length) of its array arguments, like a C++ template
            StringBuilder key0 = new StringBuilder(owner + "." + name + type.descriptorString());
            for (Expr.ArrayRef a : arrayArgs) key0.append(' ').append(a.space()).append(a.space() == Expr.Space.GLOBAL ? "" : ":" + a.length());
            String key = key0.toString();
            if (inProgress.contains(key)) {
                throw caller.refuse("recursion (" + owner.replace('/', '.') + "." + name + ") is not supported on devices");
            }
            String known = functionNames.get(key);
            if (known != null) return known;
            ClassModel cm = model(owner);
            MethodModel m = cm.methods().stream()
                    .filter(x -> x.methodName().stringValue().equals(name) && x.methodType().stringValue().equals(type.descriptorString()))
                    .findFirst().orElseThrow(() -> caller.refuse("the method " + owner.replace('/', '.') + "." + name
                            + " is not declared in that class (inherited static methods are not supported)"));
            String simple = owner.substring(owner.lastIndexOf('/') + 1).replace('$', '_');
            String base = simple + "_" + name;
            int uses = nameUses.merge(base, 1, Integer::sum);
            String cName = uses == 1 ? base : base + "_" + uses;
            functionNames.put(key, cName);
            MethodTranslator t = new MethodTranslator(this, cm, m, false, cName, arrayArgs);
            inProgress.add(key);
            String text;
            try {
                text = t.translate();
            } finally {
                inProgress.remove(key);
            }
            prototypes.add(t.prototype());
            functions.add(text);
            writes.put(cName, t.writtenArrayParams());
            doubles |= t.usesDoubles;
            return cName;
        }

        @Override
        public Expr.ArrayRef table(String owner, String name, MethodTranslator caller) {
            String key = owner + "." + name;
            Expr.ArrayRef known = tableRefs.get(key);
            if (known != null) return known;
            Object v = staticFinal(owner, name, caller, true);
            String elem = v instanceof float[] ? "float" : v instanceof int[] ? "int" : null;
            int n = java.lang.reflect.Array.getLength(v);
            if (elem == null || n == 0 || n > 65536) {
                throw caller.refuse("the table " + owner.replace('/', '.') + "." + name + " must be a non-empty float[] or int[] (at most 65536)");
            }
            StringBuilder values = new StringBuilder();
            for (int i = 0; i < n; i++) {
                if (i > 0) values.append(", ");
                if (v instanceof float[] f) {
                    if (!Float.isFinite(f[i])) throw caller.refuse("the table " + owner.replace('/', '.') + "." + name + " holds a non-finite value");
                    values.append(Float.toHexString(f[i])).append('f'); // exact
                } else {
                    int x = ((int[]) v)[i];
                    values.append(x == Integer.MIN_VALUE ? "(int) 0x80000000u" : String.valueOf(x));
                }
            }
            String cName = "pkv_table_" + owner.substring(owner.lastIndexOf('/') + 1).replace('$', '_') + "_" + name;
            tables.add("PKV_TABLE " + elem + " " + cName + "[" + n + "] = {" + values + "};");
            Expr.ArrayRef r = new Expr.ArrayRef(cName, elem, elem.equals("float") ? Expr.JType.FLOAT : Expr.JType.INT, Expr.Space.CONSTANT, n);
            tableRefs.put(key, r);
            return r;
        }

        @Override
        public Dialect dialect() {
            return dialect;
        }

        private final Map<String, boolean[]> writes = new HashMap<>();

        @Override
        public boolean[] writes(String cName) {
            return writes.getOrDefault(cName, new boolean[0]);
        }

        @Override
        public Object constant(String owner, String name, MethodTranslator caller) {
            return staticFinal(owner, name, caller, false);
        }

        private Object staticFinal(String owner, String name, MethodTranslator caller, boolean array) {
            try {
                Class<?> c = Class.forName(owner.replace('/', '.'), true, loader);
                Field f = c.getDeclaredField(name);
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || (array ? !f.getType().isArray() : !f.getType().isPrimitive())) {
                    throw caller.refuse("the field " + owner.replace('/', '.') + "." + name
                            + " is not a static final primitive or array (only those are constants on devices)");
                }
                f.setAccessible(true);
                model(owner); // its bytes decide whether a cached translation is still valid
                return f.get(null);
            } catch (ReflectiveOperationException e) {
                throw caller.refuse("cannot read the field " + owner.replace('/', '.') + "." + name + ": " + e);
            }
        }
    }
}
