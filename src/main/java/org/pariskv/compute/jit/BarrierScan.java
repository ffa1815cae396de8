package org.pariskv.compute.jit;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeElement;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.reflect.Method;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether a kernel waits at a barrier, read from its bytecode and that of the static methods it calls: the JVM
 * executor then runs its work-items as threads; without one a plain loop is exact.
 */
public final class BarrierScan {
    private static final Map<Method, Boolean> CACHE = new ConcurrentHashMap<>();

    private BarrierScan() {}

    public static boolean usesBarrier(Method kernel) {
        return CACHE.computeIfAbsent(kernel, m -> scan(m.getDeclaringClass().getClassLoader(),
                m.getDeclaringClass().getName().replace('.', '/'), m.getName(),
                java.lang.invoke.MethodType.methodType(m.getReturnType(), m.getParameterTypes()).toMethodDescriptorString(),
                new HashSet<>()));
    }

    private static boolean scan(ClassLoader loader, String owner, String name, String desc, Set<String> seen) {
        if (!seen.add(owner + "." + name + desc)) return false;
        ClassModel cm = ClassFile.of().parse(KernelTranslator.classBytes(loader, owner));
        for (MethodModel m : cm.methods()) {
            if (!m.methodName().stringValue().equals(name) || !m.methodType().stringValue().equals(desc)) continue;
            if (m.code().isEmpty()) return false;
            for (CodeElement e : m.code().get()) {
                if (!(e instanceof InvokeInstruction inv)) continue;
                String o = inv.owner().asInternalName(), n = inv.name().stringValue();
                if (o.equals(MethodTranslator.CONTEXT) && (n.equals("barrier") || n.equals("globalBarrier"))) return true;
                if (inv.opcode() == java.lang.classfile.Opcode.INVOKESTATIC && !o.startsWith("java/") && !o.startsWith("jdk/")
                        && scan(loader, o, n, inv.type().stringValue(), seen)) {
                    return true;
                }
            }
        }
        return false;
    }
}
