// bang_emu.h: CPU emulation of Cambricon BANG C (semantics: shared/reference/bang.md).
//
// A BANG program is compiled with g++ against this header after xpiler/oracle/bang.py has prepared its
// text (position-preserving: the user's line numbers survive):
//   - `__nram__` / `__wram__` / `__mlu_shared__` / `__ldram__` array declarations become macros naming
//     per-task (NRAM, WRAM, LDRAM) or per-cluster (SRAM) storage in the arenas below
//     (`XPILER_BANG_SLOT`), so every task has its own on-chip memory although all tasks run as
//     fibers on one OS thread; the runtime knows every array's extent, so DMA and intrinsics are
//     bounds-checked against the array they touch;
//   - `kernel<<<dim, ktype, queue>>>(args)` becomes `::xpiler_bang::launch(LaunchCfg(dim, ktype, queue),
//     kernel, args)`;
//   - bare kernels get an `extern "C"` `K_kernel` wrapper with the default launch.
//
// Execution model.  A launch runs taskDim tasks.  UNIONn: all tasks run as one group of fibers
// (runtime/fibers.h), task i on core i % 4 of cluster i / 4; `__sync_cluster()` is a barrier of the 4
// cores of a cluster, `__sync_all()` a barrier of every task of the launch (the union job); clusterDim
// = taskDim / 4, coreDim = 4; dim.x must be a multiple of 4*n.  BLOCK: tasks run one after another, each
// alone (clusterDim 0, coreDim 4, coreId = taskId % 4 as if dispatched round-robin over the cores of
// cluster 0, clusterId 0; both barriers are no-ops).  Scheduling is deterministic: tasks start in
// taskId order and each runs until it blocks at a barrier or ends; so
// with a missing `__sync_cluster()`, core 0 reads SRAM that cores 1..3 have not written yet.
//
// Asynchronous copies.  `__memcpy` moves its bytes at once.  `__memcpy_async` checks its operands at
// issue (the same faults) and queues a pending copy for the running task; its bytes move when it
// completes, reading the source then, in issue order.  Completion points: `__sync()` and
// `__sync_io_move_compute(...)` complete all of the task's pending copies, `__sync_io()` those with a
// GDRAM or LDRAM side (IO DMA), `__sync_move()` the on-chip ones (NRAM/WRAM/SRAM to NRAM/WRAM/SRAM),
// `__sync_compute()` none; the end of a task completes the rest (the kernel's end waits for its
// DMA).  `__sync_cluster()` / `__sync_all()` complete the task's own copies first: bang.md does not
// say whether a barrier waits for DMA, and this lenient choice keeps the other cores from seeing the
// race.  While a copy is pending, a DMA or intrinsic operand that overlaps its destination, or a
// written operand (an intrinsic's dst / tmp, a copy's dst) that overlaps its source, is a fault that
// names the wait to add; reading the source is fine.  Overlap is exact for 2-D/3-D copies (only
// their segments count) up to about 10^6 segment pairs, beyond that the hulls are compared.  Scalar
// C accesses (`buf[i]`) cannot be intercepted: they see stale data (the 0xFF fill, or the previous
// contents) until the copy completes, so a missing wait still shows as a wrong result.  A side on the
// stack of a function that has returned by completion (at the latest, the task's end): a destination
// is dropped (nothing can read it, and those bytes are the emulator's own stack now), a source is
// read from a copy taken at issue (one of the times the DMA may have read it).  Programs that never
// call `__memcpy_async` pay one test of a zero count per operand and wait.
//
// Memory.  NRAM: 768 KB per core of which 640 KB are usable by `__nram__` declarations (the compiler
// keeps 128 KB for the stack and spills, as MAX_NRAM_SIZE in mlu-ops); WRAM 1 MB per core; SRAM 4 MB
// per cluster; LDRAM 16 MB per core.  Declarations are allocated in the order a launch first touches
// them, 64-byte aligned; going over capacity is a fault (a compile error on the real toolchain; here
// it is raised when the launch first touches the array that does not fit, so a declaration that no
// task of the launch ever reaches is not counted).  Local variables without a qualifier live on the
// task's fiber stack (1 MB, XPILER_FIBER_STACK raises it) and are accepted as NRAM operands.  Newly
// allocated on-chip memory is filled with 0xFF bytes (NaN for float/half, -1 for ints), so reading
// what was never written shows.  WRAM has no scalar access on the device: the addresses kernels see for
// `__wram__` arrays are mapped PROT_NONE, so `wbuf[i]` (or any load/store through a WRAM pointer)
// faults with a clear message, while DMA and the tensor intrinsics reach the data through a second
// mapping.  GDRAM is host memory.
//
// Checks (faults: "XPILER_FAULT: ..." and exit 86): on-chip capacity; DMA direction names (all 25
// X2Y spellings exist, the 8 that BANG lacks, e.g. WRAM2WRAM, fault) and that each side of a copy is
// in the space its direction names; every DMA / intrinsic operand range lies inside one on-chip array
// of the running task (or cluster) — or, for GDRAM with check mode (compile with -DXPILER_CHECK=1 or
// set XPILER_CHECK=1), inside a buffer registered with xpiler_register_buffer() or cnrtMalloc'd;
// vector/tensor operands in the right space (vector operands in NRAM, filters in WRAM); deadlocks at
// barriers; an on-chip pointer of another task (or cluster) used by the running one.  Strict mode
// (-DXPILER_BANG_STRICT=1 or XPILER_BANG_STRICT=1 in the environment of the run) adds the MLU2xx
// rules: vector/tensor intrinsic operands 64-byte aligned, vector-intrinsic byte counts a multiple of
// 128 (DMA is not restricted).
#ifndef XPILER_BANG_EMU_H
#define XPILER_BANG_EMU_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <signal.h>
#include <sys/mman.h>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fault.h"
#include "fibers.h"
#include "bang_types.h"

