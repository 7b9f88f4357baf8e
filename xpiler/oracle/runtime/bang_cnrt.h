// bang_cnrt.h: the CNRT host runtime of the BANG emulation (included by bang_emu.h).
//
// Device memory is host memory: cnrtMalloc allocates (and registers the block, so that check mode
// bounds-checks DMA against it), cnrtMemcpy copies in every direction spelling (old
// CNRT_MEM_TRANS_DIR_* and new cnrtMemcpy*), queues and notifiers exist (old and new names; a kernel
// launch is synchronous, so queue syncs are no-ops and notifiers measure wall time).  Function types
// are matched by name: CNRT_FUNC_TYPE_BLOCK / UNION1..16 and cnrtFuncTypeBlock / Union1..16 (values
// are the number of cores, as in CNRT).  `kernel<<<dim, ktype, queue>>>(args)` is rewritten by
// bang.py into ::xpiler_bang::launch(::xpiler_bang::LaunchCfg(dim, ktype, queue), kernel, args).
#ifndef XPILER_BANG_CNRT_H
#define XPILER_BANG_CNRT_H

typedef enum {
    CNRT_RET_SUCCESS = 0,
    cnrtSuccess = 0,
    CNRT_RET_ERR_INVALID = 632001,
    cnrtErrorInvalidValue = 632001,
    cnrtErrorNoMem = 632002,
} cnrtRet_t;
typedef cnrtRet_t cnrtStatus_t;

typedef struct cnrtDim3 {
    unsigned int x, y, z;
} cnrtDim3_t;

typedef enum {
    CNRT_FUNC_TYPE_BLOCK = 1,
    CNRT_FUNC_TYPE_BLOCK0 = 1,
    CNRT_FUNC_TYPE_UNION1 = 4,
    CNRT_FUNC_TYPE_UNION2 = 8,
    CNRT_FUNC_TYPE_UNION4 = 16,
    CNRT_FUNC_TYPE_UNION8 = 32,
    CNRT_FUNC_TYPE_UNION16 = 64,
    cnrtFuncTypeBlock = 1,
    cnrtFuncTypeBlock0 = 1,
    cnrtFuncTypeUnion1 = 4,
    cnrtFuncTypeUnion2 = 8,
    cnrtFuncTypeUnion4 = 16,
    cnrtFuncTypeUnion8 = 32,
    cnrtFuncTypeUnion16 = 64,
} cnrtFunctionType_t;
typedef cnrtFunctionType_t cnrtFuncType_t;

typedef enum {
    CNRT_MEM_TRANS_DIR_HOST2DEV = 0,
    CNRT_MEM_TRANS_DIR_DEV2DEV = 1,
    CNRT_MEM_TRANS_DIR_DEV2HOST = 2,
    CNRT_MEM_TRANS_DIR_HOST2HOST = 3,
    CNRT_MEM_TRANS_DIR_PEER2PEER = 4,
    CNRT_MEM_TRANS_DIR_NODIR = 5,
    cnrtMemcpyHostToDev = 0,
    cnrtMemcpyDevToDev = 1,
    cnrtMemcpyDevToHost = 2,
    cnrtMemcpyHostToHost = 3,
    cnrtMemcpyPeerToPeer = 4,
    cnrtMemcpyNoDirection = 5,
} cnrtMemTransDir_t;

struct xpiler_cnrt_queue {
    int id;
};
typedef xpiler_cnrt_queue *cnrtQueue_t;
struct xpiler_cnrt_notifier {
    double t;
};
typedef xpiler_cnrt_notifier *cnrtNotifier_t;
typedef int cnrtDev_t;

