package org.pariskv.compute.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.pariskv.compute.BackendUnavailableException;
import org.pariskv.compute.ffm.NativeLibrary;

/**
 * Typed FFM bindings of the OpenCL ICD loader {@code libOpenCL.so.1}: one Java method per C function,
 * errors turned into {@link ClException}. Handles ({@code cl_context}, {@code cl_mem}, ...) are plain
 * {@link MemorySegment} addresses; the {@code Cl*} classes wrap them with ownership.
 *
 * <p>Thread-safe: the handles are immutable, and OpenCL itself is thread-safe except for
 * {@code clSetKernelArg} on one kernel object (serialised by {@link ClKernel}).
 */
public final class OpenCl {
    /** The exact soname of the ICD loader (the unversioned name is only a dev symlink). */
    public static final String LIBRARY = "libOpenCL.so.1";

    // cl.h constants used by this layer
    public static final long CL_DEVICE_TYPE_CPU = 1L << 1, CL_DEVICE_TYPE_GPU = 1L << 2,
            CL_DEVICE_TYPE_ACCELERATOR = 1L << 3, CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    public static final int CL_PLATFORM_VERSION = 0x0901, CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VENDOR = 0x0903;
    public static final int CL_DEVICE_TYPE = 0x1000, CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002,
            CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004, CL_DEVICE_MAX_CLOCK_FREQUENCY = 0x100C,
            CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010, CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F,
            CL_DEVICE_LOCAL_MEM_SIZE = 0x1023, CL_DEVICE_NAME = 0x102B, CL_DEVICE_VENDOR = 0x102C,
            CL_DRIVER_VERSION = 0x102D, CL_DEVICE_VERSION = 0x102F;
    public static final long CL_QUEUE_PROFILING_ENABLE = 1L << 1;
    public static final long CL_MEM_READ_WRITE = 1, CL_MEM_WRITE_ONLY = 1 << 1, CL_MEM_READ_ONLY = 1 << 2,
            CL_MEM_USE_HOST_PTR = 1 << 3, CL_MEM_ALLOC_HOST_PTR = 1 << 4, CL_MEM_COPY_HOST_PTR = 1 << 5;
    public static final long CL_MAP_READ = 1, CL_MAP_WRITE = 1 << 1;
    public static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    public static final int CL_KERNEL_WORK_GROUP_SIZE = 0x11B0, CL_KERNEL_LOCAL_MEM_SIZE = 0x11B2,
            CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE = 0x11B3;
    public static final int CL_PROFILING_COMMAND_START = 0x1282, CL_PROFILING_COMMAND_END = 0x1283;

    private static volatile Object loaded; // OpenCl or BackendUnavailableException

    private final MethodHandle clGetPlatformIDs, clGetPlatformInfo, clGetDeviceIDs, clGetDeviceInfo,
            clCreateContext, clCreateCommandQueue, clCreateBuffer, clEnqueueWriteBuffer, clEnqueueReadBuffer,
            clEnqueueFillBuffer, clEnqueueMapBuffer, clEnqueueUnmapMemObject, clCreateProgramWithSource,
            clBuildProgram, clGetProgramBuildInfo, clCreateKernel, clSetKernelArg, clGetKernelWorkGroupInfo,
            clEnqueueNDRangeKernel, clWaitForEvents, clGetEventProfilingInfo, clFinish, clFlush,
            clReleaseEvent, clReleaseKernel, clReleaseProgram, clReleaseMemObject, clReleaseCommandQueue,
            clReleaseContext;
    private final MethodHandle clEnqueueMarkerWithWaitList; // OpenCL 1.2
    private final MethodHandle clCreateSubBuffer; // OpenCL 1.1
    public static final int CL_DEVICE_MEM_BASE_ADDR_ALIGN = 0x1019, CL_BUFFER_CREATE_TYPE_REGION = 0x1220;

