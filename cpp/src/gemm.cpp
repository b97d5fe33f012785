// The GEMM drivers (gemm.hpp). General: K in panels of kKc (in order); C split into tasks of
// (kMc rows x a chunk of columns), each packing its own A block, reading full panels of a
// column-major B in place (others packed) and running the register tiles. Few rows (m <= kMc,
// column-major B): A packed once and shared, B streamed in place column by column. Either way
// one task writes each element, in the fixed summation order of gemm.hpp, so the bytes do not
// depend on the driver, the tiling, the thread count or the SIMD level.
#include "gemm.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "fastinit/thread_pool.hpp"

#if defined(__GNUC__)
#define FASTINIT_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#define FASTINIT_PREFETCH_W(p) ((void)(p))
#endif

namespace fastinit {
namespace gemm {

const Table& table_for(SimdLevel level) {
#if defined(FASTINIT_HAVE_X86_TARGETS)
  if (level == SimdLevel::avx512) return table_avx512();
  if (level == SimdLevel::avx2) return table_avx2();
#else
  (void)level;
#endif
  return table_scalar();
}

namespace {

// A per-thread, 64-byte-aligned scratch buffer that only grows (pool threads are persistent).
template <class T>
class Scratch {
 public:
  ~Scratch() { release(); }
  T* get(std::size_t n) {
    if (n > n_) {
      release();
      p_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
      n_ = n;
    }
    return p_;
  }

