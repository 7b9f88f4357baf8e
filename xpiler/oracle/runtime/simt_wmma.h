// simt_wmma.h: nvcuda::wmma for the SIMT CPU emulation (included by the fake <mma.h>).
//
// Any shape M x N x K of the real API (16x16x16, 32x8x16, 8x32x16, ...) and element types (half,
// bf16, tf32 via float, int8 -> int).  A fragment holds num_elements = rows*cols/32 elements per
// lane: lane l's element i is element l*num_elements + i of the fragment's tile in row-major order
// (the real mapping is unspecified; code that treats frag.x[] element-wise works with any mapping).
// load/store/fill act on each lane's own elements; mma_sync is warp-collective (a warp operation
// every lane of the warp must take part in: every lane publishes its A and B elements, then
// computes its own D elements), accumulating products in float (int64 for integer accumulators),
// as tensor cores do in fp32.
// ldm must be a multiple of 16 bytes (CUDA's rule): a violation is a fault.
#ifndef XPILER_SIMT_WMMA_H
#define XPILER_SIMT_WMMA_H

#include "simt_emu.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}  // namespace precision

namespace detail {
template <class Use, int M, int N, int K> struct shape;
template <int M, int N, int K> struct shape<matrix_a, M, N, K> { static const int rows = M, cols = K; };
template <int M, int N, int K> struct shape<matrix_b, M, N, K> { static const int rows = K, cols = N; };
template <int M, int N, int K> struct shape<accumulator, M, N, K> { static const int rows = M, cols = N; };
template <class T> struct storage { typedef T type; };
template <> struct storage<precision::tf32> { typedef float type; };
template <class T> inline float to_f(const T &v) { return (float)v; }
inline void check_ldm(unsigned ldm, size_t elem, const char *what) {
    if ((ldm * elem) % 16 != 0)
        xpiler_fault("%s: ldm = %u elements (%zu bytes) is not a multiple of 16 bytes", what, ldm, (size_t)ldm * elem);
}
template <class L> struct is_col { static const bool value = false; };
template <> struct is_col<col_major> { static const bool value = true; };
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    typedef typename detail::storage<T>::type element_type;
    typedef element_type storage_element_type;
    static constexpr int rows = detail::shape<Use, M, N, K>::rows;
    static constexpr int cols = detail::shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols / 32;
    static constexpr int num_storage_elements = num_elements;
    element_type x[num_elements];
};

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, const V &v) {
    typedef typename fragment<Use, M, N, K, T, L>::element_type E;
    E e = E(v);
    for (int i = 0; i < f.num_elements; ++i) f.x[i] = e;
}

namespace detail {
template <class F, class P>
inline void load(F &f, const P *p, unsigned ldm, bool col, const char *what) {
    check_ldm(ldm, sizeof(P), what);
    typedef typename F::element_type E;
    int l = ::xsimt::tb.cur % 32;
    for (int i = 0; i < F::num_elements; ++i) {
        int idx = l * F::num_elements + i, r = idx / F::cols, c = idx % F::cols;
        f.x[i] = E(col ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c]);
    }
}
}  // namespace detail

// matrix_a / matrix_b: the layout is part of the type
template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const P *p, unsigned ldm) {
    static_assert(!std::is_same<L, void>::value, "load_matrix_sync without a layout needs a matrix_a/matrix_b fragment");
    detail::load(f, p, ldm, detail::is_col<L>::value, "wmma::load_matrix_sync");
}
// accumulator: the layout is an argument
template <int M, int N, int K, class T, class P>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T, void> &f, const P *p, unsigned ldm, layout_t layout) {
    detail::load(f, p, ldm, layout == mem_col_major, "wmma::load_matrix_sync");
}
template <int M, int N, int K, class T, class P>
inline void store_matrix_sync(P *p, const fragment<accumulator, M, N, K, T, void> &f, unsigned ldm, layout_t layout) {
    typedef fragment<accumulator, M, N, K, T, void> F;
    detail::check_ldm(ldm, sizeof(P), "wmma::store_matrix_sync");
    int l = ::xsimt::tb.cur % 32;
    for (int i = 0; i < F::num_elements; ++i) {
        int idx = l * F::num_elements + i, r = idx / F::cols, c = idx % F::cols;
        P v = P(f.x[i]);
        if (layout == mem_col_major) p[(size_t)c * ldm + r] = v;
        else p[(size_t)r * ldm + c] = v;
    }
}

template <int M, int N, int K, class Ta, class La, class Tb, class Lb, class Tc, class Td>
inline void mma_sync(fragment<accumulator, M, N, K, Td, void> &d, const fragment<matrix_a, M, N, K, Ta, La> &a,
                     const fragment<matrix_b, M, N, K, Tb, Lb> &b, const fragment<accumulator, M, N, K, Tc, void> &c,
                     bool satf = false) {
    typedef fragment<matrix_a, M, N, K, Ta, La> FA;
    typedef fragment<matrix_b, M, N, K, Tb, Lb> FB;
    typedef fragment<accumulator, M, N, K, Td, void> FD;
    static_assert(M * K <= 1024 && K * N <= 1024, "wmma shape too large for the emulation");
    float *s = ::xsimt::matrix_scratch_begin(32, "wmma::mma_sync");
    float *A = s, *B = s + 1024;
    int l = ::xsimt::tb.cur % 32;
    for (int i = 0; i < FA::num_elements; ++i) A[l * FA::num_elements + i] = detail::to_f(a.x[i]);
    for (int i = 0; i < FB::num_elements; ++i) B[l * FB::num_elements + i] = detail::to_f(b.x[i]);
    ::xsimt::matrix_scratch_sync("wmma::mma_sync");
    typedef typename FD::element_type E;
    for (int i = 0; i < FD::num_elements; ++i) {
        int idx = l * FD::num_elements + i, r = idx / N, col = idx % N;
        if (std::is_integral<E>::value) {
            long long acc = (long long)c.x[i];
            for (int k = 0; k < K; ++k) acc += (long long)A[r * K + k] * (long long)B[k * N + col];
            d.x[i] = (E)acc;
        } else {
            float acc = detail::to_f(c.x[i]);
            for (int k = 0; k < K; ++k) acc += A[r * K + k] * B[k * N + col];
            if (satf) acc = acc != acc ? 0.f : acc < -65504.f ? -65504.f : acc > 65504.f ? 65504.f : acc;
            d.x[i] = E(acc);
        }
    }
}

inline float __float_to_tf32(float x) {
    unsigned u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) {  // round to nearest, ties away from zero, 10-bit mantissa
        u += 0x1000u;
        u &= 0xffffe000u;
    }
    memcpy(&x, &u, 4);
    return x;
}

}  // namespace wmma
}  // namespace nvcuda

#endif  // XPILER_SIMT_WMMA_H
