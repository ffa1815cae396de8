// floor.cu - what a kernel can reach on this GPU at the sizes of one 128K batch-1 ParisKV step, without ParisKV:
// the floor under the bandwidth goals of collision scoring (16.8 MB of 16-byte codes, streamed) and rerank
// (10% of 1M rows of 64 B nibbles + 32 B weights, gathered in index order).
// Build and profile on the GPU machine: see profiles/gpu/floor.sh. Not part of the product.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <random>

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); exit(1); } } while (0)

// Pure stream: each thread keeps U 16-byte loads in flight per round, grid-stride.
template <int U>
__global__ void readStream(const uint4* __restrict__ p, long n, unsigned* out) {
    unsigned acc = 0;
    long stride = (long) gridDim.x * blockDim.x * U;
    for (long base = (long) blockIdx.x * blockDim.x * U + threadIdx.x; base < n; base += stride) {
        uint4 w[U];
#pragma unroll
        for (int u = 0; u < U; u++) { long i = base + (long) u * blockDim.x; w[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
#pragma unroll
        for (int u = 0; u < U; u++) acc ^= w[u].x ^ w[u].y ^ w[u].z ^ w[u].w;
    }
    if (acc == 0x9e3779b9u) out[0] = acc;
}

// Stream + 16 packed-nibble table lookups per key + a byte score out + a shared histogram: collision scoring's work.
template <int U>
__global__ void streamLookups(const uint4* __restrict__ p, long n, const unsigned* __restrict__ tiers, unsigned char* scores, int* hist) {
    __shared__ unsigned table[16 * 32];
    __shared__ int lh[97];
    long stride = (long) gridDim.x * blockDim.x * U;
    long base0 = (long) blockIdx.x * blockDim.x * U + threadIdx.x;
    uint4 w[U];
#pragma unroll
    for (int u = 0; u < U; u++) { long i = base0 + (long) u * blockDim.x; w[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
    for (int i = threadIdx.x; i < 16 * 32; i += blockDim.x) table[i] = tiers[i];
    for (int i = threadIdx.x; i < 97; i += blockDim.x) lh[i] = 0;
    __syncthreads();
    for (long base = base0; base < n; base += stride) {
        uint4 nx[U];
#pragma unroll
        for (int u = 0; u < U; u++) { long i = base + stride + (long) u * blockDim.x; nx[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
#pragma unroll
        for (int u = 0; u < U; u++) {
            long i = base + (long) u * blockDim.x;
            if (i >= n) break;
            unsigned ws[4] = {w[u].x, w[u].y, w[u].z, w[u].w};
            int sc = 0;
#pragma unroll
            for (int bb = 0; bb < 16; bb++) {
                unsigned c = (ws[bb >> 2] >> (8 * (bb & 3))) & 0xffu;
                sc += (table[bb * 32 + (c >> 3)] >> (4 * (c & 7))) & 15u;
            }
            scores[i] = (unsigned char) sc;
            atomicAdd(&lh[sc], 1);
        }
#pragma unroll
        for (int u = 0; u < U; u++) w[u] = nx[u];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 97; i += blockDim.x) if (lh[i]) atomicAdd(&hist[i], lh[i]);
}

// Gather: one candidate per thread, rows of 64 B nibbles + 32 B weights in two arrays (rerank's layout today).
__global__ void gatherSplit(const uint4* __restrict__ nib, const uint4* __restrict__ wts, const int* __restrict__ idx, int m, float* out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    int k = idx[j];
    uint4 a = nib[4 * (long) k], b = nib[4 * (long) k + 1], c = nib[4 * (long) k + 2], d = nib[4 * (long) k + 3];
    uint4 e = wts[2 * (long) k], f = wts[2 * (long) k + 1];
    unsigned x = a.x ^ b.y ^ c.z ^ d.w ^ e.x ^ f.w ^ a.w ^ b.x ^ c.y ^ d.z ^ e.y ^ f.z;
    out[j] = __uint_as_float(x & 0x3fffffffu);
}

// Gather, 4 threads per candidate (each one 16-byte nibble load, two of them a weight load too): more loads in flight.
__global__ void gatherSplit4(const uint4* __restrict__ nib, const uint4* __restrict__ wts, const int* __restrict__ idx, int m, float* out) {
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    int j = g >> 2, q = g & 3;
    if (j >= m) return;
    int k = idx[j];
    uint4 a = nib[4 * (long) k + q];
    uint4 e = q < 2 ? wts[2 * (long) k + q] : make_uint4(0, 0, 0, 0);
    unsigned x = a.x ^ a.y ^ a.z ^ a.w ^ e.x ^ e.w;
    x ^= __shfl_xor_sync(0xffffffffu, x, 1);
    x ^= __shfl_xor_sync(0xffffffffu, x, 2);
    if (q == 0) out[j] = __uint_as_float(x & 0x3fffffffu);
}


// Collision scoring's whole work in one tile per work-group (T threads x KPT keys, every load issued first):
// MODE 0 looks a tier up by shift-and-mask (today's kernel), MODE 1 by a rotate (funnel shift with wrap, so the
// shift needs no masking) with byte offsets prepared once per word and pairs of tiers masked together;
// AT 0 no histogram, 1 shared atomics into 8 copies by warp, 2 one atomic per distinct score of a warp.
__constant__ float LEV[16] = {-0.0420f, -0.1266f, -0.2130f, -0.3025f, -0.3973f, -0.5001f, -0.6169f, -0.7633f,
                              0.0420f, 0.1266f, 0.2130f, 0.3025f, 0.3973f, 0.5001f, 0.6169f, 0.7633f};
template <int T, int KPT, int MODE, int AT>
__global__ void __launch_bounds__(T) coll(const uint4* __restrict__ p, long n, const unsigned* __restrict__ tiers, unsigned char* scores, int* hist) {
    __shared__ unsigned table[16 * 32];
    __shared__ int lh[8 * 97];
    long tile = (long) blockIdx.x * T * KPT;
    int t = threadIdx.x;
    uint4 w[KPT];
#pragma unroll
    for (int u = 0; u < KPT; u++) { long i = tile + t + (long) u * T; w[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
    for (int i = t; i < 16 * 32; i += T) table[i] = tiers[i];
    for (int i = t; i < 8 * 97; i += T) lh[i] = 0;
    __syncthreads();
    int* mine = lh + ((t >> 5) & 7) * 97;
#pragma unroll
    for (int u = 0; u < KPT; u++) {
        long i = tile + t + (long) u * T;
        unsigned ws[4] = {w[u].x, w[u].y, w[u].z, w[u].w};
        int sc = 0;
        if (MODE == 0) {
#pragma unroll
            for (int bb = 0; bb < 16; bb++) {
                unsigned c = (ws[bb >> 2] >> (8 * (bb & 3))) & 0xffu;
                sc += (table[bb * 32 + (c >> 3)] >> (4 * (c & 7))) & 15u;
            }
        } else {
#pragma unroll
            for (int q = 0; q < 4; q++) {
                unsigned off = (ws[q] >> 1) & 0x7c7c7c7cu; // (c >> 3) * 4 in each byte
                unsigned sh = (ws[q] & 0x07070707u) << 2;  // (c & 7) * 4 in each byte (wrap mode reads the low 5 bits)
                const char* tb = (const char*) table + q * 4 * 128;
                unsigned x0 = *(const unsigned*) (tb + 0 * 128 + __byte_perm(off, 0, 0x4440));
                unsigned x1 = *(const unsigned*) (tb + 1 * 128 + __byte_perm(off, 0, 0x4441));
                unsigned x2 = *(const unsigned*) (tb + 2 * 128 + __byte_perm(off, 0, 0x4442));
                unsigned x3 = *(const unsigned*) (tb + 3 * 128 + (off >> 24));
                unsigned a = __funnelshift_r(x0, x0, sh) + __funnelshift_r(x1, x1, sh >> 8);
                unsigned b = __funnelshift_r(x2, x2, sh >> 16) + __funnelshift_r(x3, x3, sh >> 24);
                sc += (int) ((a & 15u) + (b & 15u));
            }
        }
        if (i < n) {
            scores[i] = (unsigned char) sc;
            if (AT == 1) atomicAdd(&mine[sc], 1);
            if (AT == 2) {
                unsigned peers = __match_any_sync(__activemask(), sc);
                if ((t & 31) == __ffs(peers) - 1) atomicAdd(&lh[sc], __popc(peers));
            }
        }
    }
    if (AT == 0) return;
    __syncthreads();
    for (int i = t; i < 97; i += T) {
        int sum = 0;
        for (int c = 0; c < 8; c++) sum += lh[c * 97 + i];
        if (sum) { atomicAdd(&hist[i], sum); atomicAdd(&hist[97 + (int) (tile >> 12) * 97 + i], sum); }
    }
}

// Rerank with TPC threads per candidate: each loads 64/TPC bytes of nibbles and 32/TPC of weights (issued before
// the query's lookup table is built), looks up its share of the 128 dims and the shares are summed by shuffles.
template <int TPC>
__global__ void __launch_bounds__(256) rerankT(const uint4* __restrict__ nib, const unsigned short* __restrict__ wts, const float* __restrict__ qh,
                                               const int* __restrict__ idx, int m, float* est, int* estHist) {
    __shared__ float lut[128 * 16];
    int t = threadIdx.x;
    int j = (blockIdx.x * 256 + t) / TPC, part = t % TPC;
    bool live = j < m;
    constexpr int NV = 4 / TPC;          // nibble uint4s per thread
    constexpr int NB = 16 / TPC;         // blocks per thread
    uint4 x[NV];
    unsigned wv[NB / 2];
    if (live) {
        long k = idx[j];
#pragma unroll
        for (int v = 0; v < NV; v++) x[v] = nib[4 * k + part * NV + v];
        const unsigned* wr = (const unsigned*) (wts + 16 * k) + part * (NB / 2);
        if (NB == 16) { uint4 a = ((const uint4*) wr)[0], b = ((const uint4*) wr)[1]; wv[0]=a.x;wv[1]=a.y;wv[2]=a.z;wv[3]=a.w;wv[4%(NB/2)]=b.x;wv[5%(NB/2)]=b.y;wv[6%(NB/2)]=b.z;wv[7%(NB/2)]=b.w; }
        else if (NB == 8) { uint4 a = ((const uint4*) wr)[0]; wv[0]=a.x;wv[1%(NB/2)]=a.y;wv[2%(NB/2)]=a.z;wv[3%(NB/2)]=a.w; }
        else { uint2 a = ((const uint2*) wr)[0]; wv[0]=a.x;wv[1%(NB/2)]=a.y; }
    }
    for (int i = t; i < 128 * 16; i += 256) lut[i] = qh[i >> 4] * LEV[i & 15];
    __syncthreads();
    float acc = 0.0f;
    if (live) {
#pragma unroll
        for (int v = 0; v < NV; v++) {
            unsigned ws[4] = {x[v].x, x[v].y, x[v].z, x[v].w};
#pragma unroll
            for (int q = 0; q < 4; q++) {
                int bb = (part * NV + v) * 4 + q;          // block of this word
                int lb = v * 4 + q;                         // its index among this thread's blocks
                unsigned lo = (ws[q] << 2) & 0x3c3c3c3cu, hi = (ws[q] >> 2) & 0x3c3c3c3cu;
                const char* L = (const char*) lut + bb * 8 * 64;
                float s = 0.0f;
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    s += *(const float*) (L + (2 * b) * 64 + __byte_perm(lo, 0, 0x4440 + b));
                    s += *(const float*) (L + (2 * b + 1) * 64 + __byte_perm(hi, 0, 0x4440 + b));
                }
                unsigned wbits = (wv[lb >> 1] >> (16 * (lb & 1))) << 16;
                acc += __uint_as_float(wbits) * s;
            }
        }
    }
#pragma unroll
    for (int o = 1; o < TPC; o <<= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (live && part == 0) {
        est[j] = acc;
        int bin = (__float_as_uint(acc) >> 19) & 4095;
        unsigned peers = __match_any_sync(__activemask(), bin);
        if ((t & 31) == __ffs(peers) - 1) atomicAdd(&estHist[bin], __popc(peers));
    }
}

// Collision scoring pipelined: a work-group scores SEL_TILE = 4096 keys (one per-tile histogram flush) in chunks of
// T x KPT keys, loading chunk i+1 while it looks chunk i up (rotate lookups, shared histogram by warp).
template <int T, int KPT>
__global__ void __launch_bounds__(T) collPipe(const uint4* __restrict__ p, long n, const unsigned* __restrict__ tiers, unsigned char* scores, int* hist) {
    __shared__ unsigned table[16 * 32];
    __shared__ int lh[(T / 32) * 97];
    constexpr int CH = T * KPT, NCH = 4096 / CH;
    long tile = (long) blockIdx.x * 4096;
    int t = threadIdx.x;
    uint4 cur[KPT], nxt[KPT];
#pragma unroll
    for (int u = 0; u < KPT; u++) { long i = tile + t + (long) u * T; cur[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
    for (int i = t; i < 16 * 32; i += T) table[i] = tiers[i];
    for (int i = t; i < (T / 32) * 97; i += T) lh[i] = 0;
    __syncthreads();
    int* mine = lh + (t >> 5) * 97;
#pragma unroll 1
    for (int c = 0; c < NCH; c++) {
        long base = tile + (long) c * CH;
        if (c + 1 < NCH) {
#pragma unroll
            for (int u = 0; u < KPT; u++) { long i = base + CH + t + (long) u * T; nxt[u] = i < n ? p[i] : make_uint4(0, 0, 0, 0); }
        }
#pragma unroll
        for (int u = 0; u < KPT; u++) {
            long i = base + t + (long) u * T;
            unsigned ws[4] = {cur[u].x, cur[u].y, cur[u].z, cur[u].w};
            int sc = 0;
#pragma unroll
            for (int q = 0; q < 4; q++) {
                unsigned off = (ws[q] >> 1) & 0x7c7c7c7cu, sh = (ws[q] & 0x07070707u) << 2;
                const char* tb = (const char*) table + q * 4 * 128;
                unsigned x0 = *(const unsigned*) (tb + __byte_perm(off, 0, 0x4440));
                unsigned x1 = *(const unsigned*) (tb + 128 + __byte_perm(off, 0, 0x4441));
                unsigned x2 = *(const unsigned*) (tb + 256 + __byte_perm(off, 0, 0x4442));
                unsigned x3 = *(const unsigned*) (tb + 384 + (off >> 24));
                unsigned a = __funnelshift_r(x0, x0, sh) + __funnelshift_r(x1, x1, sh >> 8);
                unsigned b = __funnelshift_r(x2, x2, sh >> 16) + __funnelshift_r(x3, x3, sh >> 24);
                sc += (int) ((a & 15u) + (b & 15u));
            }
            if (i < n) { scores[i] = (unsigned char) sc; atomicAdd(&mine[sc], 1); }
        }
#pragma unroll
        for (int u = 0; u < KPT; u++) cur[u] = nxt[u];
    }
    __syncthreads();
    for (int i = t; i < 97; i += T) {
        int sum = 0;
        for (int c = 0; c < T / 32; c++) sum += lh[c * 97 + i];
        if (sum) { atomicAdd(&hist[i], sum); atomicAdd(&hist[97 + (int) (tile >> 12) * 97 + i], sum); }
    }
}

// Rerank with CPT candidates per thread (one table per work-group for CPT x 256 candidates, CPT rows in flight).
template <int CPT>
__global__ void __launch_bounds__(256) rerankC(const uint4* __restrict__ nib, const unsigned short* __restrict__ wts, const float* __restrict__ qh,
                                               const int* __restrict__ idx, int m, float* est, int* estHist) {
    __shared__ float lut[128 * 16];
    int t = threadIdx.x;
    uint4 x[CPT][4];
    uint4 wv[CPT][2];
#pragma unroll
    for (int c = 0; c < CPT; c++) {
        int j = blockIdx.x * 256 * CPT + c * 256 + t;
        if (j < m) {
            long k = idx[j];
#pragma unroll
            for (int v = 0; v < 4; v++) x[c][v] = nib[4 * k + v];
            wv[c][0] = ((const uint4*) (wts + 16 * k))[0];
            wv[c][1] = ((const uint4*) (wts + 16 * k))[1];
        }
    }
    float lev = LEV[t & 15];
    for (int i = t; i < 128 * 16; i += 256) lut[i] = qh[i >> 4] * lev;
    __syncthreads();
#pragma unroll
    for (int c = 0; c < CPT; c++) {
        int j = blockIdx.x * 256 * CPT + c * 256 + t;
        if (j >= m) break;
        unsigned w8[8] = {wv[c][0].x, wv[c][0].y, wv[c][0].z, wv[c][0].w, wv[c][1].x, wv[c][1].y, wv[c][1].z, wv[c][1].w};
        float acc = 0.0f;
#pragma unroll
        for (int v = 0; v < 4; v++) {
            unsigned ws[4] = {x[c][v].x, x[c][v].y, x[c][v].z, x[c][v].w};
#pragma unroll
            for (int q = 0; q < 4; q++) {
                int bb = v * 4 + q;
                unsigned lo = (ws[q] << 2) & 0x3c3c3c3cu, hi = (ws[q] >> 2) & 0x3c3c3c3cu;
                const char* L = (const char*) lut + bb * 8 * 64;
                float s = 0.0f;
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    s += *(const float*) (L + (2 * b) * 64 + __byte_perm(lo, 0, 0x4440 + b))
                       + *(const float*) (L + (2 * b + 1) * 64 + __byte_perm(hi, 0, 0x4440 + b));
                }
                acc += __uint_as_float((w8[bb >> 1] >> (16 * (bb & 1))) << 16) * s;
            }
        }
        est[j] = acc;
        int bin = (__float_as_uint(acc) >> 19) & 4095;
        unsigned peers = __match_any_sync(__activemask(), bin);
        if ((t & 31) == __ffs(peers) - 1) atomicAdd(&estHist[bin], __popc(peers));
    }
}

int main() {
    const long keys = 8L * 131072;           // 8 KV heads x 128K
    const int m = (int) (keys / 10);         // 10% candidates
    uint4 *codes, *nib, *wts; unsigned *out, *tiers; unsigned char* scores; int *hist, *idx; float* est;
    CHECK(cudaMalloc(&codes, keys * 16)); CHECK(cudaMalloc(&nib, keys * 64)); CHECK(cudaMalloc(&wts, keys * 32));
    CHECK(cudaMalloc(&out, 64)); CHECK(cudaMalloc(&tiers, 16 * 32 * 4)); CHECK(cudaMalloc(&scores, keys));
    CHECK(cudaMalloc(&hist, 97 * 4)); CHECK(cudaMalloc(&idx, m * 4)); CHECK(cudaMalloc(&est, m * 4));
    std::vector<unsigned> h(keys * 4);
    std::mt19937 rng(7);
    for (auto& v : h) v = rng();
    CHECK(cudaMemcpy(codes, h.data(), keys * 16, cudaMemcpyHostToDevice));
    CHECK(cudaMemset(nib, 1, keys * 64)); CHECK(cudaMemset(wts, 2, keys * 32));
    std::vector<unsigned> tt(16 * 32); for (auto& v : tt) v = rng() & 0x66666666u;
    CHECK(cudaMemcpy(tiers, tt.data(), tt.size() * 4, cudaMemcpyHostToDevice));
    std::vector<int> ix;
    for (int s = 0; s < 8; s++) { // per stream: 10% of its keys, ascending
        std::vector<int> all(131072); for (int i = 0; i < 131072; i++) all[i] = s * 131072 + i;
        std::shuffle(all.begin(), all.end(), rng); all.resize(13107); std::sort(all.begin(), all.end());
        ix.insert(ix.end(), all.begin(), all.end());
    }
    float* qh; int* ehist; CHECK(cudaMalloc(&qh, 512)); CHECK(cudaMemset(qh, 0, 512)); CHECK(cudaMalloc(&ehist, 4096 * 4)); CHECK(cudaMemset(ehist, 0, 4096 * 4));
    CHECK(cudaMalloc(&hist, 97 * 4 * 300));
    CHECK(cudaMemcpy(idx, ix.data(), (long) ix.size() * 4, cudaMemcpyHostToDevice));
    int sms; CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    long n = keys;
    for (int rep = 0; rep < 2; rep++) {
        for (int bps : {1, 2, 4, 8}) {
            readStream<1><<<sms * bps, 256>>>(codes, n, out);
            readStream<4><<<sms * bps, 256>>>(codes, n, out);
            readStream<8><<<sms * bps, 256>>>(codes, n, out);
            streamLookups<2><<<sms * bps, 256>>>(codes, n, tiers, scores, hist);
            streamLookups<4><<<sms * bps, 256>>>(codes, n, tiers, scores, hist);
        }
        readStream<4><<<(int) (n / 1024), 256>>>(codes, n, out); // one tile per work-group (today's shape)
        streamLookups<4><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);

        coll<256, 4, 0, 1><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);
        coll<256, 4, 1, 0><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);
        coll<256, 4, 1, 1><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);
        coll<256, 4, 1, 2><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);
        coll<512, 8, 1, 1><<<(int) (n / 4096), 512>>>(codes, n, tiers, scores, hist);
        coll<512, 8, 1, 2><<<(int) (n / 4096), 512>>>(codes, n, tiers, scores, hist);
        coll<256, 16, 1, 1><<<(int) (n / 4096), 256>>>(codes, n, tiers, scores, hist);
        coll<1024, 4, 1, 1><<<(int) (n / 4096), 1024>>>(codes, n, tiers, scores, hist);
        coll<256, 8, 1, 1><<<(int) (n / 2048), 256>>>(codes, n, tiers, scores, hist);
        coll<128, 8, 1, 1><<<(int) (n / 1024), 128>>>(codes, n, tiers, scores, hist);
        collPipe<256, 4><<<(int) (n / 4096), 256>>>(codes, n, tiers, scores, hist);
        collPipe<256, 8><<<(int) (n / 4096), 256>>>(codes, n, tiers, scores, hist);
        collPipe<512, 4><<<(int) (n / 4096), 512>>>(codes, n, tiers, scores, hist);
        collPipe<512, 2><<<(int) (n / 4096), 512>>>(codes, n, tiers, scores, hist);
        collPipe<1024, 2><<<(int) (n / 4096), 1024>>>(codes, n, tiers, scores, hist);
        collPipe<128, 8><<<(int) (n / 4096), 128>>>(codes, n, tiers, scores, hist);
        int M = (int) ix.size();
        rerankT<1><<<(M + 255) / 256, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        rerankT<2><<<(2 * M + 255) / 256, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        rerankT<4><<<(4 * M + 255) / 256, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        rerankC<1><<<(M + 255) / 256, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        rerankC<2><<<(M + 511) / 512, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        rerankC<4><<<(M + 1023) / 1024, 256>>>(nib, (const unsigned short*) wts, qh, idx, M, est, ehist);
        gatherSplit<<<(ix.size() + 255) / 256, 256>>>(nib, wts, idx, (int) ix.size(), est);
        gatherSplit4<<<(4 * ix.size() + 255) / 256, 256>>>(nib, wts, idx, (int) ix.size(), est);
    }
    CHECK(cudaDeviceSynchronize());
    std::vector<unsigned char> sa(n), sb(n);
    coll<256, 4, 0, 0><<<(int) (n / 1024), 256>>>(codes, n, tiers, scores, hist);
    CHECK(cudaMemcpy(sa.data(), scores, n, cudaMemcpyDeviceToHost));
    collPipe<256, 4><<<(int) (n / 4096), 256>>>(codes, n, tiers, scores, hist);
    CHECK(cudaMemcpy(sb.data(), scores, n, cudaMemcpyDeviceToHost));
    long diff = 0; for (long i = 0; i < n; i++) diff += sa[i] != sb[i];
    printf("rotate lookups vs shift-and-mask: %ld of %ld scores differ (first %d %d)\n", diff, n, sa[0], sb[0]);
    printf("done: %ld keys, %d candidates, %d SMs\n", keys, (int) ix.size(), sms);
}
