// fibers.h: a small, fast cooperative fiber scheduler for the CPU emulations (SIMT, BANG).
//
// API (namespace xpf; header-only; C++11):
//
//   struct xpf::Options {
//       size_t stack_size;                          // bytes per fiber; 0: $XPILER_FIBER_STACK or 256 KiB
//       void (*on_switch)(int index, void *hook_ctx);  // called right before fiber `index` (re)starts
//       void *hook_ctx;
//       void (*on_deadlock)(const xpf::DeadlockInfo &, void *hook_ctx);  // optional, should not return
//       bool reverse;                               // start / release fibers in descending index order
//   };
//   void xpf::run(int n, void (*fn)(int index, void *ctx), void *ctx, const Options &opt = {});
//       Runs n fibers (a group) on the calling OS thread, fiber i calling fn(i, ctx); returns when
//       all have returned.  Several OS threads may each run their own groups at the same time.
//   void xpf::barrier();                     // barrier over the whole group
//   void xpf::barrier(int first, int count); // barrier over fibers [first, first+count) (a warp, a
//                                            // cluster); the caller must be one of them
//   int  xpf::self();   // index of the running fiber, -1 outside a group
//   int  xpf::size();   // size of the running group, 0 outside a group
//
// Scheduling is deterministic: fibers start in index order and each runs until it blocks at a
// barrier or returns; a barrier whose last fiber arrives releases all its fibers, in index order, to
// the back of the ready queue.  So with a missing barrier, fiber 0 reads what the other fibers have
// NOT written yet, which is what exposes a missing __syncthreads() in the emulation.
// Barriers are keyed by (first, count): every barrier(first, count) call of the fibers of the
// range counts, whatever its call site (the semantics of __syncthreads on current GPUs).
//
// Faults (reported with xpiler_fault from fault.h: "XPILER_FAULT: ..." on stderr, exit 86):
//   - deadlock: the ready queue is empty while fibers wait at a barrier (some fibers finished, or
//     wait at a different barrier): a barrier in a divergent branch.  Options::on_deadlock may
//     format its own message (e.g. naming the block); it is given the first waiting fiber;
//   - stack overflow into the guard page below a fiber's stack (local arrays too large: raise
//     XPILER_FIBER_STACK).  Compile with -fstack-clash-protection so that a frame larger than a page
//     probes the guard page instead of jumping over it into the neighbouring fiber's stack;
//   - barrier() outside a group, or over a range that does not contain the caller.
//
// A runtime with its own SIGSEGV handler (installed before the first run(), with SA_ONSTACK) calls
// xpf::detail::check_stack_guard(addr) from it; otherwise run() installs one.  run() gives every OS
// thread that runs groups an alternate signal stack.
//
// Context switch: hand-written x86-64 (callee-saved registers, MXCSR and x87 control word; no
// syscall), else ucontext (define XPILER_FIBERS_UCONTEXT to force it).  Stacks come from mmap with a
// PROT_NONE guard page each, and are kept per OS thread and reused across groups.
#ifndef XPILER_FIBERS_H
#define XPILER_FIBERS_H

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"

#if !defined(__x86_64__) && !defined(XPILER_FIBERS_UCONTEXT)
#define XPILER_FIBERS_UCONTEXT 1
#endif
#ifdef XPILER_FIBERS_UCONTEXT
#include <ucontext.h>
#endif

#ifndef XPILER_FIBERS_UCONTEXT
// void xpf_switch_x86_64(void **save_sp, void *to_sp): saves the callee-saved state on the current
// stack, stores the stack pointer in *save_sp, and resumes the context saved at to_sp.
// Weak + hidden: several translation units of one library may include this header.
asm(R"(
    .text
    .weak xpf_switch_x86_64
    .hidden xpf_switch_x86_64
    .type xpf_switch_x86_64, @function
    .p2align 4
xpf_switch_x86_64:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size xpf_switch_x86_64, .-xpf_switch_x86_64

    .weak xpf_trampoline_x86_64
    .hidden xpf_trampoline_x86_64
    .type xpf_trampoline_x86_64, @function
    .p2align 4
xpf_trampoline_x86_64:
    movq %r12, %rdi
    movl %r14d, %esi
    callq *%r13
    ud2
    .size xpf_trampoline_x86_64, .-xpf_trampoline_x86_64
)");
extern "C" void xpf_switch_x86_64(void **save_sp, void *to_sp);
extern "C" void xpf_trampoline_x86_64();
#endif

