// bang_intrinsics.h: BANG vector and tensor intrinsics (semantics: shared/reference/bang.md).
//
// Every intrinsic checks its operands (space, bounds inside one declared array, strict-mode rules) and
// then computes exactly:
//   - float: in float for + - * / and the element-wise functions (what numpy.float32 does), in double
//     for reductions, activations and the tensor intrinsics, rounded once to the destination type;
//   - half / bfloat16_t: in float (or double), rounded to the 16-bit type with round-to-nearest-even;
//   - integer types: in a wider integer, stored back with two's complement wrap-around; integer
//     division by zero gives 0.
// Operands may overlap (a partially overlapping source is read before the destination is written).
//
// Documented choices where bang.md leaves room:
//   - the approximate activations compute the exact function but reproduce the documented range
//     behaviour: __bang_active_sigmoid gives 0 below -7.75 and 1 above 7.75, __bang_active_exp gives
//     5.96e-8 below -7.75 (__bang_active_exphp is the exact exp); recip / rsqrt are exact outside their
//     valid ranges too; __bang_active_gelu is the tanh form (operators.md), __bang_active_gelup the erf
//     form; tests of these use the bang.md tolerances;
//   - __bang_reduce_sum writes each 128-byte chunk's sum to the chunk's first element and 0 to the
//     other elements of the chunk;
//   - __bang_argmax / __bang_max: dst[0] = the maximum, then its (first) index as uint32 in the next 4
//     bytes; __bang_argmin / __bang_min likewise;
//   - the deprecated 5-argument __bang_div(dst, a, b, tmp, n) leaves 1/b in the scratch buffer tmp;
//   - integer <-> float conversions take an optional fixed-point position p (value = int * 2^p);
//   - tensor intrinsics: dst and src in NRAM, the filter / right operand in WRAM; the result of
//     integer forms (and of float forms given a position) is scaled by 2^fix_position;
//     __bang_reshape_filter is a plain copy (the emulation keeps the logical layout).
#ifndef XPILER_BANG_INTRINSICS_H
#define XPILER_BANG_INTRINSICS_H

