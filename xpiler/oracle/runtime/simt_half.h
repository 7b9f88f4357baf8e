// simt_half.h: IEEE binary16 (`half` / `__half`, `half2`) and bfloat16 (`__nv_bfloat16`) for the
// SIMT CPU emulation.  Conversions round to nearest even (exact, not through float), arithmetic is
// done in double and rounded once (exact for + - * / of two halves: 53 >= 2*11+2).
// Mirrors cuda_fp16.h: constructors from float/double/integers, `operator float()`, operators
// between two halves (so `h * 2.0f` is ambiguous, as with nvcc).
#ifndef XPILER_SIMT_HALF_H
#define XPILER_SIMT_HALF_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace xsimt {

inline uint16_t f64_to_f16(double d) {
    uint64_t x;
    memcpy(&x, &d, 8);
    uint16_t sign = (uint16_t)((x >> 48) & 0x8000);
    uint64_t ax = x & 0x7fffffffffffffffull;
    if (ax >= 0x7ff0000000000000ull) {                       // inf / nan
        if (ax == 0x7ff0000000000000ull) return sign | 0x7c00;
        return sign | 0x7e00 | (uint16_t)((ax >> 42) & 0x1ff);
    }
    int e = (int)(ax >> 52) - 1023;
    if (e >= 16) return sign | 0x7c00;
    if (e < -26) return sign;                                // < 2^-26: rounds to zero
    uint64_t m = (ax & ((1ull << 52) - 1)) | (1ull << 52);
    int shift = e >= -14 ? 42 : 28 - e;                      // normal: keep 11 bits; subnormal: units of 2^-24
    uint64_t q = m >> shift, rem = m & ((1ull << shift) - 1), halfway = 1ull << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) ++q;
    if (e >= -14) return sign | (uint16_t)((uint32_t)(e + 15) * 1024u + (uint32_t)(q - 1024));  // carry ok
    return sign | (uint16_t)q;
}

inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (m == 0) {
            bits = sign;
        } else {  // subnormal: m * 2^-24
            float v = (float)m * 5.9604644775390625e-8f;
            memcpy(&bits, &v, 4);
            bits |= sign;
        }
    } else if (e == 31) {
        bits = sign | 0x7f800000u | (m << 13);
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t f64_to_bf16(double d) {
    float f = (float)d;  // then round float -> bf16 (nearest even)
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
inline float bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

}  // namespace xsimt

struct __half_raw {
    unsigned short x;
};

struct __half {
    unsigned short __x;
    __half() = default;
    __half(const __half_raw &r) : __x(r.x) {}
    __half(float f) : __x(xsimt::f64_to_f16(f)) {}
    __half(double d) : __x(xsimt::f64_to_f16(d)) {}
    __half(int i) : __x(xsimt::f64_to_f16(i)) {}
    __half(unsigned i) : __x(xsimt::f64_to_f16(i)) {}
    __half(short i) : __x(xsimt::f64_to_f16(i)) {}
    __half(unsigned short i) : __x(xsimt::f64_to_f16(i)) {}
    __half(long i) : __x(xsimt::f64_to_f16((double)i)) {}
    __half(unsigned long i) : __x(xsimt::f64_to_f16((double)i)) {}
    __half(long long i) : __x(xsimt::f64_to_f16((double)i)) {}
    __half(unsigned long long i) : __x(xsimt::f64_to_f16((double)i)) {}
    operator float() const { return xsimt::f16_to_f32(__x); }
    operator __half_raw() const { return __half_raw{__x}; }
    __half &operator=(float f) { __x = xsimt::f64_to_f16(f); return *this; }
    __half &operator=(double d) { __x = xsimt::f64_to_f16(d); return *this; }
    __half &operator=(int i) { __x = xsimt::f64_to_f16(i); return *this; }
    __half &operator=(const __half_raw &r) { __x = r.x; return *this; }
};
typedef __half half;

namespace xsimt {
inline __half mkh(double d) { return __half(d); }
inline double hd(__half h) { return (double)f16_to_f32(h.__x); }
inline __half raw_half(unsigned short bits) { __half h; h.__x = bits; return h; }
}  // namespace xsimt

inline __half operator+(const __half &a, const __half &b) { return xsimt::mkh(xsimt::hd(a) + xsimt::hd(b)); }
inline __half operator-(const __half &a, const __half &b) { return xsimt::mkh(xsimt::hd(a) - xsimt::hd(b)); }
inline __half operator*(const __half &a, const __half &b) { return xsimt::mkh(xsimt::hd(a) * xsimt::hd(b)); }
inline __half operator/(const __half &a, const __half &b) { return xsimt::mkh(xsimt::hd(a) / xsimt::hd(b)); }
inline __half operator-(const __half &a) { return xsimt::raw_half((unsigned short)(a.__x ^ 0x8000)); }
inline __half operator+(const __half &a) { return a; }
inline __half &operator+=(__half &a, const __half &b) { return a = a + b; }
inline __half &operator-=(__half &a, const __half &b) { return a = a - b; }
inline __half &operator*=(__half &a, const __half &b) { return a = a * b; }
inline __half &operator/=(__half &a, const __half &b) { return a = a / b; }
inline __half &operator++(__half &a) { return a = a + __half(1.0f); }
inline __half &operator--(__half &a) { return a = a - __half(1.0f); }
inline bool operator==(const __half &a, const __half &b) { return (float)a == (float)b; }
inline bool operator!=(const __half &a, const __half &b) { return (float)a != (float)b; }
inline bool operator<(const __half &a, const __half &b) { return (float)a < (float)b; }
inline bool operator>(const __half &a, const __half &b) { return (float)a > (float)b; }
inline bool operator<=(const __half &a, const __half &b) { return (float)a <= (float)b; }
inline bool operator>=(const __half &a, const __half &b) { return (float)a >= (float)b; }

struct alignas(4) __half2 {
    __half x, y;
    __half2() = default;
    __half2(const __half &a, const __half &b) : x(a), y(b) {}
};
typedef __half2 half2;

inline __half2 operator+(const __half2 &a, const __half2 &b) { return __half2(a.x + b.x, a.y + b.y); }
inline __half2 operator-(const __half2 &a, const __half2 &b) { return __half2(a.x - b.x, a.y - b.y); }
inline __half2 operator*(const __half2 &a, const __half2 &b) { return __half2(a.x * b.x, a.y * b.y); }
inline __half2 operator/(const __half2 &a, const __half2 &b) { return __half2(a.x / b.x, a.y / b.y); }
inline __half2 &operator+=(__half2 &a, const __half2 &b) { return a = a + b; }
inline __half2 &operator*=(__half2 &a, const __half2 &b) { return a = a * b; }

// conversions
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double d) { return __half(d); }
inline float __half2float(__half h) { return (float)h; }
inline __half __int2half_rn(int i) { return __half(i); }
inline __half __uint2half_rn(unsigned i) { return __half(i); }
inline int __half2int_rn(__half h) { return (int)std::nearbyint((float)h); }
inline int __half2int_rz(__half h) { return (int)(float)h; }
inline int __half2int_rd(__half h) { return (int)std::floor((float)h); }
inline int __half2int_ru(__half h) { return (int)std::ceil((float)h); }
inline short __half_as_short(__half h) { return (short)h.__x; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __short_as_half(short s) { return xsimt::raw_half((unsigned short)s); }
inline __half __ushort_as_half(unsigned short s) { return xsimt::raw_half(s); }
inline __half __float2half_rz(float f) {
    __half h(f);
    if (std::fabs((float)h) > std::fabs(f) && std::isfinite(f)) h.__x = (unsigned short)(h.__x - 1);
    return h;
}
// arithmetic
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
inline __half __habs(__half a) { return xsimt::raw_half((unsigned short)(a.__x & 0x7fff)); }
inline __half __hfma(__half a, __half b, __half c) { return xsimt::mkh(std::fma(xsimt::hd(a), xsimt::hd(b), xsimt::hd(c))); }
inline __half __hadd_sat(__half a, __half b) {
    double v = xsimt::hd(a) + xsimt::hd(b);
    return xsimt::mkh(v < 0 ? 0.0 : v > 1 ? 1.0 : v);
}
// max / min as cuda_fp16.h defines them: a NaN operand loses to a number, two NaNs give the canonical
// NaN (0x7fff), +0 is above -0; the _nan forms give the canonical NaN when either operand is NaN.
namespace xsimt {
inline __half max_min(__half a, __half b, bool max, bool nan_wins) {
    bool na = std::isnan((float)a), nb = std::isnan((float)b);
    if (na || nb) return (na && nb) || nan_wins ? raw_half(0x7fff) : na ? b : a;
    if ((float)a == (float)b) return ((a.__x & 0x8000) != 0) == max ? b : a;
    return ((float)a > (float)b) == max ? a : b;
}
}  // namespace xsimt
inline __half __hmax(__half a, __half b) { return xsimt::max_min(a, b, true, false); }
inline __half __hmin(__half a, __half b) { return xsimt::max_min(a, b, false, false); }
inline __half __hmax_nan(__half a, __half b) { return xsimt::max_min(a, b, true, true); }
inline __half __hmin_nan(__half a, __half b) { return xsimt::max_min(a, b, false, true); }
inline bool __heq(__half a, __half b) { return a == b; }
inline bool __hne(__half a, __half b) { return a != b; }
inline bool __hlt(__half a, __half b) { return a < b; }
inline bool __hle(__half a, __half b) { return a <= b; }
inline bool __hgt(__half a, __half b) { return a > b; }
inline bool __hge(__half a, __half b) { return a >= b; }
inline bool __hisnan(__half a) { return std::isnan((float)a); }
inline int __hisinf(__half a) { return (a.__x & 0x7fff) == 0x7c00 ? ((a.__x & 0x8000) ? -1 : 1) : 0; }
inline __half hexp(__half a) { return __half(std::exp((float)a)); }
inline __half hexp2(__half a) { return __half(std::exp2((float)a)); }
inline __half hlog(__half a) { return __half(std::log((float)a)); }
inline __half hlog2(__half a) { return __half(std::log2((float)a)); }
inline __half hsqrt(__half a) { return xsimt::mkh(std::sqrt(xsimt::hd(a))); }
inline __half hrsqrt(__half a) { return __half(1.0f / std::sqrt((float)a)); }
inline __half hrcp(__half a) { return xsimt::mkh(1.0 / xsimt::hd(a)); }
inline __half hsin(__half a) { return __half(std::sin((float)a)); }
inline __half hcos(__half a) { return __half(std::cos((float)a)); }
inline __half htanh(__half a) { return __half(std::tanh((float)a)); }
inline __half hfloor(__half a) { return __half(std::floor((float)a)); }
inline __half hceil(__half a) { return __half(std::ceil((float)a)); }
inline __half htrunc(__half a) { return __half(std::trunc((float)a)); }
inline __half hrint(__half a) { return __half(std::nearbyint((float)a)); }
// half2
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __half2 __half2half2(__half a) { return __half2(a, a); }
inline __half2 make_half2(__half a, __half b) { return __half2(a, b); }
inline __half2 __float2half2_rn(float f) { return __half2(__half(f), __half(f)); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__half(a), __half(b)); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline float __low2float(__half2 h) { return (float)h.x; }
inline float __high2float(__half2 h) { return (float)h.y; }
inline __half2 __lows2half2(__half2 a, __half2 b) { return __half2(a.x, b.x); }
inline __half2 __highs2half2(__half2 a, __half2 b) { return __half2(a.y, b.y); }
inline __half2 __lowhigh2highlow(__half2 a) { return __half2(a.y, a.x); }
inline __half2 __hadd2(__half2 a, __half2 b) { return a + b; }
inline __half2 __hsub2(__half2 a, __half2 b) { return a - b; }
inline __half2 __hmul2(__half2 a, __half2 b) { return a * b; }
inline __half2 __h2div(__half2 a, __half2 b) { return a / b; }
inline __half2 __hneg2(__half2 a) { return __half2(-a.x, -a.y); }
inline __half2 __habs2(__half2 a) { return __half2(__habs(a.x), __habs(a.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)); }
inline __half2 __hmax2(__half2 a, __half2 b) { return __half2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }
inline __half2 __hmin2(__half2 a, __half2 b) { return __half2(__hmin(a.x, b.x), __hmin(a.y, b.y)); }
inline __half2 __hmax2_nan(__half2 a, __half2 b) { return __half2(__hmax_nan(a.x, b.x), __hmax_nan(a.y, b.y)); }
inline __half2 __hmin2_nan(__half2 a, __half2 b) { return __half2(__hmin_nan(a.x, b.x), __hmin_nan(a.y, b.y)); }
inline __half2 h2exp(__half2 a) { return __half2(hexp(a.x), hexp(a.y)); }
inline __half2 h2sqrt(__half2 a) { return __half2(hsqrt(a.x), hsqrt(a.y)); }

// bfloat16
struct __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f) : __x(xsimt::f64_to_bf16(f)) {}
    __nv_bfloat16(double d) : __x(xsimt::f64_to_bf16(d)) {}
    __nv_bfloat16(int i) : __x(xsimt::f64_to_bf16(i)) {}
    operator float() const { return xsimt::bf16_to_f32(__x); }
};
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat16 hip_bfloat16;
inline __nv_bfloat16 operator+(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16((double)(float)a + (float)b); }
inline __nv_bfloat16 operator-(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16((double)(float)a - (float)b); }
inline __nv_bfloat16 operator*(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16((double)(float)a * (float)b); }
inline __nv_bfloat16 operator/(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16((double)(float)a / (float)b); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return (float)h; }

#endif  // XPILER_SIMT_HALF_H