#ifndef CNRT_CHECK
#define CNRT_CHECK(x)                                                                                   \
    do {                                                                                                \
        cnrtRet_t xpiler_ret_ = (cnrtRet_t)(x);                                                         \
        if (xpiler_ret_ != CNRT_RET_SUCCESS) xpiler_fault("CNRT call failed (%d): %s", (int)xpiler_ret_, #x); \
    } while (0)
#endif

namespace xpiler_bang {

inline int func_union(int ft) {
    switch (ft) {
        case 1: return 0;
        case 4: return 1;
        case 8: return 2;
        case 16: return 4;
        case 32: return 8;
        case 64: return 16;
    }
    xpiler_fault("kernel launch with an unknown function type value %d", ft);
}

struct LaunchCfg {
    cnrtDim3_t dim;
    int func;
    LaunchCfg(cnrtDim3_t d, cnrtFunctionType_t f, cnrtQueue_t = nullptr) : dim(d), func(func_union((int)f)) {}
    LaunchCfg(cnrtDim3_t d, int f, cnrtQueue_t = nullptr) : dim(d), func(func_union(f)) {}
};

template <class... P, class... A>
inline void launch(const LaunchCfg &cfg, void (*k)(P...), A &&...a) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
    typedef std::tuple<typename std::decay<P>::type...> Args;
    struct Job {
        void (*k)(P...);
        Args args;
    };
    Job job{k, Args(static_cast<typename std::decay<P>::type>(std::forward<A>(a))...)};
    run_job(cfg.dim.x, cfg.dim.y, cfg.dim.z, cfg.func,
            [](void *p) {
                Job *j = (Job *)p;
                Args args = j->args;  // each task gets its own copy of the parameters
                std::apply(j->k, args);
            },
            &job);
}

inline double now_us() {
    return (double)std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count() / 1000.0;
}

inline const Region *malloc_block(uintptr_t p) {
    for (const Region &r : st().gdram)
        if (r.kind == 1 && p >= r.base && p < r.base + (r.bytes ? r.bytes : 1)) return &r;
    return nullptr;
}

inline void host_range(const char *fn, const char *what, const void *p, size_t bytes) {
    if (!p && bytes) xpiler_fault("%s: %s is a null pointer", fn, what);
    const Region *r = malloc_block((uintptr_t)p);
    if (!r && st().check) r = find_region((uintptr_t)p);
    if (r && (uintptr_t)p + bytes > r->base + r->bytes) {
        char d[96];
        describe_region(d, sizeof d, r);
        xpiler_fault("%s: %s range [%zu, %zu) is out of bounds of %s", fn, what, (size_t)((uintptr_t)p - r->base),
                     (size_t)((uintptr_t)p - r->base) + bytes, d);
    }
}

}  // namespace xpiler_bang

