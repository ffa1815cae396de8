package org.pariskv.compute.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import org.pariskv.compute.BackendUnavailableException;
import org.pariskv.compute.ffm.NativeLibrary;

/**
 * Typed FFM bindings of the CUDA driver API in {@code libcuda.so.1}: one Java method per C function,
 * the {@code _v2} ABI where one exists, errors turned into {@link CudaException} with the name
 * from {@code cuGetErrorName}.
 *
 * <p>The driver is thread-safe, but the current context is per thread: every caller goes through
 * {@link CudaContext}, which makes its context current before each call.
 */
public final class CudaDriver {
    /** The exact soname of the driver library. */
    public static final String LIBRARY = "libcuda.so.1";

    // CUdevice_attribute values used here (cuda.h)
    public static final int ATTR_MAX_THREADS_PER_BLOCK = 1, ATTR_MAX_SHARED_MEMORY_PER_BLOCK = 8,
            ATTR_WARP_SIZE = 10, ATTR_MULTIPROCESSOR_COUNT = 16, ATTR_CAN_MAP_HOST_MEMORY = 19,
            ATTR_MEMORY_CLOCK_RATE = 36, ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37, ATTR_UNIFIED_ADDRESSING = 41,
            ATTR_COMPUTE_CAPABILITY_MAJOR = 75, ATTR_COMPUTE_CAPABILITY_MINOR = 76,
            ATTR_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 91, ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    /** CUfunction_attribute: allow more than 48 KiB of dynamic shared memory. */
    public static final int FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    /** cuMemHostAlloc / cuMemHostRegister flags. */
    public static final int HOST_PORTABLE = 1, HOST_DEVICEMAP = 2, HOST_ALLOC_WRITECOMBINED = 4,
            HOST_REGISTER_READ_ONLY = 8;
    // CUjit_option values for the JIT log buffers
    private static final int JIT_INFO_LOG_BUFFER = 3, JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
            JIT_ERROR_LOG_BUFFER = 5, JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    private static final int JIT_LOG_BYTES = 16 * 1024;

