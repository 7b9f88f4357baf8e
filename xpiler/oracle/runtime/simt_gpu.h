// simt_gpu.h: what the generated K_kernel wrapper of a bare kernel needs on a real NVIDIA GPU
// (xpiler/oracle/gpu.py). The wrapper takes host pointers (docs/oracle-contract.md): each one is
// given a device copy of the host buffer it points into, the kernel runs on the copies, and the
// buffers the kernel may write are copied back.
//
// Buffer extents come from xpiler_register_buffer(addr, bytes) (the caller registers every array
// argument: tools/gpu_crosscheck.py's runner always does, xpiler.run does in checking mode);
// without a registration, the extent is the rest of the anonymous memory mapping the pointer lies
// in (/proc/self/maps: numpy arrays passed by xpiler.run live in mappings of their own), and a
// pointer into the heap or a stack is refused.
//
// CUDA errors (launch failures, illegal addresses) are reported with xpiler_fault (fault.h).
#ifndef XPILER_SIMT_GPU_H
#define XPILER_SIMT_GPU_H

#include <cuda_runtime.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "fault.h"

// Hidden: each program's library keeps its own registry. With default visibility the registry (a
// static local of an inline function) is one STB_GNU_UNIQUE object shared by every library loaded in
// the process, so a later program would find the stale, larger ranges of an earlier one and copy
// past the end of its own buffers.
namespace xgpu __attribute__((visibility("hidden"))) {

struct Range {
    char *lo;
    size_t bytes;
};

inline std::vector<Range> &registered() {
    static std::vector<Range> r;
    return r;
}

inline void check(cudaError_t e, const char *what) {
    if (e != cudaSuccess) xpiler_fault("CUDA error in %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

// The host range [lo, lo + bytes) that `p` lies in.
inline bool find_range(const void *p, Range &out) {
    const char *c = (const char *)p;
    auto &ranges = registered();
    for (auto r = ranges.rbegin(); r != ranges.rend(); ++r)  // the latest registration of an address wins
        if (c >= r->lo && c < r->lo + r->bytes) {
            out = *r;
            return true;
        }
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        char perms[8] = {0};
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &lo, &hi, perms) != 3) continue;
        if ((uintptr_t)c < lo || (uintptr_t)c >= hi) continue;
        if (strstr(line, "[heap]") || strstr(line, "[stack"))
            xpiler_fault("a bare kernel's argument points into the %s, whose extent is unknown: register the "
                         "buffer with xpiler_register_buffer (or allocate it with mmap)",
                         strstr(line, "[heap]") ? "heap" : "stack");
        out.lo = (char *)c;  // from the pointer to the end of its mapping
        out.bytes = (size_t)(hi - (uintptr_t)c);
        found = true;
        break;
    }
    fclose(f);
    return found;
}

struct Shadows {
    struct S {
        char *host, *dev;
        size_t bytes;
        bool write_back;
    };
    std::vector<S> v;

    template <class T>
    T *dev(T *p, const char *name) {
        if (!p) return p;
        Range r;
        if (!find_range((const void *)p, r))
            xpiler_fault("argument '%s' of a bare kernel (%p) is not inside any known host buffer", name, (void *)p);
        size_t off = (size_t)((char *)p - r.lo);
        bool writes = !std::is_const<T>::value;
        for (auto &s : v)
            if (s.host == r.lo) {
                s.write_back = s.write_back || writes;
                return (T *)(s.dev + off);
            }
        char *d = nullptr;
        check(cudaMalloc((void **)&d, r.bytes), "cudaMalloc of a bare kernel's buffer");
        check(cudaMemcpy(d, r.lo, r.bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
        v.push_back(S{r.lo, d, r.bytes, writes});
        return (T *)(d + off);
    }

    void finish(const char *kernel) {
        check(cudaGetLastError(), kernel);
        check(cudaDeviceSynchronize(), kernel);
        for (auto &s : v) {
            if (s.write_back) check(cudaMemcpy(s.host, s.dev, s.bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
            cudaFree(s.dev);
        }
        v.clear();
    }
};

}  // namespace xgpu

extern "C" __attribute__((weak, visibility("default"))) void xpiler_register_buffer(void *p, size_t n) {
    xgpu::registered().push_back(xgpu::Range{(char *)p, n});
}

#endif  // XPILER_SIMT_GPU_H
