// simt_emu.h: CPU emulation of the CUDA / HIP SIMT model, for xpiler's verification oracle.
//
// A CUDA or HIP program is compiled by g++ (C++17) with this header force-included
// (-include simt_emu.h) and the fake system headers of runtime/include/ (cuda_runtime.h, mma.h,
// cuda_fp16.h, hip/hip_runtime.h, ...) shadowing the real ones, after the small textual
// preparation of xpiler/oracle/simt.py (`k<<<g, b, sh, st>>>(args)` becomes
// `::xsimt::launcher(k, g, b, sh, st)(args)`, `extern __shared__ T s[];` a pointer to the block's
// dynamic shared memory; line numbers are kept).  Defines: XSIMT_HIP (HIP dialect: 64-lane
// wavefronts, HIP names), XSIMT_WARP (override the warp size), XSIMT_CHECK (checking mode).
//
// Execution model
//   - A launch runs its blocks on a small pool of OS threads (XPILER_SIMT_THREADS, default: the
//     number of CPUs, at most 8); each block runs start to end on one OS thread, its threads as
//     fibers (fibers.h), fiber i = linear thread id (x fastest), warp w = fibers [w*W, w*W+W).
//   - Fibers run in thread-id order, each until it blocks at a barrier or returns, so a missing
//     __syncthreads() is exposed: thread 0 reads what the others have not written yet.
//   - __syncthreads(): barrier over the block; not reached by all threads (divergent, after an
//     early return) it is a fault.  Warp primitives (__shfl*_sync, __ballot_sync, __any/__all_sync,
//     __syncwarp, __activemask, __reduce_*_sync, HIP's maskless ones, WMMA mma_sync, MFMA builtins)
//     run once every lane of the warp is blocked (at a warp primitive, at __syncthreads, or
//     returned), among the lanes waiting at the same call site: the active lanes of a divergent
//     branch, as on a GPU.  So a shuffle sees the values all its lanes hold at that point, and a
//     shuffle in `if (tid < 32)` of a 64-lane wavefront runs on lanes 0..31.  Reading a lane that
//     does not take part gives 0, as AMD and NVIDIA hardware do; details at "Warp primitives" below.
//   - __shared__ variables are `static thread_local` (per OS thread = per running block; they keep
//     their values from the previous block, as uninitialised shared memory may); dynamic shared
//     memory (`extern __shared__`) is a per-OS-thread buffer of the launch's size.
//   - Built-ins threadIdx/blockIdx/blockDim/gridDim are thread_local, set on every fiber switch.
//   - Atomics are real atomics (blocks of a launch may run concurrently); launches are synchronous;
//     device memory is host memory; streams and events are accepted and ignored (events time).
//   - WMMA fragments keep num_elements = M*N/32 (M*K/32, K*N/32) elements per lane; lane l, element
//     i is element l*num_elements+i of the tile in row-major order (the real mapping is
//     unspecified; element-wise code over frag.x[] works with any mapping).  mma_sync is
//     warp-collective.  MFMA builtins use the exact AMD per-lane layouts (reference/simt.md).
//
// Checking mode (XSIMT_CHECK)
//   - cudaMalloc/hipMalloc memory and the shadows of registered host buffers passed to bare kernels
//     lie between PROT_NONE guard pages, the data ending exactly at the upper guard page: any
//     access past the end faults at once and is reported with the buffer's name, the byte offset,
//     the element index, the access kind and the block/thread; the slack below the start (below
//     page alignment) is filled with a canary checked after every launch (writes before the start).
//   - a kernel argument that points into a registered host buffer (xpiler_register_buffer) is a
//     fault (a GPU cannot dereference host memory), and so is host code that dereferences memory
//     from cudaMalloc/hipMalloc (PROT_NONE outside launches and cudaMemcpy/cudaMemset; pinned and
//     managed allocations stay host-accessible);
//   - cudaMemcpy ranges are checked against the buffers they touch;
//   - out-of-bounds indices into arrays of known size (__shared__ tiles, local arrays) are caught by
//     g++ -fsanitize=bounds, whose handlers below turn them into faults naming the line.
#ifndef XPILER_SIMT_EMU_H
#define XPILER_SIMT_EMU_H

#include <math.h>
#include <stdlib.h>
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cfloat>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "fault.h"
#include "fibers.h"
#include "simt_half.h"

#ifndef XSIMT_WARP
#ifdef XSIMT_HIP
#define XSIMT_WARP 64
#else
#define XSIMT_WARP 32
#endif
#endif

#ifdef XSIMT_HIP
#define __HIP_PLATFORM_AMD__ 1
#define __HIP_PLATFORM_HCC__ 1
#define __HIP__ 1
#define __HIPCC__ 1
#define __AMDGCN_WAVEFRONT_SIZE 64
#else
#define __CUDACC__ 1
#define __NVCC__ 1
#define CUDART_VERSION 12000
#endif
#define XPILER_SIMT_EMULATION 1

// ---------------------------------------------------------------------------------------------
// Qualifiers
#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
#ifdef XSIMT_HIP
#define __fp16 _Float16
#endif

// ---------------------------------------------------------------------------------------------
// Vector types
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define XSIMT_VEC(T, N)                                               \
    struct N##1 { T x; };                                              \
    struct __attribute__((aligned(2 * sizeof(T)))) N##2 { T x, y; };   \
    struct N##3 { T x, y, z; };                                        \
    struct __attribute__((aligned(4 * sizeof(T) > 16 ? 16 : 4 * sizeof(T)))) N##4 { T x, y, z, w; }; \
    inline N##1 make_##N##1(T x) { return N##1{x}; }                  \
    inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }          \
    inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; } \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
XSIMT_VEC(signed char, char)
XSIMT_VEC(unsigned char, uchar)
XSIMT_VEC(short, short)
XSIMT_VEC(unsigned short, ushort)
XSIMT_VEC(int, int)
XSIMT_VEC(long, long)
XSIMT_VEC(unsigned long, ulong)
XSIMT_VEC(long long, longlong)
XSIMT_VEC(unsigned long long, ulonglong)
XSIMT_VEC(float, float)
XSIMT_VEC(double, double)
#undef XSIMT_VEC
struct uint1 { unsigned int x; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
inline uint1 make_uint1(unsigned x) { return uint1{x}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

// ---------------------------------------------------------------------------------------------
// Built-in variables (set on every fiber switch)
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
static constexpr int warpSize = XSIMT_WARP;

// ---------------------------------------------------------------------------------------------
// Host API types
enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNotReady = 600,
};
typedef enum cudaError cudaError_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
struct CUstream_st { int dummy; };
typedef CUstream_st *cudaStream_t;
struct CUevent_st { std::chrono::steady_clock::time_point t; };
typedef CUevent_st *cudaEvent_t;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8, cudaFuncAttributePreferredSharedMemoryCarveout = 9 };
enum cudaFuncCache { cudaFuncCachePreferNone, cudaFuncCachePreferShared, cudaFuncCachePreferL1, cudaFuncCachePreferEqual };
enum cudaSharedMemConfig { cudaSharedMemBankSizeDefault, cudaSharedMemBankSizeFourByte, cudaSharedMemBankSizeEightByte };
#define cudaStreamDefault 0
#define cudaStreamNonBlocking 1
#define cudaEventDefault 0
#define cudaHostAllocDefault 0
#define cudaMemAttachGlobal 1
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerMultiprocessor, sharedMemPerBlockOptin;
    int regsPerBlock, warpSize, maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3], clockRate;
    int multiProcessorCount, major, minor, maxThreadsPerMultiProcessor, l2CacheSize, memoryClockRate, memoryBusWidth;
    size_t totalConstMem;
};

