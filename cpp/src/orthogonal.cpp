// Householder QR of a tall Gaussian matrix and the sign-fixed thin Q.
// Unblocked and single-threaded: correct first (issue 3); the blocked compact-WY version
// with our own GEMM is the subject of issue 5.
#include "fastinit/orthogonal.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace fastinit {
namespace {

template <class T>
void orthogonal_impl(T* a, std::int64_t m, std::int64_t n) {
  if (m < 1 || n < 1 || m < n) {
    throw std::invalid_argument("orthogonal_from_gaussian needs m >= n >= 1");
  }
  auto col = [&](std::int64_t j) { return a + j * m; };
  std::vector<T> tau(static_cast<std::size_t>(n));
  std::vector<T> sign(static_cast<std::size_t>(n));
  // Factor: reflector k zeroes column k below the diagonal; v_k (with v_k[k] = 1 implied by
  // scaling) is stored in place, tau_k = 2 / (v^T v).
  for (std::int64_t k = 0; k < n; ++k) {
    T* x = col(k);
    T norm2 = 0;
    for (std::int64_t i = k; i < m; ++i) norm2 += x[i] * x[i];
    const T norm = std::sqrt(norm2);
    const T alpha = x[k] >= 0 ? -norm : norm;  // R[k][k]; avoids cancellation in x[k] - alpha
    sign[k] = alpha >= 0 ? T(1) : T(-1);
    if (norm == 0) {
      tau[k] = 0;
      continue;
    }
    const T v0 = x[k] - alpha;
    // v = x - alpha e_k, scaled so that v[k] = 1
    for (std::int64_t i = k + 1; i < m; ++i) x[i] /= v0;
    x[k] = 1;
    T vtv = 0;
    for (std::int64_t i = k; i < m; ++i) vtv += x[i] * x[i];
    tau[k] = T(2) / vtv;
    for (std::int64_t j = k + 1; j < n; ++j) {
      T* y = col(j);
      T dot = 0;
      for (std::int64_t i = k; i < m; ++i) dot += x[i] * y[i];
      const T w = tau[k] * dot;
      for (std::int64_t i = k; i < m; ++i) y[i] -= w * x[i];
    }
  }
  // Form Q = H_0 ... H_{n-1} [I; 0] backwards, one reflector at a time. Column j < k of the
  // partial product is still e_j, untouched by H_k, so reflector k acts on columns k..n-1.
  // The reflectors live in the strictly lower part; Q overwrites from the right edge inward,
  // so keep reflector k in a side buffer before its column is overwritten.
  std::vector<T> v(static_cast<std::size_t>(m));
  std::vector<T> q(static_cast<std::size_t>(m) * static_cast<std::size_t>(n), T(0));
  auto qcol = [&](std::int64_t j) { return q.data() + j * m; };
  for (std::int64_t j = 0; j < n; ++j) qcol(j)[j] = 1;
  for (std::int64_t k = n - 1; k >= 0; --k) {
    const T* x = col(k);
    for (std::int64_t j = k; j < n; ++j) {
      T* y = qcol(j);
      T dot = 0;
      for (std::int64_t i = k; i < m; ++i) dot += x[i] * y[i];
      const T w = tau[k] * dot;
      for (std::int64_t i = k; i < m; ++i) y[i] -= w * x[i];
    }
  }
  for (std::int64_t j = 0; j < n; ++j) {
    const T s = sign[j];
    const T* y = qcol(j);
    T* out = col(j);
    for (std::int64_t i = 0; i < m; ++i) out[i] = s * y[i];
  }
}

}  // namespace

void orthogonal_from_gaussian(float* a, std::int64_t m, std::int64_t n) {
  orthogonal_impl(a, m, n);
}
void orthogonal_from_gaussian(double* a, std::int64_t m, std::int64_t n) {
  orthogonal_impl(a, m, n);
}

}  // namespace fastinit
