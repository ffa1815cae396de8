package org.pariskv.compute.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.pariskv.compute.BackendUnavailableException;
import org.pariskv.compute.ComputeException;
import org.pariskv.compute.ffm.NativeLibrary;

/**
 * Typed FFM bindings of NVRTC, the runtime CUDA C++ compiler. Found by scanning the usual toolkit
 * directories and {@code LD_LIBRARY_PATH} (preloading {@code libnvrtc-builtins} from the same
 * directory, which NVRTC would otherwise dlopen by name and may miss), then by soname.
 *
 * <p>Thread-safe: NVRTC programs are independent; each {@link #compile} owns its own.
 */
public final class Nvrtc {
    private static final int NVRTC_ERROR_INVALID_OPTION = 5;
    private static volatile Object loaded; // Nvrtc or BackendUnavailableException

    private final String location;
    private final MethodHandle nvrtcVersion, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetProgramLogSize,
            nvrtcGetProgramLog, nvrtcGetPTXSize, nvrtcGetPTX, nvrtcDestroyProgram, nvrtcGetErrorString;
    private final MethodHandle nvrtcGetCUBINSize, nvrtcGetCUBIN; // absent before CUDA 11.1

    /** What NVRTC produced: a cubin (native code for one sm) or PTX (JIT-compiled by the driver). */
    public record Output(byte[] image, boolean cubin, String log) {}