 private:
  void release() {
    if (p_ != nullptr) ::operator delete(p_, std::align_val_t(64));
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// Per thread: slot 0 holds packed A, slot 1 packed B (and an edge tile after it).
template <class T, int Slot>
T* scratch(std::size_t n) {
  static thread_local Scratch<T> s;
  return s.get(n);
}

// Rows [i0, i0 + mb) and depth [p0, p0 + kb) of alpha * op(A), as micro-panels of mr rows:
// dst[(i / mr) * mr * kb + p * mr + i % mr], zero-padded to a multiple of mr rows.
template <class T>
void pack_a(const T* a, std::int64_t lda, bool trans, std::int64_t i0, std::int64_t mb,
            std::int64_t p0, std::int64_t kb, T alpha, int mr, T* dst) {
  if (!trans) {
    // depth by depth, so that each source column is read in one contiguous run
    const std::int64_t full = (mb / mr) * mr;
    for (std::int64_t p = 0; p < kb; ++p) {
      const T* s = a + i0 + (p0 + p) * lda;
      T* d = dst + p * mr;
      std::int64_t ib = 0;
      for (; ib < full; ib += mr, d += mr * kb)
        for (int r = 0; r < mr; ++r) d[r] = alpha * s[ib + r];
      if (ib < mb) {
        const int rows = static_cast<int>(mb - ib);
        for (int r = 0; r < rows; ++r) d[r] = alpha * s[ib + r];
        for (int r = rows; r < mr; ++r) d[r] = T(0);
      }
    }
    return;
  }
  for (std::int64_t ib = 0; ib < mb; ib += mr) {
    const int rows = static_cast<int>(std::min<std::int64_t>(mr, mb - ib));
    T* d = dst + ib * kb;
    for (int r = 0; r < rows; ++r) {
      const T* s = a + p0 + (i0 + ib + r) * lda;
      for (std::int64_t p = 0; p < kb; ++p) d[p * mr + r] = alpha * s[p];
    }
    for (int r = rows; r < mr; ++r)
      for (std::int64_t p = 0; p < kb; ++p) d[p * mr + r] = T(0);
  }
}

// Depth [p0, p0 + kb) and columns [j0, j0 + cols) of op(B) (cols <= nr) as one micro-panel:
// dst[p * nr + j], zero-padded to nr columns.
template <class T>
void pack_b(const T* b, std::int64_t ldb, bool trans, std::int64_t p0, std::int64_t kb,
            std::int64_t j0, int cols, int nr, T* dst) {
  if (!trans) {
    for (int j = 0; j < cols; ++j) {
      const T* s = b + p0 + (j0 + j) * ldb;
      for (std::int64_t p = 0; p < kb; ++p) dst[p * nr + j] = s[p];
    }
    for (int j = cols; j < nr; ++j)
      for (std::int64_t p = 0; p < kb; ++p) dst[p * nr + j] = T(0);
  } else {
    const T* s = b + j0 + p0 * ldb;
    for (std::int64_t p = 0; p < kb; ++p, s += ldb, dst += nr) {
      for (int j = 0; j < cols; ++j) dst[j] = s[j];
      for (int j = cols; j < nr; ++j) dst[j] = T(0);
    }
  }
}

// Waking the pool costs tens of microseconds (a futex round trip; ~50 us measured on a
// 2-vCPU VM), so a product goes parallel only when it is worth about a millisecond of work.
inline bool worth_threads(std::int64_t m, std::int64_t n, std::int64_t k) {
  return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= 1.0e8;
}

}  // namespace

// Few rows (one A block: V^T A2, V^T X2, V1^T V2) and a column-major B: B is the big,
// once-used operand, so it is read in place by micro_bcol, column after column (long
// sequential runs), instead of being packed; A is packed once per kDeep slice and shared.
// (Reading a row-major B in place the same way was measured slower than packing it.)
template <class T>
void gemm_few_rows(const Kernels<T>& kern, bool trans_a, std::int64_t m, std::int64_t n,
                   std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
                   std::int64_t ldb, bool accumulate, T* c, std::int64_t ldc, int threads) {
  const int mr = kern.mr, nr = kern.nr;
  const std::int64_t m_pad = ((m + mr - 1) / mr) * mr;
  const std::int64_t kd = kDeep;
  const std::int64_t n_panels = (n + nr - 1) / nr;
  for (std::int64_t pc = 0; pc < k; pc += kd) {
    const std::int64_t kb = std::min(kd, k - pc);
    T* ap = scratch<T, 0>(static_cast<std::size_t>(m_pad * kb));
    pack_a(a, lda, trans_a, 0, m, pc, kb, alpha, mr, ap);
    std::int64_t n_tasks = 1;
    if (threads > 1 && worth_threads(m, n, kb)) {
      n_tasks = std::min<std::int64_t>(n_panels, 4 * threads);
    }
    const std::int64_t per_task = (n_panels + n_tasks - 1) / n_tasks;
    n_tasks = (n_panels + per_task - 1) / per_task;
    auto task = [&](std::size_t t) {
      const std::int64_t p0 = static_cast<std::int64_t>(t) * per_task;
      const std::int64_t p1 = std::min(n_panels, p0 + per_task);
      T* tile = nullptr;
      for (std::int64_t pj = p0; pj < p1; ++pj) {
        const std::int64_t j0 = pj * nr;
        const int cols = static_cast<int>(std::min<std::int64_t>(nr, n - j0));
        const T* bsrc = b + pc + j0 * ldb;
        T* bp = nullptr;
        if (cols < nr) {  // edge panel: pack it, zero-padded
          bp = scratch<T, 1>(static_cast<std::size_t>(kb * nr + mr * nr));
          pack_b(b, ldb, false, pc, kb, j0, cols, nr, bp);
          tile = bp + kb * nr;
        } else if (tile == nullptr && m % mr != 0) {
          tile = scratch<T, 1>(static_cast<std::size_t>(kb * nr + mr * nr)) + kb * nr;
        }
        for (std::int64_t ir = 0; ir < m; ir += mr) {
          const int rows = static_cast<int>(std::min<std::int64_t>(mr, m - ir));
          const bool edge = rows < mr || cols < nr;
          T* cp = edge ? tile : c + ir + j0 * ldc;
          const std::int64_t ldcp = edge ? mr : ldc;
          if (edge && (accumulate || pc > 0)) {
            for (int j = 0; j < cols; ++j)
              for (int i = 0; i < rows; ++i) tile[j * mr + i] = c[ir + i + (j0 + j) * ldc];
          }
          const T* apanel = ap + ir * kb;
          for (std::int64_t q = 0; q < kb; q += kKc) {  // the summation blocks
            const std::int64_t kq = std::min(kKc, kb - q);
            const int add = (accumulate || pc + q > 0) ? 1 : 0;
            if (cols < nr) {
              kern.micro(kq, apanel + q * mr, bp + q * nr, cp, ldcp, add);
            } else {
              kern.micro_bcol(kq, apanel + q * mr, bsrc + q, ldb, cp, ldcp, add);
            }
          }
          if (edge) {
            for (int j = 0; j < cols; ++j)
              for (int i = 0; i < rows; ++i) c[ir + i + (j0 + j) * ldc] = tile[j * mr + i];
          }
        }
      }
    };
    if (n_tasks == 1) {
      task(0);
    } else {
      parallel_for(static_cast<std::size_t>(n_tasks), task);
    }
  }
}

template <class T>
void gemm(const Kernels<T>& kern, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
          std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
          bool accumulate, T* c, std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (std::int64_t j = 0; j < n; ++j) std::fill(c + j * ldc, c + j * ldc + m, T(0));
    return;
  }
  const int mr = kern.mr, nr = kern.nr;
  const std::int64_t mc = kMc<T>;
  const int threads = get_num_threads();
  if (m <= mc && !trans_b) {
    gemm_few_rows(kern, trans_a, m, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc, threads);
    return;
  }
  const std::int64_t m_blocks = (m + mc - 1) / mc;
  // Column chunks: enough tasks to keep every thread busy (the bytes do not depend on it).
  const bool parallel = threads > 1 && worth_threads(m, n, k);
  std::int64_t n_chunks = 1;
  if (parallel) {
    n_chunks = std::max<std::int64_t>(1, (3 * threads + m_blocks - 1) / m_blocks);
    n_chunks = std::min<std::int64_t>(n_chunks, std::max<std::int64_t>(1, n / (4 * nr)));
  }
  std::int64_t cw = (n + n_chunks - 1) / n_chunks;
  cw = ((cw + nr - 1) / nr) * nr;
  n_chunks = (n + cw - 1) / cw;
  const std::int64_t n_tasks = m_blocks * n_chunks;