namespace xsimt {

// ---------------------------------------------------------------------------------------------
// Per-OS-thread state of the block being run
struct alignas(16) Slot {
    unsigned char b[16];
};

// A lane's part in a warp-collective operation (see "Warp primitives" below).
struct WarpReq {
    Slot val, result;            // the lane's operand; its result once the operation has run
    unsigned long long mask;     // the mask it passed (lanes of its warp)
    unsigned long long active;   // the lanes that took part with it (set when the operation runs)
    const char *file;            // call site
    int line;
    int kind, arg, width;
    unsigned count;              // warp operations this lane has run before (the order of divergent ones)
    void (*combine)(Slot &, const Slot &);  // reductions
};
struct WarpState {
    unsigned long long waiting, at_barrier, done;  // lanes waiting at a warp operation / at __syncthreads() / returned
};

struct Block {
    int nthreads = 0, cap = 0;
    unsigned bx = 1, bxy = 1;
    int cur = 0;                  // running fiber = linear thread id
    WarpReq *req = nullptr;       // per fiber
    WarpState *warps = nullptr;   // per warp
    int at_block = 0;             // threads waiting at __syncthreads()
    int *named = nullptr;         // per fiber: the named barrier (__barrier_sync_count) it waits at, or -1
    int named_arrived[16] = {0};  // per named barrier: threads arrived (a partial warp counts 32)
    unsigned char *wpar = nullptr;  // per fiber: parity of the next matrix op (WMMA / MFMA scratch)
    unsigned char *bpar = nullptr;  // per fiber: index mod 3 of the next block-wide op
    long long bacc[3] = {0, 0, 0};  // __syncthreads_count / _and / _or
    float *mscratch = nullptr;    // per warp, 2 parities: A and B tiles of WMMA / MFMA (2 * 1024 floats)
    char *dyn = nullptr;          // dynamic shared memory
    size_t dyn_cap = 0, dyn_size = 0;
    bool in_kernel = false;
};
inline thread_local Block tb;

inline void ensure_block(int n) {
    if (tb.cap >= n) return;
    free(tb.req);
    free(tb.warps);
    free(tb.named);
    free(tb.wpar);
    free(tb.bpar);
    free(tb.mscratch);
    tb.cap = n;
    int nw = (n + XSIMT_WARP - 1) / XSIMT_WARP;
    tb.req = (WarpReq *)aligned_alloc(16, sizeof(WarpReq) * (size_t)n);
    tb.warps = (WarpState *)calloc((size_t)nw, sizeof(WarpState));
    tb.named = (int *)malloc(sizeof(int) * (size_t)n);
    tb.wpar = (unsigned char *)calloc((size_t)n, 1);
    tb.bpar = (unsigned char *)calloc((size_t)n, 1);
    tb.mscratch = (float *)calloc((size_t)nw * 2 * 2048, sizeof(float));
    if (!tb.req || !tb.warps || !tb.named || !tb.wpar || !tb.bpar || !tb.mscratch)
        xpiler_fault("simt: out of memory for a block of %d threads", n);
}

// A new block: no lane waits anywhere, no warp operation has run.
inline void reset_block() {
    int nw = (tb.nthreads + XSIMT_WARP - 1) / XSIMT_WARP;
    memset(tb.warps, 0, sizeof(WarpState) * (size_t)nw);
    for (int i = 0; i < tb.nthreads; ++i) {
        tb.req[i].count = 0;
        tb.named[i] = -1;
    }
    tb.at_block = 0;
    memset(tb.named_arrived, 0, sizeof tb.named_arrived);
}

inline void on_switch(int i, void *) {
    tb.cur = i;
    if (tb.bxy == tb.bx && tb.bx == (unsigned)tb.nthreads) {
        threadIdx.x = (unsigned)i;
        threadIdx.y = 0;
        threadIdx.z = 0;
    } else {
        unsigned u = (unsigned)i;
        threadIdx.x = u % tb.bx;
        threadIdx.y = (u / tb.bx) % (tb.bxy / tb.bx);
        threadIdx.z = u / tb.bxy;
    }
}

inline void on_deadlock(const xpf::DeadlockInfo &d, void *) {
    unsigned f = (unsigned)d.fiber;
    unsigned tx = f % tb.bx, ty = (f / tb.bx) % (tb.bxy / tb.bx), tz = f / tb.bxy;
    if (d.count == d.n)
        xpiler_fault("deadlock: __syncthreads() not reached by all threads of block (%u,%u,%u): thread (%u,%u,%u) "
                     "waits there with %d of %d threads, %d threads have returned (a barrier in divergent code "
                     "or after an early return)",
                     blockIdx.x, blockIdx.y, blockIdx.z, tx, ty, tz, d.arrived, d.n, d.finished);
    if (d.count < 0)  // parked at a named barrier (see named_barrier)
        xpiler_fault("deadlock: named barrier %d (__barrier_sync_count) of block (%u,%u,%u) never completes: thread "
                     "(%u,%u,%u) waits there with %d threads arrived, %d threads of the block have returned",
                     d.first, blockIdx.x, blockIdx.y, blockIdx.z, tx, ty, tz, tb.named_arrived[d.first], d.finished);
    // A lane parked at a warp operation (bcount 0, see park_self): its warp never had all lanes blocked.
    int w = (int)f / XSIMT_WARP;
    const WarpState &ws = tb.warps[w];
    xpiler_fault("deadlock: a warp-collective operation (shuffle, ballot, __syncwarp, mma) of warp %d of block "
                 "(%u,%u,%u) never ran: thread (%u,%u,%u) waits there with %d lanes, %d lanes wait at "
                 "__syncthreads(), %d have returned, %d threads of the block have returned",
                 w, blockIdx.x, blockIdx.y, blockIdx.z, tx, ty, tz, __builtin_popcountll(ws.waiting),
                 __builtin_popcountll(ws.at_barrier), __builtin_popcountll(ws.done), d.finished);
}

// ---------------------------------------------------------------------------------------------
// Checking mode: guarded allocations, registered host buffers
struct Region {
    char *lo;             // first byte of the data
    size_t bytes;
    char *map;            // the mapping (guard pages included); null for host buffers
    size_t maplen;
    size_t elem;          // element size when known, else 0
    bool device;
    bool host_ok;         // pinned / managed memory: host code may touch it
    bool locked;          // PROT_NONE while no kernel or copy runs (device memory, checking mode)
    char name[64];
};
inline std::vector<Region> &regions() {
    static std::vector<Region> r;
    return r;
}
inline std::mutex &regions_mutex() {
    static std::mutex m;
    return m;
}
static const unsigned char kCanary = 0xA5;

inline void set_name(Region &r, const char *name) {
    snprintf(r.name, sizeof r.name, "%s", name && *name ? name : "?");
}

// The region containing [p, p+n) partly or fully (the first whose data range contains p).
inline Region *find_region(const void *p) {
    for (auto &r : regions())
        if ((const char *)p >= r.lo && (const char *)p < r.lo + r.bytes) return &r;
    for (auto &r : regions())  // one past the end (empty ranges, end pointers)
        if ((const char *)p == r.lo + r.bytes) return &r;
    return nullptr;
}

inline void check_canary(const Region &r) {
    if (!r.map) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (char *q = r.map + page; q < r.lo; ++q)
        if ((unsigned char)*q != kCanary) {
            long off = (long)(q - r.lo);
            if (r.elem)
                xpiler_fault("out-of-bounds write to buffer '%s' at byte offset %ld (element index %ld) before its start",
                             r.name, off, off / (long)r.elem - (off % (long)r.elem ? 1 : 0));
            xpiler_fault("out-of-bounds write to buffer '%s' at byte offset %ld before its start", r.name, off);
        }
}

inline void check_all_canaries() {
    for (auto &r : regions()) check_canary(r);
}

// Device memory is PROT_NONE while host code runs (checking mode): host code that dereferences a
// device pointer faults, as on a GPU. Launches and cudaMemcpy/cudaMemset open it (Unlocked).
inline void set_access(Region &r, bool open) {
    if (!r.map || r.host_ok || r.locked == !open) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    mprotect(r.map + page, r.maplen - 2 * page, open ? PROT_READ | PROT_WRITE : PROT_NONE);
    r.locked = !open;
}
struct Unlocked {
    Unlocked() {
        std::lock_guard<std::mutex> g(regions_mutex());
        for (auto &r : regions()) set_access(r, true);
    }
    ~Unlocked() {
        std::lock_guard<std::mutex> g(regions_mutex());
        for (auto &r : regions()) set_access(r, false);
    }
};

inline void install_segv();
inline void *guarded_alloc(size_t n, const char *name, size_t elem, bool host_ok = false) {
    install_segv();  // host code that runs past a buffer is reported too
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + page - 1) / page;
    if (data_pages == 0) data_pages = 1;
    size_t len = (data_pages + 2) * page;
    char *m = (char *)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    mprotect(m, page, PROT_NONE);
    mprotect(m + (1 + data_pages) * page, page, PROT_NONE);
    char *end = m + (1 + data_pages) * page;
    char *lo = end - n;
    memset(m + page, kCanary, (size_t)(lo - (m + page)));
    Region r;
    r.lo = lo;
    r.bytes = n;
    r.map = m;
    r.maplen = len;
    r.elem = elem;
    r.device = true;
    r.host_ok = host_ok;
    r.locked = false;
    set_name(r, name);
    set_access(r, false);
    std::lock_guard<std::mutex> g(regions_mutex());
    regions().push_back(r);
    return lo;
}

inline bool guarded_free(void *p) {
    std::lock_guard<std::mutex> g(regions_mutex());
    auto &rs = regions();
    for (size_t i = 0; i < rs.size(); ++i)
        if (rs[i].device && rs[i].lo == (char *)p) {
            set_access(rs[i], true);
            check_canary(rs[i]);
            munmap(rs[i].map, rs[i].maplen);
            rs.erase(rs.begin() + (long)i);
            return true;
        }
    return false;
}

