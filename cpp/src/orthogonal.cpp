// Blocked Householder QR of a tall Gaussian matrix and its sign-fixed thin Q (issue 5;
// docs/orthogonal.md). Panels of kNb columns are factored recursively (halves down to kLeaf
// columns, which are factored one reflector at a time) into the compact WY form
// H_0 ... H_{w-1} = I - V T V^T; the trailing matrix and the backward accumulation of Q are
// matrix-matrix products on our own GEMM (gemm.hpp). Every floating-point value is either a
// GEMM element (gemm.hpp's fixed summation order) or computed whole by one task in a fixed
// order (the leaf's column updates and dot products may run as pool tasks, one element or
// column each), so the bytes do not depend on the thread count or the SIMD level.
#include "fastinit/orthogonal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <vector>

#include "fastinit/simd.hpp"
#include "fastinit/thread_pool.hpp"
#include "gemm.hpp"

namespace fastinit {
namespace {

using gemm::Kernels;
using i64 = std::int64_t;

// Blocking (fixed: part of what makes the bytes reproducible within a release).
constexpr i64 kNb = 128;      // columns per panel (compact WY block of the big updates)
constexpr i64 kLeaf = 16;     // the panel recursion stops at this width
constexpr i64 kQb = 16;       // reflectors per block when a panel forms its own columns of Q
constexpr i64 kChunk = 4096;  // trailing columns per update step (a should_stop check before each)
// level-2 work (elements touched) worth waking the pool for: it costs ~50 us (gemm.cpp)
constexpr i64 kParallelElems = i64(1) << 20;

void check_stop(const std::function<bool()>& should_stop) {
  if (should_stop && should_stop()) throw Interrupted();
}

template <class T>
struct Work {
  const Kernels<T>& k;
  const std::function<bool()>& should_stop;  // also checked between the halves of a panel
  std::vector<T> w, w2;   // kNb x chunk products
  std::vector<T> g, h;    // kNb x kNb scratch for T's off-diagonal blocks
  std::vector<T> vbuf;    // m x kNb column-major copy of a panel's V
  std::vector<T> y;       // m x kQb: V (T V1^T) for a sub-block's own columns of Q
};

// Unblocked QR of the r x w block p (leading dimension ld): reflector j zeroes column j below
// row j. Leaves V explicit in p (ones on the diagonal, zeros above it), tau, sign(R_jj) and the
// upper triangular T (w x w, zeros below) with H_0 ... H_{w-1} = I - V T V^T.
template <class T>
void leaf_qr(const Kernels<T>& k, T* p, i64 ld, i64 r, i64 w, T* tau, T* sign, T* t, i64 ldt) {
  for (i64 j = 0; j < w; ++j) {
    T* x = p + j * ld;
    const i64 len = r - j;
    const T norm = std::sqrt(k.dot(len, x + j, x + j));
    const T x0 = x[j];
    const T alpha = x0 >= 0 ? -norm : norm;  // R_jj; the sign avoids cancellation in x0 - alpha
    sign[j] = alpha >= 0 ? T(1) : T(-1);     // +1 for a zero column (alpha = -0)
    if (norm == 0) {
      tau[j] = 0;
      for (i64 i = j + 1; i < r; ++i) x[i] = 0;
    } else {
      const T v0 = x0 - alpha;
      k.div(r - j - 1, v0, x + j + 1);
      tau[j] = -v0 / alpha;  // = 2 / (v^T v) with v[j] = 1
    }
    x[j] = 1;
    for (i64 i = 0; i < j; ++i) x[i] = 0;  // R above the diagonal is not needed
    if (tau[j] != 0 && j + 1 < w) {
      // H_j on the leaf's remaining columns: independent, so split over the pool when long
      auto update = [&](std::size_t c) {
        T* y = p + (j + 1 + static_cast<i64>(c)) * ld + j;
        k.axpy(len, tau[j] * k.dot(len, x + j, y), x + j, y);
      };
      const std::size_t cols = static_cast<std::size_t>(w - j - 1);
      if (len * static_cast<i64>(cols) >= kParallelElems) {
        parallel_for(cols, update);
      } else {
        for (std::size_t c = 0; c < cols; ++c) update(c);
      }
    }
  }
  // T column by column: T[0:j, j] = -tau_j T[0:j, 0:j] (V[:, 0:j]^T v_j)
  std::vector<T> z(static_cast<std::size_t>(w * w));
  auto gram = [&](std::size_t jq) {  // z[q + j w] = v_q^T v_j, q < j (v_j is zero above row j)
    const i64 j = static_cast<i64>(jq) / w, q = static_cast<i64>(jq) % w;
    if (q < j) z[jq] = k.dot(r - j, p + q * ld + j, p + j * ld + j);
  };
  if (r * w * w / 2 >= kParallelElems) {
    parallel_for(static_cast<std::size_t>(w * w), gram);
  } else {
    for (std::size_t jq = 0; jq < static_cast<std::size_t>(w * w); ++jq) gram(jq);
  }
  for (i64 j = 0; j < w; ++j) {
    T* tj = t + j * ldt;
    const T* zj = z.data() + j * w;
    for (i64 i = 0; i < j; ++i) {
      T s = 0;
      for (i64 q = i; q < j; ++q) s += t[i + q * ldt] * zj[q];
      tj[i] = -tau[j] * s;
    }
    tj[j] = tau[j];
    for (i64 i = j + 1; i < w; ++i) tj[i] = 0;
  }
}

// Recursive QR of the r x w panel p: halves down to kLeaf columns. Same outputs as leaf_qr.
template <class T>
void panel_qr(Work<T>& ws, T* p, i64 ld, i64 r, i64 w, T* tau, T* sign, T* t, i64 ldt) {
  const Kernels<T>& k = ws.k;
  if (w <= kLeaf) {
    leaf_qr(k, p, ld, r, w, tau, sign, t, ldt);
    return;
  }
  const i64 w1 = ((w / 2 + kLeaf - 1) / kLeaf) * kLeaf, w2 = w - w1;
  panel_qr(ws, p, ld, r, w1, tau, sign, t, ldt);
  check_stop(ws.should_stop);  // a tall panel's halves take seconds (n <= kNb is one panel)
  // right half: A2 = (I - V1 T1 V1^T)^T A2 = A2 - V1 (T1^T (V1^T A2))
  T* a2 = p + w1 * ld;
  T* wv = ws.w.data();
  T* w2v = ws.w2.data();
  gemm::gemm<T>(k, true, false, w1, w2, r, T(1), p, ld, a2, ld, false, wv, w1);
  gemm::gemm<T>(k, true, false, w1, w2, w1, T(1), t, ldt, wv, w1, false, w2v, w1);
  gemm::gemm<T>(k, false, false, r, w2, w1, T(-1), p, ld, w2v, w1, true, a2, ld);
  T* t2 = t + w1 + w1 * ldt;
  panel_qr(ws, a2 + w1, ld, r - w1, w2, tau + w1, sign + w1, t2, ldt);
  for (i64 j = 0; j < w2; ++j) std::fill(a2 + j * ld, a2 + j * ld + w1, T(0));  // R12
  // T12 = -T1 (V1^T V2) T2; V2 is zero in rows [0, w1)
  T* g = ws.g.data();
  T* h = ws.h.data();
  gemm::gemm<T>(k, true, false, w1, w2, r - w1, T(1), p + w1, ld, a2 + w1, ld, false, g, w1);
  gemm::gemm<T>(k, false, false, w1, w2, w1, T(1), t, ldt, g, w1, false, h, w1);
  gemm::gemm<T>(k, false, false, w1, w2, w2, T(-1), h, w1, t2, ldt, false, t + w1 * ldt, ldt);
  for (i64 j = 0; j < w1; ++j) std::fill(t + j * ldt + w1, t + j * ldt + w, T(0));
}

// A GEMM operand: column-major storage p (leading dimension ld) of the operand itself, or of
// its transpose when t.
template <class T>
struct Op {
  const T* p;
  i64 ld;
  bool t;
};

// C (m x n, column-major) = (acc ? C : 0) + alpha A B
template <class T>
void mm2(const Kernels<T>& k, i64 m, i64 n, i64 kk, T alpha, Op<T> a, Op<T> b, bool acc, T* c,
         i64 ldc) {
  gemm::gemm<T>(k, a.t, b.t, m, n, kk, alpha, a.p, a.ld, b.p, b.ld, acc, c, ldc);
}

// The m x n matrix being factored: column-major, or row-major (the C-ordered NumPy array of a
// tall matrix, factored without transposing it).
template <class T>
struct Mat {
  T* p;
  i64 ld;
  bool row_major;
  T* at(i64 i, i64 j) const { return row_major ? p + i * ld + j : p + i + j * ld; }
  // the block at (i, j) as a GEMM operand, or its transpose
  Op<T> op(i64 i, i64 j, bool transposed = false) const {
    return Op<T>{at(i, j), ld, transposed != row_major};
  }
};

// Copies between an r x w block of the row-major X (leading dimension ldx) and a column-major
// buffer (leading dimension ldb), in 16 x 16 tiles, over the pool.
template <class T, bool ToCols>
void transpose_copy(T* xp, i64 ldx, T* bp, i64 ldb, i64 r, i64 w) {
  constexpr i64 kTile = 16;
  const i64 row_blocks = (r + kTile - 1) / kTile;
  const i64 per_task = std::max<i64>(1, kParallelElems / 4 / (w * kTile));
  const auto tasks = static_cast<std::size_t>((row_blocks + per_task - 1) / per_task);
  parallel_for(tasks, [&](std::size_t tb) {
    const i64 b0 = static_cast<i64>(tb) * per_task, b1 = std::min(row_blocks, b0 + per_task);
    for (i64 i0 = b0 * kTile; i0 < std::min(r, b1 * kTile); i0 += kTile) {
      const i64 i1 = std::min(r, i0 + kTile);
      for (i64 j0 = 0; j0 < w; j0 += kTile) {
        const i64 j1 = std::min(w, j0 + kTile);
        for (i64 i = i0; i < i1; ++i)
          for (i64 j = j0; j < j1; ++j) {
            if (ToCols) {
              bp[i + j * ldb] = xp[i * ldx + j];
            } else {
              xp[i * ldx + j] = bp[i + j * ldb];
            }
          }
      }
    }
  });
}

// A leading dimension >= r off the powers of two (columns 4 KB apart share cache sets).
inline i64 padded_ld(i64 r) { return ((r + 15) / 16) * 16 + 16; }

template <class T>
void orthogonal_impl(Mat<T> x, i64 m, i64 n, const std::function<bool()>& should_stop) {
  if (m < 1 || n < 1 || m < n) {
    throw std::invalid_argument("orthogonal_from_gaussian needs m >= n >= 1");
  }
  const Kernels<T>& k = gemm::kernels_of<T>(gemm::table_for(active_simd_level()));
  const bool rm = x.row_major;
  const i64 nb = std::min(kNb, n);
  const i64 chunk = std::min(kChunk, n);
  const i64 qb = std::min(kQb, nb);
  Work<T> ws{k, should_stop, {}, {}, {}, {}, {}, {}};
  const i64 ldw = padded_ld(chunk);  // for W^T (chunk x nb) when X is row-major
  ws.w.resize(static_cast<std::size_t>(nb * ldw));
  ws.w2.resize(static_cast<std::size_t>(nb * ldw));
  ws.g.resize(static_cast<std::size_t>(nb * nb));
  ws.h.resize(static_cast<std::size_t>(nb * nb));
  ws.vbuf.resize(static_cast<std::size_t>(padded_ld(m) * nb));
  ws.y.resize(static_cast<std::size_t>(m * qb));
  std::vector<T> tau(static_cast<std::size_t>(n)), sign(static_cast<std::size_t>(n));
  // the T of the panel at j0 is columns [j0, j0 + w) of tstore (leading dimension nb)
  std::vector<T> tstore(static_cast<std::size_t>(nb * n));
  T* const w1 = ws.w.data();
  T* const w2 = ws.w2.data();
  T* const vb = ws.vbuf.data();

  // Row-major X: the products below are computed transposed (W^T = X2^T V, ...): the same
  // products in the same order, hence the same bits, with every big operand read along its
  // contiguous rows and no transposing copy of X.

  // ---- factorisation ----
  for (i64 j0 = 0; j0 < n; j0 += nb) {
    const i64 w = std::min(nb, n - j0), r = m - j0;
    T* t = tstore.data() + j0 * nb;
    T* v = x.at(j0, j0);
    i64 ldv = x.ld;
    if (rm) {  // the panel is factored in a column-major copy (the leaves read columns)
      v = vb;
      ldv = padded_ld(r);
      transpose_copy<T, true>(x.at(j0, j0), x.ld, v, ldv, r, w);
    }
    panel_qr(ws, v, ldv, r, w, tau.data() + j0, sign.data() + j0, t, nb);
    if (rm) transpose_copy<T, false>(x.at(j0, j0), x.ld, v, ldv, r, w);
    const Op<T> vop{v, ldv, false}, vtop{v, ldv, true};
    for (i64 c0 = j0 + w; c0 < n; c0 += chunk) {
      check_stop(should_stop);
      const i64 nc = std::min(chunk, n - c0);
      // A2 -= V (T^T (V^T A2))
      if (!rm) {
        mm2<T>(k, w, nc, r, T(1), vtop, x.op(j0, c0), false, w1, w);
        mm2<T>(k, w, nc, w, T(1), Op<T>{t, nb, true}, Op<T>{w1, w, false}, false, w2, w);
        mm2<T>(k, r, nc, w, T(-1), vop, Op<T>{w2, w, false}, true, x.at(j0, c0), x.ld);
      } else {
        mm2<T>(k, nc, w, r, T(1), x.op(j0, c0, true), vop, false, w1, ldw);
        mm2<T>(k, nc, w, w, T(1), Op<T>{w1, ldw, false}, Op<T>{t, nb, false}, false, w2, ldw);
        mm2<T>(k, nc, r, w, T(-1), Op<T>{w2, ldw, false}, x.op(j0, j0, true), true, x.at(j0, c0),
               x.ld);
      }
    }
  }

  // ---- Q = H_0 ... H_{n-1} [I; 0], accumulated backwards block by block ----
  // When block (j0, w) is applied, columns >= j0 + w hold the partial product in rows >= j0 + w
  // and are zero (logically; R or V's zeros physically) in rows [j0, j0 + w); columns
  // [j0, j0 + w) are logically still [I; 0] and physically hold V. vc: a column-major copy of
  // the block's V (leading dimension ldc), kept while X's columns turn into Q.
  //
  // X2 -= V (T (V^T X2)) for the columns [c_begin, c_end) right of the block:
  auto apply_block = [&](i64 j0, i64 w, const T* t, const T* vc, i64 ldc, i64 c_begin,
                         i64 c_end) {
    const i64 r = m - j0;
    for (i64 c0 = c_begin; c0 < c_end; c0 += chunk) {
      check_stop(should_stop);
      const i64 nc = std::min(chunk, c_end - c0);
      if (!rm) {
        const Op<T> w2op{w2, w, false};
        mm2<T>(k, w, nc, r - w, T(1), Op<T>{vc + w, ldc, true}, x.op(j0 + w, c0), false, w1, w);
        mm2<T>(k, w, nc, w, T(1), Op<T>{t, nb, false}, Op<T>{w1, w, false}, false, w2, w);
        mm2<T>(k, r - w, nc, w, T(-1), Op<T>{vc + w, ldc, false}, w2op, true, x.at(j0 + w, c0),
               x.ld);
        // rows [j0, j0 + w) of X2 were zero: written, not updated
        mm2<T>(k, w, nc, w, T(-1), Op<T>{vc, ldc, false}, w2op, false, x.at(j0, c0), x.ld);
      } else {
        const Op<T> w2op{w2, ldw, false};
        mm2<T>(k, nc, w, r - w, T(1), x.op(j0 + w, c0, true), Op<T>{vc + w, ldc, false}, false, w1,
               ldw);
        mm2<T>(k, nc, w, w, T(1), Op<T>{w1, ldw, false}, Op<T>{t, nb, true}, false, w2, ldw);
        mm2<T>(k, nc, r - w, w, T(-1), w2op, x.op(j0 + w, j0, true), true, x.at(j0 + w, c0), x.ld);
        mm2<T>(k, nc, w, w, T(-1), w2op, x.op(j0, j0, true), false, x.at(j0, c0), x.ld);
      }
    }
  };
  // Q's columns [j0, j0 + w) of the panel at big0 (T bt, V in vb with leading dimension ldb)
  std::function<void(i64, const T*, i64, i64, i64)> form_columns =
      [&](i64 big0, const T* bt, i64 ldb, i64 j0, i64 w) {
        const i64 o = j0 - big0, r = m - j0;
        const T* t = bt + o * (nb + 1);  // diagonal block of T: the T of these reflectors
        const T* vc = vb + o + o * ldb;
        if (w > qb) {
          const i64 w1 = ((w / 2 + qb - 1) / qb) * qb, w2 = w - w1;
          form_columns(big0, bt, ldb, j0 + w1, w2);
          apply_block(j0, w1, t, vc, ldb, j0 + w1, j0 + w);
          form_columns(big0, bt, ldb, j0, w1);
          return;
        }
        check_stop(should_stop);
        T* mt = ws.g.data();
        T* y = ws.y.data();
        mm2<T>(k, w, w, w, T(1), Op<T>{t, nb, false}, Op<T>{vc, ldb, true}, false, mt, w);
        mm2<T>(k, r, w, w, T(1), Op<T>{vc, ldb, false}, Op<T>{mt, w, false}, false, y, r);
        if (!rm) {
          for (i64 j = 0; j < w; ++j) {
            T* col = x.at(j0, j0 + j);
            const T* yj = y + j * r;
            for (i64 i = 0; i < r; ++i) col[i] = T(0) - yj[i];
            col[j] = T(1) - yj[j];
          }
        } else {
          for (i64 i = 0; i < r; ++i) {
            T* row = x.at(j0 + i, j0);
            for (i64 j = 0; j < w; ++j) row[j] = (i == j ? T(1) : T(0)) - y[i + j * r];
          }
        }
      };
  for (i64 big0 = ((n - 1) / nb) * nb; big0 >= 0; big0 -= nb) {
    const i64 bw = std::min(nb, n - big0), rb = m - big0, ldb = padded_ld(rb);
    const T* bt = tstore.data() + big0 * nb;
    if (rm) {
      transpose_copy<T, true>(x.at(big0, big0), x.ld, vb, ldb, rb, bw);
    } else {
      for (i64 j = 0; j < bw; ++j) {
        std::memcpy(vb + j * ldb, x.at(big0, big0 + j), static_cast<std::size_t>(rb) * sizeof(T));
      }
    }
    apply_block(big0, bw, bt, vb, ldb, big0 + bw, n);  // the bulk of the flops: whole panels
    check_stop(should_stop);
    // the panel's own columns, recursively: the right half, then the left half's block
    // reflector on it, then the left half; down to qb columns, formed directly as
    // [I; 0] - V (T V1^T). (Forming all 128 columns at once that way loses about 1.5x in
    // orthogonality; the halves keep it at the level of an unblocked accumulation.)
    form_columns(big0, bt, ldb, big0, bw);
  }

  // ---- Haar sign fix: Q diag(sign(R_jj)) ----
  if (!rm) {
    const i64 cols_per_task = std::max<i64>(1, kParallelElems / 4 / m);
    const i64 tasks = (n + cols_per_task - 1) / cols_per_task;
    parallel_for(static_cast<std::size_t>(tasks), [&](std::size_t ti) {
      const i64 c0 = static_cast<i64>(ti) * cols_per_task, c1 = std::min(n, c0 + cols_per_task);
      for (i64 j = c0; j < c1; ++j) {
        if (sign[j] < 0) {
          T* col = x.at(0, j);
          for (i64 i = 0; i < m; ++i) col[i] = -col[i];
        }
      }
    });
  } else {
    const i64 rows_per_task = std::max<i64>(1, kParallelElems / 4 / n);
    const i64 tasks = (m + rows_per_task - 1) / rows_per_task;
    parallel_for(static_cast<std::size_t>(tasks), [&](std::size_t ti) {
      const i64 r0 = static_cast<i64>(ti) * rows_per_task, r1 = std::min(m, r0 + rows_per_task);
      for (i64 i = r0; i < r1; ++i) {
        T* row = x.at(i, 0);
        for (i64 j = 0; j < n; ++j) row[j] *= sign[j];  // exact: +-1
      }
    });
  }
}

}  // namespace

void orthogonal_from_gaussian(float* a, std::int64_t m, std::int64_t n,
                              const std::function<bool()>& should_stop) {
  orthogonal_impl(Mat<float>{a, m, false}, m, n, should_stop);
}
void orthogonal_from_gaussian(double* a, std::int64_t m, std::int64_t n,
                              const std::function<bool()>& should_stop) {
  orthogonal_impl(Mat<double>{a, m, false}, m, n, should_stop);
}
void orthogonal_from_gaussian_row_major(float* a, std::int64_t m, std::int64_t n,
                                        const std::function<bool()>& should_stop) {
  orthogonal_impl(Mat<float>{a, n, true}, m, n, should_stop);
}
void orthogonal_from_gaussian_row_major(double* a, std::int64_t m, std::int64_t n,
                                        const std::function<bool()>& should_stop) {
  orthogonal_impl(Mat<double>{a, n, true}, m, n, should_stop);
}

}  // namespace fastinit