// ---- qualifiers and macros ---------------------------------------------------------------------
#define __BANG__ 1
#ifndef __BANG_ARCH__
#define __BANG_ARCH__ 372
#endif
#define __MLU_NRAM_SIZE__ 768
#define __MLU_WRAM_SIZE__ 1024
#define __MLU_SRAM_SIZE__ 4096
#define __mlu_global__
#define __mlu_entry__
#define __mlu_func__
#define __mlu_device__
#define __mlu_host__
#define __mlu_const__
#define __nram__
#define __wram__
#define __mlu_shared__
#define __ldram__
#define __bang_printf printf

namespace xpiler_bang {

enum Space : int { S_GDRAM = 0, S_NRAM = 1, S_WRAM = 2, S_SRAM = 3, S_LDRAM = 4, S_STACK = 5 };
static const char *const kSpaceName[] = {"GDRAM", "NRAM", "WRAM", "SRAM", "LDRAM", "stack"};
enum : unsigned { M_GDRAM = 1u, M_NRAM = 2u, M_WRAM = 4u, M_SRAM = 8u, M_LDRAM = 16u, M_STACK = 32u };

static const size_t kNramBytes = 768u * 1024u;
static const size_t kNramUsable = 640u * 1024u;
static const size_t kWramBytes = 1024u * 1024u;
static const size_t kSramBytes = 4096u * 1024u;
static const size_t kLdramBytes = 16u * 1024u * 1024u;
static const size_t kFiberStack = 1024u * 1024u;

struct SlotRec {
    size_t off, bytes;
    const char *name;
    int line;
};

// One on-chip space: `count` owners (tasks or clusters) of `stride` bytes each.  `user` is the
// address range kernels see, `rw` the one the runtime reads and writes (different only for WRAM).
struct Arena {
    const char *name;
    size_t stride, cap;
    char *user, *rw;
    int count;
    size_t used;
    std::vector<SlotRec> slots;
    char *base;  // user + owner * stride for the running task
    int owner;
};

struct TaskVars {
    int task_id, task_id_x, task_id_y, task_id_z, task_dim, task_dim_x, task_dim_y, task_dim_z;
    int cluster_id, cluster_dim, core_id, core_dim;
};

struct Region {
    uintptr_t base;
    size_t bytes;
    int kind;  // 0: registered by the caller, 1: cnrtMalloc, 2: a __mlu_device__ variable
    int id;
    const char *name;
};

// The bytes one side of a copy touches: (n2+1) x (n1+1) segments of `size` bytes at
// p + j1*stride0 + j2*stride1 (runtime addresses: check_range's result); one segment for an operand.
struct Grid {
    const char *p;
    long size, stride0, n1, stride1, n2;
    double count() const { return (double)(n1 + 1) * (double)(n2 + 1); }
    uintptr_t lo() const { return (uintptr_t)p + std::min(0L, n1 * stride0) + std::min(0L, n2 * stride1); }
    uintptr_t hi() const { return (uintptr_t)p + std::max(0L, n1 * stride0) + std::max(0L, n2 * stride1) + size; }
    uintptr_t seg(long k) const { return (uintptr_t)p + (k % (n1 + 1)) * stride0 + (k / (n1 + 1)) * stride1; }
};

// A __memcpy_async not yet completed.
struct Pending {
    int dir;  // src space * 8 + dst space
    Grid d, s;
    bool d_stack;             // the destination is on the task's fiber stack
    std::vector<char> s_copy;  // a source on the stack: its hull at issue, for when its frame is gone
};

struct State {
    Arena a[5];
    unsigned gen = 0;  // launch generation: slots are re-allocated on the first touch of each launch
    bool in_launch = false;
    bool strict = false;
    bool check = false;
    bool block = false;  // BLOCK launch (tasks run one at a time)
    int block_task = 0;
    int ntask = 0;
    int dims[3] = {1, 1, 1};
    int func_union = 0;  // 0 BLOCK, else n of UNIONn
    void (*body)(void *) = nullptr;
    void *ctx = nullptr;
    bool segv_installed = false;
    std::vector<Region> gdram;
    int next_region_id = 0;
    std::vector<unsigned char> waits;  // per task: 1 waiting at __sync_cluster, 2 at __sync_all
    std::vector<std::vector<Pending>> pend;  // per task id: its pending __memcpy_async copies
    long npend = 0;  // all tasks together: 0 keeps programs without __memcpy_async on the fast path
    State() {
        const char *names[5] = {"GDRAM", "NRAM", "WRAM", "SRAM", "LDRAM"};
        size_t strides[5] = {0, kNramBytes, kWramBytes, kSramBytes, kLdramBytes};
        size_t caps[5] = {0, kNramUsable, kWramBytes, kSramBytes, kLdramBytes};
        for (int i = 0; i < 5; ++i) {
            a[i].name = names[i];
            a[i].stride = strides[i];
            a[i].cap = caps[i];
            a[i].user = a[i].rw = a[i].base = nullptr;
            a[i].count = 0;
            a[i].used = 0;
            a[i].owner = 0;
        }
    }
};

inline State &st() {
    static State s;
    return s;
}
inline TaskVars tv;  // the running task's built-in variables

// ---- faults with context -----------------------------------------------------------------------
inline const char *task_desc() {
    static char buf[96];
    State &s = st();
    if (!s.in_launch) return "host code";
    snprintf(buf, sizeof buf, "task %d (cluster %d, core %d)", tv.task_id, tv.cluster_id, tv.core_id);
    return buf;
}

// ---- arenas ------------------------------------------------------------------------------------
inline void *map_bytes(size_t bytes, int prot) {
    void *m = mmap(nullptr, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) xpiler_fault("BANG emulation: cannot map %zu bytes of emulated on-chip memory", bytes);
    return m;
}

inline void ensure_arena(int space, int owners) {
    Arena &A = st().a[space];
    if (A.user && A.count >= owners) return;
    size_t bytes = A.stride * (size_t)owners;
    if (A.user) {
        munmap(A.user, A.stride * (size_t)A.count);
        if (A.rw != A.user) munmap(A.rw, A.stride * (size_t)A.count);
    }
    A.rw = (char *)map_bytes(bytes, PROT_READ | PROT_WRITE);
    // WRAM: kernels get addresses in a PROT_NONE range (no scalar access), the runtime uses `rw`.
    A.user = space == S_WRAM ? (char *)map_bytes(bytes, PROT_NONE) : A.rw;
    A.count = owners;
}

inline const SlotRec *find_slot(const Arena &A, size_t off) {
    for (const SlotRec &r : A.slots)
        if (off >= r.off && off < r.off + (r.bytes ? r.bytes : 1)) return &r;
    return nullptr;
}

inline size_t alloc_slot(int space, size_t bytes, const char *name, int line) {
    State &s = st();
    Arena &A = s.a[space];
    const char *q = space == S_NRAM ? "__nram__" : space == S_WRAM ? "__wram__" : space == S_SRAM ? "__mlu_shared__" : "__ldram__";
    if (!s.in_launch)
        xpiler_fault("%s array '%s' (line %d) used outside a kernel launch", q, name, line);
    size_t off = (A.used + 63) & ~(size_t)63;
    if (off + bytes > A.cap) {
        size_t total = off + bytes;
        xpiler_fault("%s over capacity: the %s arrays of this kernel need %zu bytes (with 64-byte alignment) but "
                     "%s has %zu bytes%s; '%s' (%zu bytes, line %d) does not fit",
                     A.name, q, total, A.name, A.cap,
                     space == S_NRAM ? " usable (640 KB of the 768 KB NRAM; the rest is reserved for the stack)" : "",
                     name, bytes, line);
    }
    A.used = off + bytes;
    A.slots.push_back(SlotRec{off, bytes, name, line});
    for (int o = 0; o < A.count; ++o) memset(A.rw + A.stride * (size_t)o + off, 0xFF, bytes);
    return off;
}

// Storage of an on-chip declaration: bang.py turns `__nram__ float buf[N];` into
//   #define buf (*(::xpiler_bang::type_id<float[N]> *)XPILER_BANG_SLOT(ID, sizeof(float[N]), 1, "buf", LINE))
template <class T> using type_id = T;
template <int ID, size_t BYTES, int SPACE>
inline char *slot(const char *name, int line) {
    static unsigned gen = 0;
    static size_t off = 0;
    State &s = st();
    if (__builtin_expect(gen != s.gen || !s.in_launch, 0)) {
        off = alloc_slot(SPACE, BYTES, name, line);
        gen = s.gen;
    }
    return s.a[SPACE].base + off;
}
#define XPILER_BANG_SLOT(ID, BYTES, SPACE, NAME, LINE) (::xpiler_bang::slot<ID, BYTES, SPACE>(NAME, LINE))

// ---- classifying pointers ----------------------------------------------------------------------
struct Where {
    int space;  // Space
    int owner;
    size_t off;
};

inline bool stack_range(uintptr_t &lo, uintptr_t &hi) {
    int me = xpf::self();
    if (me < 0) return false;
    xpf::detail::Pool &p = xpf::detail::pool();
    lo = (uintptr_t)p.base + p.stride * (size_t)me + (p.stride - p.stack);
    hi = lo + p.stack;
    return true;
}

inline Where where(const void *ptr) {
    State &s = st();
    uintptr_t p = (uintptr_t)ptr;
    for (int sp = S_NRAM; sp <= S_LDRAM; ++sp) {
        const Arena &A = s.a[sp];
        if (!A.user) continue;
        uintptr_t b = (uintptr_t)A.user;
        if (p >= b && p < b + A.stride * (size_t)A.count) return Where{sp, (int)((p - b) / A.stride), (size_t)((p - b) % A.stride)};
    }
    uintptr_t lo, hi;
    if (stack_range(lo, hi) && p >= lo && p < hi) return Where{S_STACK, 0, (size_t)(p - lo)};
    return Where{S_GDRAM, 0, 0};
}

inline const Region *find_region(uintptr_t p) {
    for (const Region &r : st().gdram)
        if (p >= r.base && p < r.base + (r.bytes ? r.bytes : 1)) return &r;
    return nullptr;
}

inline void describe_region(char *buf, size_t n, const Region *r) {
    if (r->kind == 1) snprintf(buf, n, "cnrtMalloc block #%d (%zu bytes)", r->id, r->bytes);
    else if (r->kind == 2) snprintf(buf, n, "__mlu_device__ variable '%s' (%zu bytes)", r->name, r->bytes);
    else snprintf(buf, n, "buffer #%d (%zu bytes)", r->id, r->bytes);
}

// A `__mlu_device__` variable (GDRAM global): bang.py registers it so that check mode knows its extent.
struct GdramVariable {
    GdramVariable(const void *p, size_t bytes, const char *name) {
        State &s = st();
        s.gdram.push_back(Region{(uintptr_t)p, bytes, 2, s.next_region_id++, name});
    }
};

inline const char *space_list(unsigned mask) {
    static char buf[64];
    buf[0] = 0;
    const char *names[] = {"GDRAM", "NRAM", "WRAM", "SRAM", "LDRAM"};
    for (int i = 0; i < 5; ++i)
        if (mask & (1u << i)) {
            if (buf[0]) strcat(buf, " or ");
            strcat(buf, names[i]);
        }
    return buf;
}

// Check that [p + lo, p + hi) is a valid range of `what` for `fn`, in one of the spaces of `mask`;
// return the runtime's address of p (differs from p only for WRAM).
inline char *check_operand(const char *fn, const char *what, const void *p, long lo, long hi, unsigned mask,
                           bool align_rule) {
    State &s = st();
    if (!s.in_launch) xpiler_fault("%s called outside a kernel launch", fn);
    if (!p) xpiler_fault("%s: operand %s is a null pointer (%s)", fn, what, task_desc());
    Where w = where(p);
    // a local without a qualifier lives on the task's stack, which is NRAM on the MLU
    unsigned bit = w.space == S_STACK ? (mask & M_NRAM ? M_NRAM : M_STACK) : (1u << w.space);
    if (!(mask & bit)) {
        const char *is = kSpaceName[w.space];
        xpiler_fault("%s: operand %s must be in %s but points to %s (%s)%s", fn, what, space_list(mask), is,
                     task_desc(),
                     (mask == M_NRAM && w.space == S_GDRAM) ? ": vector intrinsics compute on NRAM; __memcpy the data in first" : "");
    }
    if (hi <= lo) return w.space == S_WRAM ? s.a[S_WRAM].rw + ((const char *)p - s.a[S_WRAM].user) : (char *)p;
    if (w.space >= S_NRAM && w.space <= S_LDRAM) {
        Arena &A = s.a[w.space];
        if (w.owner != A.owner)
            xpiler_fault("%s: operand %s points into the %s of %s %d, not of the running %s", fn, what, A.name,
                         w.space == S_SRAM ? "cluster" : "task", w.owner, task_desc());
        long first = (long)w.off + lo, last = (long)w.off + hi;  // [first, last)
        const SlotRec *r = first >= 0 ? find_slot(A, (size_t)first) : nullptr;
        if (!r || (size_t)last > r->off + r->bytes) {
            const SlotRec *base = find_slot(A, w.off);
            if (base)
                xpiler_fault("%s: operand %s, bytes [%ld, %ld) of %s array '%s' (%zu bytes, line %d), is out of "
                             "bounds (%s)", fn, what, first - (long)base->off, last - (long)base->off, A.name,
                             base->name, base->bytes, base->line, task_desc());
            xpiler_fault("%s: operand %s, %s bytes [%ld, %ld), is not inside any declared %s array (%s)", fn, what,
                         A.name, first, last, A.name, task_desc());
        }
        if (s.strict && align_rule && ((uintptr_t)p & 63u))
            xpiler_fault("%s: strict mode (MLU2xx rules): operand %s at %s offset %zu is not 64-byte aligned", fn,
                         what, A.name, w.off);
        return w.space == S_WRAM ? A.rw + ((const char *)p - A.user) : (char *)p;
    }
    if (w.space == S_STACK) {
        uintptr_t slo, shi;
        stack_range(slo, shi);
        if ((uintptr_t)p + lo < slo || (uintptr_t)p + hi > shi)
            xpiler_fault("%s: operand %s runs off the task's stack (%s)", fn, what, task_desc());
        return (char *)p;
    }
    // GDRAM
    if (s.check) {
        uintptr_t a = (uintptr_t)p + lo, b = (uintptr_t)p + hi;
        const Region *r = find_region((uintptr_t)p);
        const Region *ra = find_region(a);
        if (!r) r = ra;
        if (!r || a < r->base || b > r->base + r->bytes) {
            char d[96];
            if (r) {
                describe_region(d, sizeof d, r);
                xpiler_fault("%s: out-of-bounds GDRAM access by operand %s: bytes [%ld, %ld) of %s (%s)", fn, what,
                             (long)(a - r->base), (long)(b - r->base), d, task_desc());
            }
            xpiler_fault("%s: operand %s, GDRAM address %p (+%ld bytes), is outside every registered buffer and "
                         "cnrtMalloc block (%s)", fn, what, p, hi, task_desc());
        }
    }
    return (char *)p;
}

// ---- pending asynchronous copies ----------------------------------------------------------------
inline bool dir_io(int dir) {
    int a = dir / 8, b = dir % 8;
    return a == S_GDRAM || a == S_LDRAM || b == S_GDRAM || b == S_LDRAM;
}

// Whether two grids share a byte.  Segment pairs are compared exactly up to about 10^6 pairs; beyond
// that the (overlapping) hulls decide, which may report a conflict that the segments do not have.
inline bool overlaps(const Grid &a, const Grid &b) {
    uintptr_t blo = b.lo(), bhi = b.hi();
    if (a.size <= 0 || b.size <= 0 || a.hi() <= blo || bhi <= a.lo()) return false;
    if (a.count() * b.count() > 1e6) return true;
    long na = (long)a.count(), nb = (long)b.count();
    for (long i = 0; i < na; ++i) {
        uintptr_t x = a.seg(i), xe = x + (uintptr_t)a.size;
        if (xe <= blo || bhi <= x) continue;
        for (long j = 0; j < nb; ++j) {
            uintptr_t y = b.seg(j);
            if (x < y + (uintptr_t)b.size && y < xe) return true;
        }
    }
    return false;
}

// " in NRAM array 'buf' (line 5)": where the operand at user address p lies, for race messages.
inline const char *operand_home(const void *p) {
    static char buf[160];
    Where w = where(p);
    const SlotRec *r = w.space >= S_NRAM && w.space <= S_LDRAM ? find_slot(st().a[w.space], w.off) : nullptr;
    if (r) snprintf(buf, sizeof buf, " in %s array '%s' (line %d)", kSpaceName[w.space], r->name, r->line);
    else if (w.space == S_STACK) snprintf(buf, sizeof buf, " on the task's stack");
    else snprintf(buf, sizeof buf, " in %s", kSpaceName[w.space]);
    return buf;
}

// Operand `what` (user address p, bytes g) of `fn` against the running task's pending copies: touching
// a pending destination, or writing a pending source, is a race on the MLU.
inline void race_check(const char *fn, const char *what, const void *p, const Grid &g, bool written) {
    State &s = st();
    if (tv.task_id >= (int)s.pend.size()) return;
    for (const Pending &c : s.pend[(size_t)tv.task_id]) {
        bool on_dst = overlaps(g, c.d);
        if (!on_dst && !(written && overlaps(g, c.s))) continue;
        const char *wait = dir_io(c.dir) ? "__sync_io()" : "__sync_move()";
        if (on_dst)
            xpiler_fault("%s: operand %s%s overlaps the destination of a __memcpy_async (%s2%s) issued earlier by "
                         "this task that has not been waited for (%s): the copy may not have landed yet; call %s (or "
                         "__sync()) between the __memcpy_async and this use", fn, what, operand_home(p),
                         kSpaceName[c.dir / 8], kSpaceName[c.dir % 8], task_desc(), wait);
        xpiler_fault("%s: operand %s%s overwrites the source of a __memcpy_async (%s2%s) issued earlier by this "
                     "task that has not been waited for (%s): the copy may not have read it yet; call %s (or __sync()) "
                     "between the __memcpy_async and this write", fn, what, operand_home(p), kSpaceName[c.dir / 8],
                     kSpaceName[c.dir % 8], task_desc(), wait);
    }
}

// check_operand, then the race check against pending copies (DMA checks its sides itself, segment by
// segment: race = false).  Written operands are the ones the intrinsics name dst* or tmp.
inline char *check_range(const char *fn, const char *what, const void *p, long lo, long hi, unsigned mask,
                         bool align_rule, bool race = true) {
    char *r = check_operand(fn, what, p, lo, hi, mask, align_rule);
    if (__builtin_expect(st().npend != 0, 0) && race && hi > lo)
        race_check(fn, what, p, Grid{r + lo, hi - lo, 0, 0, 0, 0},
                   strncmp(what, "dst", 3) == 0 || strcmp(what, "tmp") == 0);
    return r;
}

// Move the bytes of a copy: the k-th source segment to the k-th destination segment.
inline void move_grid(const Grid &d, const Grid &s) {
    if (d.n1 == 0 && d.n2 == 0) {
        memmove((char *)d.p, s.p, (size_t)d.size);
        return;
    }
    long total = (d.n1 + 1) * (d.n2 + 1);
    for (long k = 0; k < total; ++k) memmove((char *)d.seg(k), (const char *)s.seg(k), (size_t)d.size);
}

enum : unsigned { C_IO = 1u, C_MOVE = 2u, C_ALL = 3u };

// Complete the running task's pending copies of the classes in `which`, in issue order.  Not inlined:
// its frame address separates the live stack (above) from the frames of functions that have returned
// (below); at the end of a task the whole stack is dead.
__attribute__((noinline)) inline void complete_pending(unsigned which, bool task_end) {
    State &s = st();
    if (tv.task_id >= (int)s.pend.size()) return;
    std::vector<Pending> &q = s.pend[(size_t)tv.task_id];
    uintptr_t live = task_end ? UINTPTR_MAX : (uintptr_t)__builtin_frame_address(0);
    size_t keep = 0;
    for (size_t i = 0; i < q.size(); ++i) {
        Pending &c = q[i];
        if (!(which & (dir_io(c.dir) ? C_IO : C_MOVE))) {
            if (keep != i) q[keep] = std::move(c);
            ++keep;
            continue;
        }
        --s.npend;
        if (c.d_stack && c.d.lo() < live) continue;  // a dead frame: dropped
        Grid src = c.s;
        if (!c.s_copy.empty() && c.s.lo() < live) src.p = c.s_copy.data() + ((uintptr_t)c.s.p - c.s.lo());
        move_grid(c.d, src);
    }
    q.resize(keep);
}

inline void complete(unsigned which) {
    if (__builtin_expect(st().npend != 0, 0)) complete_pending(which, false);
}

// A vector operand of n elements of T in NRAM.
template <class T>
inline T *vec(const char *fn, const char *what, const T *p, long n, bool size_rule = true) {
    if (n < 0) xpiler_fault("%s: negative element count %ld (%s)", fn, n, task_desc());
    long bytes = n * (long)sizeof(T);
    State &s = st();
    if (s.strict && size_rule && bytes % 128)
        xpiler_fault("%s: strict mode (MLU2xx rules): operand %s is %ld bytes, not a multiple of 128", fn, what, bytes);
    return (T *)check_range(fn, what, p, 0, bytes, M_NRAM, true);
}

// ---- the SIGSEGV handler for scalar WRAM access ---------------------------------------------------
inline struct sigaction &old_segv() {
    static struct sigaction old;
    return old;
}

inline void segv(int sig, siginfo_t *info, void *uc) {
    State &s = st();
    Arena &W = s.a[S_WRAM];
    uintptr_t a = (uintptr_t)info->si_addr, b = (uintptr_t)W.user;
    if (W.user && a >= b && a < b + W.stride * (size_t)W.count) {
        size_t off = (size_t)(a - b) % W.stride;
        const SlotRec *r = find_slot(W, off);
        if (r)
            xpiler_fault("scalar access to WRAM: byte %zu of __wram__ array '%s' (line %d) was read or written "
                         "directly (%s); WRAM has no scalar loads/stores on the MLU: fill it with __memcpy(..., "
                         "GDRAM2WRAM / NRAM2WRAM) and use it only as the filter operand of __bang_mlp / __bang_conv "
                         "/ __bang_matmul", off - r->off, r->name, r->line, task_desc());
        xpiler_fault("scalar access to WRAM at offset %zu (%s); WRAM has no scalar loads/stores on the MLU", off,
                     task_desc());
    }
    xpf::detail::check_stack_guard(a);
    (void)uc;
    sigaction(sig, &old_segv(), nullptr);  // not ours: the access faults again under the previous handler
}

inline void install_segv() {
    State &s = st();
    if (s.segv_installed) return;
    s.segv_installed = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv());
    if (old_segv().sa_handler == SIG_IGN) old_segv().sa_handler = SIG_DFL;
}