inline void write_str(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

// SIGSEGV: guard page of a buffer -> fault naming it; fiber stack guard -> stack overflow fault;
// else a line naming the block/thread, then the default action (a crash).
inline void segv_handler(int sig, siginfo_t *info, void *uc_) {
    char *a = (char *)info->si_addr;
    const char *kind = "access";
#if defined(__x86_64__) && defined(REG_ERR)
    ucontext_t *uc = (ucontext_t *)uc_;
    kind = (uc->uc_mcontext.gregs[REG_ERR] & 2) ? "write" : "read";
#else
    (void)uc_;
#endif
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (auto &r : regions()) {
        if (!r.map) continue;
        if (r.locked && a >= r.map + page && a < r.map + r.maplen - page) {
            long off = (long)(a - r.lo);
            xpiler_fault("host code %ss device buffer '%s' (%zu bytes) at byte offset %ld: on a GPU, memory from "
                         "cudaMalloc/hipMalloc is only reachable from kernels and through cudaMemcpy",
                         kind, r.name, r.bytes, off);
        }
        bool below = a >= r.map && a < r.map + page;
        bool above = a >= r.lo + r.bytes && a < r.map + r.maplen;
        if (below || above) {
            long off = (long)(a - r.lo);
            if (tb.in_kernel) {
                if (r.elem)
                    xpiler_fault("out-of-bounds %s of buffer '%s' (%zu bytes, %zu elements) at element index %ld "
                                 "(byte offset %ld) by block (%u,%u,%u) thread (%u,%u,%u)",
                                 kind, r.name, r.bytes, r.bytes / r.elem,
                                 off >= 0 ? off / (long)r.elem : -((-off + (long)r.elem - 1) / (long)r.elem), off,
                                 blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
                xpiler_fault("out-of-bounds %s of buffer '%s' (%zu bytes) at byte offset %ld by block (%u,%u,%u) "
                             "thread (%u,%u,%u)",
                             kind, r.name, r.bytes, off, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y,
                             threadIdx.z);
            }
            xpiler_fault("out-of-bounds %s of device buffer '%s' (%zu bytes) at byte offset %ld in host code "
                         "(device memory is only reachable through cudaMemcpy on a GPU)",
                         kind, r.name, r.bytes, off);
        }
    }
    xpf::detail::check_stack_guard((uintptr_t)a);
    if (tb.in_kernel) {
        char msg[256];
        snprintf(msg, sizeof msg, "xpiler simt: invalid memory %s at %p by block (%u,%u,%u) thread (%u,%u,%u)\n",
                 kind, (void *)a, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
        write_str(msg);
#ifdef XSIMT_CHECK
        xpiler_fault("invalid global memory %s at address %p (inside no buffer) by block (%u,%u,%u) thread (%u,%u,%u)",
                     kind, (void *)a, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
#endif
    }
    signal(sig, SIG_DFL);
}

inline void install_segv() {
    static bool done = false;
    if (done) return;
    done = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
}

// Checking mode: a pointer argument of a kernel must not point into a registered host buffer.
template <class T>
inline void check_arg(const T &, int, const char *) {}
template <class T>
inline void check_arg(T *const &p, int idx, const char *kname) {
#ifdef XSIMT_CHECK
    std::lock_guard<std::mutex> g(regions_mutex());
    Region *r = find_region((const void *)p);
    if (r && !r->device)
        xpiler_fault("kernel %s: argument %d points into host buffer '%s' (a GPU cannot dereference host memory: "
                     "copy it to memory from cudaMalloc/hipMalloc first)",
                     kname, idx + 1, r->name);
#else
    (void)p;
    (void)idx;
    (void)kname;
#endif
}

// ---------------------------------------------------------------------------------------------
// Launches
struct Launch {
    dim3 grid, block;
    size_t shmem;
    int nthreads;
    unsigned long long nblocks;
    void (*body)(void *);
    void *rec;
    std::atomic<unsigned long long> next{0};
};

inline size_t fiber_stack() {
    const char *e = getenv("XPILER_FIBER_STACK");
    if (e && *e) return 0;  // fibers.h reads it
    return 128 * 1024;
}

inline void thread_returned();
inline void fiber_main(int, void *ctx) {
    Launch *L = (Launch *)ctx;
    L->body(L->rec);
    thread_returned();
}

inline void run_blocks(Launch *L) {
    install_segv();
    blockDim = L->block;
    gridDim = L->grid;
    ensure_block(L->nthreads);
    tb.nthreads = L->nthreads;
    tb.bx = L->block.x;
    tb.bxy = L->block.x * L->block.y;
    memset(tb.wpar, 0, (size_t)L->nthreads);
    memset(tb.bpar, 0, (size_t)L->nthreads);
    if (L->shmem > tb.dyn_cap) {
        free(tb.dyn);
        tb.dyn_cap = (L->shmem + 4095) / 4096 * 4096;
        tb.dyn = (char *)aligned_alloc(256, tb.dyn_cap);
        if (!tb.dyn) xpiler_fault("simt: cannot allocate %zu bytes of dynamic shared memory", L->shmem);
    }
    tb.dyn_size = L->shmem;
    xpf::Options o;
    o.stack_size = fiber_stack();
    o.on_switch = on_switch;
    o.on_deadlock = on_deadlock;
    unsigned long long gx = L->grid.x, gxy = (unsigned long long)L->grid.x * L->grid.y;
    for (;;) {
        unsigned long long b = L->next.fetch_add(1);
        if (b >= L->nblocks) break;
        blockIdx.x = (unsigned)(b % gx);
        blockIdx.y = (unsigned)((b / gx) % L->grid.y);
        blockIdx.z = (unsigned)(b / gxy);
        tb.bacc[0] = tb.bacc[1] = tb.bacc[2] = 0;
        reset_block();
        tb.in_kernel = true;
        xpf::run(L->nthreads, fiber_main, L, o);
        tb.in_kernel = false;
    }
}

// A persistent pool of worker OS threads; the launching thread works too.
struct Pool {
    std::mutex m;
    std::condition_variable cv, done_cv;
    Launch *job = nullptr;
    unsigned long long gen = 0;
    int want = 0, busy = 0;
    int nthreads = 0;
};
inline Pool &pool() {
    static Pool *p = new Pool();  // never destroyed: workers are detached
    return *p;
}
inline int pool_size() {
    static int n = [] {
        const char *e = getenv("XPILER_SIMT_THREADS");
        int v = e && *e ? atoi(e) : (int)std::thread::hardware_concurrency();
        if (v < 1) v = 1;
        if (v > 8) v = 8;
        return v;
    }();
    return n;
}
inline void worker_loop() {
    Pool &p = pool();
    unsigned long long seen = 0;
    std::unique_lock<std::mutex> lk(p.m);
    for (;;) {
        p.cv.wait(lk, [&] { return p.gen != seen && p.want > 0; });
        seen = p.gen;
        p.want--;
        Launch *L = p.job;
        p.busy++;
        lk.unlock();
        run_blocks(L);
        lk.lock();
        if (--p.busy == 0) p.done_cv.notify_all();
    }
}

inline void launch_grid(dim3 grid, dim3 block, size_t shmem, void (*body)(void *), void *rec, const char *kname) {
    unsigned long long nthreads = (unsigned long long)block.x * block.y * block.z;
    if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0)
        xpiler_fault("invalid launch configuration of %s: grid (%u,%u,%u) block (%u,%u,%u) has a zero extent", kname,
                     grid.x, grid.y, grid.z, block.x, block.y, block.z);
    if (nthreads > 1024 || block.z > 64)
        xpiler_fault("invalid launch configuration of %s: block (%u,%u,%u) has %llu threads (at most 1024, z at most 64)",
                     kname, block.x, block.y, block.z, nthreads);
    if (grid.y > 65535 || grid.z > 65535)
        xpiler_fault("invalid launch configuration of %s: grid (%u,%u,%u) (y and z at most 65535)", kname, grid.x,
                     grid.y, grid.z);
    if (shmem > 232448)
        xpiler_fault("invalid launch configuration of %s: %zu bytes of dynamic shared memory (at most 227 KiB)", kname,
                     shmem);
    if (tb.in_kernel) xpiler_fault("kernel %s launched from device code (dynamic parallelism is not emulated)", kname);
    Launch L;
    L.grid = grid;
    L.block = block;
    L.shmem = shmem;
    L.nthreads = (int)nthreads;
    L.nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    L.body = body;
    L.rec = rec;
    int workers = pool_size();
#ifdef XSIMT_CHECK
    Unlocked open_device_memory;
#endif
    if ((unsigned long long)workers > L.nblocks) workers = (int)L.nblocks;
    // Fibers per block are cheap to start but not free: tiny grids stay on this thread.
    if (L.nblocks * nthreads < 4096) workers = 1;
    if (workers <= 1) {
        run_blocks(&L);
    } else {
        Pool &p = pool();
        {
            std::unique_lock<std::mutex> lk(p.m);
            while (p.nthreads < workers - 1) {
                std::thread(worker_loop).detach();
                p.nthreads++;
            }
            p.job = &L;
            p.want = workers - 1;
            p.gen++;
        }
        p.cv.notify_all();
        run_blocks(&L);
        std::unique_lock<std::mutex> lk(p.m);
        p.done_cv.wait(lk, [&] { return p.busy == 0 && p.want == 0; });
        p.job = nullptr;
    }
#ifdef XSIMT_CHECK
    std::lock_guard<std::mutex> g(regions_mutex());
    check_all_canaries();
#endif
}

template <class... P>
struct KernelRec {
    void (*k)(P...);
    std::tuple<typename std::decay<P>::type...> params;
};
template <class... P>
void invoke(void *p) {
    KernelRec<P...> *r = (KernelRec<P...> *)p;
    std::apply(r->k, r->params);  // each thread gets its own copy of the parameters
}
template <class Tuple, size_t... I>
void check_args(const Tuple &t, const char *kname, std::index_sequence<I...>) {
    (check_arg(std::get<I>(t), (int)I, kname), ...);
}

template <class... P>
struct Launcher {
    void (*k)(P...);
    dim3 grid, block;
    size_t shmem;
    const char *name;
    template <class... A>
    void operator()(A &&...a) const {
        static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
        KernelRec<P...> r{k, std::tuple<typename std::decay<P>::type...>(std::forward<A>(a)...)};
        check_args(r.params, name, std::index_sequence_for<P...>());
        launch_grid(grid, block, shmem, &invoke<P...>, &r, name);
    }
};
template <class... P>
Launcher<P...> launcher_named(const char *name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem = 0,
                              cudaStream_t = 0) {
    return Launcher<P...>{k, grid, block, shmem, name};
}
template <class... P>
Launcher<P...> launcher_named(const char *name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem, int) {
    return Launcher<P...>{k, grid, block, shmem, name};
}

inline void *dyn_shared() {
    if (!tb.in_kernel) xpiler_fault("extern __shared__ memory used outside a kernel");
    return tb.dyn;
}

// ---------------------------------------------------------------------------------------------
// Warp primitives
//
// A warp-collective operation (shuffle, vote, reduction, __syncwarp, __activemask, the exchange of
// WMMA / MFMA) runs once every lane of its warp is blocked: waiting at a warp operation, waiting at
// __syncthreads(), or returned. The lanes waiting at the same call site (file, line, kind) then run
// it together and all other lanes are inactive for it, as on a GPU: a divergent branch runs with
// the other lanes masked off (the EXEC mask of an AMD wavefront), and lanes that returned or wait at
// a barrier take no part. So `if (tid < 32) v += __shfl_down(v, 16, 32);` in a 64-lane wavefront
// exchanges among lanes 0..31 only. When lanes wait at several call sites (each branch of a
// divergent `if` with its own shuffle, a loop some lanes have left, a conditional shuffle before a
// common one), the site on the earliest line runs first (then the one whose lanes have run the
// fewest warp operations, then the one with the lowest lane): in structured code the lanes that are
// behind catch up before the warp reconverges. (Shuffles in a helper called from both branches of
// a divergent `if` share a site and run together; lanes only read inactive lanes there if they
// read across the branches.)
//
// A shuffle reads the value of its source lane when that lane runs the shuffle too, whatever the
// masks say (they only synchronise: TVM's reductions run __shfl_down_sync(__activemask() & 0xffff,
// ...) on every lane, and lanes 8..15 read lanes 16..23); a source lane that does not (inactive, in
// another branch, returned, beyond the block in a partial warp) reads as 0. That is AMD's rule
// (ds_bpermute, which HIP's shuffles use, returns zero for a disabled lane) and what an NVIDIA H200
// does (2026-11-21: exited lanes and lanes beyond the block read 0; undefined in CUDA's documentation).
// Votes, reductions and __activemask count the lanes that take part within the caller's mask; a lane
// outside its own mask (UB) counts the other lanes outside it.
typedef std::conditional<XSIMT_WARP == 64, unsigned long long, unsigned>::type lanemask_t;

enum WarpOpKind { WOP_SHFL_IDX, WOP_SHFL_UP, WOP_SHFL_DOWN, WOP_SHFL_XOR, WOP_FIRSTLANE, WOP_BALLOT, WOP_REDUCE, WOP_SYNC };

// The lanes that exist in the warp whose first fiber is w0 (fewer than XSIMT_WARP in a partial warp).
inline unsigned long long warp_lanes(int w0) {
    int nl = tb.nthreads - w0 < XSIMT_WARP ? tb.nthreads - w0 : XSIMT_WARP;
    return nl >= 64 ? ~0ull : ((1ull << nl) - 1);
}

// The scheduler steps of xpf::barrier, for a wait whose end is decided here rather than by a count
// (fibers.h internals): park the running fiber, or only yield when it was woken already.
inline void park_self(bool parked, int first = -1, int count = 0) {
    xpf::detail::Group *g = xpf::detail::current();
    int me = g->cur;
    if (parked) {
        g->f[me].state = xpf::detail::WAITING;
        g->f[me].bfirst = first < 0 ? me : first;
        g->f[me].bcount = count;  // 0: a warp operation, -1: a named barrier (for on_deadlock)
    }
    xpf::detail::schedule(g, me);
}
inline void wake(int fiber) { xpf::detail::push(xpf::detail::current(), fiber); }

inline bool same_site(const WarpReq &a, const WarpReq &b) {
    return a.line == b.line && a.kind == b.kind && (a.file == b.file || strcmp(a.file, b.file) == 0);
}

// The lanes of the warp operation that runs next among the waiting lanes (see above).
inline unsigned long long pick_group(int w0, unsigned long long waiting) {
    const WarpReq *R = tb.req + w0;
    int first = __builtin_ctzll(waiting);
    unsigned long long same = 0;
    for (unsigned long long m = waiting; m; m &= m - 1) {
        int l = __builtin_ctzll(m);
        if (same_site(R[l], R[first])) same |= 1ull << l;
    }
    if (same == waiting) return same;  // the convergent case
    unsigned long long best = 0, left = waiting;
    unsigned best_count = 0;
    int best_line = 0;
    while (left) {
        int lead = __builtin_ctzll(left);
        unsigned long long group = 0;
        unsigned count = ~0u;
        for (unsigned long long m = left; m; m &= m - 1) {
            int l = __builtin_ctzll(m);
            if (same_site(R[l], R[lead])) {
                group |= 1ull << l;
                count = R[l].count < count ? R[l].count : count;
            }
        }
        left &= ~group;
        if (!best || R[lead].line < best_line || (R[lead].line == best_line && count < best_count)) {
            best = group;
            best_count = count;
            best_line = R[lead].line;
        }
    }
    return best;
}

// Runs the warp operation of the lanes `group` of the warp whose first fiber is w0: every lane's
// result (and the lanes that took part with it) into its request.
inline void run_group(int w0, unsigned long long group) {
    WarpReq *R = tb.req + w0;
    unsigned long long exist = warp_lanes(w0);
    for (unsigned long long g = group; g; g &= g - 1) {
        int lane = __builtin_ctzll(g);
        WarpReq &q = R[lane];
        unsigned long long m = q.mask & exist;
#if XSIMT_WARP == 64
        if ((q.mask & 0xffffffffull) == 0xffffffffull && (q.mask >> 32) == 0) m = exist;  // CUDA-style full mask in HIP code
#endif
        unsigned long long part = group & (((m >> lane) & 1) ? m : ~m);
        q.active = part;
        switch (q.kind) {
            case WOP_SHFL_IDX:
            case WOP_SHFL_UP:
            case WOP_SHFL_DOWN:
            case WOP_SHFL_XOR: {
                int w = q.width, seg = lane & ~(w - 1), src;
                if (q.kind == WOP_SHFL_IDX) src = seg + (q.arg & (w - 1));
                else if (q.kind == WOP_SHFL_UP) src = (lane - seg) - q.arg < 0 ? lane : lane - q.arg;
                else if (q.kind == WOP_SHFL_DOWN) src = (lane - seg) + q.arg >= w ? lane : lane + q.arg;
                else {
                    src = lane ^ q.arg;
                    if (src >= seg + w || src < 0) src = lane;
                }
                // Any lane running this shuffle provides its value, whatever the masks (they only
                // synchronise); a lane that does not (inactive, returned, beyond the block) reads as 0.
                if (src >= 0 && src < 64 && ((group >> src) & 1)) q.result = R[src].val;
                else memset(&q.result, 0, sizeof q.result);
                break;
            }
            case WOP_FIRSTLANE:
                q.result = R[__builtin_ctzll(part)].val;
                break;
            case WOP_BALLOT: {
                unsigned long long bits = 0;
                for (unsigned long long p = part; p; p &= p - 1) {
                    int l = __builtin_ctzll(p);
                    int pred;
                    memcpy(&pred, &R[l].val, sizeof pred);
                    if (pred) bits |= 1ull << l;
                }
                memcpy(&q.result, &bits, sizeof bits);
                break;
            }
            case WOP_REDUCE: {
                Slot acc = R[__builtin_ctzll(part)].val;
                for (unsigned long long p = part & (part - 1); p; p &= p - 1) q.combine(acc, R[__builtin_ctzll(p)].val);
                q.result = acc;
                break;
            }
            default:
                break;
        }
    }
}

// Runs the next warp operation of the warp whose first fiber is w0 if every lane of the warp is
// blocked, and wakes its lanes in lane order. Returns the lanes woken.
inline unsigned long long try_release(int w0) {
    WarpState &ws = tb.warps[w0 / XSIMT_WARP];
    unsigned long long exist = warp_lanes(w0);
    if (!ws.waiting || ((ws.waiting | ws.at_barrier | ws.done) & exist) != exist) return 0;
    unsigned long long group = pick_group(w0, ws.waiting);
    run_group(w0, group);
    ws.waiting &= ~group;
    for (unsigned long long g = group; g; g &= g - 1) wake(w0 + __builtin_ctzll(g));
    return group;
}

// The running lane's request for a warp operation (filled in by the caller, then warp_wait).
inline WarpReq &warp_request(int kind, unsigned long long mask, const char *what, const char *file, int line) {
    if (!tb.in_kernel) xpiler_fault("%s called outside a kernel", what);
    WarpReq &q = tb.req[tb.cur];
    q.kind = kind;
    q.mask = mask;
    q.file = file;
    q.line = line;
    q.arg = 0;
    q.width = XSIMT_WARP;
    q.combine = nullptr;
    return q;
}
// Waits until the operation of the running lane has run; its result is then in `q`.
inline void warp_wait(WarpReq &q) {
    int i = tb.cur, lane = i % XSIMT_WARP, w0 = i - lane;
    tb.warps[i / XSIMT_WARP].waiting |= 1ull << lane;
    unsigned long long woken = try_release(w0);
    park_self(!((woken >> lane) & 1));
    q.count++;
}

// A thread waits at __syncthreads(): its lane is blocked for its warp's operations until every
// thread of the block has arrived (no lane can then be waiting at a warp operation).
inline void block_barrier(const char *what) {
    if (!tb.in_kernel) xpiler_fault("%s called outside a kernel", what);
    int i = tb.cur, lane = i % XSIMT_WARP;
    if (++tb.at_block == tb.nthreads) {
        tb.at_block = 0;
        int nw = (tb.nthreads + XSIMT_WARP - 1) / XSIMT_WARP;
        for (int w = 0; w < nw; ++w) tb.warps[w].at_barrier = 0;
    } else {
        tb.warps[i / XSIMT_WARP].at_barrier |= 1ull << lane;
        try_release(i - lane);
    }
    xpf::barrier();
}
inline void thread_returned() {
    int i = tb.cur, lane = i % XSIMT_WARP;
    tb.warps[i / XSIMT_WARP].done |= 1ull << lane;
    try_release(i - lane);
}

// Named barrier `id` of `count` threads (bar.sync id, count): completes when `count` threads have
// arrived, a warp that is cut short by the end of the block counting 32 (barriers count whole warps).
// A waiting lane is blocked for its warp's operations, as at __syncthreads().
inline void named_barrier(unsigned id, unsigned count, const char *what) {
    if (!tb.in_kernel) xpiler_fault("%s called outside a kernel", what);
    unsigned block = ((unsigned)tb.nthreads + 31) / 32 * 32;
    if (id == 0 && count == block) return block_barrier(what);
    if (id == 0 || id > 15 || count == 0 || count % 32 || count > block)
        xpiler_fault("%s(%u, %u): barrier 1..15 of a multiple of 32 threads, at most the block's %d, is emulated", what,
                     id, count, tb.nthreads);
    int i = tb.cur, lane = i % XSIMT_WARP, w0 = i - i % 32;
    int arrive = 1;
    if (i == w0 && tb.nthreads - w0 < 32) arrive += 32 - (tb.nthreads - w0);
    tb.named_arrived[id] += arrive;
    if ((unsigned)tb.named_arrived[id] < count) {
        tb.named[i] = (int)id;
        tb.warps[i / XSIMT_WARP].at_barrier |= 1ull << lane;
        try_release(i - lane);
        park_self(true, (int)id, -1);
        return;
    }
    tb.named_arrived[id] = 0;
    for (int f = 0; f < tb.nthreads; ++f)
        if (tb.named[f] == (int)id) {
            tb.named[f] = -1;
            tb.warps[f / XSIMT_WARP].at_barrier &= ~(1ull << (f % XSIMT_WARP));
            wake(f);
        }
}

template <class T>
inline T shfl(unsigned long long mask, T v, int arg, int width, int kind, const char *what, const char *file, int line) {
    static_assert(sizeof(T) <= sizeof(Slot), "warp primitive on a type larger than 16 bytes");
    if (width <= 0 || width > XSIMT_WARP || (width & (width - 1)))
        xpiler_fault("%s: width %d is not a power of two in [1, %d]", what, width, XSIMT_WARP);
    WarpReq &q = warp_request(kind, mask, what, file, line);
    q.arg = arg;
    q.width = width;
    memcpy(&q.val, &v, sizeof(T));
    warp_wait(q);
    T out;
    memcpy(&out, &q.result, sizeof(T));
    return out;
}

inline lanemask_t ballot(unsigned long long mask, int pred, const char *what, const char *file, int line) {
    WarpReq &q = warp_request(WOP_BALLOT, mask, what, file, line);
    int p = pred ? 1 : 0;
    memcpy(&q.val, &p, sizeof p);
    warp_wait(q);
    unsigned long long bits;
    memcpy(&bits, &q.result, sizeof bits);
    return (lanemask_t)bits;
}

template <class T, T (*F)(T, T)>
inline void combine(Slot &acc, const Slot &x) {
    T a, b;
    memcpy(&a, &acc, sizeof(T));
    memcpy(&b, &x, sizeof(T));
    a = F(a, b);
    memcpy(&acc, &a, sizeof(T));
}
template <class T> inline T op_add(T a, T b) { return (T)((typename std::make_unsigned<T>::type)a + (typename std::make_unsigned<T>::type)b); }
template <class T> inline T op_min(T a, T b) { return a < b ? a : b; }
template <class T> inline T op_max(T a, T b) { return a > b ? a : b; }
template <class T> inline T op_and(T a, T b) { return a & b; }
template <class T> inline T op_or(T a, T b) { return a | b; }
template <class T> inline T op_xor(T a, T b) { return a ^ b; }
template <class T>
inline T warp_reduce(unsigned long long mask, T v, void (*c)(Slot &, const Slot &), const char *what, const char *file,
                     int line) {
    WarpReq &q = warp_request(WOP_REDUCE, mask, what, file, line);
    q.combine = c;
    memcpy(&q.val, &v, sizeof(T));
    warp_wait(q);
    T out;
    memcpy(&out, &q.result, sizeof(T));
    return out;
}

// __syncwarp(mask) and __activemask(): the lanes that take part.
inline lanemask_t warp_sync(unsigned long long mask, const char *what, const char *file, int line) {
    WarpReq &q = warp_request(WOP_SYNC, mask, what, file, line);
    warp_wait(q);
    return (lanemask_t)q.active;
}

// Block-wide reductions for __syncthreads_count/and/or.
inline long long block_count(int pred) {
    if (!tb.in_kernel) xpiler_fault("__syncthreads_count called outside a kernel");
    // Three accumulators used in turn: op k adds into acc[k % 3]; after its barrier every thread
    // clears acc[(k + 2) % 3], which op k-1's readers have finished with and op k+2's writers
    // only touch after the next barrier.
    int i = tb.cur, k = tb.bpar[i];
    tb.bpar[i] = (unsigned char)((k + 1) % 3);
    if (pred) tb.bacc[k]++;
    block_barrier("__syncthreads_count");
    tb.bacc[(k + 2) % 3] = 0;
    return tb.bacc[k];
}

// Collective matrix op over the warp: each lane scatters its operand elements into the per-warp
// scratch (A at [0,1024), B at [1024,2048)), matrix_scratch_sync, then reads.  Every lane of the
// warp must take part (a tensor-core operation in divergent code is a fault).
inline float *matrix_scratch_begin(int lanes_needed, const char *what) {
    if (!tb.in_kernel) xpiler_fault("%s called outside a kernel", what);
    int i = tb.cur, w0 = i - i % XSIMT_WARP;
    int nl = __builtin_popcountll(warp_lanes(w0));
    if (nl < lanes_needed)
        xpiler_fault("%s needs a full warp of %d lanes; warp %d of block (%u,%u,%u) has %d threads", what, lanes_needed,
                     w0 / XSIMT_WARP, blockIdx.x, blockIdx.y, blockIdx.z, nl);
    float *s = tb.mscratch + ((size_t)(w0 / XSIMT_WARP) * 2 + tb.wpar[i]) * 2048;
    tb.wpar[i] ^= 1;
    return s;
}
inline void matrix_scratch_sync(const char *what) {
    int i = tb.cur, w0 = i - i % XSIMT_WARP;
    unsigned long long all = warp_lanes(w0);
    unsigned long long took = warp_sync(~0ull, what, __FILE__, __LINE__);
    if (took != all)
        xpiler_fault("%s: only %d of the %d lanes of warp %d of block (%u,%u,%u) take part (a warp-wide matrix "
                     "operation in divergent code or after an early return)",
                     what, __builtin_popcountll(took), __builtin_popcountll(all), w0 / XSIMT_WARP, blockIdx.x,
                     blockIdx.y, blockIdx.z);
}

}  // namespace xsimt

// ---------------------------------------------------------------------------------------------
// Device functions: synchronisation, warp primitives
inline void __syncthreads() { xsimt::block_barrier("__syncthreads"); }
inline void __barrier_sync(unsigned id) {
    xsimt::named_barrier(id, ((unsigned)xsimt::tb.nthreads + 31) / 32 * 32, "__barrier_sync");
}
inline void __barrier_sync_count(unsigned id, unsigned count) { xsimt::named_barrier(id, count, "__barrier_sync_count"); }
inline int __syncthreads_count(int p) { return (int)xsimt::block_count(p); }
inline int __syncthreads_and(int p) { return xsimt::block_count(!p) == 0; }
inline int __syncthreads_or(int p) { return xsimt::block_count(p) != 0; }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Every warp primitive takes its call site as hidden default arguments (see "Warp primitives").
#define XSIMT_SITE const char *xsimt_file = __builtin_FILE(), int xsimt_line = __builtin_LINE()
#define XSIMT_AT xsimt_file, xsimt_line
inline void __syncwarp(unsigned long long mask = ~0ull, XSIMT_SITE) { xsimt::warp_sync(mask, "__syncwarp", XSIMT_AT); }
// The lanes that execute this call together (a warp operation here, so that a divergent branch
// sees only its own lanes).
inline xsimt::lanemask_t __activemask(XSIMT_SITE) { return xsimt::warp_sync(~0ull, "__activemask", XSIMT_AT); }

template <class T>
inline T __shfl_sync(unsigned long long mask, T v, int src, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(mask, v, src, width, xsimt::WOP_SHFL_IDX, "__shfl_sync", XSIMT_AT);
}
template <class T>
inline T __shfl_up_sync(unsigned long long mask, T v, unsigned delta, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(mask, v, (int)delta, width, xsimt::WOP_SHFL_UP, "__shfl_up_sync", XSIMT_AT);
}
template <class T>
inline T __shfl_down_sync(unsigned long long mask, T v, unsigned delta, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(mask, v, (int)delta, width, xsimt::WOP_SHFL_DOWN, "__shfl_down_sync", XSIMT_AT);
}
template <class T>
inline T __shfl_xor_sync(unsigned long long mask, T v, int lane_mask, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(mask, v, lane_mask, width, xsimt::WOP_SHFL_XOR, "__shfl_xor_sync", XSIMT_AT);
}
inline xsimt::lanemask_t __ballot_sync(unsigned long long mask, int pred, XSIMT_SITE) {
    return xsimt::ballot(mask, pred, "__ballot_sync", XSIMT_AT);
}
inline int __any_sync(unsigned long long mask, int pred, XSIMT_SITE) { return xsimt::ballot(mask, pred, "__any_sync", XSIMT_AT) != 0; }
inline int __all_sync(unsigned long long mask, int pred, XSIMT_SITE) { return xsimt::ballot(mask, !pred, "__all_sync", XSIMT_AT) == 0; }
#define XSIMT_REDUCE(NAME, OP, T)                                                                          \
    inline T NAME(unsigned long long mask, T v, XSIMT_SITE) {                                              \
        return xsimt::warp_reduce(mask, v, &xsimt::combine<T, xsimt::OP<T>>, #NAME, XSIMT_AT);             \
    }
XSIMT_REDUCE(__reduce_add_sync, op_add, unsigned)
XSIMT_REDUCE(__reduce_add_sync, op_add, int)
XSIMT_REDUCE(__reduce_min_sync, op_min, unsigned)
XSIMT_REDUCE(__reduce_min_sync, op_min, int)
XSIMT_REDUCE(__reduce_max_sync, op_max, unsigned)
XSIMT_REDUCE(__reduce_max_sync, op_max, int)
XSIMT_REDUCE(__reduce_and_sync, op_and, unsigned)
XSIMT_REDUCE(__reduce_or_sync, op_or, unsigned)
XSIMT_REDUCE(__reduce_xor_sync, op_xor, unsigned)
#undef XSIMT_REDUCE
inline unsigned __lanemask_lt() { return (1u << (xsimt::tb.cur % XSIMT_WARP)) - 1; }

#ifdef XSIMT_HIP
// HIP: no mask, 64-lane wavefronts
// HIP's __shfl reads lane (src + the first lane of the caller's width segment) mod 64: unlike CUDA's,
// the source lane is not reduced modulo the width.
template <class T>
inline T __shfl(T v, int src, int width = XSIMT_WARP, XSIMT_SITE) {
    if (width <= 0 || width > XSIMT_WARP || (width & (width - 1)))
        xpiler_fault("__shfl: width %d is not a power of two in [1, %d]", width, XSIMT_WARP);
    int lane = xsimt::tb.cur % XSIMT_WARP;
    return xsimt::shfl(~0ull, v, ((lane & ~(width - 1)) + src) & (XSIMT_WARP - 1), XSIMT_WARP, xsimt::WOP_SHFL_IDX,
                       "__shfl", XSIMT_AT);
}
template <class T>
inline T __shfl_up(T v, unsigned delta, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(~0ull, v, (int)delta, width, xsimt::WOP_SHFL_UP, "__shfl_up", XSIMT_AT);
}
template <class T>
inline T __shfl_down(T v, unsigned delta, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(~0ull, v, (int)delta, width, xsimt::WOP_SHFL_DOWN, "__shfl_down", XSIMT_AT);
}
template <class T>
inline T __shfl_xor(T v, int lane_mask, int width = XSIMT_WARP, XSIMT_SITE) {
    return xsimt::shfl(~0ull, v, lane_mask, width, xsimt::WOP_SHFL_XOR, "__shfl_xor", XSIMT_AT);
}
inline unsigned long long __ballot(int pred, XSIMT_SITE) { return xsimt::ballot(~0ull, pred, "__ballot", XSIMT_AT); }
inline int __any(int pred, XSIMT_SITE) { return xsimt::ballot(~0ull, pred, "__any", XSIMT_AT) != 0; }
inline int __all(int pred, XSIMT_SITE) { return xsimt::ballot(~0ull, !pred, "__all", XSIMT_AT) == 0; }
inline unsigned __lane_id() { return (unsigned)(xsimt::tb.cur % XSIMT_WARP); }
inline int xsimt_ds_bpermute(int addr, int v, XSIMT_SITE) {
    return xsimt::shfl(~0ull, v, (addr >> 2) & (XSIMT_WARP - 1), XSIMT_WARP, xsimt::WOP_SHFL_IDX,
                       "__builtin_amdgcn_ds_bpermute", XSIMT_AT);
}
inline int xsimt_readfirstlane(int v, XSIMT_SITE) {
    return xsimt::shfl(~0ull, v, 0, XSIMT_WARP, xsimt::WOP_FIRSTLANE, "__builtin_amdgcn_readfirstlane", XSIMT_AT);
}
#define __builtin_amdgcn_ds_bpermute xsimt_ds_bpermute
#define __builtin_amdgcn_readfirstlane xsimt_readfirstlane
#define __builtin_amdgcn_s_barrier __syncthreads
#define __builtin_amdgcn_wave_barrier() __syncwarp()
#define __builtin_amdgcn_s_waitcnt(x) ((void)0)
#define __builtin_amdgcn_fence(order, scope) __atomic_thread_fence(order)
#define __builtin_amdgcn_workitem_id_x() (threadIdx.x)
#define __builtin_amdgcn_workitem_id_y() (threadIdx.y)
#define __builtin_amdgcn_workitem_id_z() (threadIdx.z)
#define __builtin_amdgcn_workgroup_id_x() (blockIdx.x)
#define __builtin_amdgcn_workgroup_id_y() (blockIdx.y)
#define __builtin_amdgcn_workgroup_id_z() (blockIdx.z)
#endif

// ---------------------------------------------------------------------------------------------
// Atomics (real atomics: blocks run concurrently)
namespace xsimt {
template <class T, class F>
inline T cas_loop(T *p, F f) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8 || sizeof(T) == 2, "atomic on an unsupported size");
    typedef typename std::conditional<sizeof(T) == 8, unsigned long long,
                                      typename std::conditional<sizeof(T) == 4, unsigned, unsigned short>::type>::type U;
    U *q = (U *)p;
    U old = __atomic_load_n(q, __ATOMIC_RELAXED), nw;
    for (;;) {
        T o, n;
        memcpy(&o, &old, sizeof(T));
        n = f(o);
        memcpy(&nw, &n, sizeof(T));
        if (__atomic_compare_exchange_n(q, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return o;
    }
}
}  // namespace xsimt
#define XSIMT_ATOMIC_INT(T)                                                                         \
    inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }           \
    inline T atomicSub(T *p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }           \
    inline T atomicAnd(T *p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }           \
    inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }             \
    inline T atomicXor(T *p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }           \
    inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }         \
    inline T atomicMax(T *p, T v) { return xsimt::cas_loop(p, [v](T o) { return o > v ? o : v; }); } \
    inline T atomicMin(T *p, T v) { return xsimt::cas_loop(p, [v](T o) { return o < v ? o : v; }); } \
    inline T atomicCAS(T *p, T cmp, T v) {                                                          \
        __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
        return cmp;                                                                                 \
    }