    private Nvrtc(NativeLibrary lib) {
        location = lib.name();
        nvrtcVersion = lib.function("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcCreateProgram = lib.function("nvrtcCreateProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        nvrtcCompileProgram = lib.function("nvrtcCompileProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        nvrtcGetProgramLogSize = lib.function("nvrtcGetProgramLogSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetProgramLog = lib.function("nvrtcGetProgramLog", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetPTXSize = lib.function("nvrtcGetPTXSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetPTX = lib.function("nvrtcGetPTX", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcDestroyProgram = lib.function("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nvrtcGetErrorString = lib.function("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        MethodHandle size = null, get = null;
        try {
            size = lib.function("nvrtcGetCUBINSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            get = lib.function("nvrtcGetCUBIN", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        } catch (UnsatisfiedLinkError old) {
            // PTX only
        }
        nvrtcGetCUBINSize = size;
        nvrtcGetCUBIN = get;
    }

    /** The process-wide binding. @throws BackendUnavailableException saying where it looked */
    public static Nvrtc load() {
        Object l = loaded;
        if (l == null) {
            synchronized (Nvrtc.class) {
                l = loaded;
                if (l == null) {
                    l = tryLoad();
                    loaded = l;
                }
            }
        }
        if (l instanceof BackendUnavailableException e) throw e;
        return (Nvrtc) l;
    }

    private static Object tryLoad() {
        List<Path> dirs = searchDirectories();
        List<String> tried = new ArrayList<>();
        for (Path dir : dirs) {
            Optional<Path> lib = newest(dir, "libnvrtc.so.");
            if (lib.isEmpty()) continue;
            newest(dir, "libnvrtc-builtins.so.").ifPresent(b -> {
                try {
                    NativeLibrary.open(b);
                } catch (IllegalArgumentException ignored) {
                    // NVRTC will report a builtins error itself if it really needs it
                }
            });
            try {
                return new Nvrtc(NativeLibrary.open(lib.get()));
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                tried.add(lib.get() + ": " + e.getMessage());
            }
        }
        for (String soname : List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so")) {
            try {
                return new Nvrtc(NativeLibrary.open(soname));
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                tried.add(soname);
            }
        }
        return new BackendUnavailableException("CUDA unavailable: NVRTC (libnvrtc.so.*) not found in " + dirs
                + " nor by soname " + tried + "; install the CUDA toolkit's nvrtc or add its lib dir to LD_LIBRARY_PATH");
    }

    private static List<Path> searchDirectories() {
        List<Path> dirs = new ArrayList<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String p : ld.split(":")) if (!p.isBlank()) dirs.add(Path.of(p));
        }
        dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        try (Stream<Path> s = Files.list(Path.of("/usr/local"))) {
            s.filter(p -> p.getFileName().toString().startsWith("cuda-"))
                    .sorted(Comparator.reverseOrder())
                    .forEach(p -> {
                        dirs.add(p.resolve("targets/x86_64-linux/lib"));
                        dirs.add(p.resolve("lib64"));
                    });
        } catch (IOException | RuntimeException ignored) {
            // no /usr/local
        }
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        return dirs.stream().distinct().toList();
    }

    /** The file in {@code dir} named {@code prefix<version>} with the highest version (digits and dots only). */
    private static Optional<Path> newest(Path dir, String prefix) {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> {
                        String n = p.getFileName().toString();
                        return n.startsWith(prefix) && n.substring(prefix.length()).matches("[0-9][0-9.]*");
                    })
                    .max(Comparator.comparing(p -> versionKey(p.getFileName().toString().substring(prefix.length()))));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String versionKey(String v) {
        StringBuilder k = new StringBuilder();
        for (String part : v.split("\\.")) k.append(String.format("%08d", Long.parseLong(part.isEmpty() ? "0" : part)));
        return k.toString();
    }

    /** Where the library was loaded from. */
    public String location() {
        return location;
    }

    /** {major, minor} of NVRTC. */
    public int[] version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT), minor = a.allocate(JAVA_INT);
            check("nvrtcVersion", (int) nvrtcVersion.invokeExact(major, minor), "");
            return new int[] {major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0)};
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Compiles CUDA C++ for compute capability {@code major.minor}: a cubin for {@code sm_XY}; when this NVRTC does
     * not know that architecture (or predates cubin output), PTX for {@code compute_XY} that the driver JITs.
     *
     * @throws NvrtcException with the program log when the source does not compile
     */
    public Output compile(String name, String source, List<String> options, int major, int minor) {
        if (nvrtcGetCUBIN != null) {
            try {
                return compile(name, source, withArch(options, "--gpu-architecture=sm_" + major + minor), true);
            } catch (NvrtcException e) {
                if (e.code() != NVRTC_ERROR_INVALID_OPTION) throw e;
            }
        }
        return ptx(name, source, options, major, minor);
    }

    /** PTX for {@code compute_XY} (what {@code printKernel} shows, and the fallback image). */
    public Output ptx(String name, String source, List<String> options, int major, int minor) {
        return compile(name, source, withArch(options, "--gpu-architecture=compute_" + major + minor), false);
    }

    private static List<String> withArch(List<String> options, String arch) {
        List<String> all = new ArrayList<>(options);
        all.add(arch);
        return all;
    }

    private Output compile(String name, String source, List<String> options, boolean cubin) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progOut = a.allocate(ADDRESS);
            check("nvrtcCreateProgram", (int) nvrtcCreateProgram.invokeExact(progOut,
                    a.allocateFrom(source, StandardCharsets.UTF_8), a.allocateFrom(name), 0, MemorySegment.NULL,
                    MemorySegment.NULL), "");
            MemorySegment prog = progOut.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int rc = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), opts);
                String log = log(prog);
                if (rc != 0) {
                    throw new NvrtcException("nvrtcCompileProgram", rc, errorString(rc),
                            name + " with " + options + "\n--- program log ---\n" + log);
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                byte[] image;
                if (cubin) {
                    check("nvrtcGetCUBINSize", (int) nvrtcGetCUBINSize.invokeExact(prog, size), log);
                    MemorySegment buf = a.allocate(size.get(JAVA_LONG, 0));
                    check("nvrtcGetCUBIN", (int) nvrtcGetCUBIN.invokeExact(prog, buf), log);
                    image = buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                } else {
                    check("nvrtcGetPTXSize", (int) nvrtcGetPTXSize.invokeExact(prog, size), log);
                    MemorySegment buf = a.allocate(size.get(JAVA_LONG, 0)); // includes the NUL
                    check("nvrtcGetPTX", (int) nvrtcGetPTX.invokeExact(prog, buf), log);
                    image = buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                }
                return new Output(image, cubin, log);
            } finally {
                int ignored = (int) nvrtcDestroyProgram.invokeExact(progOut);
            }
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private String log(MemorySegment prog) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            if ((int) nvrtcGetProgramLogSize.invokeExact(prog, size) != 0) return "(no log)";
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            if ((int) nvrtcGetProgramLog.invokeExact(prog, buf) != 0) return "(no log)";
            return buf.getString(0).strip();
        }
    }

    private String errorString(int code) {
        try {
            MemorySegment s = (MemorySegment) nvrtcGetErrorString.invokeExact(code);
            return s.equals(MemorySegment.NULL) ? "NVRTC_ERROR_" + code : s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "NVRTC_ERROR_" + code;
        }
    }

    private void check(String call, int code, String log) {
        if (code != 0) throw new NvrtcException(call, code, errorString(code), log);
    }

    /** An NVRTC call failed; for compilation the message holds the full program log. */
    public static final class NvrtcException extends ComputeException {
        private final int code;

        NvrtcException(String call, int code, String name, String detail) {
            super(call + " failed: " + name + " (" + code + ")" + (detail.isEmpty() ? "" : "\n" + detail));
            this.code = code;
        }

        public int code() {
            return code;
        }
    }
}
