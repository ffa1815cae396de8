/**
 * The compute layer: devices, backends and the task-graph runtime that the ParisKV kernels run on.
 *
 * <pre>
 *  tasks/pkv.h + tasks/*.c ──KernelSource──▶ Backend.compile ──▶ Program ──▶ Kernel
 *                                              │  (sealed: JavaBackend | OpenClBackend | CudaBackend)
 *  graph.TaskGraph ──snapshot──▶ ImmutableTaskGraph ──▶ graph.ExecutionPlan ──execute──▶ ExecutionResult
 *        task(name, javaTwin, grid, args…)                 withDevice(DeviceSpec)        per-task TaskProfile
 * </pre>
 *
 * <ul>
 *   <li>{@link org.pariskv.compute.Devices#list()} finds java, every OpenCL device and every CUDA device and
 *       never throws; {@link org.pariskv.compute.DeviceSpec} parses {@code java|opencl[:N]|cuda[:N]|auto}.</li>
 *   <li>{@code opencl} and {@code cuda} subpackages are small typed FFM bindings (no JNI, no generated code)
 *       of {@code libOpenCL.so.1}, {@code libcuda.so.1} and NVRTC.</li>
 *   <li>Every device task has a Java twin; on the java backend the twin runs instead of the kernel, and tests
 *       hold the twins against the kernels.</li>
 * </ul>
 */
package org.pariskv.compute;