namespace xpiler_bang {

template <class T> struct calc { typedef T type; };
template <> struct calc<half> { typedef float type; };
template <> struct calc<bfloat16_t> { typedef float type; };
template <> struct calc<char> { typedef int type; };
template <> struct calc<signed char> { typedef int type; };
template <> struct calc<unsigned char> { typedef int type; };
template <> struct calc<short> { typedef int type; };
template <> struct calc<unsigned short> { typedef int type; };
template <> struct calc<int> { typedef long long type; };
template <> struct calc<unsigned> { typedef long long type; };
template <> struct calc<bool> { typedef int type; };

template <class T> inline double dv(T x) { return (double)(typename calc<T>::type)x; }

template <class T, class C> inline T store(C v) { return static_cast<T>(v); }  // integers wrap (GCC)

// From a double: integers round to nearest (ties to even) and saturate, floats round once.
template <class T> inline T from_double(double v) {
    if (std::is_integral<T>::value) {
        if (std::isnan(v)) return T(0);
        double r = std::nearbyint(v);
        double lo = (double)std::numeric_limits<typename std::conditional<std::is_integral<T>::value, T, int>::type>::min();
        double hi = (double)std::numeric_limits<typename std::conditional<std::is_integral<T>::value, T, int>::type>::max();
        return (T)(long long)std::min(hi, std::max(lo, r));
    }
    return static_cast<T>(v);
}

template <class C> inline C divide(C x, C y) {
    if (std::is_integral<C>::value && y == C(0)) return C(0);
    return x / y;
}

// A copy of src when it partially overlaps dst (the element-wise loop would read what it just wrote).
template <class T>
inline const T *unalias(const T *dst, const T *src, long n, std::vector<T> &tmp) {
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src, b = (uintptr_t)n * sizeof(T);
    if (d == s || d + b <= s || s + b <= d) return src;
    tmp.assign(src, src + n);
    return tmp.data();
}

template <class T, class F>
inline void binary(const char *fn, T *dst, const T *a, const T *b, long n, F f) {
    T *d = vec(fn, "dst", dst, n);
    const T *x = vec(fn, "src0", a, n);
    const T *y = vec(fn, "src1", b, n);
    std::vector<T> tx, ty;
    x = unalias(d, x, n, tx);
    y = unalias(d, y, n, ty);
    typedef typename calc<T>::type C;
    for (long i = 0; i < n; ++i) d[i] = store<T>(f((C)x[i], (C)y[i]));
}

template <class T, class F>
inline void binary_s(const char *fn, T *dst, const T *a, T s, long n, F f) {
    T *d = vec(fn, "dst", dst, n);
    const T *x = vec(fn, "src", a, n);
    std::vector<T> tx;
    x = unalias(d, x, n, tx);
    typedef typename calc<T>::type C;
    C c = (C)s;
    for (long i = 0; i < n; ++i) d[i] = store<T>(f((C)x[i], c));
}

template <class T, class F>
inline void cycle(const char *fn, T *dst, const T *a, const T *seg, long n, long m, F f) {
    if (m <= 0 || n % m)
        xpiler_fault("%s: element count %ld is not a positive multiple of the segment length %ld (%s)", fn, n, m, task_desc());
    T *d = vec(fn, "dst", dst, n);
    const T *x = vec(fn, "src", a, n);
    const T *y = vec(fn, "seg", seg, m);
    std::vector<T> tx, ty;
    x = unalias(d, x, n, tx);
    if ((uintptr_t)y < (uintptr_t)(d + n) && (uintptr_t)d < (uintptr_t)(y + m)) {
        ty.assign(y, y + m);
        y = ty.data();
    }
    typedef typename calc<T>::type C;
    for (long i = 0; i < n; ++i) d[i] = store<T>(f((C)x[i], (C)y[i % m]));
}

template <class T, class F>
inline void unary(const char *fn, T *dst, const T *a, long n, F f) {
    T *d = vec(fn, "dst", dst, n);
    const T *x = vec(fn, "src", a, n);
    std::vector<T> tx;
    x = unalias(d, x, n, tx);
    typedef typename calc<T>::type C;
    for (long i = 0; i < n; ++i) d[i] = store<T>(f((C)x[i]));
}

// Activations: f on double, rounded once to T.
template <class T, class F>
inline void active(const char *fn, T *dst, const T *a, long n, F f) {
    T *d = vec(fn, "dst", dst, n);
    const T *x = vec(fn, "src", a, n);
    std::vector<T> tx;
    x = unalias(d, x, n, tx);
    for (long i = 0; i < n; ++i) d[i] = from_double<T>(f(dv(x[i])));
}

}  // namespace xpiler_bang

