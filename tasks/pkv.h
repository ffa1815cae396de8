/*
 * pkv.h - one kernel source for OpenCL C and CUDA C (NVRTC).
 *
 * Prepended to every tasks/ *.c file by the compute layer (KernelSource.compilable());
 * task files must not #include it themselves. Write kernels with these macros only:
 *
 *   KERNEL void name(GLOBAL const float* x, GLOBAL float* y, int n, LOCAL_ARG(float, scratch)) {
 *       BIND_LOCAL_ARG(float, scratch);          // dynamic local memory (one per kernel)
 *       LOCAL_ARRAY(int, bins, 256);             // fixed-size local memory
 *       int i = GLOBAL_ID(0);  ...  SYNC_THREADS;
 *   }
 *
 * Index macros return int. Helper functions are declared FUNC. bf16 and fp16 are handled by bit
 * operations only: no cuda_fp16.h / cuda_bf16.h (CI machines and NVRTC may lack them).
 * Warp shuffles exist only under CUDA: guard them with #if PKV_HAS_WARP_SHUFFLE.
 */
#ifndef PKV_H
#define PKV_H

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
/* ------------------------------------------------------------------ CUDA C++ */
#define PKV_CUDA 1
#define PKV_OPENCL 0

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long long ulong;

#define KERNEL extern "C" __global__
#define FUNC static __device__ __forceinline__
#define GLOBAL
#define LOCAL __shared__
#define CONSTANT const
#define RESTRICT __restrict__

#define PKV_DIM(v, d) ((d) == 0 ? (v).x : ((d) == 1 ? (v).y : (v).z))
#define LOCAL_ID(d) ((int) PKV_DIM(threadIdx, d))
#define GROUP_ID(d) ((int) PKV_DIM(blockIdx, d))
#define LOCAL_SIZE(d) ((int) PKV_DIM(blockDim, d))
#define NUM_GROUPS(d) ((int) PKV_DIM(gridDim, d))
#define GLOBAL_ID(d) (GROUP_ID(d) * LOCAL_SIZE(d) + LOCAL_ID(d))
#define GLOBAL_SIZE(d) (NUM_GROUPS(d) * LOCAL_SIZE(d))

#define SYNC_THREADS __syncthreads()
#define SYNC_THREADS_GLOBAL __syncthreads()

#define LOCAL_ARRAY(T, name, n) __shared__ T name[n]
/* CUDA has one dynamic shared region: the launcher passes its byte count as this int parameter */
#define LOCAL_ARG(T, name) int name##_local_bytes
#define BIND_LOCAL_ARG(T, name) \
    extern __shared__ __align__(16) unsigned char pkv_dynamic_local[]; \
    T* name = (T*) pkv_dynamic_local

#define ATOMIC_ADD_INT(p, v) atomicAdd((p), (v))
#define ATOMIC_MAX(p, v) atomicMax((p), (v))
#define ATOMIC_MIN(p, v) atomicMin((p), (v))
#define ATOMIC_CAS_INT(p, cmp, v) atomicCAS((p), (cmp), (v))

#define AS_FLOAT(u) __uint_as_float((uint) (u))
#define AS_UINT(f) __float_as_uint(f)
#define AS_INT(f) __float_as_int(f)
#define SQRT(x) sqrtf(x)
#define RSQRT(x) rsqrtf(x)
#define EXP(x) expf(x)
#define LOG(x) logf(x)
#define FABS(x) fabsf(x)
#define FMAX(a, b) fmaxf((a), (b))
#define FMIN(a, b) fminf((a), (b))
#define FMA(a, b, c) fmaf((a), (b), (c))
#define POPCOUNT(x) __popc(x)
#define INFINITY_F __int_as_float(0x7f800000)

#define WARP_SIZE 32
#define PKV_HAS_WARP_SHUFFLE 1
#define UINT4_ZERO make_uint4(0u, 0u, 0u, 0u)
/* bins[bin] += 1 in local memory, one atomic per distinct bin of the warp (histograms with a dominant bin) */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 700
#define LOCAL_HIST_INC(bins, bin) atomicAdd(&(bins)[(bin)], 1)
#else
#define LOCAL_HIST_INC(bins, bin) do { \
        int pkv_bin_ = (bin); \
        unsigned pkv_peers_ = __match_any_sync(__activemask(), pkv_bin_); \
        if ((int) (threadIdx.x & 31) == __ffs(pkv_peers_) - 1) atomicAdd(&(bins)[pkv_bin_], __popc(pkv_peers_)); \
    } while (0)