// ---- launch ------------------------------------------------------------------------------------
inline bool env_flag(const char *name) {
    const char *e = getenv(name);
    return e && *e && strcmp(e, "0") != 0;
}

inline void set_task(int index) {
    State &s = st();
    int t = s.block ? s.block_task : index;
    tv.task_id = t;
    tv.task_id_x = t % s.dims[0];
    tv.task_id_y = (t / s.dims[0]) % s.dims[1];
    tv.task_id_z = t / (s.dims[0] * s.dims[1]);
    if (s.block) {  // dispatched round-robin over the 4 cores of cluster 0
        tv.cluster_id = 0;
        tv.core_id = t % 4;
    } else {
        tv.cluster_id = t / 4;
        tv.core_id = t % 4;
    }
    int owner = s.block ? 0 : index;
    int cl = s.block ? 0 : index / 4;
    for (int sp = S_NRAM; sp <= S_LDRAM; ++sp) {
        Arena &A = s.a[sp];
        A.owner = sp == S_SRAM ? cl : owner;
        A.base = A.user + A.stride * (size_t)A.owner;
    }
}

inline void on_switch(int index, void *) { set_task(index); }

[[noreturn]] inline void on_deadlock(const xpf::DeadlockInfo &d, void *) {
    State &s = st();
    bool cluster = d.fiber >= 0 && d.fiber < (int)s.waits.size() && s.waits[(size_t)d.fiber] == 1;
    if (cluster)
        xpiler_fault("deadlock: task %d waits at __sync_cluster() of cluster %d, which only %d of its %d cores "
                     "reached (%d of %d tasks finished): a barrier in divergent code (e.g. after an early return "
                     "of some tasks) hangs a real MLU", d.fiber, d.first / 4, d.arrived, d.count, d.finished, d.n);
    xpiler_fault("deadlock: task %d waits at __sync_all(), which only %d of the %d tasks reached (%d finished): a "
                 "barrier in divergent code (e.g. after an early return of some tasks) hangs a real MLU",
                 d.fiber, d.arrived, d.count, d.finished);
}