// ---- element-wise arithmetic -------------------------------------------------------------------
#define XPILER_BANG_BIN(NAME, EXPR)                                                              \
    template <class T> inline void NAME(T *dst, const T *src0, const T *src1, int n) {         \
        ::xpiler_bang::binary(#NAME, dst, src0, src1, n, [](auto x, auto y) { return EXPR; }); \
    }
#define XPILER_BANG_SCA(NAME, EXPR)                                                                      \
    template <class T> inline void NAME(T *dst, const T *src, typename ::xpiler_bang::nd<T>::type s, int n) { \
        ::xpiler_bang::binary_s(#NAME, dst, src, (T)s, n, [](auto x, auto y) { return EXPR; });          \
    }
#define XPILER_BANG_CYC(NAME, EXPR)                                                                         \
    template <class T> inline void NAME(T *dst, const T *src, const T *seg, int n, int m) {                \
        ::xpiler_bang::cycle(#NAME, dst, src, seg, n, m, [](auto x, auto y) { return EXPR; });              \
    }
#define XPILER_BANG_UN(NAME, EXPR)                                                            \
    template <class T> inline void NAME(T *dst, const T *src, int n) {                      \
        ::xpiler_bang::unary(#NAME, dst, src, n, [](auto x) { return EXPR; });              \
    }
#define XPILER_BANG_ACT(NAME, EXPR)                                                           \
    template <class T> inline void NAME(T *dst, const T *src, int n) {                      \
        ::xpiler_bang::active(#NAME, dst, src, n, [](double x) -> double { return EXPR; }); \
    }

XPILER_BANG_BIN(__bang_add, x + y)
XPILER_BANG_BIN(__bang_sub, x - y)
XPILER_BANG_BIN(__bang_mul, x * y)
XPILER_BANG_BIN(__bang_div, ::xpiler_bang::divide(x, y))
XPILER_BANG_BIN(__bang_maximum, (x > y ? x : y))
XPILER_BANG_BIN(__bang_maxequal, (x > y ? x : y))
XPILER_BANG_BIN(__bang_minimum, (x < y ? x : y))
XPILER_BANG_BIN(__bang_minequal, (x < y ? x : y))
XPILER_BANG_BIN(__bang_ge, (x >= y ? 1 : 0))
XPILER_BANG_BIN(__bang_gt, (x > y ? 1 : 0))
XPILER_BANG_BIN(__bang_le, (x <= y ? 1 : 0))
XPILER_BANG_BIN(__bang_lt, (x < y ? 1 : 0))
XPILER_BANG_BIN(__bang_eq, (x == y ? 1 : 0))
XPILER_BANG_BIN(__bang_ne, (x != y ? 1 : 0))

// Logical (1 / 0 in the operand type) and bitwise operations; not in bang.md, semantics of the BANG
// built-in reference: and/or/xor of "is non-zero", not = "is zero", b* on the bit patterns (integers).
XPILER_BANG_BIN(__bang_and, ((x != 0) && (y != 0) ? 1 : 0))
XPILER_BANG_BIN(__bang_or, ((x != 0) || (y != 0) ? 1 : 0))
XPILER_BANG_BIN(__bang_xor, ((x != 0) != (y != 0) ? 1 : 0))
XPILER_BANG_UN(__bang_not, (x == 0 ? 1 : 0))

XPILER_BANG_SCA(__bang_add_scalar, x + y)
XPILER_BANG_SCA(__bang_sub_scalar, x - y)
XPILER_BANG_SCA(__bang_mul_scalar, x * y)
XPILER_BANG_SCA(__bang_div_scalar, ::xpiler_bang::divide(x, y))
XPILER_BANG_SCA(__bang_add_const, x + y)
XPILER_BANG_SCA(__bang_sub_const, x - y)
XPILER_BANG_SCA(__bang_mul_const, x * y)
XPILER_BANG_SCA(__bang_maxeq_scalar, (x > y ? x : y))
XPILER_BANG_SCA(__bang_mineq_scalar, (x < y ? x : y))
XPILER_BANG_SCA(__bang_ge_scalar, (x >= y ? 1 : 0))
XPILER_BANG_SCA(__bang_gt_scalar, (x > y ? 1 : 0))
XPILER_BANG_SCA(__bang_le_scalar, (x <= y ? 1 : 0))
XPILER_BANG_SCA(__bang_lt_scalar, (x < y ? 1 : 0))
XPILER_BANG_SCA(__bang_eq_scalar, (x == y ? 1 : 0))
XPILER_BANG_SCA(__bang_ne_scalar, (x != y ? 1 : 0))

// __bang_div(dst, a, scalar, n)
template <class T> inline void __bang_div(T *dst, const T *src, typename ::xpiler_bang::nd<T>::type s, int n) {
    ::xpiler_bang::binary_s("__bang_div", dst, src, (T)s, n, [](auto x, auto y) { return ::xpiler_bang::divide(x, y); });
}
// Deprecated __bang_div(dst, a, b, tmp, n): tmp is a scratch buffer (left holding 1/b).
template <class T> inline void __bang_div(T *dst, const T *src0, const T *src1, T *tmp, int n) {
    T *t = ::xpiler_bang::vec("__bang_div", "tmp", tmp, n);
    const T *y = ::xpiler_bang::vec("__bang_div", "src1", src1, n);
    std::vector<T> b(y, y + (n > 0 ? n : 0));
    typedef typename ::xpiler_bang::calc<T>::type C;
    for (long i = 0; i < n; ++i) t[i] = ::xpiler_bang::store<T>(::xpiler_bang::divide((C)1, (C)b[(size_t)i]));
    T *d = ::xpiler_bang::vec("__bang_div", "dst", dst, n);
    const T *x = ::xpiler_bang::vec("__bang_div", "src0", src0, n);
    std::vector<T> a(x, x + (n > 0 ? n : 0));
    for (long i = 0; i < n; ++i) d[i] = ::xpiler_bang::store<T>(::xpiler_bang::divide((C)a[(size_t)i], (C)b[(size_t)i]));
}

XPILER_BANG_CYC(__bang_cycle_add, x + y)
XPILER_BANG_CYC(__bang_cycle_sub, x - y)
XPILER_BANG_CYC(__bang_cycle_mul, x * y)
XPILER_BANG_CYC(__bang_cycle_div, ::xpiler_bang::divide(x, y))
XPILER_BANG_CYC(__bang_cycle_maxequal, (x > y ? x : y))
XPILER_BANG_CYC(__bang_cycle_minequal, (x < y ? x : y))

XPILER_BANG_UN(__bang_square, x * x)
XPILER_BANG_UN(__bang_sqrt, std::sqrt(x))
XPILER_BANG_UN(__bang_rsqrt, (decltype(x))1 / std::sqrt(x))
XPILER_BANG_UN(__bang_recip, ::xpiler_bang::divide((decltype(x))1, x))
XPILER_BANG_UN(__bang_relu, (x > 0 ? x : (decltype(x))0))
XPILER_BANG_UN(__bang_abs, (x < 0 ? -x : x))

XPILER_BANG_ACT(__bang_active_relu, (x > 0 ? x : 0.0))
XPILER_BANG_ACT(__bang_active_sign, (x >= 0 ? 1.0 : (x < 0 ? -1.0 : x)))  // sign(+0) = sign(-0) = 1
XPILER_BANG_ACT(__bang_active_abs, std::fabs(x))
XPILER_BANG_ACT(__bang_active_exp, (x < -7.75 ? 5.96e-8 : std::exp(x)))
XPILER_BANG_ACT(__bang_active_exphp, std::exp(x))
XPILER_BANG_ACT(__bang_active_sigmoid, (x < -7.75 ? 0.0 : x > 7.75 ? 1.0 : 1.0 / (1.0 + std::exp(-x))))
XPILER_BANG_ACT(__bang_active_gelu,
                0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))))
XPILER_BANG_ACT(__bang_active_gelup, 0.5 * x * (1.0 + std::erf(x * 0.7071067811865476)))
XPILER_BANG_ACT(__bang_active_tanh, std::tanh(x))
XPILER_BANG_ACT(__bang_active_recip, 1.0 / x)
XPILER_BANG_ACT(__bang_active_rsqrt, 1.0 / std::sqrt(x))
XPILER_BANG_ACT(__bang_active_sqrthp, std::sqrt(x))
XPILER_BANG_ACT(__bang_active_sqrt, std::sqrt(x))

namespace xpiler_bang {
template <class T, class F>
inline void bitwise(const char *fn, T *dst, const T *a, const T *b, long n, F f) {
    static_assert(std::is_integral<T>::value, "bitwise BANG intrinsics take integer operands");
    binary(fn, dst, a, b, n, f);
}
}  // namespace xpiler_bang
template <class T> inline void __bang_band(T *dst, const T *src0, const T *src1, int n) {
    ::xpiler_bang::bitwise("__bang_band", dst, src0, src1, n, [](auto x, auto y) { return x & y; });
}
template <class T> inline void __bang_bor(T *dst, const T *src0, const T *src1, int n) {
    ::xpiler_bang::bitwise("__bang_bor", dst, src0, src1, n, [](auto x, auto y) { return x | y; });
}
template <class T> inline void __bang_bxor(T *dst, const T *src0, const T *src1, int n) {
    ::xpiler_bang::bitwise("__bang_bxor", dst, src0, src1, n, [](auto x, auto y) { return x ^ y; });
}

#undef XPILER_BANG_BIN
#undef XPILER_BANG_SCA
#undef XPILER_BANG_CYC
#undef XPILER_BANG_UN
#undef XPILER_BANG_ACT

// ---- reductions --------------------------------------------------------------------------------
template <class T> inline T __bang_sum(const T *src, int n) {
    const T *x = ::xpiler_bang::vec("__bang_sum", "src", src, n);
    double acc = 0;
    for (long i = 0; i < n; ++i) acc += ::xpiler_bang::dv(x[i]);
    return ::xpiler_bang::from_double<T>(acc);
}

// For each 128-byte chunk of src: its sum in the chunk's first element of dst, 0 in the others.
template <class T> inline void __bang_reduce_sum(T *dst, const T *src, int n) {
    T *d = ::xpiler_bang::vec("__bang_reduce_sum", "dst", dst, n);
    const T *x = ::xpiler_bang::vec("__bang_reduce_sum", "src", src, n);
    const long chunk = 128 / (long)sizeof(T);
    std::vector<double> sums;
    for (long c = 0; c < n; c += chunk) {
        double acc = 0;
        for (long i = c; i < std::min<long>(n, c + chunk); ++i) acc += ::xpiler_bang::dv(x[i]);
        sums.push_back(acc);
    }
    for (long i = 0; i < n; ++i) d[i] = i % chunk ? T(0) : ::xpiler_bang::from_double<T>(sums[(size_t)(i / chunk)]);
}

namespace xpiler_bang {
template <class T>
inline void argext(const char *fn, T *dst, const T *src, long n, bool want_max) {
    if (n < 1) xpiler_fault("%s: element count %ld must be >= 1 (%s)", fn, n, task_desc());
    const T *x = vec(fn, "src", src, n, false);
    char *d = check_range(fn, "dst", dst, 0, (long)sizeof(T) + 4, M_NRAM, true);
    long best = 0;
    double bv = dv(x[0]);
    for (long i = 1; i < n; ++i) {
        double v = dv(x[i]);
        if (want_max ? v > bv : v < bv) bv = v, best = i;
    }
    T val = x[best];
    uint32_t idx = (uint32_t)best;
    memcpy(d, &val, sizeof(T));
    memcpy(d + sizeof(T), &idx, 4);
}
}  // namespace xpiler_bang

template <class T> inline void __bang_argmax(T *dst, const T *src, int n) { ::xpiler_bang::argext("__bang_argmax", dst, src, n, true); }
template <class T> inline void __bang_max(T *dst, const T *src, int n) { ::xpiler_bang::argext("__bang_max", dst, src, n, true); }
template <class T> inline void __bang_argmin(T *dst, const T *src, int n) { ::xpiler_bang::argext("__bang_argmin", dst, src, n, false); }
template <class T> inline void __bang_min(T *dst, const T *src, int n) { ::xpiler_bang::argext("__bang_min", dst, src, n, false); }

// ---- pooling (HWC in and out, no padding) --------------------------------------------------------
namespace xpiler_bang {
enum PoolMode { P_SUM, P_MAX, P_MIN, P_AVG };
template <class T>
inline void pool(const char *fn, T *dst, const T *src, int C, int H, int W, int kh, int kw, int sw, int sh, int mode) {
    if (sw <= 0) sw = kw;
    if (sh <= 0) sh = kh;
    if (C < 1 || kh < 1 || kw < 1 || H < kh || W < kw)
        xpiler_fault("%s: invalid shape C=%d H=%d W=%d kernel %dx%d (%s)", fn, C, H, W, kh, kw, task_desc());
    long Ho = (H - kh) / sh + 1, Wo = (W - kw) / sw + 1;
    const T *x = vec(fn, "src", src, (long)H * W * C, false);
    T *d = vec(fn, "dst", dst, Ho * Wo * C, false);
    std::vector<T> out((size_t)(Ho * Wo * C));
    for (long oh = 0; oh < Ho; ++oh)
        for (long ow = 0; ow < Wo; ++ow)
            for (long c = 0; c < C; ++c) {
                double acc = mode == P_MAX ? -INFINITY : mode == P_MIN ? INFINITY : 0.0;
                for (long i = 0; i < kh; ++i)
                    for (long j = 0; j < kw; ++j) {
                        double v = dv(x[((oh * sh + i) * W + ow * sw + j) * C + c]);
                        if (mode == P_MAX) acc = v > acc ? v : acc;
                        else if (mode == P_MIN) acc = v < acc ? v : acc;
                        else acc += v;
                    }
                if (mode == P_AVG) acc /= (double)(kh * kw);
                out[(size_t)((oh * Wo + ow) * C + c)] = from_double<T>(acc);
            }
    std::copy(out.begin(), out.end(), d);
}
}  // namespace xpiler_bang

#define XPILER_BANG_POOL(NAME, MODE)                                                                       \
    template <class T>                                                                                     \
    inline void NAME(T *dst, const T *src, int channel, int height, int width, int kernel_height,         \
                     int kernel_width, int stride_width = 0, int stride_height = 0) {                      \
        ::xpiler_bang::pool(#NAME, dst, src, channel, height, width, kernel_height, kernel_width,         \
                            stride_width, stride_height, ::xpiler_bang::MODE);                             \
    }
XPILER_BANG_POOL(__bang_sumpool, P_SUM)
XPILER_BANG_POOL(__bang_maxpool, P_MAX)
XPILER_BANG_POOL(__bang_minpool, P_MIN)
XPILER_BANG_POOL(__bang_avgpool, P_AVG)
#undef XPILER_BANG_POOL

// ---- transpose ---------------------------------------------------------------------------------
template <class T> inline void __bang_transpose(T *dst, const T *src, int height, int width) {
    long n = (long)height * width;
    T *d = ::xpiler_bang::vec("__bang_transpose", "dst", dst, n, false);
    const T *x = ::xpiler_bang::vec("__bang_transpose", "src", src, n, false);
    std::vector<T> tmp(x, x + n);
    for (long i = 0; i < height; ++i)
        for (long j = 0; j < width; ++j) d[j * height + i] = tmp[(size_t)(i * width + j)];
}

// ---- conversions -------------------------------------------------------------------------------
namespace xpiler_bang {
template <class D, class S, class F>
inline void convert(const char *fn, D *dst, const S *src, long n, F f) {
    D *d = vec(fn, "dst", dst, n);
    const S *x = vec(fn, "src", src, n);
    std::vector<S> tmp;
    if ((uintptr_t)x < (uintptr_t)(d + n) && (uintptr_t)d < (uintptr_t)(x + n)) {
        tmp.assign(x, x + n);
        x = tmp.data();
    }
    for (long i = 0; i < n; ++i) d[i] = f(x[i]);
}
// float -> integer with fixed-point position p: round(v / 2^p) (mode RN: ties to even, TZ: truncate), saturated.
template <class I> inline I to_fix(double v, int p, int mode) {
    v = std::ldexp(v, -p);
    if (std::isnan(v)) return I(0);
    double r = mode == TZ ? std::trunc(v) : std::nearbyint(v);
    r = std::min((double)std::numeric_limits<I>::max(), std::max((double)std::numeric_limits<I>::min(), r));
    return (I)(long long)r;
}
}  // namespace xpiler_bang

inline void __bang_half2float(float *dst, const half *src, int n) {
    ::xpiler_bang::convert("__bang_half2float", dst, src, n, [](half h) { return (float)h; });
}
inline void __bang_bfloat162float(float *dst, const bfloat16_t *src, int n) {
    ::xpiler_bang::convert("__bang_bfloat162float", dst, src, n, [](bfloat16_t h) { return (float)h; });
}
#define XPILER_BANG_F2H(NAME, MODE)                                                                         \
    inline void NAME(half *dst, const float *src, int n) {                                                 \
        ::xpiler_bang::convert(#NAME, dst, src, n, [](float f) {                                           \
            return half::from_bits(::xpiler_bang::float_to_half_bits_mode(f, ::xpiler_bang::MODE));        \
        });                                                                                                \
    }
XPILER_BANG_F2H(__bang_float2half, RN)
XPILER_BANG_F2H(__bang_float2half_rn, RN)
XPILER_BANG_F2H(__bang_float2half_tz, TZ)
XPILER_BANG_F2H(__bang_float2half_rd, RD)
XPILER_BANG_F2H(__bang_float2half_ru, RU)
#undef XPILER_BANG_F2H
inline void __bang_float2bfloat16(bfloat16_t *dst, const float *src, int n) {
    ::xpiler_bang::convert("__bang_float2bfloat16", dst, src, n, [](float f) { return bfloat16_t(f); });
}
inline void __bang_float2bfloat16_rn(bfloat16_t *dst, const float *src, int n) {
    ::xpiler_bang::convert("__bang_float2bfloat16_rn", dst, src, n, [](float f) { return bfloat16_t(f); });
}

#define XPILER_BANG_F2I(NAME, I, F, MODE)                                                                   \
    inline void NAME(I *dst, const F *src, int n, int position = 0) {                                      \
        ::xpiler_bang::convert(#NAME, dst, src, n, [position](F v) {                                       \
            return ::xpiler_bang::to_fix<I>(::xpiler_bang::dv(v), position, ::xpiler_bang::MODE);            \
        });                                                                                                \
    }