namespace xpf {

struct DeadlockInfo {
    int n;         // fibers in the group
    int finished;  // fibers that returned
    int waiting;   // fibers waiting at some barrier
    int fiber;     // the first waiting fiber
    int first;     // ... waits at barrier(first, count)
    int count;
    int arrived;   // fibers arrived at that barrier
};

struct Options {
    size_t stack_size = 0;
    void (*on_switch)(int index, void *hook_ctx) = nullptr;
    void *hook_ctx = nullptr;
    void (*on_deadlock)(const DeadlockInfo &, void *hook_ctx) = nullptr;
    bool reverse = false;
};

namespace detail {

enum State : int { READY = 0, RUNNING = 1, WAITING = 2, DONE = 3 };

struct Fiber {
    void *sp;
    int state;
    int bfirst, bcount;  // the barrier it waits at
#ifdef XPILER_FIBERS_UCONTEXT
    ucontext_t uc;
#endif
};

struct Slot {
    int first, count, arrived;
};

struct Group {
    int n;
    void (*fn)(int, void *);
    void *ctx;
    Options opt;
    Fiber *f;
    int cur;
    int *queue;  // ring buffer of ready fibers, capacity n (each fiber is in it at most once)
    int qhead, qlen;
    int finished;
    Slot *slots;  // open barriers (at most n)
    int nslots;
    void *main_sp;
#ifdef XPILER_FIBERS_UCONTEXT
    ucontext_t main_uc;
#endif
};

// Per-OS-thread stack pool: `count` stacks of `stride` bytes (guard page + stack) from one mapping.
struct Pool {
    char *base = nullptr;
    size_t stride = 0, stack = 0, bytes = 0;
    int count = 0;
    Fiber *fibers = nullptr;
    int *ints = nullptr;
    Slot *slots = nullptr;
    int cap = 0;
};

inline Pool &pool() {
    static thread_local Pool p;
    return p;
}
inline Group *&current() {
    static thread_local Group *g = nullptr;
    return g;
}

// Guard-page ranges of all pools, for the SIGSEGV handler (fixed size, lock-free enough: entries are
// only ever written by the thread that owns them, and read by the faulting thread itself).
struct GuardRange {
    volatile uintptr_t base, stride, count;
};
static const int kMaxPools = 256;
inline GuardRange *guard_ranges() {
    static GuardRange r[kMaxPools];
    return r;
}

// If `addr` lies in the guard page of a fiber stack, report a stack overflow (does not return).
// Runtimes that install their own SIGSEGV handler call this from it.
inline void check_stack_guard(uintptr_t a) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    GuardRange *r = guard_ranges();
    for (int i = 0; i < kMaxPools; ++i) {
        uintptr_t b = r[i].base, s = r[i].stride, c = r[i].count;
        if (b && a >= b && a < b + s * c && (a - b) % s < page)
            xpiler_fault("stack overflow in a fiber (a thread's local arrays need more than %zu bytes of "
                         "stack; set XPILER_FIBER_STACK to a larger size in bytes)", (size_t)(s - page));
    }
}

inline void segv_handler(int sig, siginfo_t *info, void *) {
    check_stack_guard((uintptr_t)info->si_addr);
    signal(sig, SIG_DFL);  // not ours: let the access fault again and crash as usual
}

inline void install_segv_handler() {
    static thread_local bool done = false;
    if (done) return;
    done = true;
    // The handler must run on an alternate stack: the fiber stack just overflowed.
    static thread_local char *alt = nullptr;
    size_t altsz = 64 * 1024;
    alt = (char *)mmap(nullptr, altsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt != MAP_FAILED) {
        stack_t ss;
        ss.ss_sp = alt;
        ss.ss_size = altsz;
        ss.ss_flags = 0;
        sigaltstack(&ss, nullptr);
    }
    static bool installed = false;  // process-wide, first caller wins (benign race: same handler)
    if (!installed) {
        installed = true;
        struct sigaction old;
        sigaction(SIGSEGV, nullptr, &old);
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {  // else: the runtime's own
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = segv_handler;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGSEGV, &sa, nullptr);
        }
    }
}

inline size_t default_stack() {
    const char *e = getenv("XPILER_FIBER_STACK");
    if (e && *e) {
        long v = strtol(e, nullptr, 0);
        if (v >= 16384) return (size_t)v;
    }
    return 256 * 1024;
}