inline void fiber_main(int, void *) {
    State &s = st();
    s.body(s.ctx);
    if (s.npend) complete_pending(C_ALL, true);  // the kernel's end waits for its DMA
}

// func: 0 BLOCK, n for UNIONn.
inline void run_job(unsigned x, unsigned y, unsigned z, int func, void (*body)(void *), void *ctx) {
    State &s = st();
    if (s.in_launch) xpiler_fault("kernel launched from inside a kernel (%s)", task_desc());
    if (x < 1 || y < 1 || z < 1) xpiler_fault("kernel launch with task dimension {%u, %u, %u}: every extent must be >= 1", x, y, z);
    long n = (long)x * y * z;
    if (n > 65536) xpiler_fault("kernel launch with %ld tasks: the emulation allows at most 65536", n);
    if (func && x % (unsigned)(4 * func))
        xpiler_fault("kernel launch as UNION%d with dim.x = %u: dim.x must be a multiple of %d (4 cores x %d "
                     "clusters)", func, x, 4 * func, func);
#ifdef XPILER_BANG_STRICT
    s.strict = XPILER_BANG_STRICT != 0 || env_flag("XPILER_BANG_STRICT");
#else
    s.strict = env_flag("XPILER_BANG_STRICT");
#endif
#ifdef XPILER_CHECK
    s.check = XPILER_CHECK != 0 || env_flag("XPILER_CHECK");
#else
    s.check = env_flag("XPILER_CHECK");
#endif
    s.block = func == 0;
    s.func_union = func;
    s.ntask = (int)n;
    s.dims[0] = (int)x;
    s.dims[1] = (int)y;
    s.dims[2] = (int)z;
    tv.task_dim = (int)n;
    tv.task_dim_x = (int)x;
    tv.task_dim_y = (int)y;
    tv.task_dim_z = (int)z;
    tv.cluster_dim = s.block ? 0 : (int)(n / 4);
    tv.core_dim = 4;
    int owners = s.block ? 1 : (int)n;
    int clusters = s.block ? 1 : (int)((n + 3) / 4);
    ensure_arena(S_NRAM, owners);
    ensure_arena(S_WRAM, owners);
    ensure_arena(S_LDRAM, owners);
    ensure_arena(S_SRAM, clusters);
    for (int sp = S_NRAM; sp <= S_LDRAM; ++sp) {
        s.a[sp].used = 0;
        s.a[sp].slots.clear();
    }
    install_segv();
    s.gen++;
    s.body = body;
    s.ctx = ctx;
    s.waits.assign((size_t)owners, 0);
    if (!s.pend.empty()) s.pend.clear();  // sized on the launch's first __memcpy_async
    s.npend = 0;
    s.in_launch = true;
    xpf::Options opt;
    opt.stack_size = std::max(kFiberStack, xpf::detail::default_stack());  // XPILER_FIBER_STACK raises it
    opt.on_switch = on_switch;
    opt.on_deadlock = on_deadlock;
    if (s.block) {
        for (long t = 0; t < n; ++t) {
            s.block_task = (int)t;
            xpf::run(1, fiber_main, nullptr, opt);
        }
    } else {
        xpf::run((int)n, fiber_main, nullptr, opt);
    }
    s.in_launch = false;
}

}  // namespace xpiler_bang