    private static volatile Object loaded; // CudaDriver or BackendUnavailableException

    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
            cuCtxSetCurrent, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyHtoDAsync, cuMemcpyDtoH, cuMemsetD8,
            cuMemGetInfo, cuMemHostAlloc, cuMemFreeHost, cuMemHostRegister, cuMemHostUnregister,
            cuMemHostGetDevicePointer, cuModuleLoadDataEx, cuModuleGetFunction, cuModuleUnload, cuFuncSetAttribute,
            cuLaunchKernel, cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy,
            cuStreamSynchronize, cuGetErrorName;
    // streams and graphs: a step's launches recorded once by stream capture and replayed
    private final MethodHandle cuStreamCreate, cuStreamDestroy, cuStreamBeginCapture, cuStreamEndCapture,
            cuGraphInstantiate, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy;
    // programmatic dependent launch (CUDA 12, sm_90): a kernel may start while the one before it finishes
    private final MethodHandle cuLaunchKernelEx;
    private static final int LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final long LAUNCH_CONFIG_BYTES = 56, LAUNCH_ATTRIBUTE_BYTES = 72; // CUlaunchConfig, CUlaunchAttribute
    /** CUstreamCaptureMode: only this thread's unsafe calls are refused while it captures. */
    public static final int STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    private CudaDriver(NativeLibrary lib) {
        cuInit = lib.function("cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        cuDriverGetVersion = lib.function("cuDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuDeviceGetCount = lib.function("cuDeviceGetCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuDeviceGet = lib.function("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDeviceGetName = lib.function("cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceGetAttribute = lib.function("cuDeviceGetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceTotalMem = lib.function("cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRetain = lib.function("cuDevicePrimaryCtxRetain",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRelease = lib.firstFunction(FunctionDescriptor.of(JAVA_INT, JAVA_INT),
                "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
        cuCtxSetCurrent = lib.function("cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuCtxSynchronize = lib.function("cuCtxSynchronize", FunctionDescriptor.of(JAVA_INT));
        cuMemAlloc = lib.function("cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        cuMemFree = lib.function("cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        cuMemcpyHtoD = lib.function("cuMemcpyHtoD_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG));
        cuMemcpyHtoDAsync = lib.function("cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        cuMemcpyDtoH = lib.function("cuMemcpyDtoH_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        cuMemsetD8 = lib.function("cuMemsetD8_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG));
        cuMemGetInfo = lib.function("cuMemGetInfo_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuMemHostAlloc = lib.function("cuMemHostAlloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        cuMemFreeHost = lib.function("cuMemFreeHost", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuMemHostRegister = lib.function("cuMemHostRegister_v2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        cuMemHostUnregister = lib.function("cuMemHostUnregister", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuMemHostGetDevicePointer = lib.function("cuMemHostGetDevicePointer_v2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        cuModuleLoadDataEx = lib.function("cuModuleLoadDataEx",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        cuModuleGetFunction = lib.function("cuModuleGetFunction",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuModuleUnload = lib.function("cuModuleUnload", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuFuncSetAttribute = lib.function("cuFuncSetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuLaunchKernel = lib.function("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuEventCreate = lib.function("cuEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuEventRecord = lib.function("cuEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuEventSynchronize = lib.function("cuEventSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuEventElapsedTime = lib.firstFunction(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
                "cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuEventDestroy = lib.firstFunction(FunctionDescriptor.of(JAVA_INT, ADDRESS),
                "cuEventDestroy_v2", "cuEventDestroy");
        cuStreamSynchronize = lib.function("cuStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuGetErrorName = lib.function("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuStreamCreate = lib.function("cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamDestroy = lib.firstFunction(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cuStreamDestroy_v2", "cuStreamDestroy");
        cuStreamBeginCapture = lib.optionalFunction("cuStreamBeginCapture_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamEndCapture = lib.optionalFunction("cuStreamEndCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuGraphInstantiate = lib.optionalFunction("cuGraphInstantiateWithFlags", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        cuGraphLaunch = lib.optionalFunction("cuGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuGraphExecDestroy = lib.optionalFunction("cuGraphExecDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuGraphDestroy = lib.optionalFunction("cuGraphDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuLaunchKernelEx = lib.optionalFunction("cuLaunchKernelEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    }

    /** Whether this driver has {@code cuLaunchKernelEx}, hence programmatic dependent launches. */
    public boolean hasDependentLaunch() {
        return cuLaunchKernelEx != null;
    }

    /**
     * {@code cuLaunchKernelEx} with programmatic stream serialization: the kernel may be scheduled before the one
     * enqueued just before it on {@code stream} has finished, once that one's blocks have all executed
     * {@code griddepcontrol.launch_dependents} (or exited). The kernel must execute {@code griddepcontrol.wait} before
     * it reads what its predecessor writes ({@code AWAIT_INPUTS} in pkv.h). Captured into graphs as programmatic edges.
     */
    public void launchKernelDependent(MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                                      MemorySegment params) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment attr = a.allocate(LAUNCH_ATTRIBUTE_BYTES, 8); // zeroed
            attr.set(JAVA_INT, 0, LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
            attr.set(JAVA_INT, 8, 1); // value.programmaticStreamSerializationAllowed
            MemorySegment cfg = a.allocate(LAUNCH_CONFIG_BYTES, 8);
            for (int d = 0; d < 3; d++) {
                cfg.set(JAVA_INT, 4L * d, grid[d]);
                cfg.set(JAVA_INT, 12 + 4L * d, block[d]);
            }
            cfg.set(JAVA_INT, 24, sharedBytes);
            cfg.set(ADDRESS, 32, stream);
            cfg.set(ADDRESS, 40, attr);
            cfg.set(JAVA_INT, 48, 1);
            int rc = (int) cuLaunchKernelEx.invokeExact(cfg, function, params, MemorySegment.NULL);
            check("cuLaunchKernelEx", rc, "grid " + java.util.Arrays.toString(grid) + ", block "
                    + java.util.Arrays.toString(block) + ", dynamic shared " + sharedBytes + " B, programmatic serialization");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * The process-wide binding, with {@code cuInit(0)} done; loads {@value #LIBRARY} once.
     *
     * @throws BackendUnavailableException when the driver is absent or cuInit fails (reason remembered)
     */
    public static CudaDriver load() {
        Object l = loaded;
        if (l == null) {
            synchronized (CudaDriver.class) {
                l = loaded;
                if (l == null) {
                    l = tryLoad();
                    loaded = l;
                }
            }
        }
        if (l instanceof BackendUnavailableException e) throw e;
        return (CudaDriver) l;
    }

    private static Object tryLoad() {
        CudaDriver d;
        try {
            d = new CudaDriver(NativeLibrary.open(LIBRARY));
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return new BackendUnavailableException("CUDA unavailable: cannot load " + LIBRARY + " (" + e.getMessage()
                    + "); an NVIDIA driver is needed", e);
        }
        try {
            d.init();
        } catch (CudaException e) {
            return new BackendUnavailableException("CUDA unavailable: " + e.getMessage(), e);
        }
        return d;
    }

    /** The symbolic name of a CUresult ({@code CUDA_ERROR_OUT_OF_MEMORY}). */
    public String errorName(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) cuGetErrorName.invokeExact(code, p);
            MemorySegment s = p.get(ADDRESS, 0);
            if (rc != 0 || s.equals(MemorySegment.NULL)) return "CUDA_ERROR_" + code;
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUDA_ERROR_" + code;
        }
    }

    void check(String call, int code) {
        if (code != 0) throw new CudaException(call, code, errorName(code), "");
    }

    void check(String call, int code, String detail) {
        if (code != 0) throw new CudaException(call, code, errorName(code), detail);
    }

    // ---- init and devices ----

    public void init() {
        try {
            check("cuInit", (int) cuInit.invokeExact(0));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Driver version as {@code 1000*major + 10*minor} (13000 for CUDA 13.0). */
    public int driverVersion() {
        return intOut("cuDriverGetVersion", cuDriverGetVersion);
    }

    public int deviceCount() {
        return intOut("cuDeviceGetCount", cuDeviceGetCount);
    }

    /** The CUdevice of ordinal {@code ordinal}. */
    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(out, ordinal));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(buf, 256, device));
            return buf.getString(0).trim();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public int deviceAttribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute", (int) cuDeviceGetAttribute.invokeExact(out, attribute, device),
                    "attribute " + attribute);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public long deviceTotalMem(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check("cuDeviceTotalMem_v2", (int) cuDeviceTotalMem.invokeExact(out, device));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- contexts ----

    public MemorySegment primaryCtxRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(out, device));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void primaryCtxRelease(int device) {
        try {
            check("cuDevicePrimaryCtxRelease_v2", (int) cuDevicePrimaryCtxRelease.invokeExact(device));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void ctxSetCurrent(MemorySegment context) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(context));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void ctxSynchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- memory ----

    /** A device allocation; returns the CUdeviceptr. */
    public long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check("cuMemAlloc_v2", (int) cuMemAlloc.invokeExact(out, bytes), "requested " + bytes + " bytes");
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void memFree(long devicePtr) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(devicePtr));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Synchronous host-to-device copy of the whole of {@code src} (native memory). */
    public void memcpyHtoD(long dst, MemorySegment src) {
        try {
            check("cuMemcpyHtoD_v2", (int) cuMemcpyHtoD.invokeExact(dst, src, src.byteSize()));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Host-to-device copy of the whole of {@code src} enqueued on {@code stream}, in order with its launches. From
     * page-locked memory it is a DMA the host does not wait for; {@code src} must then stay unchanged until it ran.
     */
    public void memcpyHtoDAsync(long dst, MemorySegment src, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, src.byteSize(), stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Synchronous device-to-host copy filling {@code dst} (native memory). */
    public void memcpyDtoH(MemorySegment dst, long src) {
        try {
            check("cuMemcpyDtoH_v2", (int) cuMemcpyDtoH.invokeExact(dst, src, dst.byteSize()));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void memsetD8(long dst, byte value, long bytes) {
        try {
            check("cuMemsetD8_v2", (int) cuMemsetD8.invokeExact(dst, value, bytes));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {free, total} device memory of the current context's device. */
    public long[] memGetInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG);
            MemorySegment total = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(free, total));
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Page-locked host memory ({@link #HOST_DEVICEMAP} makes it addressable by kernels). */
    public MemorySegment memHostAlloc(long bytes, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuMemHostAlloc", (int) cuMemHostAlloc.invokeExact(out, bytes, flags), "requested " + bytes + " bytes");
            return out.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void memFreeHost(MemorySegment host) {
        try {
            check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(host));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Page-locks existing host memory (expensive: do it once per segment). */
    public void memHostRegister(MemorySegment host, int flags) {
        try {
            check("cuMemHostRegister_v2", (int) cuMemHostRegister.invokeExact(host, host.byteSize(), flags));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void memHostUnregister(MemorySegment host) {
        try {
            check("cuMemHostUnregister", (int) cuMemHostUnregister.invokeExact(host));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** The device address of mapped host memory. */
    public long memHostGetDevicePointer(MemorySegment host) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check("cuMemHostGetDevicePointer_v2", (int) cuMemHostGetDevicePointer.invokeExact(out, host, 0));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- modules and launches ----

    /** Loads a cubin or NUL-terminated PTX image; JIT info and error logs are attached to failures. */
    public MemorySegment moduleLoadDataEx(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(JIT_LOG_BYTES);
            MemorySegment error = a.allocate(JIT_LOG_BYTES);
            MemorySegment options = a.allocateFrom(JAVA_INT, JIT_INFO_LOG_BUFFER, JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                    JIT_ERROR_LOG_BUFFER, JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = a.allocate(ADDRESS, 4);
            values.setAtIndex(ADDRESS, 0, info);
            values.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(JIT_LOG_BYTES)); // sizes travel as pointer-sized ints
            values.setAtIndex(ADDRESS, 2, error);
            values.setAtIndex(ADDRESS, 3, MemorySegment.ofAddress(JIT_LOG_BYTES));
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) cuModuleLoadDataEx.invokeExact(out, image, 4, options, values);
            check("cuModuleLoadDataEx", rc, "JIT error log: " + error.getString(0) + "\nJIT info log: " + info.getString(0));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuModuleGetFunction", (int) cuModuleGetFunction.invokeExact(out, module, a.allocateFrom(name)),
                    "kernel '" + name + "'");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void moduleUnload(MemorySegment module) {
        try {
            check("cuModuleUnload", (int) cuModuleUnload.invokeExact(module));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void funcSetAttribute(MemorySegment function, int attribute, int value) {
        try {
            check("cuFuncSetAttribute", (int) cuFuncSetAttribute.invokeExact(function, attribute, value));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code cuLaunchKernel}; {@code params} is a {@code void*[]} of pointers to each argument value. */
    public void launchKernel(MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
                             MemorySegment params) {
        try {
            int rc = (int) cuLaunchKernel.invokeExact(function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                    sharedBytes, stream, params, MemorySegment.NULL);
            check("cuLaunchKernel", rc, "grid " + java.util.Arrays.toString(grid) + ", block "
                    + java.util.Arrays.toString(block) + ", dynamic shared " + sharedBytes + " B");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public MemorySegment eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuEventCreate", (int) cuEventCreate.invokeExact(out, 0));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void eventSynchronize(MemorySegment event) {
        try {
            check("cuEventSynchronize", (int) cuEventSynchronize.invokeExact(event));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Milliseconds between two completed events (about 0.5 us resolution). */
    public float eventElapsedMillis(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(out, start, end));
            return out.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void eventDestroy(MemorySegment event) {
        try {
            check("cuEventDestroy_v2", (int) cuEventDestroy.invokeExact(event));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void streamSynchronize(MemorySegment stream) {
        try {
            check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** A stream that waits for the legacy default stream and the legacy one for it (flags 0), so blocking copies stay ordered. */
    public MemorySegment streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(out, 0));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void streamDestroy(MemorySegment stream) {
        try {
            check("cuStreamDestroy", (int) cuStreamDestroy.invokeExact(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Whether this driver has what stream capture into CUDA graphs needs (CUDA 11.4 or later). */
    public boolean supportsGraphs() {
        return cuStreamBeginCapture != null && cuStreamEndCapture != null && cuGraphInstantiate != null
                && cuGraphLaunch != null && cuGraphExecDestroy != null && cuGraphDestroy != null;
    }

    /** From now on work enqueued on {@code stream} is recorded into a graph instead of running. */
    public void streamBeginCapture(MemorySegment stream, int mode) {
        try {
            check("cuStreamBeginCapture_v2", (int) cuStreamBeginCapture.invokeExact(stream, mode));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Ends a capture and returns the recorded CUgraph. */
    public MemorySegment streamEndCapture(MemorySegment stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuStreamEndCapture", (int) cuStreamEndCapture.invokeExact(stream, out));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** An executable CUgraphExec of {@code graph}. */
    public MemorySegment graphInstantiate(MemorySegment graph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check("cuGraphInstantiateWithFlags", (int) cuGraphInstantiate.invokeExact(out, graph, 0L));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void graphLaunch(MemorySegment exec, MemorySegment stream) {
        try {
            check("cuGraphLaunch", (int) cuGraphLaunch.invokeExact(exec, stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void graphExecDestroy(MemorySegment exec) {
        try {
            check("cuGraphExecDestroy", (int) cuGraphExecDestroy.invokeExact(exec));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void graphDestroy(MemorySegment graph) {
        try {
            check("cuGraphDestroy", (int) cuGraphDestroy.invokeExact(graph));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private int intOut(String call, MethodHandle mh) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check(call, (int) mh.invokeExact(out));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }
}
