// Haar-distributed orthogonal matrices from Gaussian ones (Mezzadri, Notices AMS 2007).
#pragma once

#include <cstdint>

namespace fastinit {

// `a` holds an m x n Gaussian matrix in column-major order (m >= n >= 1, leading dimension m).
// On return it holds the thin Q of its Householder QR with column k multiplied by
// sign(R[k][k]) (+1 for 0), which makes Q exactly Haar-distributed. Deterministic: the
// reduction order is fixed, so the bytes do not depend on threads or SIMD level.
// Throws std::invalid_argument for bad sizes.
void orthogonal_from_gaussian(float* a, std::int64_t m, std::int64_t n);
void orthogonal_from_gaussian(double* a, std::int64_t m, std::int64_t n);

}  // namespace fastinit