// ---- built-in variables (read-only) ------------------------------------------------------------
#define taskId (::xpiler_bang::tv.task_id + 0)
#define taskIdX (::xpiler_bang::tv.task_id_x + 0)
#define taskIdY (::xpiler_bang::tv.task_id_y + 0)
#define taskIdZ (::xpiler_bang::tv.task_id_z + 0)
#define taskDim (::xpiler_bang::tv.task_dim + 0)
#define taskDimX (::xpiler_bang::tv.task_dim_x + 0)
#define taskDimY (::xpiler_bang::tv.task_dim_y + 0)
#define taskDimZ (::xpiler_bang::tv.task_dim_z + 0)
#define clusterId (::xpiler_bang::tv.cluster_id + 0)
#define clusterDim (::xpiler_bang::tv.cluster_dim + 0)
#define coreId (::xpiler_bang::tv.core_id + 0)
#define coreDim (::xpiler_bang::tv.core_dim + 0)

inline bool __is_ipu() { return true; }
inline bool __is_mpu() { return false; }

// ---- synchronisation ---------------------------------------------------------------------------
// The pipeline waits complete the task's pending __memcpy_async copies (see the header comment).
inline void __sync() { ::xpiler_bang::complete(::xpiler_bang::C_ALL); }
inline void __sync_compute() {}  // compute is synchronous here; DMA is not waited for
inline void __sync_io() { ::xpiler_bang::complete(::xpiler_bang::C_IO); }
inline void __sync_move() { ::xpiler_bang::complete(::xpiler_bang::C_MOVE); }
template <class... A> inline void __sync_io_move_compute(A...) { ::xpiler_bang::complete(::xpiler_bang::C_ALL); }
inline void __sync_cluster() {
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    if (!s.in_launch) xpiler_fault("__sync_cluster() called outside a kernel launch");
    ::xpiler_bang::complete(::xpiler_bang::C_ALL);  // lenient: the barrier waits for this task's DMA
    if (s.block) return;
    int c = ::xpiler_bang::tv.cluster_id;
    int count = std::min(4, s.ntask - 4 * c);
    s.waits[(size_t)::xpiler_bang::tv.task_id] = 1;
    xpf::barrier(4 * c, count);
}
inline void __sync_all() {
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    if (!s.in_launch) xpiler_fault("__sync_all() called outside a kernel launch");
    ::xpiler_bang::complete(::xpiler_bang::C_ALL);  // lenient: the barrier waits for this task's DMA
    if (s.block) return;
    s.waits[(size_t)::xpiler_bang::tv.task_id] = 2;
    xpf::barrier();
}
inline void __sync_all_ipu() { __sync_all(); }
inline void __sync_all_mpu() {}

#include "bang_dma.h"
#include "bang_intrinsics.h"
#include "bang_cnrt.h"

// ---- registering GDRAM buffers (the oracle calls this for every numpy buffer with check=True) -------
extern "C" __attribute__((weak, visibility("default"))) void xpiler_register_buffer(const void *p, size_t bytes) {
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    s.gdram.push_back(::xpiler_bang::Region{(uintptr_t)p, bytes, 0, s.next_region_id++, nullptr});
}
extern "C" __attribute__((weak, visibility("default"))) void xpiler_clear_buffers() {
    ::xpiler_bang::State &s = ::xpiler_bang::st();
    std::vector<::xpiler_bang::Region> keep;
    for (auto &r : s.gdram)
        if (r.kind != 0) keep.push_back(r);
    s.gdram.swap(keep);
}

#endif  // XPILER_BANG_EMU_H
