// The fill kernels, written once and compiled per target (kernels_scalar.cpp,
// kernels_avx2.cpp, kernels_avx512.cpp), each with FASTINIT_LANES and FASTINIT_TARGET_NS set.
// Lane l of a vector always holds Philox block (first + l): SIMD lanes take adjacent indices,
// so the lane count never changes a value (docs/stream.md).
#ifndef FASTINIT_TARGET_NS
#error "define FASTINIT_TARGET_NS and FASTINIT_LANES before including kernels_impl.hpp"
#endif

#include <cstring>
#include <utility>

#include "kernels.hpp"
#include "kernel_math.hpp"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace fastinit {
namespace FASTINIT_TARGET_NS {
namespace {

using namespace kmath;

constexpr int W = FASTINIT_LANES;

#if FASTINIT_LANES > 1
typedef std::uint32_t VU __attribute__((vector_size(4 * W)));
typedef std::int32_t VI __attribute__((vector_size(4 * W)));
typedef float VF __attribute__((vector_size(4 * W)));
typedef std::uint16_t VU16 __attribute__((vector_size(2 * W)));
typedef double VD __attribute__((vector_size(8 * W)));
typedef std::uint64_t VU64 __attribute__((vector_size(8 * W)));
typedef std::int64_t VI64 __attribute__((vector_size(8 * W)));
#else
using VU = std::uint32_t;
using VI = std::int32_t;
using VF = float;
using VU16 = std::uint16_t;
using VD = double;
using VU64 = std::uint64_t;
using VI64 = std::int64_t;
#endif

using MaskF = decltype(VF{} < VF{});
using MaskD = decltype(VD{} < VD{});

template <class M>
inline bool all_true(const M& m) {
#if FASTINIT_LANES > 1
  for (int l = 0; l < W; ++l) {
    if (!m[l]) return false;
  }
  return true;
#else
  return static_cast<bool>(m);
#endif
}

inline VU lane_iota() {
#if FASTINIT_LANES > 1
  VU v;
  for (int l = 0; l < W; ++l) v[l] = static_cast<std::uint32_t>(l);
  return v;
#else
  return 0u;
#endif
}

inline void mul_hi_lo(std::uint32_t m, VU x, VU& hi, VU& lo) {
  const VU64 p = convert<VU64>(x) * static_cast<std::uint64_t>(m);
  hi = convert<VU>(p >> 32);
  lo = convert<VU>(p);
}

inline VF vsqrt(VF x) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
  return reinterpret_cast<VF>(_mm512_sqrt_ps(reinterpret_cast<__m512>(x)));
#elif FASTINIT_LANES == 8 && defined(__AVX__)
  return reinterpret_cast<VF>(_mm256_sqrt_ps(reinterpret_cast<__m256>(x)));
#elif FASTINIT_LANES > 1
  for (int l = 0; l < W; ++l) x[l] = __builtin_sqrtf(x[l]);
  return x;
#else
  return __builtin_sqrtf(x);
#endif
}

inline VD vsqrt(VD x) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
  __m512d h[2];
  std::memcpy(h, &x, sizeof(x));
  h[0] = _mm512_sqrt_pd(h[0]);
  h[1] = _mm512_sqrt_pd(h[1]);
  std::memcpy(&x, h, sizeof(x));
  return x;
#elif FASTINIT_LANES == 8 && defined(__AVX__)
  __m256d h[2];
  std::memcpy(h, &x, sizeof(x));
  h[0] = _mm256_sqrt_pd(h[0]);
  h[1] = _mm256_sqrt_pd(h[1]);
  std::memcpy(&x, h, sizeof(x));
  return x;
#elif FASTINIT_LANES > 1
  for (int l = 0; l < W; ++l) x[l] = __builtin_sqrt(x[l]);
  return x;
#else
  return __builtin_sqrt(x);
#endif
}

// ---- interleaved stores: element 4*l + k comes from word k of lane l ----------------------
#if FASTINIT_LANES > 1
template <class V, std::size_t... I>
inline V zip_lo(V a, V b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, ((I % 2) ? (I / 2 + W) : (I / 2))...);
}
template <class V, std::size_t... I>
inline V zip_hi(V a, V b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, ((I % 2) ? (I / 2 + W + W / 2) : (I / 2 + W / 2))...);
}
template <class V>
inline V zlo(V a, V b) { return zip_lo(a, b, std::make_index_sequence<W>{}); }
template <class V>
inline V zhi(V a, V b) { return zip_hi(a, b, std::make_index_sequence<W>{}); }
#endif