#endif
#define SHFL_DOWN(v, delta) __shfl_down_sync(0xffffffffu, (v), (delta))
#define SHFL_XOR(v, mask) __shfl_xor_sync(0xffffffffu, (v), (mask))
#define SHFL(v, lane) __shfl_sync(0xffffffffu, (v), (lane))
#define SHFL_UP(v, delta) __shfl_up_sync(0xffffffffu, (v), (delta))
/*
 * Programmatic dependent launch (ExecutionPlan.withDependentLaunch): a kernel may be scheduled while the one before
 * it runs. AWAIT_INPUTS waits until that one has finished and its writes are visible, then lets the next kernel be
 * scheduled. Every kernel calls it before it reads what an earlier kernel wrote or writes anything; since each waits
 * before it releases the next, all kernels two or more back have finished when a kernel starts (collisionScores
 * loads its codes before the call). A no-op when the kernel was launched plainly, and on OpenCL.
 */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define AWAIT_INPUTS() asm volatile("griddepcontrol.wait;\n\tgriddepcontrol.launch_dependents;" ::: "memory")
#else
#define AWAIT_INPUTS() ((void) 0)
#endif
/* *p through the read-only (non-coherent) path: for data no kernel writes while this one runs */
#define LOAD_RO(p) __ldg(p)
/* x rotated right by (n & 31): one funnel shift; the count needs no masking */
#define ROTR(x, n) __funnelshift_r((uint) (x), (uint) (x), (uint) (n))
/* byte k (a constant 0..3) of x, zero-extended: one byte permute */
#define BYTE_OF(x, k) __byte_perm((uint) (x), 0u, 0x4440u + (k))

#else
/* ------------------------------------------------------------------ OpenCL C */
#define PKV_CUDA 0
#define PKV_OPENCL 1

#define KERNEL __kernel
#define FUNC static inline
#define GLOBAL __global
#define LOCAL __local
#define CONSTANT __constant
#define RESTRICT restrict

#define LOCAL_ID(d) ((int) get_local_id(d))
#define GROUP_ID(d) ((int) get_group_id(d))
#define LOCAL_SIZE(d) ((int) get_local_size(d))
#define NUM_GROUPS(d) ((int) get_num_groups(d))
#define GLOBAL_ID(d) ((int) get_global_id(d))
#define GLOBAL_SIZE(d) ((int) get_global_size(d))

#define SYNC_THREADS barrier(CLK_LOCAL_MEM_FENCE)
#define SYNC_THREADS_GLOBAL barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)

#define LOCAL_ARRAY(T, name, n) __local T name[n]
#define LOCAL_ARG(T, name) __local T* name
#define BIND_LOCAL_ARG(T, name) (void) 0

#define ATOMIC_ADD_INT(p, v) atomic_add((p), (v))
#define ATOMIC_MAX(p, v) atomic_max((p), (v))
#define ATOMIC_MIN(p, v) atomic_min((p), (v))
#define ATOMIC_CAS_INT(p, cmp, v) atomic_cmpxchg((p), (cmp), (v))

#define AS_FLOAT(u) as_float((uint) (u))
#define AS_UINT(f) as_uint(f)
#define AS_INT(f) as_int(f)
#define SQRT(x) sqrt(x)
#define RSQRT(x) rsqrt(x)
#define EXP(x) exp(x)
#define LOG(x) log(x)
#define FABS(x) fabs(x)
#define FMAX(a, b) fmax((a), (b))
#define FMIN(a, b) fmin((a), (b))
#define FMA(a, b, c) fma((a), (b), (c))
#define POPCOUNT(x) popcount(x)
#define INFINITY_F INFINITY

#define PKV_HAS_WARP_SHUFFLE 0
#define UINT4_ZERO ((uint4) (0u))
#define LOCAL_HIST_INC(bins, bin) atomic_inc(&(bins)[(bin)])
#define AWAIT_INPUTS() ((void) 0)
#define LOAD_RO(p) (*(p))
#define ROTR(x, n) rotate((uint) (x), 0u - (uint) (n)) /* rotate() turns left, modulo 32 */
#define BYTE_OF(x, k) (((uint) (x) >> (8 * (k))) & 0xffu)
#endif

/* ------------------------------------------------------------------ both */

/* bins[bin] += 1 where bins is local or global memory (one atomic per distinct bin of a warp on CUDA) */
#define HIST_INC(bins, bin) LOCAL_HIST_INC(bins, bin)

/* bf16 is the top half of an fp32: widening is a shift. */
FUNC float bf16_to_float(ushort h) { return AS_FLOAT(((uint) h) << 16); }

/* fp32 -> bf16, round to nearest even; NaN stays a (quiet) NaN. */
FUNC ushort float_to_bf16(float f) {
    uint u = AS_UINT(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort) 0x7fc0u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort) (u >> 16);
}

/* fp16 -> fp32 by bits (normals, subnormals, inf, NaN). */
FUNC float half_bits_to_float(ushort h) {
    uint sign = ((uint) h & 0x8000u) << 16;
    uint exp = ((uint) h >> 10) & 0x1fu;
    uint mant = (uint) h & 0x3ffu;
    if (exp == 0x1fu) return AS_FLOAT(sign | 0x7f800000u | (mant << 13));
    if (exp == 0u) {
        float m = (float) mant * 5.9604644775390625e-8f; /* 2^-24 */
        return sign ? -m : m;
    }
    return AS_FLOAT(sign | ((exp + 112u) << 23) | (mant << 13));
}

#endif /* PKV_H */