  // Depth blocks in order, each a parallel_for over the blocks of C (all tasks of one depth
  // block share its slices of A and B in the last-level cache; measured faster than tasks
  // that each run the whole depth on their own block of C).
  std::int64_t pc_lo = 0, pc_hi = 0;
  auto task = [&](std::size_t t) {
    const std::int64_t ib = static_cast<std::int64_t>(t) / n_chunks;
    const std::int64_t jb = static_cast<std::int64_t>(t) % n_chunks;
    const std::int64_t i0 = ib * mc, mb = std::min(mc, m - i0);
    const std::int64_t j0 = jb * cw, nw = std::min(cw, n - j0);
    const std::int64_t mb_pad = ((mb + mr - 1) / mr) * mr;
    const std::int64_t kc_max = std::min(kKc, k);
    T* ap = scratch<T, 0>(static_cast<std::size_t>(mb_pad * kc_max));
    T* bp = scratch<T, 1>(static_cast<std::size_t>(kc_max * nr + mr * nr));
    T* tile = bp + kc_max * nr;  // edge tiles run on this mr x nr copy
    for (std::int64_t pc = pc_lo; pc < pc_hi; pc += kKc) {
      const std::int64_t kb = std::min(kKc, k - pc);
      const int add = (accumulate || pc > 0) ? 1 : 0;
      pack_a(a, lda, trans_a, i0, mb, pc, kb, alpha, mr, ap);
      for (std::int64_t jr = 0; jr < nw; jr += nr) {
        const int cols = static_cast<int>(std::min<std::int64_t>(nr, nw - jr));
        // a full panel of a column-major B is read in place; others are packed
        const bool in_place = !trans_b && cols == nr;
        const T* bsrc = b + pc + (j0 + jr) * ldb;
        if (!in_place) pack_b(b, ldb, trans_b, pc, kb, j0 + jr, cols, nr, bp);
        for (std::int64_t ir = 0; ir < mb; ir += mr) {
          const int rows = static_cast<int>(std::min<std::int64_t>(mr, mb - ir));
          T* cp = c + (i0 + ir) + (j0 + jr) * ldc;
          // the next tile of C down this column strip: strided columns defeat the hardware
          // prefetchers
          if (ir + mr < mb) {
            const T* nx = cp + mr;
            for (int j = 0; j < cols; ++j)
              for (int i = 0; i < mr; i += 64 / static_cast<int>(sizeof(T)))
                FASTINIT_PREFETCH_W(nx + j * ldc + i);
          }
          const T* apanel = ap + ir * kb;
          if (rows == mr && cols == nr) {
            if (in_place) {
              kern.micro_bcol(kb, apanel, bsrc, ldb, cp, ldc, add);
            } else {
              kern.micro(kb, apanel, bp, cp, ldc, add);
            }
          } else {
            if (add) {
              for (int j = 0; j < cols; ++j)
                for (int i = 0; i < rows; ++i) tile[j * mr + i] = cp[j * ldc + i];
            }
            if (in_place) {
              kern.micro_bcol(kb, apanel, bsrc, ldb, tile, mr, add);
            } else {
              kern.micro(kb, apanel, bp, tile, mr, add);
            }
            for (int j = 0; j < cols; ++j)
              for (int i = 0; i < rows; ++i) cp[j * ldc + i] = tile[j * mr + i];
          }
        }
      }
    }
  };
  for (std::int64_t pc = 0; pc < k; pc += kKc) {
    pc_lo = pc;
    pc_hi = std::min(k, pc + kKc);
    if (parallel && n_tasks > 1) {
      parallel_for(static_cast<std::size_t>(n_tasks), task);
    } else {
      for (std::int64_t t = 0; t < n_tasks; ++t) task(static_cast<std::size_t>(t));
    }
  }
}

template void gemm<float>(const Kernels<float>&, bool, bool, std::int64_t, std::int64_t,
                          std::int64_t, float, const float*, std::int64_t, const float*,
                          std::int64_t, bool, float*, std::int64_t);
template void gemm<double>(const Kernels<double>&, bool, bool, std::int64_t, std::int64_t,
                           std::int64_t, double, const double*, std::int64_t, const double*,
                           std::int64_t, bool, double*, std::int64_t);

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, bool accumulate,
          float* c, std::int64_t ldc) {
  gemm<float>(table_for(active_simd_level()).f32, trans_a, trans_b, m, n, k, alpha, a, lda, b,
              ldb, accumulate, c, ldc);
}
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, bool accumulate,
          double* c, std::int64_t ldc) {
  gemm<double>(table_for(active_simd_level()).f64, trans_a, trans_b, m, n, k, alpha, a, lda, b,
               ldb, accumulate, c, ldc);
}

}  // namespace gemm
}  // namespace fastinit