template <class V, class T>
inline void store_interleave4(T* out, V v0, V v1, V v2, V v3) {
#if FASTINIT_LANES > 1
  const V p_lo = zlo(v0, v2), p_hi = zhi(v0, v2);
  const V q_lo = zlo(v1, v3), q_hi = zhi(v1, v3);
  const V r[4] = {zlo(p_lo, q_lo), zhi(p_lo, q_lo), zlo(p_hi, q_hi), zhi(p_hi, q_hi)};
  std::memcpy(out, r, sizeof(r));
#else
  out[0] = v0;
  out[1] = v1;
  out[2] = v2;
  out[3] = v3;
#endif
}

template <class V, class T>
inline void store_interleave2(T* out, V v0, V v1) {
#if FASTINIT_LANES > 1
  const V r[2] = {zlo(v0, v1), zhi(v0, v1)};
  std::memcpy(out, r, sizeof(r));
#else
  out[0] = v0;
  out[1] = v1;
#endif
}

// ---- Philox on W consecutive counters -------------------------------------------------------
struct Words {
  VU w0, w1, w2, w3;
};

// Lane l encrypts counter (first + step*l as 64 bits, c2, c3); step*l < 2^32 always.
inline Words philox_lanes(std::uint64_t first, std::uint32_t step, std::uint32_t c2,
                          std::uint32_t c3, PhiloxKey key) {
  const std::uint32_t lo0 = static_cast<std::uint32_t>(first);
  const VU lo = splat<VU>(lo0) + lane_iota() * step;
  const VU hi = splat<VU>(static_cast<std::uint32_t>(first >> 32)) +
                ((lo < splat<VU>(lo0)) ? splat<VU>(1u) : splat<VU>(0u));
  Words w{lo, hi, splat<VU>(c2), splat<VU>(c3)};
  philox4x32_10(w.w0, w.w1, w.w2, w.w3, key,
                [](std::uint32_t m, VU x, VU& h, VU& l) { mul_hi_lo(m, x, h, l); });
  return w;
}

// ---- uniforms ------------------------------------------------------------------------------
// [0, 1) with 24 bits, and (0, 1] for logarithms.
inline VF u01_f32(VU x) { return convert<VF>(bitcast<VI>(x >> 8)) * splat<VF>(0x1p-24f); }
inline VF u01_open0_f32(VU x) {
  return convert<VF>(bitcast<VI>((x >> 8) + 1u)) * splat<VF>(0x1p-24f);
}
// [0, 1) with 53 bits: (hi >> 11) supplies the top 21 bits and lo the next 32; both terms
// are exact and do not overlap, so the sum is exact.
inline VD u01_f64(VU lo, VU hi) {
  return convert<VD>(hi >> 11) * splat<VD>(0x1p-21) + convert<VD>(lo) * splat<VD>(0x1p-53);
}
inline VD u01_open0_f64(VU lo, VU hi) { return u01_f64(lo, hi) + splat<VD>(0x1p-53); }

// ---- Box-Muller ------------------------------------------------------------------------------
// radius from word a, angle from word b: z0 = r cos(2 pi u_b), z1 = r sin(2 pi u_b).
inline void box_muller_f32(VU a, VU b, VF& z0, VF& z1) {
  const VF r = vsqrt(log_f32<VF, VI>(u01_open0_f32(a)) * splat<VF>(-2.0f));
  VF s, c;
  sincos_turn24<VF, VI>(bitcast<VI>(b >> 8), s, c);
  z0 = r * c;
  z1 = r * s;
}

// radius from words (a_lo, a_hi), angle from the 53-bit fraction in (b_lo, b_hi).
inline void box_muller_f64(VU a_lo, VU a_hi, VU b_lo, VU b_hi, VD& z0, VD& z1) {
  const VD r = vsqrt(log_f64<VD, VI64>(u01_open0_f64(a_lo, a_hi)) * splat<VD>(-2.0));
  const VU64 turn = (convert<VU64>(b_hi >> 11) << 32) | convert<VU64>(b_lo);
  VD s, c;
  sincos_turn53<VD, VI64>(bitcast<VI64>(turn), s, c);
  z0 = r * c;
  z1 = r * s;
}