#define XPILER_BANG_I2F(NAME, F, I)                                                                         \
    inline void NAME(F *dst, const I *src, int n, int position = 0) {                                      \
        ::xpiler_bang::convert(#NAME, dst, src, n, [position](I v) {                                       \
            return ::xpiler_bang::from_double<F>(std::ldexp((double)v, position));                         \
        });                                                                                                \
    }
XPILER_BANG_F2I(__bang_float2int8_rn, int8_t, float, RN)
XPILER_BANG_F2I(__bang_float2int8_tz, int8_t, float, TZ)
XPILER_BANG_F2I(__bang_float2int16_rn, int16_t, float, RN)
XPILER_BANG_F2I(__bang_float2int16_tz, int16_t, float, TZ)
XPILER_BANG_F2I(__bang_float2int32_rn, int32_t, float, RN)
XPILER_BANG_F2I(__bang_float2int32_tz, int32_t, float, TZ)
XPILER_BANG_F2I(__bang_float2int32, int32_t, float, TZ)
XPILER_BANG_F2I(__bang_half2int8_rn, int8_t, half, RN)
XPILER_BANG_F2I(__bang_half2int8_tz, int8_t, half, TZ)
XPILER_BANG_F2I(__bang_half2int16_rn, int16_t, half, RN)
XPILER_BANG_F2I(__bang_half2int16_tz, int16_t, half, TZ)
XPILER_BANG_I2F(__bang_int82float, float, int8_t)
XPILER_BANG_I2F(__bang_int162float, float, int16_t)
XPILER_BANG_I2F(__bang_int322float, float, int32_t)
XPILER_BANG_I2F(__bang_int82half, half, int8_t)
XPILER_BANG_I2F(__bang_int162half, half, int16_t)
#undef XPILER_BANG_F2I
#undef XPILER_BANG_I2F

