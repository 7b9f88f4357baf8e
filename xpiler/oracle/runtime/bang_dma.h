// bang_dma.h: __memcpy / __memcpy_async (1-D, 2-D, 3-D) and the fills (included by bang_emu.h).
//
// Directions are matched by name: every X2Y spelling over GDRAM, NRAM, WRAM, SRAM, LDRAM exists so
// that programs compile, and the 8 that BANG does not have (WRAM2WRAM, GDRAM2LDRAM, ...) fault when
// used.  Each side of a copy must be in the space its direction names (a __nram__ pointer given as
// the source of GDRAM2NRAM faults), and the whole range a copy touches must lie inside one array
// (on-chip) or one registered buffer (GDRAM, check mode).  `__memcpy_async` is checked the same way at
// issue and queued; the queue, its completion by the `__sync*` waits and its race checks are in
// bang_emu.h (header comment).  Both kinds of copy check their sides against the pending copies.
#ifndef XPILER_BANG_DMA_H
#define XPILER_BANG_DMA_H

#define XPILER_BANG_DIR(S, D) S##2##D = ::xpiler_bang::S_##S * 8 + ::xpiler_bang::S_##D
enum mluMemcpyDirection_t : int {
    XPILER_BANG_DIR(GDRAM, GDRAM), XPILER_BANG_DIR(GDRAM, NRAM), XPILER_BANG_DIR(GDRAM, WRAM),
    XPILER_BANG_DIR(GDRAM, SRAM), XPILER_BANG_DIR(GDRAM, LDRAM),
    XPILER_BANG_DIR(NRAM, GDRAM), XPILER_BANG_DIR(NRAM, NRAM), XPILER_BANG_DIR(NRAM, WRAM),
    XPILER_BANG_DIR(NRAM, SRAM), XPILER_BANG_DIR(NRAM, LDRAM),
    XPILER_BANG_DIR(WRAM, GDRAM), XPILER_BANG_DIR(WRAM, NRAM), XPILER_BANG_DIR(WRAM, WRAM),
    XPILER_BANG_DIR(WRAM, SRAM), XPILER_BANG_DIR(WRAM, LDRAM),
    XPILER_BANG_DIR(SRAM, GDRAM), XPILER_BANG_DIR(SRAM, NRAM), XPILER_BANG_DIR(SRAM, WRAM),
    XPILER_BANG_DIR(SRAM, SRAM), XPILER_BANG_DIR(SRAM, LDRAM),
    XPILER_BANG_DIR(LDRAM, GDRAM), XPILER_BANG_DIR(LDRAM, NRAM), XPILER_BANG_DIR(LDRAM, WRAM),
    XPILER_BANG_DIR(LDRAM, SRAM), XPILER_BANG_DIR(LDRAM, LDRAM),
};
#undef XPILER_BANG_DIR
typedef mluMemcpyDirection_t mluMemcpyDirection;

namespace xpiler_bang {

inline bool dir_valid(int src, int dst) {
    // bang.md: GDRAM2NRAM, NRAM2GDRAM, LDRAM2NRAM, NRAM2LDRAM, GDRAM2WRAM, WRAM2GDRAM, NRAM2NRAM,
    // NRAM2WRAM, WRAM2NRAM, GDRAM2SRAM, SRAM2GDRAM, SRAM2NRAM, NRAM2SRAM, SRAM2WRAM, WRAM2SRAM,
    // GDRAM2GDRAM, SRAM2SRAM.
    static const unsigned char ok[5][5] = {
        // to: GDRAM NRAM WRAM SRAM LDRAM
        {1, 1, 1, 1, 0},  // from GDRAM
        {1, 1, 1, 1, 1},  // from NRAM
        {1, 1, 0, 1, 0},  // from WRAM
        {1, 1, 1, 1, 0},  // from SRAM
        {0, 1, 0, 0, 0},  // from LDRAM
    };
    return ok[src][dst] != 0;
}

// One side of a copy: a (n2+1) x (n1+1) grid of segments of `size` bytes.
struct Side {
    const void *p;
    long stride0, n1, stride1, n2;
    long lo(long size) const {
        (void)size;
        return std::min(0L, n1 * stride0) + std::min(0L, n2 * stride1);
    }
    long hi(long size) const { return std::max(0L, n1 * stride0) + std::max(0L, n2 * stride1) + size; }
};

inline void dma(const char *fn, int dir, long size, Side d, Side s, bool async = false) {
    State &S = st();
    if (!S.in_launch) xpiler_fault("%s called outside a kernel launch (use cnrtMemcpy on the host)", fn);
    int sp_src = dir / 8, sp_dst = dir % 8;
    if (dir < 0 || sp_src > 4 || sp_dst > 4) xpiler_fault("%s: unknown direction value %d (%s)", fn, dir, task_desc());
    if (!dir_valid(sp_src, sp_dst))
        xpiler_fault("%s: invalid direction %s2%s: BANG has no such DMA direction (%s)", fn, kSpaceName[sp_src],
                     kSpaceName[sp_dst], task_desc());
    if (size < 0) xpiler_fault("%s: negative size %ld (%s)", fn, size, task_desc());
    if (d.n1 < 0 || d.n2 < 0 || s.n1 < 0 || s.n2 < 0) xpiler_fault("%s: negative segment count (%s)", fn, task_desc());
    if ((d.n1 + 1) * (d.n2 + 1) != (s.n1 + 1) * (s.n2 + 1))
        xpiler_fault("%s: the destination has %ld segments but the source %ld (%s)", fn, (d.n1 + 1) * (d.n2 + 1),
                     (s.n1 + 1) * (s.n2 + 1), task_desc());
    char dname[64], sname[64];
    snprintf(dname, sizeof dname, "dst (%s side of %s2%s)", kSpaceName[sp_dst], kSpaceName[sp_src], kSpaceName[sp_dst]);
    snprintf(sname, sizeof sname, "src (%s side of %s2%s)", kSpaceName[sp_src], kSpaceName[sp_src], kSpaceName[sp_dst]);
    unsigned dm = 1u << sp_dst, sm = 1u << sp_src;
    char *dp = check_range(fn, dname, d.p, d.lo(size), size ? d.hi(size) : 0, dm, false, false);
    const char *sp = check_range(fn, sname, s.p, s.lo(size), size ? s.hi(size) : 0, sm, false, false);
    if (!size) return;
    Grid dg{dp, size, d.stride0, d.n1, d.stride1, d.n2}, sg{sp, size, s.stride0, s.n1, s.stride1, s.n2};
    if (__builtin_expect(S.npend != 0, 0)) {  // exact (segment) overlap with the pending copies
        race_check(fn, sname, s.p, sg, false);
        race_check(fn, dname, d.p, dg, true);
    }
    if (!async) {
        move_grid(dg, sg);
        return;
    }
    if ((int)S.pend.size() < S.ntask) S.pend.resize((size_t)S.ntask);
    std::vector<Pending> &q = S.pend[(size_t)tv.task_id];
    q.push_back(Pending{dir, dg, sg, where(d.p).space == S_STACK, {}});
    if (where(s.p).space == S_STACK) q.back().s_copy.assign((const char *)sg.lo(), (const char *)sg.hi());
    ++S.npend;
}

}  // namespace xpiler_bang