// ---- per-precision parameters, converted once ----------------------------------------------
template <class T>
struct Params {
  T loc, scale, alpha, beta, lambda, mode, lo, hi;
  explicit Params(const DistParams& p)
      : loc(static_cast<T>(p.loc)),
        scale(static_cast<T>(p.scale)),
        alpha(static_cast<T>(p.alpha)),
        beta(static_cast<T>(p.beta)),
        lambda(static_cast<T>(p.lambda)),
        mode(static_cast<T>(p.mode)),
        lo(static_cast<T>(p.clamp_lo)),
        hi(static_cast<T>(p.clamp_hi)) {}
};

template <class V, class T>
inline V finish(V x, const Params<T>& p) {
  V v = splat<V>(p.loc) + splat<V>(p.scale) * x;
  v = (v < splat<V>(p.lo)) ? splat<V>(p.lo) : v;
  v = (v > splat<V>(p.hi)) ? splat<V>(p.hi) : v;
  return v;
}

// ---- truncated normal retries ---------------------------------------------------------------
// Lanes not yet accepted draw attempt r = 1, 2, ... from sub-stream r of their own element:
// counter (element lo, element hi, stream lo, stream hi | r << 16). The value therefore
// depends only on the element's index, never on its neighbours or the lane count.
inline VF truncated_retry_f32(const KernelArgs& a, const Params<float>& p, VF x, MaskF accepted,
                              std::uint64_t first_element, std::uint32_t step) {
  const TruncMethod method = a.params.method;
  for (std::uint32_t r = 1; r <= kMaxTruncAttempts && !all_true(accepted); ++r) {
    const Words w = philox_lanes(first_element, step, a.stream_lo, a.stream_hi | (r << 16), a.key);
    VF cand;
    MaskF ok;
    if (method == TruncMethod::normal_rejection) {
      VF z1;
      box_muller_f32(w.w0, w.w1, cand, z1);
      ok = (cand >= splat<VF>(p.alpha)) & (cand <= splat<VF>(p.beta));
    } else if (method == TruncMethod::exponential_rejection) {
      cand = splat<VF>(p.alpha) - log_f32<VF, VI>(u01_open0_f32(w.w0)) / splat<VF>(p.lambda);
      const VF d = cand - splat<VF>(p.lambda);
      const VF log_u = log_f32<VF, VI>(u01_open0_f32(w.w1));
      ok = (cand <= splat<VF>(p.beta)) & (log_u <= d * d * splat<VF>(-0.5f));
    } else {
      cand = splat<VF>(p.alpha) + splat<VF>(p.beta - p.alpha) * u01_f32(w.w0);
      const VF log_u = log_f32<VF, VI>(u01_open0_f32(w.w1));
      const VF bound = (splat<VF>(p.mode * p.mode) - cand * cand) * splat<VF>(0.5f);
      ok = (cand <= splat<VF>(p.beta)) & (log_u <= bound);
    }
    x = accepted ? x : (ok ? cand : x);
    accepted = accepted | ok;
  }
  // Only after 32767 rejections in a row (never seen; documented in docs/stream.md).
  x = accepted ? x : splat<VF>(p.mode);
  return a.params.flip ? -x : x;
}