    private OpenCl(NativeLibrary lib) {
        clGetPlatformIDs = lib.function("clGetPlatformIDs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        clGetPlatformInfo = lib.function("clGetPlatformInfo",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        clGetDeviceIDs = lib.function("clGetDeviceIDs",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        clGetDeviceInfo = lib.function("clGetDeviceInfo",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        clCreateContext = lib.function("clCreateContext",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        clCreateCommandQueue = lib.function("clCreateCommandQueue",
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
        clCreateBuffer = lib.function("clCreateBuffer",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS));
        FunctionDescriptor rw = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG,
                ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        clEnqueueWriteBuffer = lib.function("clEnqueueWriteBuffer", rw);
        clEnqueueReadBuffer = lib.function("clEnqueueReadBuffer", rw);
        clEnqueueFillBuffer = lib.function("clEnqueueFillBuffer", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        clEnqueueMapBuffer = lib.function("clEnqueueMapBuffer", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        clEnqueueUnmapMemObject = lib.function("clEnqueueUnmapMemObject",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        clCreateProgramWithSource = lib.function("clCreateProgramWithSource",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        clBuildProgram = lib.function("clBuildProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        clGetProgramBuildInfo = lib.function("clGetProgramBuildInfo",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        clCreateKernel = lib.function("clCreateKernel", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        clSetKernelArg = lib.function("clSetKernelArg",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
        clGetKernelWorkGroupInfo = lib.function("clGetKernelWorkGroupInfo",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        clEnqueueNDRangeKernel = lib.function("clEnqueueNDRangeKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        clWaitForEvents = lib.function("clWaitForEvents", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        clGetEventProfilingInfo = lib.function("clGetEventProfilingInfo",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        FunctionDescriptor oneHandle = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        clFinish = lib.function("clFinish", oneHandle);
        clCreateSubBuffer = lib.function("clCreateSubBuffer", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        clEnqueueMarkerWithWaitList = lib.function("clEnqueueMarkerWithWaitList", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        clFlush = lib.function("clFlush", oneHandle);
        clReleaseEvent = lib.function("clReleaseEvent", oneHandle);
        clReleaseKernel = lib.function("clReleaseKernel", oneHandle);
        clReleaseProgram = lib.function("clReleaseProgram", oneHandle);
        clReleaseMemObject = lib.function("clReleaseMemObject", oneHandle);
        clReleaseCommandQueue = lib.function("clReleaseCommandQueue", oneHandle);
        clReleaseContext = lib.function("clReleaseContext", oneHandle);
    }

    /**
     * The process-wide binding; loads {@value #LIBRARY} once.
     *
     * @throws BackendUnavailableException when the loader is not installed (the reason is remembered)
     */
    public static OpenCl load() {
        Object l = loaded;
        if (l == null) {
            synchronized (OpenCl.class) {
                l = loaded;
                if (l == null) {
                    try {
                        l = new OpenCl(NativeLibrary.open(LIBRARY));
                    } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                        l = new BackendUnavailableException("OpenCL unavailable: cannot load " + LIBRARY
                                + " (" + e.getMessage() + "); install an ICD loader and a driver, e.g. "
                                + "apt-get install ocl-icd-libopencl1 pocl-opencl-icd", e);
                    }
                    loaded = l;
                }
            }
        }
        if (l instanceof BackendUnavailableException e) throw e;
        return (OpenCl) l;
    }

    private static void check(String call, int code) {
        if (code != 0) throw new ClException(call, code);
    }

    private static MemorySegment checked(String call, MemorySegment handle, MemorySegment err) {
        int code = err.get(JAVA_INT, 0);
        if (code != 0) throw new ClException(call, code);
        return handle;
    }

    // ---- platforms and devices ----

    /** All platform ids; empty when the loader finds no vendor driver. */
    public List<MemorySegment> platformIds() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT);
            int rc = (int) clGetPlatformIDs.invokeExact(0, MemorySegment.NULL, count);
            if (rc == -1001 || (rc == 0 && count.get(JAVA_INT, 0) == 0)) return List.of();
            check("clGetPlatformIDs", rc);
            int n = count.get(JAVA_INT, 0);
            MemorySegment ids = a.allocate(ADDRESS, n);
            check("clGetPlatformIDs", (int) clGetPlatformIDs.invokeExact(n, ids, MemorySegment.NULL));
            return handles(ids, n);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public String platformInfo(MemorySegment platform, int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            check("clGetPlatformInfo", (int) clGetPlatformInfo.invokeExact(platform, param, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            check("clGetPlatformInfo", (int) clGetPlatformInfo.invokeExact(platform, param, buf.byteSize(), buf, MemorySegment.NULL));
            return buf.getString(0).trim();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Device ids of {@code type} on a platform; empty (not an error) when it has none of that type. */
    public List<MemorySegment> deviceIds(MemorySegment platform, long type) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT);
            int rc = (int) clGetDeviceIDs.invokeExact(platform, type, 0, MemorySegment.NULL, count);
            if (rc == -1) return List.of(); // CL_DEVICE_NOT_FOUND
            check("clGetDeviceIDs", rc);
            int n = count.get(JAVA_INT, 0);
            MemorySegment ids = a.allocate(ADDRESS, n);
            check("clGetDeviceIDs", (int) clGetDeviceIDs.invokeExact(platform, type, n, ids, MemorySegment.NULL));
            return handles(ids, n);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public String deviceInfoString(MemorySegment device, int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            check("clGetDeviceInfo", (int) clGetDeviceInfo.invokeExact(device, param, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            check("clGetDeviceInfo", (int) clGetDeviceInfo.invokeExact(device, param, buf.byteSize(), buf, MemorySegment.NULL));
            return buf.getString(0).trim();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** A {@code cl_uint}, {@code cl_ulong}, {@code size_t} or bitfield device property, widened to long. */
    public long deviceInfoNumber(MemorySegment device, int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_LONG); // zeroed: a 4-byte answer fills the low half
            MemorySegment size = a.allocate(JAVA_LONG);
            check("clGetDeviceInfo", (int) clGetDeviceInfo.invokeExact(device, param, 8L, value, size));
            return size.get(JAVA_LONG, 0) == 4 ? Integer.toUnsignedLong(value.get(JAVA_INT, 0)) : value.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- context and queue ----

    public MemorySegment createContext(MemorySegment device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment devices = a.allocate(ADDRESS);
            devices.set(ADDRESS, 0, device);
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment ctx = (MemorySegment) clCreateContext.invokeExact(MemorySegment.NULL, 1, devices,
                    MemorySegment.NULL, MemorySegment.NULL, err);
            return checked("clCreateContext", ctx, err);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public MemorySegment createCommandQueue(MemorySegment context, MemorySegment device, long properties) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment q = (MemorySegment) clCreateCommandQueue.invokeExact(context, device, properties, err);
            return checked("clCreateCommandQueue", q, err);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void finish(MemorySegment queue) {
        try {
            check("clFinish", (int) clFinish.invokeExact(queue));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void flush(MemorySegment queue) {
        try {
            check("clFlush", (int) clFlush.invokeExact(queue));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- buffers ----

    /** {@code clCreateBuffer}; {@code hostPtr} is NULL unless flags carry USE_HOST_PTR / COPY_HOST_PTR. */
    public MemorySegment createBuffer(MemorySegment context, long flags, long bytes, MemorySegment hostPtr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment mem = (MemorySegment) clCreateBuffer.invokeExact(context, flags, bytes, hostPtr, err);
            int code = err.get(JAVA_INT, 0);
            if (code != 0) throw new ClException("clCreateBuffer", code, "requested " + bytes + " bytes");
            return mem;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Blocking write of {@code src} (a native segment) into {@code mem} at {@code offset}. */
    public void writeBuffer(MemorySegment queue, MemorySegment mem, long offset, MemorySegment src) {
        writeBuffer(queue, mem, offset, src, true);
    }

    /** Write of {@code src} (a native segment) into {@code mem} at {@code offset}; non-blocking: src must outlive it. */
    public void writeBuffer(MemorySegment queue, MemorySegment mem, long offset, MemorySegment src, boolean blocking) {
        try {
            check("clEnqueueWriteBuffer", (int) clEnqueueWriteBuffer.invokeExact(queue, mem, blocking ? 1 : 0, offset, src.byteSize(),
                    src, 0, MemorySegment.NULL, MemorySegment.NULL));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Blocking read of {@code dst.byteSize()} bytes of {@code mem} at {@code offset} into {@code dst}. */
    public void readBuffer(MemorySegment queue, MemorySegment mem, long offset, MemorySegment dst) {
        try {
            check("clEnqueueReadBuffer", (int) clEnqueueReadBuffer.invokeExact(queue, mem, 1, offset, dst.byteSize(),
                    dst, 0, MemorySegment.NULL, MemorySegment.NULL));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Fills {@code bytes} of {@code mem} with a repeated pattern (1, 2, 4, ... 128 bytes); waits for it. */
    public void fillBuffer(MemorySegment queue, MemorySegment mem, MemorySegment pattern, long offset, long bytes) {
        try {
            check("clEnqueueFillBuffer", (int) clEnqueueFillBuffer.invokeExact(queue, mem, pattern, pattern.byteSize(),
                    offset, bytes, 0, MemorySegment.NULL, MemorySegment.NULL));
            finish(queue);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Blocking map; the returned segment is valid until {@link #unmap}. */
    public MemorySegment mapBuffer(MemorySegment queue, MemorySegment mem, long mapFlags, long offset, long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment p = (MemorySegment) clEnqueueMapBuffer.invokeExact(queue, mem, 1, mapFlags, offset, bytes,
                    0, MemorySegment.NULL, MemorySegment.NULL, err);
            return checked("clEnqueueMapBuffer", p, err).reinterpret(bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void unmap(MemorySegment queue, MemorySegment mem, MemorySegment mapped) {
        try {
            check("clEnqueueUnmapMemObject", (int) clEnqueueUnmapMemObject.invokeExact(queue, mem, mapped, 0,
                    MemorySegment.NULL, MemorySegment.NULL));
            finish(queue);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- programs and kernels ----

    public MemorySegment createProgramWithSource(MemorySegment context, String source) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment text = a.allocateFrom(source, StandardCharsets.UTF_8);
            MemorySegment strings = a.allocate(ADDRESS);
            strings.set(ADDRESS, 0, text);
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment p = (MemorySegment) clCreateProgramWithSource.invokeExact(context, 1, strings,
                    MemorySegment.NULL, err);
            return checked("clCreateProgramWithSource", p, err);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Builds for one device; returns the raw status (0 on success) so the caller can attach the build log. */
    public int buildProgram(MemorySegment program, MemorySegment device, String options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment devices = a.allocate(ADDRESS);
            devices.set(ADDRESS, 0, device);
            return (int) clBuildProgram.invokeExact(program, 1, devices, a.allocateFrom(options),
                    MemorySegment.NULL, MemorySegment.NULL);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public String buildLog(MemorySegment program, MemorySegment device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            check("clGetProgramBuildInfo", (int) clGetProgramBuildInfo.invokeExact(program, device,
                    CL_PROGRAM_BUILD_LOG, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            check("clGetProgramBuildInfo", (int) clGetProgramBuildInfo.invokeExact(program, device,
                    CL_PROGRAM_BUILD_LOG, buf.byteSize(), buf, MemorySegment.NULL));
            return buf.getString(0).strip();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public MemorySegment createKernel(MemorySegment program, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment k = (MemorySegment) clCreateKernel.invokeExact(program, a.allocateFrom(name), err);
            int code = err.get(JAVA_INT, 0);
            if (code != 0) throw new ClException("clCreateKernel", code, "kernel '" + name + "'");
            return k;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code clSetKernelArg}; {@code value} NULL with a size means a {@code __local} buffer of that size. */
    public void setKernelArg(MemorySegment kernel, int index, long size, MemorySegment value) {
        try {
            int rc = (int) clSetKernelArg.invokeExact(kernel, index, size, value);
            if (rc != 0) throw new ClException("clSetKernelArg", rc, "argument #" + index + " (" + size + " bytes)");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public long kernelWorkGroupInfo(MemorySegment kernel, MemorySegment device, int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_LONG);
            check("clGetKernelWorkGroupInfo", (int) clGetKernelWorkGroupInfo.invokeExact(kernel, device, param, 8L,
                    value, MemorySegment.NULL));
            return value.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Enqueues a kernel over {@code global} work-items in groups of {@code local} (null: the driver picks).
     *
     * @return the event when {@code wantEvent}, else NULL; the caller releases it
     */
    public MemorySegment enqueueNDRange(MemorySegment queue, MemorySegment kernel, long[] global, long[] local,
                                        boolean wantEvent) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocateFrom(JAVA_LONG, global);
            MemorySegment l = local == null ? MemorySegment.NULL : a.allocateFrom(JAVA_LONG, local);
            MemorySegment ev = wantEvent ? a.allocate(ADDRESS) : MemorySegment.NULL;
            int rc = (int) clEnqueueNDRangeKernel.invokeExact(queue, kernel, global.length, MemorySegment.NULL, g, l,
                    0, MemorySegment.NULL, ev);
            if (rc != 0) {
                throw new ClException("clEnqueueNDRangeKernel", rc, "global " + java.util.Arrays.toString(global)
                        + ", local " + (local == null ? "auto" : java.util.Arrays.toString(local)));
            }
            return wantEvent ? ev.get(ADDRESS, 0) : MemorySegment.NULL;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code clCreateSubBuffer} of region [origin, origin + size), flags inherited. */
    public MemorySegment createSubBuffer(MemorySegment mem, long origin, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment region = a.allocate(JAVA_LONG, 2);
            region.setAtIndex(JAVA_LONG, 0, origin);
            region.setAtIndex(JAVA_LONG, 1, size);
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment sub = (MemorySegment) clCreateSubBuffer.invokeExact(mem, 0L, CL_BUFFER_CREATE_TYPE_REGION, region, err);
            int code = err.get(JAVA_INT, 0);
            if (code != 0) throw new ClException("clCreateSubBuffer", code, "region [" + origin + ", " + (origin + size) + ")");
            return sub;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** A marker after everything enqueued so far; its event (released by the caller) completes when they have. */
    public MemorySegment enqueueMarker(MemorySegment queue) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(ADDRESS);
            check("clEnqueueMarkerWithWaitList", (int) clEnqueueMarkerWithWaitList.invokeExact(queue, 0, MemorySegment.NULL, ev));
            return ev.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void waitForEvent(MemorySegment event) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment list = a.allocate(ADDRESS);
            list.set(ADDRESS, 0, event);
            check("clWaitForEvents", (int) clWaitForEvents.invokeExact(1, list));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** A profiling timestamp in ns ({@link #CL_PROFILING_COMMAND_START} / {@link #CL_PROFILING_COMMAND_END}). */
    public long eventProfilingInfo(MemorySegment event, int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_LONG);
            check("clGetEventProfilingInfo", (int) clGetEventProfilingInfo.invokeExact(event, param, 8L, value,
                    MemorySegment.NULL));
            return value.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- release ----

    public void releaseEvent(MemorySegment h) {
        release("clReleaseEvent", clReleaseEvent, h);
    }

    public void releaseKernel(MemorySegment h) {
        release("clReleaseKernel", clReleaseKernel, h);
    }

    public void releaseProgram(MemorySegment h) {
        release("clReleaseProgram", clReleaseProgram, h);
    }

    public void releaseMemObject(MemorySegment h) {
        release("clReleaseMemObject", clReleaseMemObject, h);
    }

    public void releaseCommandQueue(MemorySegment h) {
        release("clReleaseCommandQueue", clReleaseCommandQueue, h);
    }

    public void releaseContext(MemorySegment h) {
        release("clReleaseContext", clReleaseContext, h);
    }

    private static void release(String call, MethodHandle mh, MemorySegment handle) {
        if (handle == null || handle.equals(MemorySegment.NULL)) return;
        try {
            check(call, (int) mh.invokeExact(handle));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private static List<MemorySegment> handles(MemorySegment array, int n) {
        List<MemorySegment> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(array.getAtIndex(ADDRESS, i));
        return List.copyOf(out);
    }
}