// ---- tensor intrinsics -------------------------------------------------------------------------
namespace xpiler_bang {
template <class T> inline bool is_int() { return std::is_integral<T>::value; }
}  // namespace xpiler_bang

// dst[h] = sum_w filter[h][w] * src[w], filter row-major [height][width] in WRAM.
template <class D, class S, class F>
inline void __bang_mlp(D *dst, const S *src, const F *filter, int height, int width, int fix_position = 0) {
    using namespace ::xpiler_bang;
    const char *fn = "__bang_mlp";
    if (height < 0 || width < 0) xpiler_fault("%s: negative shape %d x %d (%s)", fn, height, width, task_desc());
    D *d = vec(fn, "dst", dst, height, false);
    const S *x = vec(fn, "src", src, width, false);
    const F *w = (const F *)check_range(fn, "filter", filter, 0, (long)height * width * (long)sizeof(F), M_WRAM, true);
    std::vector<D> out((size_t)height);
    for (long h = 0; h < height; ++h) {
        double acc = 0;
        for (long k = 0; k < width; ++k) acc += dv(w[h * width + k]) * dv(x[k]);
        out[(size_t)h] = from_double<D>(std::ldexp(acc, fix_position));
    }
    std::copy(out.begin(), out.end(), d);
}

// dst[M][N] = a[M][K] @ B, b in WRAM holding B column-major (stored [N][K]).
template <class D, class A, class B>
inline void __bang_matmul(D *dst, const A *a, const B *b, int M, int K, int N, int fix_position = 0) {
    using namespace ::xpiler_bang;
    const char *fn = "__bang_matmul";
    if (M < 0 || K < 0 || N < 0) xpiler_fault("%s: negative shape (%s)", fn, task_desc());
    D *d = vec(fn, "dst", dst, (long)M * N, false);
    const A *x = vec(fn, "a", a, (long)M * K, false);
    const B *w = (const B *)check_range(fn, "b", b, 0, (long)N * K * (long)sizeof(B), M_WRAM, true);
    std::vector<D> out((size_t)M * N);
    for (long m = 0; m < M; ++m)
        for (long n = 0; n < N; ++n) {
            double acc = 0;
            for (long k = 0; k < K; ++k) acc += dv(x[m * K + k]) * dv(w[n * K + k]);
            out[(size_t)(m * N + n)] = from_double<D>(std::ldexp(acc, fix_position));
        }
    std::copy(out.begin(), out.end(), d);
}