inline VD truncated_retry_f64(const KernelArgs& a, const Params<double>& p, VD x,
                              MaskD accepted, std::uint64_t first_element, std::uint32_t step) {
  const TruncMethod method = a.params.method;
  for (std::uint32_t r = 1; r <= kMaxTruncAttempts && !all_true(accepted); ++r) {
    const Words w = philox_lanes(first_element, step, a.stream_lo, a.stream_hi | (r << 16), a.key);
    VD cand;
    MaskD ok;
    if (method == TruncMethod::normal_rejection) {
      VD z1;
      box_muller_f64(w.w0, w.w1, w.w2, w.w3, cand, z1);
      ok = (cand >= splat<VD>(p.alpha)) & (cand <= splat<VD>(p.beta));
    } else if (method == TruncMethod::exponential_rejection) {
      cand = splat<VD>(p.alpha) -
             log_f64<VD, VI64>(u01_open0_f64(w.w0, w.w1)) / splat<VD>(p.lambda);
      const VD d = cand - splat<VD>(p.lambda);
      const VD log_u = log_f64<VD, VI64>(u01_open0_f64(w.w2, w.w3));
      ok = (cand <= splat<VD>(p.beta)) & (log_u <= d * d * splat<VD>(-0.5));
    } else {
      cand = splat<VD>(p.alpha) + splat<VD>(p.beta - p.alpha) * u01_f64(w.w0, w.w1);
      const VD log_u = log_f64<VD, VI64>(u01_open0_f64(w.w2, w.w3));
      const VD bound = (splat<VD>(p.mode * p.mode) - cand * cand) * splat<VD>(0.5);
      ok = (cand <= splat<VD>(p.beta)) & (log_u <= bound);
    }
    x = accepted ? x : (ok ? cand : x);
    accepted = accepted | ok;
  }
  x = accepted ? x : splat<VD>(p.mode);
  return a.params.flip ? -x : x;
}

// ---- one group: W blocks -----------------------------------------------------------------------
// float32 compute: block b gives elements 4b .. 4b+3; a group is 4W elements.
inline void group_f32(const KernelArgs& a, const Params<float>& p, std::uint64_t block,
                      float* out) {
  const DistParams& dp = a.params;
  VF v0 = splat<VF>(0.0f), v1 = v0, v2 = v0, v3 = v0;
  if (dp.kind == Dist::constant) {
  } else if (dp.kind == Dist::truncated_normal && dp.method != TruncMethod::normal_rejection) {
    // Tail methods draw every attempt from the element's sub-streams.
    const MaskF none = splat<VF>(0.0f) != splat<VF>(0.0f);
    const std::uint64_t e = block * 4;
    v0 = truncated_retry_f32(a, p, v0, none, e + 0, 4);
    v1 = truncated_retry_f32(a, p, v1, none, e + 1, 4);
    v2 = truncated_retry_f32(a, p, v2, none, e + 2, 4);
    v3 = truncated_retry_f32(a, p, v3, none, e + 3, 4);
  } else {
    const Words w = philox_lanes(block, 1, a.stream_lo, a.stream_hi, a.key);
    if (dp.kind == Dist::uniform) {
      v0 = u01_f32(w.w0);
      v1 = u01_f32(w.w1);
      v2 = u01_f32(w.w2);
      v3 = u01_f32(w.w3);
    } else {
      box_muller_f32(w.w0, w.w1, v0, v1);
      box_muller_f32(w.w2, w.w3, v2, v3);
      if (dp.kind == Dist::truncated_normal) {
        const VF lo = splat<VF>(p.alpha), hi = splat<VF>(p.beta);
        const std::uint64_t e = block * 4;
        // Attempt 0 is the element's own normal value, already in standardized units; the
        // flip applies to retries only because normal_rejection never flips.
        v0 = truncated_retry_f32(a, p, v0, (v0 >= lo) & (v0 <= hi), e + 0, 4);
        v1 = truncated_retry_f32(a, p, v1, (v1 >= lo) & (v1 <= hi), e + 1, 4);
        v2 = truncated_retry_f32(a, p, v2, (v2 >= lo) & (v2 <= hi), e + 2, 4);
        v3 = truncated_retry_f32(a, p, v3, (v3 >= lo) & (v3 <= hi), e + 3, 4);
      }
    }
  }
  store_interleave4(out, finish(v0, p), finish(v1, p), finish(v2, p), finish(v3, p));
}

