// The per-target GEMM and reduction kernels. gemm_kernels_impl.hpp is compiled once per SIMD
// target (gemm_kernels_{scalar,avx2,avx512}.cpp, each with its own ISA flags, CMakeLists.txt);
// only function pointers and tile sizes cross this boundary.
//
// Bitwise contract (docs/orthogonal.md): every target computes the same bits.
//  - micro-kernel: element (i, j) of the tile is s = a chain of fused multiply-adds in
//    increasing k, s = fma(a[i][k], b[k][j], s), started from +0, then C = s or C = C + s (one
//    rounded add). The tile shape only decides which elements share registers, never the
//    arithmetic of one element. The driver calls it on fixed depth blocks (gemm.hpp).
//  - dot: a fixed 64-byte-vector x 4 lane structure (64 partial sums for float32, 32 for
//    float64), separate multiply and add, then a fixed pairwise reduction of the lanes. Every
//    target runs the same lane program (vectorised as wide as the target allows).
#pragma once

#include <cstdint>

#include "fastinit/simd.hpp"

namespace fastinit {
namespace gemm {

template <class T>
struct Kernels {
  int mr;  // rows of a register tile (multiple of the vector width)
  int nr;  // columns of a register tile
  // C[0:mr, 0:nr] (column-major, leading dimension ldc) = (add_c ? C : 0) + A_p * B_p, with
  // A_p packed as kc groups of mr values (k-major) and B_p as kc groups of nr values.
  void (*micro)(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, int add_c);
  // The same with B read in place from column-major storage: B_p[k][j] = b[k + j * ldb]
  // (no packing of a big, once-used operand; the same arithmetic).
  void (*micro_bcol)(std::int64_t kc, const T* a, const T* b, std::int64_t ldb, T* c,
                     std::int64_t ldc, int add_c);
  // sum_i x[i] * y[i] in the fixed lane order above.
  T (*dot)(std::int64_t n, const T* x, const T* y);
  // y[i] = y[i] - s * x[i] (separate multiply and subtract) and x[i] = x[i] / d: elementwise,
  // so every vector width gives the same bits; here only for speed.
  void (*axpy)(std::int64_t n, T s, const T* x, T* y);
  void (*div)(std::int64_t n, T d, T* x);
};

struct Table {
  Kernels<float> f32;
  Kernels<double> f64;
};

const Table& table_scalar();
#if defined(FASTINIT_HAVE_X86_TARGETS)
const Table& table_avx2();
const Table& table_avx512();
#endif
const Table& table_for(SimdLevel level);

template <class T>
const Kernels<T>& kernels_of(const Table& t);
template <>
inline const Kernels<float>& kernels_of<float>(const Table& t) { return t.f32; }
template <>
inline const Kernels<double>& kernels_of<double>(const Table& t) { return t.f64; }

}  // namespace gemm
}  // namespace fastinit
