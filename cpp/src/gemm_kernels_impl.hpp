// GEMM micro-kernels and the deterministic dot product, written once and compiled per target
// (gemm_kernels_scalar.cpp, gemm_kernels_avx2.cpp, gemm_kernels_avx512.cpp), each defining
// FASTINIT_GEMM_NS and FASTINIT_GEMM_TARGET (0 scalar, 1 avx2 + fma, 2 avx512) first.
// The arithmetic of every output element is the same on every target (gemm_kernels.hpp).
#ifndef FASTINIT_GEMM_NS
#error "define FASTINIT_GEMM_NS and FASTINIT_GEMM_TARGET before including gemm_kernels_impl.hpp"
#endif

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gemm_kernels.hpp"

#if FASTINIT_GEMM_TARGET >= 1
#include <immintrin.h>
#endif

namespace fastinit {
namespace gemm {
namespace FASTINIT_GEMM_NS {
namespace {

// ---- micro-kernels ----------------------------------------------------------------------------
// One register tile: s[i][j] = chain of fma(a[i][p], b[p][j], s) over p = 0 .. kc-1 from +0,
// then C = s (add_c == 0) or C = C + s (add_c == 1). B comes from a packed panel (BPacked) or
// straight from column-major storage (BCol); the arithmetic is the same.

template <class T, int NR>
struct BPacked {
  const T* b;
  const T* at(int j) const { return b + j; }
  void step() { b += NR; }
};

// Columns addressed as (base of a group of 4) + {0, 1, 2, 3} * ldb: few registers, and each
// column is read sequentially (hardware-prefetch friendly).
template <class T, int NR>
struct BCol {
  static constexpr int G = (NR + 3) / 4;
  const T* q[G];
  std::int64_t off[4];
  BCol(const T* b, std::int64_t ldb) {
    for (int g = 0; g < G; ++g) q[g] = b + 4 * g * ldb;
    for (int r = 0; r < 4; ++r) off[r] = r * ldb;
  }
  const T* at(int j) const { return q[j / 4] + off[j % 4]; }
  void step() {
    for (int g = 0; g < G; ++g) ++q[g];
  }
};

#if FASTINIT_GEMM_TARGET == 0
// Scalar reference: std::fma is the exact fused operation the vector targets use (a libm call
// here, so slow; the scalar level is a fallback, not a fast path).
template <class T, int MR, int NR, class B>
inline void tile(std::int64_t kc, const T* a, B b, T* c, std::int64_t ldc, int add_c) {
  T acc[NR][MR];
  for (int j = 0; j < NR; ++j)
    for (int i = 0; i < MR; ++i) acc[j][i] = T(0);
  for (std::int64_t p = 0; p < kc; ++p) {
    for (int j = 0; j < NR; ++j) {
      const T bj = *b.at(j);
      for (int i = 0; i < MR; ++i) acc[j][i] = std::fma(a[i], bj, acc[j][i]);
    }
    a += MR;
    b.step();
  }
  for (int j = 0; j < NR; ++j)
    for (int i = 0; i < MR; ++i) c[j * ldc + i] = add_c ? c[j * ldc + i] + acc[j][i] : acc[j][i];
}
constexpr int kMrF32 = 4, kNrF32 = 4, kMrF64 = 4, kNrF64 = 4;

#else
// Vector targets: a register tile of MV vectors (MV * lanes rows) by NR columns; per k, MV
// aligned loads of A, NR broadcasts of B, MV * NR FMAs.
#if FASTINIT_GEMM_TARGET == 2
using VF = __m512;
using VD = __m512d;
inline VF vload(const float* p) { return _mm512_load_ps(p); }
inline VD vload(const double* p) { return _mm512_load_pd(p); }
inline VF vloadu(const float* p) { return _mm512_loadu_ps(p); }
inline VD vloadu(const double* p) { return _mm512_loadu_pd(p); }
inline void vstoreu(float* p, VF v) { _mm512_storeu_ps(p, v); }
inline void vstoreu(double* p, VD v) { _mm512_storeu_pd(p, v); }
inline VF vbcast(const float* p) { return _mm512_set1_ps(*p); }
inline VD vbcast(const double* p) { return _mm512_set1_pd(*p); }
inline VF vfma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
inline VD vfma(VD a, VD b, VD c) { return _mm512_fmadd_pd(a, b, c); }
inline VF vadd(VF a, VF b) { return _mm512_add_ps(a, b); }
inline VD vadd(VD a, VD b) { return _mm512_add_pd(a, b); }
inline void vzero(VF& v) { v = _mm512_setzero_ps(); }
inline void vzero(VD& v) { v = _mm512_setzero_pd(); }
constexpr int kMrF32 = 32, kNrF32 = 12, kMrF64 = 16, kNrF64 = 12;
#else
using VF = __m256;
using VD = __m256d;
inline VF vload(const float* p) { return _mm256_load_ps(p); }
inline VD vload(const double* p) { return _mm256_load_pd(p); }
inline VF vloadu(const float* p) { return _mm256_loadu_ps(p); }
inline VD vloadu(const double* p) { return _mm256_loadu_pd(p); }
inline void vstoreu(float* p, VF v) { _mm256_storeu_ps(p, v); }
inline void vstoreu(double* p, VD v) { _mm256_storeu_pd(p, v); }
inline VF vbcast(const float* p) { return _mm256_broadcast_ss(p); }
inline VD vbcast(const double* p) { return _mm256_broadcast_sd(p); }
inline VF vfma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
inline VD vfma(VD a, VD b, VD c) { return _mm256_fmadd_pd(a, b, c); }
inline VF vadd(VF a, VF b) { return _mm256_add_ps(a, b); }
inline VD vadd(VD a, VD b) { return _mm256_add_pd(a, b); }
inline void vzero(VF& v) { v = _mm256_setzero_ps(); }
inline void vzero(VD& v) { v = _mm256_setzero_pd(); }
constexpr int kMrF32 = 16, kNrF32 = 6, kMrF64 = 8, kNrF64 = 6;
#endif

template <class T>
struct VecOf;
template <>
struct VecOf<float> { using type = VF; };
template <>
struct VecOf<double> { using type = VD; };

template <class T, int MR, int NR, class B>
__attribute__((always_inline)) inline void tile(std::int64_t kc, const T* __restrict a, B b,
                                                T* __restrict c, std::int64_t ldc, int add_c) {
  using V = typename VecOf<T>::type;
  constexpr int L = static_cast<int>(sizeof(V) / sizeof(T));
  constexpr int MV = MR / L;
  V acc[NR][MV];
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < MV; ++v) vzero(acc[j][v]);
    // C is read (add_c) or written after the loop: ask for its lines now
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc + MR - 1), _MM_HINT_T0);
  }
  for (std::int64_t p = 0; p < kc; ++p) {
    V av[MV];
#pragma GCC unroll 4
    for (int v = 0; v < MV; ++v) av[v] = vload(a + v * L);
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
      const V bj = vbcast(b.at(j));
#pragma GCC unroll 4
      for (int v = 0; v < MV; ++v) acc[j][v] = vfma(av[v], bj, acc[j][v]);
    }
    a += MR;
    b.step();
  }
  if (add_c) {
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < MV; ++v)
        vstoreu(c + j * ldc + v * L, vadd(vloadu(c + j * ldc + v * L), acc[j][v]));
  } else {
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < MV; ++v) vstoreu(c + j * ldc + v * L, acc[j][v]);
  }
}
#endif