// float64 compute: block b gives elements 2b and 2b+1; a group is 2W elements.
inline void group_f64(const KernelArgs& a, const Params<double>& p, std::uint64_t block,
                      double* out) {
  const DistParams& dp = a.params;
  VD v0 = splat<VD>(0.0), v1 = v0;
  if (dp.kind == Dist::constant) {
  } else if (dp.kind == Dist::truncated_normal && dp.method != TruncMethod::normal_rejection) {
    const MaskD none = splat<VD>(0.0) != splat<VD>(0.0);
    v0 = truncated_retry_f64(a, p, v0, none, block * 2 + 0, 2);
    v1 = truncated_retry_f64(a, p, v1, none, block * 2 + 1, 2);
  } else {
    const Words w = philox_lanes(block, 1, a.stream_lo, a.stream_hi, a.key);
    if (dp.kind == Dist::uniform) {
      v0 = u01_f64(w.w0, w.w1);
      v1 = u01_f64(w.w2, w.w3);
    } else {
      box_muller_f64(w.w0, w.w1, w.w2, w.w3, v0, v1);
      if (dp.kind == Dist::truncated_normal) {
        const VD lo = splat<VD>(p.alpha), hi = splat<VD>(p.beta);
        v0 = truncated_retry_f64(a, p, v0, (v0 >= lo) & (v0 <= hi), block * 2 + 0, 2);
        v1 = truncated_retry_f64(a, p, v1, (v1 >= lo) & (v1 <= hi), block * 2 + 1, 2);
      }
    }
  }
  store_interleave2(out, finish(v0, p), finish(v1, p));
}

// ---- bulk entry points ---------------------------------------------------------------------------
template <class T, int PerBlock, class Group, class P>
inline void generate(const KernelArgs& a, const P& p, std::uint64_t first, std::size_t n,
                     T* out, Group group) {
  constexpr std::size_t kGroup = static_cast<std::size_t>(PerBlock) * W;
  T tmp[kGroup];
  while (n > 0) {
    const std::uint64_t block = first / PerBlock;
    const std::size_t skip = static_cast<std::size_t>(first % PerBlock);
    if (skip == 0 && n >= kGroup) {
      group(a, p, block, out);
      out += kGroup;
      first += kGroup;
      n -= kGroup;
    } else {
      group(a, p, block, tmp);
      std::size_t take = kGroup - skip;
      if (take > n) take = n;
      std::memcpy(out, tmp + skip, take * sizeof(T));
      out += take;
      first += take;
      n -= take;
    }
  }
}

void generate_f32(const KernelArgs& a, std::uint64_t first, std::size_t n, float* out) {
  const Params<float> p(a.params);
  generate<float, 4>(a, p, first, n, out, group_f32);
}

void generate_f64(const KernelArgs& a, std::uint64_t first, std::size_t n, double* out) {
  const Params<double> p(a.params);
  generate<double, 2>(a, p, first, n, out, group_f64);
}

// Whole blocks only: word 4*(first_block + b) + k of the stream goes to out[4*b + k].
void raw_blocks(PhiloxKey key, std::uint32_t c2, std::uint32_t c3, std::uint64_t first_block,
                std::size_t n_blocks, std::uint32_t* out) {
  std::size_t b = 0;
  for (; b + W <= n_blocks; b += W) {
    const Words w = philox_lanes(first_block + b, 1, c2, c3, key);
    store_interleave4(out + 4 * b, w.w0, w.w1, w.w2, w.w3);
  }
  if (b < n_blocks) {
    std::uint32_t tmp[4 * W];
    const Words w = philox_lanes(first_block + b, 1, c2, c3, key);
    store_interleave4(tmp, w.w0, w.w1, w.w2, w.w3);
    std::memcpy(out + 4 * b, tmp, 4 * (n_blocks - b) * sizeof(std::uint32_t));
  }
}

void f32_to_f16(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
#if FASTINIT_LANES > 1
  for (; i + W <= n; i += W) {
    VF x;
    std::memcpy(&x, in + i, sizeof(x));
    const VU16 h = convert<VU16>(f32_to_f16_bits<VF, VU>(x));
    std::memcpy(out + i, &h, sizeof(h));
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<std::uint16_t>(f32_to_f16_bits<float, std::uint32_t>(in[i]));
}

void f32_to_bf16(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
#if FASTINIT_LANES > 1
  for (; i + W <= n; i += W) {
    VF x;
    std::memcpy(&x, in + i, sizeof(x));
    const VU16 h = convert<VU16>(f32_to_bf16_bits<VF, VU>(x));
    std::memcpy(out + i, &h, sizeof(h));
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<std::uint16_t>(f32_to_bf16_bits<float, std::uint32_t>(in[i]));
}

}  // namespace

const KernelTable& table() {
  static const KernelTable t{&generate_f32, &generate_f64, &f32_to_f16, &f32_to_bf16,
                             &raw_blocks};
  return t;
}

}  // namespace FASTINIT_TARGET_NS
}  // namespace fastinit
