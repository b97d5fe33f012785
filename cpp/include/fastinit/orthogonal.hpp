// Haar-distributed orthogonal matrices from Gaussian ones (Mezzadri, Notices AMS 2007), by a
// blocked Householder QR (compact WY) on our own GEMM. Algorithm, blocking and the
// determinism contract: docs/orthogonal.md.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>

namespace fastinit {

// Thrown by orthogonal_from_gaussian when should_stop returned true; the matrix is then
// left in an unspecified state.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// `a` holds an m x n Gaussian matrix in column-major order (m >= n >= 1, leading dimension m).
// On return it holds the thin Q of its Householder QR with column k multiplied by
// sign(R[k][k]) (+1 for 0), which makes Q exactly Haar-distributed. Deterministic: the
// reduction order is fixed, so the bytes do not depend on threads or SIMD level.
// `should_stop`, if given, is called from the calling thread between blocks (never from the
// pool); returning true abandons the work with fastinit::Interrupted.
// Throws std::invalid_argument for bad sizes.
void orthogonal_from_gaussian(float* a, std::int64_t m, std::int64_t n,
                              const std::function<bool()>& should_stop = {});
void orthogonal_from_gaussian(double* a, std::int64_t m, std::int64_t n,
                              const std::function<bool()>& should_stop = {});
// The same for an m x n matrix stored row-major (leading dimension n: a C-ordered array),
// factored in place without transposing it; the result has the same bytes as the
// column-major call on the same matrix.
void orthogonal_from_gaussian_row_major(float* a, std::int64_t m, std::int64_t n,
                                        const std::function<bool()>& should_stop = {});
void orthogonal_from_gaussian_row_major(double* a, std::int64_t m, std::int64_t n,
                                        const std::function<bool()>& should_stop = {});

namespace gemm {
// Column-major C (m x n, leading dimension ldc) = (accumulate ? C : 0) + alpha op(A) op(B),
// with the kernels of the active SIMD level, on the fastinit pool. op(A) is m x k:
// A[i + p * lda], or A[p + i * lda] when trans_a; op(B) is k x n: B[p + j * ldb], or
// B[j + p * ldb] when trans_b. C must not overlap A or B. Element (i, j): for each depth block
// of 256 (p = 256 q .. 256 q + 255, increasing q), s = +0 then s = fma(alpha * op(A)[i][p],
// op(B)[p][j], s) in increasing p; the first block's s is the result (or C[i][j] + s when
// accumulating), each later block's s is added with one rounded add. The same bytes for every
// thread count and SIMD level.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, bool accumulate,
          float* c, std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, bool accumulate,
          double* c, std::int64_t ldc);
}  // namespace gemm

}  // namespace fastinit
