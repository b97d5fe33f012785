// Our own matrix multiply for the blocked Householder updates (docs/orthogonal.md): packed
// panels, register tiles from gemm_kernels_{scalar,avx2,avx512}.cpp, cache blocking, and the
// fastinit thread pool. No BLAS.
//
// Determinism: element (i, j) of C is always computed as
//     c = beta ? C[i][j] : (nothing yet)
//     for each depth block P = [256 q, 256 q + 256) of [0, k), in increasing q:
//         s = +0;  for p in P, increasing:  s = fma(alpha * op(A)[i][p], op(B)[p][j], s)
//         c = (first block and not beta) ? s : c + s
// (alpha * a is rounded first; exact for alpha = +-1). Which thread computes a tile, how C is
// tiled and which SIMD level runs never change that, so the bytes are the same for every
// thread count and level. Summing in blocks of kKc also keeps the rounding error of long
// products at about (kKc + k / kKc) u instead of k u.
#pragma once

#include <cstdint>

#include "fastinit/orthogonal.hpp"  // the public, dispatching gemm::gemm overloads
#include "gemm_kernels.hpp"

namespace fastinit {
namespace gemm {

// Column-major C (m x n, leading dimension ldc) = (accumulate ? C : 0) + alpha op(A) op(B).
// op(A) is m x k: A[i + p * lda], or A[p + i * lda] when trans_a. op(B) is k x n:
// B[p + j * ldb], or B[j + p * ldb] when trans_b. C must not overlap A or B.
template <class T>
void gemm(const Kernels<T>& kern, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
          std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
          bool accumulate, T* c, std::int64_t ldc);

// Blocking parameters. kKc is part of the arithmetic above (fixed for every level and thread
// count); the others only move work around.
constexpr std::int64_t kKc = 256;     // depth block of the summation; depth of a packed panel
constexpr std::int64_t kDeep = 4096;  // depth of an A slice in gemm_few_rows
// A slice must end on a depth-block boundary, or its partial sums would differ from gemm's.
static_assert(kDeep % kKc == 0, "kDeep must be a multiple of kKc");
template <class T>
constexpr std::int64_t kMc = sizeof(T) == 4 ? 256 : 128;  // rows of a packed A block

}  // namespace gemm
}  // namespace fastinit