inline void ensure_pool(int n, size_t stack) {
    Pool &p = pool();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    stack = (stack + page - 1) / page * page;
    if (p.base && p.count >= n && p.stack == stack) return;
    install_segv_handler();
    GuardRange *r = guard_ranges();
    if (p.base) {
        for (int i = 0; i < kMaxPools; ++i)
            if (r[i].base == (uintptr_t)p.base) { r[i].base = 0; }
        munmap(p.base, p.bytes);
    }
    int count = n > p.count ? n : p.count;
    if (p.stack != stack) count = n;
    size_t stride = stack + page;
    size_t bytes = stride * (size_t)count;
    void *m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) xpiler_fault("fibers: cannot map %d stacks of %zu bytes", count, stack);
    p.base = (char *)m;
    p.stride = stride;
    p.stack = stack;
    p.bytes = bytes;
    p.count = count;
    for (int i = 0; i < count; ++i) mprotect(p.base + stride * (size_t)i, page, PROT_NONE);
    for (int i = 0; i < kMaxPools; ++i)
        if (r[i].base == 0) {
            r[i].stride = stride;
            r[i].count = (uintptr_t)count;
            r[i].base = (uintptr_t)p.base;
            break;
        }
    if (p.cap < count) {
        free(p.fibers);
        free(p.ints);
        free(p.slots);
        p.cap = count;
        p.fibers = (Fiber *)calloc((size_t)count, sizeof(Fiber));
        p.ints = (int *)calloc((size_t)count, sizeof(int));
        p.slots = (Slot *)calloc((size_t)count, sizeof(Slot));
        if (!p.fibers || !p.ints || !p.slots) xpiler_fault("fibers: out of memory for %d fibers", count);
    }
}

inline void do_switch(Group *g, int from, int to) {
    g->cur = to;
    g->f[to].state = RUNNING;
    if (g->opt.on_switch) g->opt.on_switch(to, g->opt.hook_ctx);
#ifdef XPILER_FIBERS_UCONTEXT
    swapcontext(&g->f[from].uc, &g->f[to].uc);
#else
    xpf_switch_x86_64(&g->f[from].sp, g->f[to].sp);
#endif
}

inline void to_main(Group *g, int from) {
    g->cur = -1;
#ifdef XPILER_FIBERS_UCONTEXT
    swapcontext(&g->f[from].uc, &g->main_uc);
#else
    xpf_switch_x86_64(&g->f[from].sp, g->main_sp);
#endif
}

inline void push(Group *g, int i) {
    int n = g->n;
    int pos = g->qhead + g->qlen;
    if (pos >= n) pos -= n;
    g->queue[pos] = i;
    g->qlen++;
    g->f[i].state = READY;
}

[[noreturn]] inline void deadlock(Group *g) {
    DeadlockInfo d;
    memset(&d, 0, sizeof d);
    d.n = g->n;
    d.finished = g->finished;
    d.fiber = -1;
    for (int i = 0; i < g->n; ++i)
        if (g->f[i].state == WAITING) {
            if (d.fiber < 0) {
                d.fiber = i;
                d.first = g->f[i].bfirst;
                d.count = g->f[i].bcount;
            }
            d.waiting++;
        }
    for (int s = 0; s < g->nslots; ++s)
        if (g->slots[s].first == d.first && g->slots[s].count == d.count) d.arrived = g->slots[s].arrived;
    if (g->opt.on_deadlock) g->opt.on_deadlock(d, g->opt.hook_ctx);
    xpiler_fault("deadlock at a barrier: fiber %d waits at a barrier over fibers [%d, %d) that only %d of "
                 "them reached (%d of %d fibers finished, %d waiting): a barrier in divergent code?",
                 d.fiber, d.first, d.first + d.count, d.arrived, d.finished, d.n, d.waiting);
}

// The running fiber `me` blocked (or finished): resume the next ready fiber.
inline void schedule(Group *g, int me) {
    if (g->qlen == 0) {
        if (g->finished == g->n) to_main(g, me);
        deadlock(g);
    }
    int next = g->queue[g->qhead];
    g->qhead = g->qhead + 1 == g->n ? 0 : g->qhead + 1;
    g->qlen--;
    if (next == me) {
        g->f[me].state = RUNNING;
        if (g->opt.on_switch) g->opt.on_switch(me, g->opt.hook_ctx);
        return;
    }
    do_switch(g, me, next);
}

inline void fiber_entry(void *gp, int idx) {
    Group *g = (Group *)gp;
    g->fn(idx, g->ctx);
    g->f[idx].state = DONE;
    g->finished++;
    schedule(g, idx);
    __builtin_unreachable();
}

#ifdef XPILER_FIBERS_UCONTEXT
inline void uc_entry(unsigned glo, unsigned ghi, int idx) {
    fiber_entry((void *)(((uintptr_t)ghi << 32) | (uintptr_t)glo), idx);
}
#endif

}  // namespace detail

