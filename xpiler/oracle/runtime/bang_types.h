// bang_types.h: BANG C scalar types for the CPU emulation (included by bang_emu.h).
//
//   half        IEEE 754 binary16, storage only; every operation computes in float and rounds the
//               result back to half with round-to-nearest-even (what numpy.float16 does), so a
//               `half` kernel gives bit-for-bit the values numpy computes elementwise.
//   bfloat16_t  the upper 16 bits of a binary32, round-to-nearest-even on conversion.
//   int8 / int16 / int32 (and the usual <cstdint> names).
//
// Mixed expressions (`h * 2.0f`, `h + 1`) compute in the wider type (float / double), like C's
// usual arithmetic conversions; `half op half` returns half.
#ifndef XPILER_BANG_TYPES_H
#define XPILER_BANG_TYPES_H

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace xpiler_bang {

inline uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// float -> binary16, round to nearest even (F. Giesen's float_to_half_fast3_rtne; exact).
inline uint16_t float_to_half_bits(float f) {
    const uint32_t f32infty = 255u << 23, f16max = (127u + 16u) << 23;
    const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t x = f2u(f);
    uint32_t sign = x & 0x80000000u;
    x ^= sign;
    uint16_t o;
    if (x >= f16max) {
        o = (x > f32infty) ? (uint16_t)(0x7e00u | ((x >> 13) & 0x3ffu)) : (uint16_t)0x7c00u;
    } else if (x < (113u << 23)) {  // result is subnormal or zero: let the FPU round
        volatile float v = u2f(x) + u2f(denorm_magic);
        o = (uint16_t)(f2u(v) - denorm_magic);
    } else {
        uint32_t mant_odd = (x >> 13) & 1u;
        x += ((uint32_t)(15 - 127) << 23) + 0xfffu;
        x += mant_odd;
        o = (uint16_t)(x >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

inline float half_bits_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-08f;  // m * 2^-24, exact
        return sign ? -f : f;
    }
    if (e == 31) return u2f(sign | 0x7f800000u | (m << 13));
    return u2f(sign | ((e + 112u) << 23) | (m << 13));
}

inline uint16_t double_to_half_bits(double d) {
#if defined(__FLT16_MAX__) && defined(__x86_64__)
    _Float16 h = (_Float16)d;  // correctly rounded (no double rounding)
    uint16_t b;
    std::memcpy(&b, &h, 2);
    return b;
#else
    return float_to_half_bits((float)d);
#endif
}

// Directed roundings for __bang_float2half_tz/rd/ru: start from the nearest, step if on the wrong side.
inline uint16_t half_step_down(uint16_t b) {  // next value toward -inf
    if ((b & 0x7fffu) == 0) return 0x8001u;
    return (b & 0x8000u) ? (uint16_t)(b + 1) : (uint16_t)(b - 1);
}
inline uint16_t half_step_up(uint16_t b) {  // next value toward +inf
    if ((b & 0x7fffu) == 0) return 0x0001u;
    return (b & 0x8000u) ? (uint16_t)(b - 1) : (uint16_t)(b + 1);
}
enum Round { RN = 0, TZ = 1, RD = 2, RU = 3 };
inline uint16_t float_to_half_bits_mode(float f, int mode) {
    uint16_t b = float_to_half_bits(f);
    if (mode == RN || std::isnan(f)) return b;
    float r = half_bits_to_float(b);
    if (r == f) return b;
    bool above = r > f;
    if (mode == RD && above) return half_step_down(b);
    if (mode == RU && !above) return half_step_up(b);
    if (mode == TZ && std::fabs(r) > std::fabs(f)) return f > 0 ? half_step_down(b) : half_step_up(b);
    return b;
}

inline uint16_t float_to_bf16_bits(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
inline uint16_t double_to_bf16_bits(double d) { return float_to_bf16_bits((float)d); }
inline float bf16_bits_to_float(uint16_t b) { return u2f((uint32_t)b << 16); }

template <class U>
using EnableArith = typename std::enable_if<std::is_arithmetic<U>::value, int>::type;

}  // namespace xpiler_bang

#define XPILER_BANG_FLOAT16_TYPE(NAME, TOBITS, TOBITS_D, TOFLOAT)                                                 \
    struct NAME {                                                                                         \
        uint16_t x;                                                                                       \
        NAME() = default;                                                                                 \
        NAME(float f) : x(TOBITS(f)) {}                                                                   \
        NAME(double d) : x(TOBITS_D(d)) {}                                                                \
        template <class U, ::xpiler_bang::EnableArith<U> = 0>                                             \
        NAME(U v) : x(TOBITS((float)v)) {}                                                                \
        static NAME from_bits(uint16_t b) { NAME h; h.x = b; return h; }                                   \
        operator float() const { return TOFLOAT(x); }                                                     \
        NAME operator-() const { return from_bits((uint16_t)(x ^ 0x8000u)); }                             \
        NAME operator+() const { return *this; }                                                          \
        template <class U> NAME &operator+=(U v) { return *this = NAME((float)*this + v); }               \
        template <class U> NAME &operator-=(U v) { return *this = NAME((float)*this - v); }               \
        template <class U> NAME &operator*=(U v) { return *this = NAME((float)*this * v); }               \
        template <class U> NAME &operator/=(U v) { return *this = NAME((float)*this / v); }               \
        NAME &operator++() { return *this += 1.0f; }                                                      \
        NAME &operator--() { return *this -= 1.0f; }                                                      \
        NAME operator++(int) { NAME o = *this; *this += 1.0f; return o; }                                 \
        NAME operator--(int) { NAME o = *this; *this -= 1.0f; return o; }                                 \
    };                                                                                                    \
    inline NAME operator+(NAME a, NAME b) { return NAME((float)a + (float)b); }                           \
    inline NAME operator-(NAME a, NAME b) { return NAME((float)a - (float)b); }                           \
    inline NAME operator*(NAME a, NAME b) { return NAME((float)a * (float)b); }                           \
    inline NAME operator/(NAME a, NAME b) { return NAME((float)a / (float)b); }                           \
    inline bool operator==(NAME a, NAME b) { return (float)a == (float)b; }                               \
    inline bool operator!=(NAME a, NAME b) { return (float)a != (float)b; }                               \
    inline bool operator<(NAME a, NAME b) { return (float)a < (float)b; }                                 \
    inline bool operator>(NAME a, NAME b) { return (float)a > (float)b; }                                 \
    inline bool operator<=(NAME a, NAME b) { return (float)a <= (float)b; }                               \
    inline bool operator>=(NAME a, NAME b) { return (float)a >= (float)b; }                               \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator+(NAME a, U b) { return (float)a + b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator-(NAME a, U b) { return (float)a - b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator*(NAME a, U b) { return (float)a * b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator/(NAME a, U b) { return (float)a / b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator+(U a, NAME b) { return a + (float)b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator-(U a, NAME b) { return a - (float)b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator*(U a, NAME b) { return a * (float)b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline auto operator/(U a, NAME b) { return a / (float)b; }  \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator==(NAME a, U b) { return (float)a == b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator!=(NAME a, U b) { return (float)a != b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator<(NAME a, U b) { return (float)a < b; }   \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator>(NAME a, U b) { return (float)a > b; }   \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator<=(NAME a, U b) { return (float)a <= b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator>=(NAME a, U b) { return (float)a >= b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator==(U a, NAME b) { return a == (float)b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator!=(U a, NAME b) { return a != (float)b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator<(U a, NAME b) { return a < (float)b; }   \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator>(U a, NAME b) { return a > (float)b; }   \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator<=(U a, NAME b) { return a <= (float)b; } \
    template <class U, ::xpiler_bang::EnableArith<U> = 0> inline bool operator>=(U a, NAME b) { return a >= (float)b; }

XPILER_BANG_FLOAT16_TYPE(half, ::xpiler_bang::float_to_half_bits, ::xpiler_bang::double_to_half_bits,
                         ::xpiler_bang::half_bits_to_float)
XPILER_BANG_FLOAT16_TYPE(bfloat16_t, ::xpiler_bang::float_to_bf16_bits, ::xpiler_bang::double_to_bf16_bits,
                         ::xpiler_bang::bf16_bits_to_float)
#undef XPILER_BANG_FLOAT16_TYPE

static_assert(sizeof(half) == 2 && sizeof(bfloat16_t) == 2, "16-bit float types must be 2 bytes");

typedef int8_t int8;
typedef int16_t int16;
typedef int32_t int32;
typedef uint8_t uint8;
typedef uint16_t uint16;
typedef uint32_t uint32;
typedef int64_t int64;
typedef uint64_t uint64;

// Scalar conversion built-ins.
inline float __half2float(half h) { return (float)h; }
inline half __float2half(float f) { return half(f); }
inline half __float2half_rn(float f) { return half(f); }
inline half __float2half_tz(float f) { return half::from_bits(::xpiler_bang::float_to_half_bits_mode(f, ::xpiler_bang::TZ)); }
inline half __float2half_rd(float f) { return half::from_bits(::xpiler_bang::float_to_half_bits_mode(f, ::xpiler_bang::RD)); }
inline half __float2half_ru(float f) { return half::from_bits(::xpiler_bang::float_to_half_bits_mode(f, ::xpiler_bang::RU)); }
inline float __bfloat162float(bfloat16_t b) { return (float)b; }
inline bfloat16_t __float2bfloat16(float f) { return bfloat16_t(f); }

#endif  // XPILER_BANG_TYPES_H