template <class T, int MR, int NR>
void micro(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, int add_c) {
  tile<T, MR, NR>(kc, a, BPacked<T, NR>{b}, c, ldc, add_c);
}
template <class T, int MR, int NR>
void micro_bcol(std::int64_t kc, const T* a, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
                int add_c) {
  tile<T, MR, NR>(kc, a, BCol<T, NR>(b, ldb), c, ldc, add_c);
}

// ---- deterministic dot product ----------------------------------------------------------------
// 4 x L partial sums, L the lanes of a 64-byte vector: element i goes to partial sum i mod 4L,
// then the partial sums are added in a fixed pairwise order. Written with plain arrays, which
// the compiler vectorises lane by lane for the target at hand (or not: the sums are the same);
// -ffp-contract=off keeps multiply and add separate.
template <class T>
T dot(std::int64_t n, const T* x, const T* y) {
  constexpr int L = 64 / static_cast<int>(sizeof(T));
  constexpr int U = 4 * L;
  T acc[U];
  for (int l = 0; l < U; ++l) acc[l] = T(0);
  std::int64_t i = 0;
  for (; i + U <= n; i += U)
    for (int l = 0; l < U; ++l) acc[l] = acc[l] + x[i + l] * y[i + l];
  for (int l = 0; i + l < n; ++l) acc[l] = acc[l] + x[i + l] * y[i + l];
  for (int h = U / 2; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) acc[l] = acc[l] + acc[l + h];
  return acc[0];
}

template <class T>
void axpy(std::int64_t n, T s, const T* x, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] - s * x[i];
}

template <class T>
void div(std::int64_t n, T d, T* x) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] / d;
}

}  // namespace

const Table& table() {
  static const Table t{
      Kernels<float>{kMrF32, kNrF32, &micro<float, kMrF32, kNrF32>,
                     &micro_bcol<float, kMrF32, kNrF32>, &dot<float>, &axpy<float>, &div<float>},
      Kernels<double>{kMrF64, kNrF64, &micro<double, kMrF64, kNrF64>,
                      &micro_bcol<double, kMrF64, kNrF64>, &dot<double>, &axpy<double>,
                      &div<double>},
  };
  return t;
}

}  // namespace FASTINIT_GEMM_NS
}  // namespace gemm
}  // namespace fastinit