inline int self() {
    detail::Group *g = detail::current();
    return g ? g->cur : -1;
}

inline int size() {
    detail::Group *g = detail::current();
    return g ? g->n : 0;
}

inline void barrier(int first, int count) {
    using namespace detail;
    Group *g = current();
    if (!g) xpiler_fault("barrier outside a fiber group");
    int me = g->cur;
    if (first < 0 || count < 1 || first + count > g->n || me < first || me >= first + count)
        xpiler_fault("barrier over fibers [%d, %d) called by fiber %d of a group of %d", first, first + count,
                     me, g->n);
    if (count == 1) return;
    int s = 0;
    while (s < g->nslots && (g->slots[s].first != first || g->slots[s].count != count)) ++s;
    if (s == g->nslots) {
        g->slots[s].first = first;
        g->slots[s].count = count;
        g->slots[s].arrived = 0;
        g->nslots++;
    }
    if (++g->slots[s].arrived == count) {
        g->slots[s] = g->slots[--g->nslots];
        if (g->opt.reverse)
            for (int i = first + count - 1; i >= first; --i) push(g, i);
        else
            for (int i = first; i < first + count; ++i) push(g, i);
    } else {
        g->f[me].state = WAITING;
        g->f[me].bfirst = first;
        g->f[me].bcount = count;
    }
    schedule(g, me);
}

inline void barrier() {
    detail::Group *g = detail::current();
    if (!g) xpiler_fault("barrier outside a fiber group");
    barrier(0, g->n);
}

inline void run(int n, void (*fn)(int index, void *ctx), void *ctx, const Options &opt = Options()) {
    using namespace detail;
    if (n <= 0) return;
    if (current()) xpiler_fault("fibers: nested run() inside a fiber");
    size_t stack = opt.stack_size ? opt.stack_size : default_stack();
    ensure_pool(n, stack);
    Pool &p = pool();
    Group g;
    g.n = n;
    g.fn = fn;
    g.ctx = ctx;
    g.opt = opt;
    g.f = p.fibers;
    g.cur = -1;
    g.queue = p.ints;
    g.qhead = 0;
    g.qlen = 0;
    g.finished = 0;
    g.slots = p.slots;
    g.nslots = 0;
    g.main_sp = nullptr;
#ifndef XPILER_FIBERS_UCONTEXT
    uint32_t csr[2] = {0, 0};
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(csr[0]), "=m"(*(uint16_t *)&csr[1]));
#endif
    for (int i = 0; i < n; ++i) {
        Fiber &f = g.f[i];
        char *lo = p.base + p.stride * (size_t)i + (p.stride - p.stack);
        char *top = lo + p.stack;
        f.state = READY;
#ifdef XPILER_FIBERS_UCONTEXT
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = lo;
        f.uc.uc_stack.ss_size = p.stack;
        f.uc.uc_link = nullptr;
        uintptr_t gp = (uintptr_t)&g;
        makecontext(&f.uc, (void (*)())uc_entry, 3, (unsigned)(gp & 0xffffffffu), (unsigned)(gp >> 32), i);
#else
        uint64_t *sp = (uint64_t *)(((uintptr_t)top & ~(uintptr_t)15) - 16 - 64);
        sp[0] = (uint64_t)csr[0] | ((uint64_t)(csr[1] & 0xffff) << 32);  // mxcsr, x87 cw
        sp[1] = 0;                                                        // r15
        sp[2] = (uint64_t)i;                                              // r14: index
        sp[3] = (uint64_t)(uintptr_t)&fiber_entry;                        // r13: entry
        sp[4] = (uint64_t)(uintptr_t)&g;                                  // r12: group
        sp[5] = 0;                                                        // rbx
        sp[6] = 0;                                                        // rbp
        sp[7] = (uint64_t)(uintptr_t)&xpf_trampoline_x86_64;              // return address
        f.sp = sp;
#endif
    }
    if (opt.reverse)
        for (int i = n - 1; i >= 0; --i) push(&g, i);
    else
        for (int i = 0; i < n; ++i) push(&g, i);
    current() = &g;
    int first = g.queue[0];
    g.qhead = 1 % n;
    g.qlen--;
    g.cur = first;
    g.f[first].state = RUNNING;
    if (opt.on_switch) opt.on_switch(first, opt.hook_ctx);
#ifdef XPILER_FIBERS_UCONTEXT
    swapcontext(&g.main_uc, &g.f[first].uc);
#else
    xpf_switch_x86_64(&g.main_sp, g.f[first].sp);
#endif
    current() = nullptr;
}

}  // namespace xpf

#endif  // XPILER_FIBERS_H
