/*
 * smoke.c - small kernels that prove the compute machinery end to end (no ParisKV math).
 * Java twins: org.pariskv.compute.smoke.SmokeTasks.
 */

/* y[i] = a * x[i] + y[i] */
KERNEL void saxpy(GLOBAL const float* x, GLOBAL float* y, float a, int n) {
    int i = GLOBAL_ID(0);
    if (i < n) y[i] = FMA(a, x[i], y[i]);
}

/* partial[g] = sum of x over work-group g's slice: tree reduction in dynamic local memory. */
KERNEL void blockSum(GLOBAL const float* x, GLOBAL float* partial, int n, LOCAL_ARG(float, scratch)) {
    BIND_LOCAL_ARG(float, scratch);
    int lid = LOCAL_ID(0);
    int i = GLOBAL_ID(0);
    scratch[lid] = i < n ? x[i] : 0.0f;
    SYNC_THREADS;
    for (int stride = LOCAL_SIZE(0) / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] += scratch[lid + stride];
        SYNC_THREADS;
    }
    if (lid == 0) partial[GROUP_ID(0)] = scratch[0];
}

/* counts[c] += number of i < n with codes[i] == c: local histogram, then one atomic per bin. */
KERNEL void histogram256(GLOBAL const uchar* codes, GLOBAL int* counts, int n) {
    LOCAL_ARRAY(int, bins, 256);
    for (int b = LOCAL_ID(0); b < 256; b += LOCAL_SIZE(0)) bins[b] = 0;
    SYNC_THREADS;
    for (int i = GLOBAL_ID(0); i < n; i += GLOBAL_SIZE(0)) ATOMIC_ADD_INT(&bins[codes[i]], 1);
    SYNC_THREADS;
    for (int b = LOCAL_ID(0); b < 256; b += LOCAL_SIZE(0)) {
        if (bins[b] != 0) ATOMIC_ADD_INT(&counts[b], bins[b]);
    }
}

/* out[i] = bf16(x[i] * scale), round to nearest even */
KERNEL void toBf16(GLOBAL const float* x, GLOBAL ushort* out, float scale, int n) {
    int i = GLOBAL_ID(0);
    if (i < n) out[i] = float_to_bf16(x[i] * scale);
}