// src HWC [H][W][Ci] in NRAM, filter [Co][kh][kw][Ci] in WRAM, dst [Ho][Wo][Co], no padding.
template <class D, class S, class F>
inline void __bang_conv(D *dst, const S *src, const F *filter, int channel_input, int height, int width,
                        int kernel_height, int kernel_width, int stride_width, int stride_height,
                        int channel_output, int fix_position = 0) {
    using namespace ::xpiler_bang;
    const char *fn = "__bang_conv";
    int Ci = channel_input, H = height, W = width, kh = kernel_height, kw = kernel_width;
    int sw = stride_width, sh = stride_height, Co = channel_output;
    if (Ci < 1 || Co < 1 || kh < 1 || kw < 1 || sw < 1 || sh < 1 || H < kh || W < kw)
        xpiler_fault("%s: invalid shape Ci=%d H=%d W=%d kernel %dx%d stride %dx%d Co=%d (%s)", fn, Ci, H, W, kh, kw,
                     sw, sh, Co, task_desc());
    long Ho = (H - kh) / sh + 1, Wo = (W - kw) / sw + 1;
    D *d = vec(fn, "dst", dst, Ho * Wo * Co, false);
    const S *x = vec(fn, "src", src, (long)H * W * Ci, false);
    const F *w = (const F *)check_range(fn, "filter", filter, 0, (long)Co * kh * kw * Ci * (long)sizeof(F), M_WRAM, true);
    std::vector<D> out((size_t)(Ho * Wo * Co));
    for (long oh = 0; oh < Ho; ++oh)
        for (long ow = 0; ow < Wo; ++ow)
            for (long co = 0; co < Co; ++co) {
                double acc = 0;
                for (long i = 0; i < kh; ++i)
                    for (long j = 0; j < kw; ++j) {
                        const S *xs = x + ((oh * sh + i) * W + ow * sw + j) * Ci;
                        const F *ws = w + ((co * kh + i) * kw + j) * Ci;
                        for (long c = 0; c < Ci; ++c) acc += dv(xs[c]) * dv(ws[c]);
                    }
                out[(size_t)((oh * Wo + ow) * Co + co)] = from_double<D>(std::ldexp(acc, fix_position));
            }
    std::copy(out.begin(), out.end(), d);
}

// The emulation keeps the logical layout: a copy of n*h*w*c elements (on-chip to on-chip).
template <class T>
inline void __bang_reshape_filter(T *dst, const T *src, int n, int h, int w, int c) {
    using namespace ::xpiler_bang;
    const char *fn = "__bang_reshape_filter";
    long cnt = (long)n * h * w * c;
    if (cnt < 0) xpiler_fault("%s: negative shape (%s)", fn, task_desc());
    unsigned m = M_NRAM | M_WRAM | M_SRAM;
    char *d = check_range(fn, "dst", dst, 0, cnt * (long)sizeof(T), m, true);
    const char *s = check_range(fn, "src", src, 0, cnt * (long)sizeof(T), m, true);
    memmove(d, s, (size_t)cnt * sizeof(T));
}

#endif  // XPILER_BANG_INTRINSICS_H