inline cnrtRet_t cnrtInit(unsigned int = 0) { return CNRT_RET_SUCCESS; }
inline void cnrtDestroy() {}
inline cnrtRet_t cnrtGetDeviceHandle(cnrtDev_t *dev, int ordinal) { if (dev) *dev = ordinal; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtSetCurrentDevice(cnrtDev_t) { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtSetDevice(int) { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtGetDevice(int *d) { if (d) *d = 0; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtGetDeviceCount(unsigned int *n) { if (n) *n = 1; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtSyncDevice() { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtGetLastError() { return CNRT_RET_SUCCESS; }
inline const char *cnrtGetErrorStr(cnrtRet_t) { return "CNRT error (emulated)"; }

inline cnrtRet_t cnrtMalloc(void **p, size_t bytes) {
    if (!p) return CNRT_RET_ERR_INVALID;
    void *m = malloc(bytes ? bytes : 1);
    if (!m) return cnrtErrorNoMem;
    memset(m, 0xFF, bytes);  // device memory starts with garbage
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    s.gdram.push_back(::xpiler_bang::Region{(uintptr_t)m, bytes, 1, s.next_region_id++, nullptr});
    *p = m;
    return CNRT_RET_SUCCESS;
}
template <class T> inline cnrtRet_t cnrtMalloc(T **p, size_t bytes) { return cnrtMalloc((void **)p, bytes); }
inline cnrtRet_t cnrtFree(void *p) {
    if (!p) return CNRT_RET_SUCCESS;
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    for (size_t i = 0; i < s.gdram.size(); ++i)
        if (s.gdram[i].kind == 1 && s.gdram[i].base == (uintptr_t)p) {
            s.gdram.erase(s.gdram.begin() + (long)i);
            free(p);
            return CNRT_RET_SUCCESS;
        }
    xpiler_fault("cnrtFree(%p): not a pointer returned by cnrtMalloc (or freed twice)", p);
}
inline cnrtRet_t cnrtMallocHost(void **p, size_t bytes) { *p = malloc(bytes ? bytes : 1); return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtFreeHost(void *p) { free(p); return CNRT_RET_SUCCESS; }

inline cnrtRet_t cnrtMemcpy(void *dst, void *src, size_t bytes, cnrtMemTransDir_t dir) {
    if ((int)dir < 0 || (int)dir > 5) xpiler_fault("cnrtMemcpy: unknown direction %d", (int)dir);
    ::xpiler_bang::host_range("cnrtMemcpy", "destination", dst, bytes);
    ::xpiler_bang::host_range("cnrtMemcpy", "source", src, bytes);
    if (bytes) memmove(dst, src, bytes);
    return CNRT_RET_SUCCESS;
}
inline cnrtRet_t cnrtMemcpy(void *dst, const void *src, size_t bytes, cnrtMemTransDir_t dir) {
    return cnrtMemcpy(dst, (void *)src, bytes, dir);
}
inline cnrtRet_t cnrtMemcpyAsync(void *dst, void *src, size_t bytes, cnrtQueue_t, cnrtMemTransDir_t dir) {
    return cnrtMemcpy(dst, src, bytes, dir);
}
inline cnrtRet_t cnrtMemset(void *p, int v, size_t bytes) {
    ::xpiler_bang::host_range("cnrtMemset", "destination", p, bytes);
    memset(p, v, bytes);
    return CNRT_RET_SUCCESS;
}

inline cnrtRet_t cnrtQueueCreate(cnrtQueue_t *q) { *q = new xpiler_cnrt_queue{0}; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtQueueDestroy(cnrtQueue_t q) { delete q; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtQueueSync(cnrtQueue_t) { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtCreateQueue(cnrtQueue_t *q) { return cnrtQueueCreate(q); }
inline cnrtRet_t cnrtDestroyQueue(cnrtQueue_t q) { return cnrtQueueDestroy(q); }
inline cnrtRet_t cnrtSyncQueue(cnrtQueue_t) { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtQueueQuery(cnrtQueue_t) { return CNRT_RET_SUCCESS; }

inline cnrtRet_t cnrtNotifierCreate(cnrtNotifier_t *n) { *n = new xpiler_cnrt_notifier{0}; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtNotifierDestroy(cnrtNotifier_t n) { delete n; return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtCreateNotifier(cnrtNotifier_t *n) { return cnrtNotifierCreate(n); }
inline cnrtRet_t cnrtDestroyNotifier(cnrtNotifier_t *n) { return cnrtNotifierDestroy(*n); }
inline cnrtRet_t cnrtPlaceNotifier(cnrtNotifier_t n, cnrtQueue_t) { n->t = ::xpiler_bang::now_us(); return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtNotifierDuration(cnrtNotifier_t a, cnrtNotifier_t b, float *us) {
    *us = (float)(b->t - a->t);
    return CNRT_RET_SUCCESS;
}
inline cnrtRet_t cnrtNotifierElapsedTime(cnrtNotifier_t a, cnrtNotifier_t b, float *ms) {
    *ms = (float)((b->t - a->t) / 1000.0);
    return CNRT_RET_SUCCESS;
}
inline cnrtRet_t cnrtQueueWaitNotifier(cnrtNotifier_t, cnrtQueue_t, int = 0) { return CNRT_RET_SUCCESS; }
inline cnrtRet_t cnrtWaitNotifier(cnrtNotifier_t) { return CNRT_RET_SUCCESS; }

#endif  // XPILER_BANG_CNRT_H
