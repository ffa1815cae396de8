package org.pariskv.compute.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A shared library opened through the FFM API, handing out typed downcall handles.
 *
 * <p>Libraries are opened in the global arena: bindings live for the whole process, as
 * dlopen'd drivers do anyway. Thread-safe (immutable after construction).
 */
public final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final SymbolLookup lookup;

    private NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    /** Opens a library by soname (dlopen search path), e.g. {@code libOpenCL.so.1}. */
    public static NativeLibrary open(String soname) {
        SignalChaining.warnIfMissing(soname);
        return new NativeLibrary(soname, SymbolLookup.libraryLookup(soname, Arena.global()));
    }

    /** Opens a library by absolute path. */
    public static NativeLibrary open(Path path) {
        SignalChaining.warnIfMissing(path.getFileName().toString());
        return new NativeLibrary(path.toString(), SymbolLookup.libraryLookup(path, Arena.global()));
    }

    public String name() {
        return name;
    }

    /** A downcall handle for {@code symbol}; fails with the library name when it is not exported. */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() ->
                new UnsatisfiedLinkError(name + " does not export " + symbol));
        return LINKER.downcallHandle(address, descriptor);
    }

    /** A downcall handle for {@code symbol}, or null when this version of the library does not export it. */
    public MethodHandle optionalFunction(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(a -> LINKER.downcallHandle(a, descriptor)).orElse(null);
    }

    /** The first exported symbol among {@code symbols} (newest ABI first), bound to {@code descriptor}. */
    public MethodHandle firstFunction(FunctionDescriptor descriptor, String... symbols) {
        for (String s : symbols) {
            Optional<MemorySegment> address = lookup.find(s);
            if (address.isPresent()) {
                return LINKER.downcallHandle(address.get(), descriptor);
            }
        }
        throw new UnsatisfiedLinkError(name + " exports none of " + String.join(", ", symbols));
    }

    /** Turns whatever a downcall threw into an unchecked exception (downcalls only throw Errors/RuntimeExceptions). */
    public static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed", t);
    }
}