inline void __memcpy(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir) {
    ::xpiler_bang::dma("__memcpy", dir, (long)size, {dst, 0, 0, 0, 0}, {src, 0, 0, 0, 0});
}
inline void __memcpy(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir, unsigned dst_stride,
                     int src_stride, unsigned segnum) {
    ::xpiler_bang::dma("__memcpy", dir, (long)size, {dst, (long)dst_stride, (long)segnum, 0, 0},
                       {src, (long)src_stride, (long)segnum, 0, 0});
}
inline void __memcpy(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir, int dst_stride0,
                     unsigned dst_segnum1, int dst_stride1, unsigned dst_segnum2, int src_stride0,
                     unsigned src_segnum1, int src_stride1, unsigned src_segnum2) {
    ::xpiler_bang::dma("__memcpy", dir, (long)size, {dst, (long)dst_stride0, (long)dst_segnum1, (long)dst_stride1, (long)dst_segnum2},
                       {src, (long)src_stride0, (long)src_segnum1, (long)src_stride1, (long)src_segnum2});
}
inline void __memcpy_async(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir) {
    ::xpiler_bang::dma("__memcpy_async", dir, (long)size, {dst, 0, 0, 0, 0}, {src, 0, 0, 0, 0}, true);
}
inline void __memcpy_async(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir, unsigned dst_stride,
                           int src_stride, unsigned segnum) {
    ::xpiler_bang::dma("__memcpy_async", dir, (long)size, {dst, (long)dst_stride, (long)segnum, 0, 0},
                       {src, (long)src_stride, (long)segnum, 0, 0}, true);
}
inline void __memcpy_async(void *dst, const void *src, unsigned size, mluMemcpyDirection_t dir, int dst_stride0,
                           unsigned dst_segnum1, int dst_stride1, unsigned dst_segnum2, int src_stride0,
                           unsigned src_segnum1, int src_stride1, unsigned src_segnum2) {
    ::xpiler_bang::dma("__memcpy_async", dir, (long)size,
                       {dst, (long)dst_stride0, (long)dst_segnum1, (long)dst_stride1, (long)dst_segnum2},
                       {src, (long)src_stride0, (long)src_segnum1, (long)src_stride1, (long)src_segnum2}, true);
}

// ---- fills (NRAM) ------------------------------------------------------------------------------
namespace xpiler_bang {
template <class T> struct nd { typedef T type; };  // non-deduced context
template <class T>
inline void fill(const char *fn, T *dst, long n, T v) {
    T *d = vec(fn, "dst", dst, n);
    for (long i = 0; i < n; ++i) d[i] = v;
}
}  // namespace xpiler_bang

template <class T> inline void __bang_write_value(T *dst, int n, typename ::xpiler_bang::nd<T>::type value) {
    ::xpiler_bang::fill("__bang_write_value", dst, n, value);
}
inline void __bang_write_value(void *dst, int n, float value) {  // untyped buffer: a float fill
    ::xpiler_bang::fill("__bang_write_value", (float *)dst, n, value);
}
template <class T> inline void __bang_write_zero(T *dst, int n) { ::xpiler_bang::fill("__bang_write_zero", dst, n, T(0)); }
template <class T> inline void __nramset(T *dst, int n, typename ::xpiler_bang::nd<T>::type v) {
    ::xpiler_bang::fill("__nramset", dst, n, v);
}
template <class T> inline void __memset_nram(T *dst, int n, typename ::xpiler_bang::nd<T>::type v) {
    ::xpiler_bang::fill("__memset_nram", dst, n, v);
}
inline void __nramset_float(float *dst, int n, float v) { ::xpiler_bang::fill("__nramset_float", dst, n, v); }
inline void __nramset_half(half *dst, int n, half v) { ::xpiler_bang::fill("__nramset_half", dst, n, v); }
inline void __nramset_int(int *dst, int n, int v) { ::xpiler_bang::fill("__nramset_int", dst, n, v); }
inline void __nramset_short(short *dst, int n, short v) { ::xpiler_bang::fill("__nramset_short", dst, n, v); }
inline void __nramset_char(char *dst, int n, char v) { ::xpiler_bang::fill("__nramset_char", dst, n, v); }

#endif  // XPILER_BANG_DMA_H