XSIMT_ATOMIC_INT(int)
XSIMT_ATOMIC_INT(unsigned int)
XSIMT_ATOMIC_INT(unsigned long long)
XSIMT_ATOMIC_INT(long long)
#undef XSIMT_ATOMIC_INT
inline unsigned short atomicCAS(unsigned short *p, unsigned short cmp, unsigned short v) {
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}
inline float atomicAdd(float *p, float v) { return xsimt::cas_loop(p, [v](float o) { return o + v; }); }
inline double atomicAdd(double *p, double v) { return xsimt::cas_loop(p, [v](double o) { return o + v; }); }
inline float atomicSub(float *p, float v) { return xsimt::cas_loop(p, [v](float o) { return o - v; }); }
inline float atomicExch(float *p, float v) { return xsimt::cas_loop(p, [v](float) { return v; }); }
inline float atomicMax(float *p, float v) { return xsimt::cas_loop(p, [v](float o) { return o > v ? o : v; }); }
inline float atomicMin(float *p, float v) { return xsimt::cas_loop(p, [v](float o) { return o < v ? o : v; }); }
inline double atomicMax(double *p, double v) { return xsimt::cas_loop(p, [v](double o) { return o > v ? o : v; }); }
inline double atomicMin(double *p, double v) { return xsimt::cas_loop(p, [v](double o) { return o < v ? o : v; }); }
inline __half atomicAdd(__half *p, __half v) { return xsimt::cas_loop(p, [v](__half o) { return o + v; }); }
inline __half2 atomicAdd(__half2 *p, __half2 v) { return xsimt::cas_loop(p, [v](__half2 o) { return o + v; }); }
inline unsigned atomicInc(unsigned *p, unsigned v) {
    return xsimt::cas_loop(p, [v](unsigned o) { return o >= v ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned *p, unsigned v) {
    return xsimt::cas_loop(p, [v](unsigned o) { return (o == 0 || o > v) ? v : o - 1; });
}
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicMax_block atomicMax
#define atomicMin_block atomicMin
#define atomicExch_block atomicExch
#define atomicCAS_block atomicCAS

// ---------------------------------------------------------------------------------------------
// Math and bit intrinsics
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#ifndef INFINITY
#define INFINITY (__builtin_inff())
#endif
#define CUDART_INF_F (__builtin_inff())
#define CUDART_NAN_F (__builtin_nanf(""))
#define CUDART_PI_F 3.141592654f
#define HIPRT_INF_F (__builtin_inff())
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float *s, float *c) { *s = sinf(x); *c = cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fadd_rz(float a, float b) { return a + b; }
inline float __fmul_rz(float a, float b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline unsigned __float2uint_rz(float x) { return (unsigned)x; }
inline long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __ll2float_rn(long long x) { return (float)x; }
inline int __double2int_rn(double x) { return (int)nearbyint(x); }
inline float __double2float_rn(double x) { return (float)x; }
inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; memcpy(&x, &i, 8); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
inline int __mul24(int a, int b) { return ((a << 8) >> 8) * ((b << 8) >> 8); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffff) * (b & 0xffffff); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline unsigned __sad(int a, int b, unsigned c) { return (unsigned)(a > b ? a - b : b - a) + c; }
inline int __hadd(int a, int b) { return (int)(((long long)a + b) >> 1); }
inline int __rhadd(int a, int b) { return (int)(((long long)a + b + 1) >> 1); }
inline long long clock64() { return (long long)std::chrono::steady_clock::now().time_since_epoch().count(); }
inline long long wall_clock64() { return clock64(); }
inline void __nanosleep(unsigned) {}
inline void __trap() { xpiler_fault("__trap() called by block (%u,%u,%u) thread (%u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z); }
inline void __brkpt() { __trap(); }
template <class T> inline T __ldg(const T *p) { return *p; }
template <class T> inline T __ldcg(const T *p) { return *p; }
template <class T> inline T __ldca(const T *p) { return *p; }
template <class T> inline T __ldcs(const T *p) { return *p; }
template <class T> inline T __ldlu(const T *p) { return *p; }
template <class T> inline T __ldcv(const T *p) { return *p; }
template <class T> inline void __stcg(T *p, T v) { *p = v; }
template <class T> inline void __stcs(T *p, T v) { *p = v; }
template <class T> inline void __stwb(T *p, T v) { *p = v; }
template <class T> inline void __stwt(T *p, T v) { *p = v; }

// CUDA's min/max overloads (global namespace, mixed types promote as in CUDA)
#define XSIMT_MINMAX(T)                                   \
    inline T min(T a, T b) { return b < a ? b : a; }      \
    inline T max(T a, T b) { return a < b ? b : a; }
XSIMT_MINMAX(int)
XSIMT_MINMAX(unsigned int)
XSIMT_MINMAX(long)
XSIMT_MINMAX(unsigned long)
XSIMT_MINMAX(long long)
XSIMT_MINMAX(unsigned long long)
#undef XSIMT_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline float min(float a, int b) { return fminf(a, (float)b); }
inline float min(int a, float b) { return fminf((float)a, b); }
inline float max(float a, int b) { return fmaxf(a, (float)b); }
inline float max(int a, float b) { return fmaxf((float)a, b); }
inline double min(double a, float b) { return fmin(a, (double)b); }
inline double min(float a, double b) { return fmin((double)a, b); }
inline double max(double a, float b) { return fmax(a, (double)b); }
inline double max(float a, double b) { return fmax((double)a, b); }
inline double min(double a, int b) { return fmin(a, (double)b); }
inline double max(double a, int b) { return fmax(a, (double)b); }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long long min(long long a, int b) { return min(a, (long long)b); }
inline long long min(int a, long long b) { return min((long long)a, b); }
inline long long max(long long a, int b) { return max(a, (long long)b); }
inline long long max(int a, long long b) { return max((long long)a, b); }
inline __half hmax(__half a, __half b) { return __hmax(a, b); }
inline __half hmin(__half a, __half b) { return __hmin(a, b); }

// ---------------------------------------------------------------------------------------------
// MFMA (AMD matrix cores), wavefront-collective, exact per-lane layouts (cbsz = abid = blgp = 0)
typedef float xsimt_f32x4 __attribute__((__vector_size__(4 * sizeof(float))));
typedef float xsimt_f32x16 __attribute__((__vector_size__(16 * sizeof(float))));
typedef _Float16 xsimt_f16x4 __attribute__((__vector_size__(4 * sizeof(_Float16))));
namespace xsimt {
inline void mfma_modifiers(int cbsz, int abid, int blgp, const char *what) {
    if (cbsz || abid || blgp) xpiler_fault("%s with cbsz=%d abid=%d blgp=%d is not emulated (only 0, 0, 0)", what, cbsz, abid, blgp);
}
// D(MxN) = A(MxK) B(KxN) + C; a_at(l, i) / b_at(l, i): (row, col) lane l's i-th A / B element goes to;
// d_at(l, j): (row, col) of lane l's j-th result element.
template <int M, int N, int K, int NA, int ND, class AF, class BF, class DF, class VA, class VD>
inline void mfma(const VA &a, const VA &b, const VD &c, VD &d, AF a_at, BF b_at, DF d_at, const char *what) {
    if (XSIMT_WARP != 64) xpiler_fault("%s needs 64-lane wavefronts (the HIP dialect)", what);
    float *s = matrix_scratch_begin(64, what);
    float *A = s, *B = s + 1024;
    int l = tb.cur % 64;
    for (int i = 0; i < NA; ++i) {
        int r, k;
        a_at(l, i, r, k);
        A[r * K + k] = (float)a[i];
        b_at(l, i, k, r);
        B[k * N + r] = (float)b[i];
    }
    matrix_scratch_sync(what);
    VD out;
    for (int j = 0; j < ND; ++j) {
        int r, col;
        d_at(l, j, r, col);
        float acc = c[j];
        for (int k = 0; k < K; ++k) acc += A[r * K + k] * B[k * N + col];
        out[j] = acc;
    }
    d = out;
}
}  // namespace xsimt
inline xsimt_f32x4 xsimt_mfma_f32_16x16x16f16(xsimt_f16x4 a, xsimt_f16x4 b, xsimt_f32x4 c, int cbsz, int abid, int blgp) {
    const char *w = "__builtin_amdgcn_mfma_f32_16x16x16f16";
    xsimt::mfma_modifiers(cbsz, abid, blgp, w);
    xsimt_f32x4 d;
    xsimt::mfma<16, 16, 16, 4, 4>(a, b, c, d,
        [](int l, int i, int &r, int &k) { r = l % 16; k = 4 * (l / 16) + i; },
        [](int l, int i, int &k, int &n) { k = 4 * (l / 16) + i; n = l % 16; },
        [](int l, int j, int &r, int &n) { r = 4 * (l / 16) + j; n = l % 16; }, w);
    return d;
}
inline xsimt_f32x16 xsimt_mfma_f32_32x32x8f16(xsimt_f16x4 a, xsimt_f16x4 b, xsimt_f32x16 c, int cbsz, int abid, int blgp) {
    const char *w = "__builtin_amdgcn_mfma_f32_32x32x8f16";
    xsimt::mfma_modifiers(cbsz, abid, blgp, w);
    xsimt_f32x16 d;
    xsimt::mfma<32, 32, 8, 4, 16>(a, b, c, d,
        [](int l, int i, int &r, int &k) { r = l % 32; k = 4 * (l / 32) + i; },
        [](int l, int i, int &k, int &n) { k = 4 * (l / 32) + i; n = l % 32; },
        [](int l, int j, int &r, int &n) { r = 8 * (j / 4) + 4 * (l / 32) + j % 4; n = l % 32; }, w);
    return d;
}
namespace xsimt {
typedef float f32x1 __attribute__((__vector_size__(4)));
}
inline xsimt_f32x4 xsimt_mfma_f32_16x16x4f32(float a, float b, xsimt_f32x4 c, int cbsz, int abid, int blgp) {
    const char *w = "__builtin_amdgcn_mfma_f32_16x16x4f32";
    xsimt::mfma_modifiers(cbsz, abid, blgp, w);
    xsimt::f32x1 va = {a}, vb = {b};
    xsimt_f32x4 d;
    xsimt::mfma<16, 16, 4, 1, 4>(va, vb, c, d,
        [](int l, int, int &r, int &k) { r = l % 16; k = l / 16; },
        [](int l, int, int &k, int &n) { k = l / 16; n = l % 16; },
        [](int l, int j, int &r, int &n) { r = 4 * (l / 16) + j; n = l % 16; }, w);
    return d;
}
inline xsimt_f32x16 xsimt_mfma_f32_32x32x2f32(float a, float b, xsimt_f32x16 c, int cbsz, int abid, int blgp) {
    const char *w = "__builtin_amdgcn_mfma_f32_32x32x2f32";
    xsimt::mfma_modifiers(cbsz, abid, blgp, w);
    xsimt::f32x1 va = {a}, vb = {b};
    xsimt_f32x16 d;
    xsimt::mfma<32, 32, 2, 1, 16>(va, vb, c, d,
        [](int l, int, int &r, int &k) { r = l % 32; k = l / 32; },
        [](int l, int, int &k, int &n) { k = l / 32; n = l % 32; },
        [](int l, int j, int &r, int &n) { r = 8 * (j / 4) + 4 * (l / 32) + j % 4; n = l % 32; }, w);
    return d;
}
#define __builtin_amdgcn_mfma_f32_16x16x16f16 xsimt_mfma_f32_16x16x16f16
#define __builtin_amdgcn_mfma_f32_32x32x8f16 xsimt_mfma_f32_32x32x8f16
#define __builtin_amdgcn_mfma_f32_16x16x4f32 xsimt_mfma_f32_16x16x4f32
#define __builtin_amdgcn_mfma_f32_32x32x2f32 xsimt_mfma_f32_32x32x2f32

// Four-byte dot products: c + the sum of the four byte products of a and b (byte 0 the lowest),
// wrapping in 32 bits as the hardware does. CUDA: __dp4a (sm_61+; int: bytes signed, unsigned:
// unsigned). HIP (CDNA): __builtin_amdgcn_sdot4 / udot4, whose last operand asks for saturation.
namespace xsimt {
template <class B, class W>
inline W dot4(W a, W b, W c) {
    unsigned sum = (unsigned)c;
    for (int i = 0; i < 4; ++i)
        sum += (unsigned)((int)(B)(unsigned char)((unsigned)a >> (8 * i)) * (int)(B)(unsigned char)((unsigned)b >> (8 * i)));
    return (W)sum;
}
}  // namespace xsimt
inline int __dp4a(int a, int b, int c) { return xsimt::dot4<signed char>(a, b, c); }
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) { return xsimt::dot4<unsigned char>(a, b, c); }
inline int xsimt_sdot4(int a, int b, int c, bool clamp) {
    if (clamp) xpiler_fault("__builtin_amdgcn_sdot4 with clamp (saturation) is not emulated");
    return xsimt::dot4<signed char>(a, b, c);
}
inline unsigned xsimt_udot4(unsigned a, unsigned b, unsigned c, bool clamp) {
    if (clamp) xpiler_fault("__builtin_amdgcn_udot4 with clamp (saturation) is not emulated");
    return xsimt::dot4<unsigned char>(a, b, c);
}
#define __builtin_amdgcn_sdot4 xsimt_sdot4
#define __builtin_amdgcn_udot4 xsimt_udot4

// ---------------------------------------------------------------------------------------------
// Host API (device memory = host memory; launches are synchronous)
namespace xsimt {
inline cudaError_t &last_error() {
    static cudaError_t e = cudaSuccess;
    return e;
}
inline const char *strip_name(const char *expr, char *buf, size_t n) {
    // "(void **)&d_A" -> "d_A"; "&dev.out" -> "dev.out"
    const char *p = strrchr(expr, '&');
    p = p ? p + 1 : expr;
    while (*p == ' ' || *p == '(') ++p;
    size_t k = 0;
    while (p[k] && p[k] != ')' && p[k] != ' ' && k + 1 < n) { buf[k] = p[k]; ++k; }
    buf[k] = 0;
    return buf;
}
template <class T> struct elem_size { static const size_t value = sizeof(T); };
template <> struct elem_size<void> { static const size_t value = 0; };
template <> struct elem_size<const void> { static const size_t value = 0; };
template <class T>
inline cudaError_t malloc_named(T **p, size_t n, const char *expr, bool host_ok = false) {
#ifdef XSIMT_CHECK
    char buf[64];
    void *m = guarded_alloc(n, strip_name(expr, buf, sizeof buf), elem_size<T>::value, host_ok);
#else
    (void)expr;
    (void)host_ok;
    void *m = aligned_alloc(256, (n + 255) / 256 * 256 + 256);
#endif
    if (!m) {
        *p = nullptr;
        return last_error() = cudaErrorMemoryAllocation;
    }
    *p = (T *)m;
    return cudaSuccess;
}
inline cudaError_t free_ptr(void *p) {
    if (!p) return cudaSuccess;
#ifdef XSIMT_CHECK
    if (!guarded_free(p)) xpiler_fault("cudaFree/hipFree of %p, which is not memory from cudaMalloc/hipMalloc (or freed twice)", p);
#else
    free(p);
#endif
    return cudaSuccess;
}
inline void check_copy_range(const void *p, size_t n, const char *what, const char *side) {
#ifdef XSIMT_CHECK
    std::lock_guard<std::mutex> g(regions_mutex());
    Region *r = find_region(p);
    if (r && (const char *)p + n > r->lo + r->bytes)
        xpiler_fault("%s of %zu bytes: the %s range runs %zu bytes past the end of buffer '%s' (%zu bytes, starting at byte %zu)",
                     what, n, side, (size_t)((const char *)p + n - (r->lo + r->bytes)), r->name, r->bytes,
                     (size_t)((const char *)p - r->lo));
#else
    (void)p; (void)n; (void)what; (void)side;
#endif
}
inline cudaError_t memcpy_checked(void *dst, const void *src, size_t n, const char *what) {
    if (n == 0) return cudaSuccess;
    if (!dst || !src) xpiler_fault("%s of %zu bytes with a null pointer", what, n);
    check_copy_range(dst, n, what, "destination");
    check_copy_range(src, n, what, "source");
#ifdef XSIMT_CHECK
    Unlocked open_device_memory;
#endif
    memmove(dst, src, n);
    return cudaSuccess;
}
}  // namespace xsimt

#define cudaMalloc(p, n) ::xsimt::malloc_named((p), (n), #p)
#define cudaMallocManaged(p, n, ...) ::xsimt::malloc_named((p), (n), #p, true)
#define cudaMallocHost(p, n) ::xsimt::malloc_named((p), (n), #p, true)
#define cudaHostAlloc(p, n, f) ::xsimt::malloc_named((p), (n), #p, true)
inline cudaError_t cudaFree(void *p) { return xsimt::free_ptr(p); }
inline cudaError_t cudaFreeHost(void *p) { return xsimt::free_ptr(p); }
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind) {
    return xsimt::memcpy_checked(dst, src, n, "cudaMemcpy");
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind, cudaStream_t = 0) {
    return xsimt::memcpy_checked(dst, src, n, "cudaMemcpyAsync");
}
inline cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, cudaMemcpyKind) {
    for (size_t r = 0; r < height; ++r)
        xsimt::memcpy_checked((char *)dst + r * dpitch, (const char *)src + r * spitch, width, "cudaMemcpy2D");
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *p, int v, size_t n) {
    xsimt::check_copy_range(p, n, "cudaMemset", "destination");
#ifdef XSIMT_CHECK
    xsimt::Unlocked open_device_memory;
#endif
    memset(p, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t = 0) { return cudaMemset(p, v, n); }
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T &sym, const void *src, size_t n, size_t off = 0, cudaMemcpyKind = cudaMemcpyHostToDevice) {
    if (off + n > sizeof(T)) xpiler_fault("cudaMemcpyToSymbol of %zu bytes at offset %zu into a symbol of %zu bytes", n, off, sizeof(T));
    memcpy((char *)&sym + off, src, n);
    return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &sym, size_t n, size_t off = 0, cudaMemcpyKind = cudaMemcpyDeviceToHost) {
    if (off + n > sizeof(T)) xpiler_fault("cudaMemcpyFromSymbol of %zu bytes at offset %zu from a symbol of %zu bytes", n, off, sizeof(T));
    memcpy(dst, (const char *)&sym + off, n);
    return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaThreadSynchronize() { return cudaSuccess; }
inline cudaError_t cudaDeviceReset() { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { cudaError_t e = xsimt::last_error(); xsimt::last_error() = cudaSuccess; return e; }
inline cudaError_t cudaPeekAtLastError() { return xsimt::last_error(); }
inline const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "error (xpiler SIMT emulation)"; }
inline const char *cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaError"; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int *d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "xpiler SIMT CPU emulation");
    p->totalGlobalMem = (size_t)16 << 30;
    p->sharedMemPerBlock = 49152;
    p->sharedMemPerBlockOptin = 232448;
    p->sharedMemPerMultiprocessor = 233472;
    p->regsPerBlock = 65536;
    p->warpSize = XSIMT_WARP;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = 1024; p->maxThreadsDim[1] = 1024; p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647; p->maxGridSize[1] = 65535; p->maxGridSize[2] = 65535;
    p->multiProcessorCount = 132;
    p->major = XSIMT_WARP == 64 ? 9 : 9;
    p->minor = 0;
    p->maxThreadsPerMultiProcessor = 2048;
    p->clockRate = 1755000;
    p->totalConstMem = 65536;
    return cudaSuccess;
}
enum cudaDeviceAttr { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMaxSharedMemoryPerBlock = 8, cudaDevAttrWarpSize = 10, cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int) {
    switch (a) {
        case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
        case cudaDevAttrMaxSharedMemoryPerBlock: *v = 49152; break;
        case cudaDevAttrWarpSize: *v = XSIMT_WARP; break;
        case cudaDevAttrMultiProcessorCount: *v = 132; break;
        default: *v = 232448; break;
    }
    return cudaSuccess;
}
template <class F> inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }
template <class F> inline cudaError_t cudaFuncSetCacheConfig(F, cudaFuncCache) { return cudaSuccess; }
inline cudaError_t cudaDeviceSetCacheConfig(cudaFuncCache) { return cudaSuccess; }
inline cudaError_t cudaDeviceSetSharedMemConfig(cudaSharedMemConfig) { return cudaSuccess; }
inline cudaError_t cudaStreamCreate(cudaStream_t *s) { *s = new CUstream_st(); return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { return cudaStreamCreate(s); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t *e) { *e = new CUevent_st(); (*e)->t = std::chrono::steady_clock::now(); return cudaSuccess; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = 0) { e->t = std::chrono::steady_clock::now(); return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventQuery(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
    return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned = 0) { return cudaSuccess; }

#define XSIMT_LAUNCH(k, ...) ::xsimt::launcher_named(#k, k, __VA_ARGS__)

// ---------------------------------------------------------------------------------------------
// HIP names
#ifdef XSIMT_HIP
typedef cudaError_t hipError_t;
#define hipSuccess cudaSuccess
#define hipErrorInvalidValue cudaErrorInvalidValue
#define hipErrorOutOfMemory cudaErrorMemoryAllocation
#define hipErrorMemoryAllocation cudaErrorMemoryAllocation
typedef cudaMemcpyKind hipMemcpyKind;
#define hipMemcpyHostToHost cudaMemcpyHostToHost
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipMemcpyDefault cudaMemcpyDefault
typedef cudaStream_t hipStream_t;
typedef cudaEvent_t hipEvent_t;
typedef cudaDeviceProp hipDeviceProp_t;
#define hipStreamDefault cudaStreamDefault
#define hipStreamNonBlocking cudaStreamNonBlocking
#define hipMalloc(p, n) ::xsimt::malloc_named((p), (n), #p)
#define hipMallocManaged(p, n, ...) ::xsimt::malloc_named((p), (n), #p, true)
#define hipHostMalloc(p, n, ...) ::xsimt::malloc_named((p), (n), #p, true)
#define hipMallocHost(p, n) ::xsimt::malloc_named((p), (n), #p, true)
inline hipError_t hipFree(void *p) { return cudaFree(p); }
inline hipError_t hipHostFree(void *p) { return cudaFree(p); }
inline hipError_t hipFreeHost(void *p) { return cudaFree(p); }
inline hipError_t hipMemcpy(void *d, const void *s, size_t n, hipMemcpyKind) { return xsimt::memcpy_checked(d, s, n, "hipMemcpy"); }
inline hipError_t hipMemcpyAsync(void *d, const void *s, size_t n, hipMemcpyKind, hipStream_t = 0) { return xsimt::memcpy_checked(d, s, n, "hipMemcpyAsync"); }
inline hipError_t hipMemcpyHtoD(void *d, const void *s, size_t n) { return xsimt::memcpy_checked(d, s, n, "hipMemcpyHtoD"); }
inline hipError_t hipMemcpyDtoH(void *d, const void *s, size_t n) { return xsimt::memcpy_checked(d, s, n, "hipMemcpyDtoH"); }
inline hipError_t hipMemset(void *p, int v, size_t n) { return cudaMemset(p, v, n); }
inline hipError_t hipMemsetAsync(void *p, int v, size_t n, hipStream_t = 0) { return cudaMemset(p, v, n); }
#define hipMemcpyToSymbol(sym, ...) cudaMemcpyToSymbol(sym, __VA_ARGS__)
#define hipMemcpyFromSymbol(dst, sym, ...) cudaMemcpyFromSymbol(dst, sym, __VA_ARGS__)
#define HIP_SYMBOL(x) x
inline hipError_t hipDeviceSynchronize() { return cudaSuccess; }
inline hipError_t hipDeviceReset() { return cudaSuccess; }
inline hipError_t hipGetLastError() { return cudaGetLastError(); }
inline hipError_t hipPeekAtLastError() { return cudaPeekAtLastError(); }
inline const char *hipGetErrorString(hipError_t e) { return cudaGetErrorString(e); }
inline const char *hipGetErrorName(hipError_t e) { return cudaGetErrorName(e); }
inline hipError_t hipSetDevice(int) { return cudaSuccess; }
inline hipError_t hipGetDevice(int *d) { *d = 0; return cudaSuccess; }
inline hipError_t hipGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
inline hipError_t hipGetDeviceProperties(hipDeviceProp_t *p, int d) { return cudaGetDeviceProperties(p, d); }
typedef cudaDeviceAttr hipDeviceAttribute_t;
#define hipDeviceAttributeMaxThreadsPerBlock cudaDevAttrMaxThreadsPerBlock
#define hipDeviceAttributeMaxSharedMemoryPerBlock cudaDevAttrMaxSharedMemoryPerBlock
#define hipDeviceAttributeWarpSize cudaDevAttrWarpSize
#define hipDeviceAttributeMultiprocessorCount cudaDevAttrMultiProcessorCount
inline hipError_t hipDeviceGetAttribute(int *v, hipDeviceAttribute_t a, int d) { return cudaDeviceGetAttribute(v, a, d); }
inline hipError_t hipStreamCreate(hipStream_t *s) { return cudaStreamCreate(s); }
inline hipError_t hipStreamCreateWithFlags(hipStream_t *s, unsigned f) { return cudaStreamCreateWithFlags(s, f); }
inline hipError_t hipStreamDestroy(hipStream_t s) { return cudaStreamDestroy(s); }
inline hipError_t hipStreamSynchronize(hipStream_t) { return cudaSuccess; }
inline hipError_t hipEventCreate(hipEvent_t *e) { return cudaEventCreate(e); }
inline hipError_t hipEventCreateWithFlags(hipEvent_t *e, unsigned f) { return cudaEventCreateWithFlags(e, f); }
inline hipError_t hipEventDestroy(hipEvent_t e) { return cudaEventDestroy(e); }
inline hipError_t hipEventRecord(hipEvent_t e, hipStream_t s = 0) { return cudaEventRecord(e, s); }
inline hipError_t hipEventSynchronize(hipEvent_t) { return cudaSuccess; }
inline hipError_t hipEventElapsedTime(float *ms, hipEvent_t a, hipEvent_t b) { return cudaEventElapsedTime(ms, a, b); }
template <class F> inline hipError_t hipFuncSetAttribute(F, int, int) { return cudaSuccess; }
#define hipFuncAttributeMaxDynamicSharedMemorySize cudaFuncAttributeMaxDynamicSharedMemorySize
#define hipLaunchKernelGGL(k, g, b, sh, st, ...) ::xsimt::launcher_named(#k, k, g, b, sh, st)(__VA_ARGS__)
#define HIP_KERNEL_NAME(...) __VA_ARGS__
#define HIP_DYNAMIC_SHARED(type, var) type *var = (type *)::xsimt::dyn_shared();
#define HIP_DYNAMIC_SHARED_ATTRIBUTE
#define hipThreadIdx_x (threadIdx.x)
#define hipThreadIdx_y (threadIdx.y)
#define hipThreadIdx_z (threadIdx.z)
#define hipBlockIdx_x (blockIdx.x)
#define hipBlockIdx_y (blockIdx.y)
#define hipBlockIdx_z (blockIdx.z)
#define hipBlockDim_x (blockDim.x)
#define hipBlockDim_y (blockDim.y)
#define hipBlockDim_z (blockDim.z)
#define hipGridDim_x (gridDim.x)
#define hipGridDim_y (gridDim.y)
#define hipGridDim_z (gridDim.z)
#endif

// ---------------------------------------------------------------------------------------------
// Entry points for the oracle (checking mode)
extern "C" __attribute__((weak, visibility("default"))) void xpiler_register_buffer_named(void *p, size_t n, const char *name) {
    std::lock_guard<std::mutex> g(xsimt::regions_mutex());
    xsimt::Region r;
    memset(&r, 0, sizeof r);
    r.lo = (char *)p;
    r.bytes = n;
    r.device = false;
    xsimt::set_name(r, name);
    xsimt::regions().push_back(r);
}
// Names of the entry's pointer parameters in order, null-terminated (defined by the code simt.py
// appends; the k-th registered buffer takes the k-th name).
extern "C" const char *const xsimt_param_names[] __attribute__((weak));
extern "C" __attribute__((weak, visibility("default"))) void xpiler_register_buffer(void *p, size_t n) {
    static int k = 0;
    char name[64];
    int nn = 0;
    if (xsimt_param_names)
        while (xsimt_param_names[nn]) ++nn;
    if (k < nn) snprintf(name, sizeof name, "%s", xsimt_param_names[k]);
    else snprintf(name, sizeof name, "buffer argument %d", k + 1);
    ++k;
    xpiler_register_buffer_named(p, n, name);
}

namespace xsimt {
// Bare-kernel wrappers in checking mode: a shadow copy of the registered host buffer `p` points
// into, in guarded memory, copied back by ShadowSet's destructor.
struct ShadowSet {
    struct S { char *host, *dev; size_t bytes; bool write_back; };
    std::vector<S> v;
    template <class T>
    T *shadow(T *p, const char *name) {
#ifdef XSIMT_CHECK
        if (!p) return p;
        char *lo;
        size_t bytes;
        {
            std::lock_guard<std::mutex> g(regions_mutex());
            Region *r = find_region((const void *)p);
            if (!r || r->device) return p;
            lo = r->lo;
            bytes = r->bytes;
        }
        size_t off = (size_t)((char *)p - lo);
        bool writes = !std::is_const<T>::value;
        for (auto &s : v)
            if (s.host == lo) {  // aliased arguments share one shadow
                s.write_back = s.write_back || writes;
                return (T *)(s.dev + off);
            }
        typedef typename std::remove_cv<T>::type U;
        char *d = (char *)guarded_alloc(bytes, name, elem_size<U>::value, true);
        if (!d) xpiler_fault("cannot allocate a shadow of %zu bytes for '%s'", bytes, name);
        memcpy(d, lo, bytes);
        v.push_back(S{lo, d, bytes, writes});
        return (T *)(d + off);
#else
        (void)name;
        return p;
#endif
    }
    ~ShadowSet() {
        for (auto &s : v) {
            if (s.write_back) memcpy(s.host, s.dev, s.bytes);
            guarded_free(s.dev);
        }
    }
};
}  // namespace xsimt

// ---------------------------------------------------------------------------------------------
// -fsanitize=bounds (checking mode): out-of-bounds indices into arrays of known size
namespace xsimt {
struct UbsanLoc { const char *file; unsigned line, column; };
struct UbsanType { unsigned short kind, info; char name[1]; };
struct UbsanOOB { UbsanLoc loc; const UbsanType *array, *index; };
[[noreturn]] inline void ubsan_oob(UbsanOOB *d, unsigned long v) {
    long long idx = (long long)v;
    if (d->index && d->index->kind == 0 && (d->index->info & 1)) {  // signed integer: sign-extend
        int bits = 1 << (d->index->info >> 1);
        if (bits < 64) idx = (long long)((unsigned long long)v << (64 - bits)) >> (64 - bits);
    }
    if (tb.in_kernel)
        xpiler_fault("out-of-bounds index %lld into an array of type %s at %s:%u by block (%u,%u,%u) thread (%u,%u,%u)",
                     idx, d->array ? d->array->name : "?", d->loc.file, d->loc.line, blockIdx.x, blockIdx.y, blockIdx.z,
                     threadIdx.x, threadIdx.y, threadIdx.z);
    xpiler_fault("out-of-bounds index %lld into an array of type %s at %s:%u", idx, d->array ? d->array->name : "?",
                 d->loc.file, d->loc.line);
}
}  // namespace xsimt
extern "C" __attribute__((weak, visibility("default"))) void __ubsan_handle_out_of_bounds(void *d, unsigned long v) {
    xsimt::ubsan_oob((xsimt::UbsanOOB *)d, v);
}
extern "C" __attribute__((weak, visibility("default"))) void __ubsan_handle_out_of_bounds_abort(void *d, unsigned long v) {
    xsimt::ubsan_oob((xsimt::UbsanOOB *)d, v);
}

#include "simt_wmma.h"  // nvcuda::wmma (the program's #include <mma.h> is commented out by simt.py)

#endif  // XPILER_SIMT_EMU_H
