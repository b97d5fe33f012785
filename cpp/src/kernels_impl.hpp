// The fill kernels, written once and compiled per target (kernels_scalar.cpp,
// kernels_avx2.cpp, kernels_avx512.cpp), each with FASTINIT_LANES and FASTINIT_TARGET_NS set.
// Lane l of a vector always holds Philox block (first + l): SIMD lanes take adjacent indices,
// so the lane count never changes a value (docs/stream.md).
#ifndef FASTINIT_TARGET_NS
#error "define FASTINIT_TARGET_NS and FASTINIT_LANES before including kernels_impl.hpp"
#endif

#include <cstring>
#include <limits>
#include <utility>

#include "kernels.hpp"
#include "kernel_math.hpp"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <cmath>
#include <cstdint>

namespace fastinit {
namespace FASTINIT_TARGET_NS {
namespace {

using namespace kmath;

constexpr int W = FASTINIT_LANES;

// The group kernels are called from two places in each fill loop; without this GCC keeps
// them out of line and the call boundary stops overlapping one group's Philox chain with
// the next group's.
#if defined(__GNUC__) || defined(__clang__)
#define FASTINIT_GROUP_INLINE inline __attribute__((always_inline))
#else
#define FASTINIT_GROUP_INLINE inline
#endif

#if FASTINIT_LANES > 1 && !(defined(__GNUC__) || defined(__clang__))
#error "the vector targets use GCC/Clang vector extensions; other compilers build the scalar one"
#endif

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

// float64 math runs on one register of doubles: the W lanes of a block group in two halves
// of H. (GCC lowers ?:, comparisons and broadcasts on two-register vector types element by
// element, through the stack.)
#if FASTINIT_LANES > 1
constexpr int H = W / 2;
typedef std::uint32_t HU __attribute__((vector_size(4 * H)));
typedef double HD __attribute__((vector_size(8 * H)));
typedef std::uint64_t HU64 __attribute__((vector_size(8 * H)));
typedef std::int64_t HI64 __attribute__((vector_size(8 * H)));

struct F64Reg {  // the float64 register and its companions: two halves per block group
  using D = HD;
  using U = HU;
  using U64 = HU64;
  using I64 = HI64;
  static constexpr int kHalves = 2;
};

// Lanes [h * H, (h + 1) * H) of x.
template <class Half, class Whole>
inline Half half_of(const Whole& x, int h) {
  Half r;
  std::memcpy(&r, reinterpret_cast<const char*>(&x) + h * sizeof(Half), sizeof(Half));
  return r;
}
#else
struct F64Reg {  // the scalar reference: one double, one block at a time
  using D = VD;
  using U = VU;
  using U64 = VU64;
  using I64 = VI64;
  static constexpr int kHalves = 1;
};
#endif

inline VU lane_iota() {
#if FASTINIT_LANES > 1
  VU v;
  for (int l = 0; l < W; ++l) v[l] = static_cast<std::uint32_t>(l);
  return v;
#else
  return 0u;
#endif
}

// 32 x 32 -> 64-bit products, high and low words (the scalar reference's Philox).
inline void mul_hi_lo(std::uint32_t m, VU x, VU& hi, VU& lo) {
  const VU64 p = convert<VU64>(x) * static_cast<std::uint64_t>(m);
  hi = convert<VU>(p >> 32);
  lo = convert<VU>(p);
}

// IEEE square root is correctly rounded everywhere: the builtin and std::sqrt give the same bits.
#if defined(__GNUC__) || defined(__clang__)
inline float scalar_sqrt(float x) { return __builtin_sqrtf(x); }
inline double scalar_sqrt(double x) { return __builtin_sqrt(x); }
#else
inline float scalar_sqrt(float x) { return std::sqrt(x); }
inline double scalar_sqrt(double x) { return std::sqrt(x); }
#endif

inline VF vsqrt(VF x) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
  return reinterpret_cast<VF>(_mm512_sqrt_ps(reinterpret_cast<__m512>(x)));
#elif FASTINIT_LANES == 8 && defined(__AVX__)
  return reinterpret_cast<VF>(_mm256_sqrt_ps(reinterpret_cast<__m256>(x)));
#elif FASTINIT_LANES > 1
  for (int l = 0; l < W; ++l) x[l] = __builtin_sqrtf(x[l]);
  return x;
#else
  return scalar_sqrt(x);
#endif
}

#if FASTINIT_LANES == 1  // the vector targets take the square root of one register (HD)
inline VD vsqrt(VD x) { return scalar_sqrt(x); }
#endif

#if FASTINIT_LANES == 16 && defined(__AVX512F__)
inline HD vsqrt(HD x) { return reinterpret_cast<HD>(_mm512_sqrt_pd(reinterpret_cast<__m512d>(x))); }
#elif FASTINIT_LANES == 8 && defined(__AVX__)
inline HD vsqrt(HD x) { return reinterpret_cast<HD>(_mm256_sqrt_pd(reinterpret_cast<__m256d>(x))); }
#endif

// ---- interleaved stores: element 4*l + k comes from word k of lane l ----------------------
#if FASTINIT_LANES > 1
template <class V>
constexpr std::size_t lane_count = sizeof(V) / sizeof(std::remove_reference_t<decltype(V{}[0])>);

template <class V, std::size_t... I>
inline V zip_lo(V a, V b, std::index_sequence<I...>) {
  constexpr std::size_t N = lane_count<V>;
  return __builtin_shufflevector(a, b, ((I % 2) ? (I / 2 + N) : (I / 2))...);
}
template <class V, std::size_t... I>
inline V zip_hi(V a, V b, std::index_sequence<I...>) {
  constexpr std::size_t N = lane_count<V>;
  return __builtin_shufflevector(a, b, ((I % 2) ? (I / 2 + N + N / 2) : (I / 2 + N / 2))...);
}
template <class V>
inline V zlo(V a, V b) { return zip_lo(a, b, std::make_index_sequence<lane_count<V>>{}); }
template <class V>
inline V zhi(V a, V b) { return zip_hi(a, b, std::make_index_sequence<lane_count<V>>{}); }
#endif

// In place: v0..v3 (word k of lane l in vk) become the four vectors in element order.
template <class V>
inline void interleave4(V& v0, V& v1, V& v2, V& v3) {
#if FASTINIT_LANES > 1
  const V p_lo = zlo(v0, v2), p_hi = zhi(v0, v2);
  const V q_lo = zlo(v1, v3), q_hi = zhi(v1, v3);
  v0 = zlo(p_lo, q_lo);
  v1 = zhi(p_lo, q_lo);
  v2 = zlo(p_hi, q_hi);
  v3 = zhi(p_hi, q_hi);
#else
  (void)v0, (void)v1, (void)v2, (void)v3;
#endif
}

template <class V, class T>
inline void store_interleave4(T* out, V v0, V v1, V v2, V v3) {
  interleave4(v0, v1, v2, v3);
  const V r[4] = {v0, v1, v2, v3};
  std::memcpy(out, r, sizeof(r));
}

template <class V, class T>
inline void store_interleave2(T* out, V v0, V v1) {
  if constexpr (std::is_arithmetic_v<V>) {
    out[0] = v0;
    out[1] = v1;
  } else {
    const V r[2] = {zlo(v0, v1), zhi(v0, v1)};
    std::memcpy(out, r, sizeof(r));
  }
}

// ---- Philox on W counters -------------------------------------------------------------------
struct Words {
  VU w0, w1, w2, w3;
};

#if (FASTINIT_LANES == 16 && defined(__AVX512F__)) || (FASTINIT_LANES == 8 && defined(__AVX2__))
// The vector targets run the rounds on words held in the low half of 64-bit lanes (the even
// lanes of W, then the odd lanes): the unsigned 32x32 -> 64 multiply then leaves the low word
// in place and the high word one shift away, 3 instructions per word per round instead of 4
// with a re-interleave after every multiply. The upper halves fill with garbage, which never
// reaches a low half: XOR is lane-wise and the multiply reads only the low halves.
#if FASTINIT_LANES == 16
using Reg = __m512i;
inline Reg r_set1(std::uint32_t k) { return _mm512_set1_epi32(static_cast<int>(k)); }
inline Reg r_mul(Reg a, Reg m) { return _mm512_mul_epu32(a, m); }
inline Reg r_high(Reg a) { return _mm512_srli_epi64(a, 32); }
inline Reg r_xor3(Reg a, Reg b, Reg c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
inline VU r_join(Reg even, Reg odd) {
  return reinterpret_cast<VU>(_mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32)));
}
#else
using Reg = __m256i;
inline Reg r_set1(std::uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
inline Reg r_mul(Reg a, Reg m) { return _mm256_mul_epu32(a, m); }
inline Reg r_high(Reg a) { return _mm256_srli_epi64(a, 32); }
inline Reg r_xor3(Reg a, Reg b, Reg c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
inline VU r_join(Reg even, Reg odd) {
  return reinterpret_cast<VU>(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA));
}
#endif

inline Words philox_words(VU c0, VU c1, VU c2, VU c3, const RoundKeys& rk) {
  Reg e[4] = {reinterpret_cast<Reg>(c0), reinterpret_cast<Reg>(c1), reinterpret_cast<Reg>(c2),
              reinterpret_cast<Reg>(c3)};
  Reg o[4] = {r_high(e[0]), r_high(e[1]), r_high(e[2]), r_high(e[3])};
  const Reg m0 = r_set1(kPhiloxM0), m1 = r_set1(kPhiloxM1);
  for (int round = 0; round < kPhiloxRounds; ++round) {
    const Reg rk0 = r_set1(rk.k0[round]), rk1 = r_set1(rk.k1[round]);
    for (Reg* h : {e, o}) {
      const Reg p0 = r_mul(h[0], m0), p1 = r_mul(h[2], m1);
      h[0] = r_xor3(r_high(p1), h[1], rk0);
      h[2] = r_xor3(r_high(p0), h[3], rk1);
      h[1] = p1;
      h[3] = p0;
    }
  }
  return {r_join(e[0], o[0]), r_join(e[1], o[1]), r_join(e[2], o[2]), r_join(e[3], o[3])};
}
#else
inline Words philox_words(VU c0, VU c1, VU c2, VU c3, const RoundKeys& rk) {
  Words w{c0, c1, c2, c3};
  philox4x32_10(w.w0, w.w1, w.w2, w.w3, rk,
                [](std::uint32_t m, VU x, VU& h, VU& l) { mul_hi_lo(m, x, h, l); });
  return w;
}
#endif

// Lane l encrypts counter (first + l as 64 bits, c2, c3).
inline Words philox_lanes(std::uint64_t first, std::uint32_t c2, std::uint32_t c3,
                          const RoundKeys& key) {
  const std::uint32_t lo0 = static_cast<std::uint32_t>(first);
  const VU lo = splat<VU>(lo0) + lane_iota();
  const VU hi = splat<VU>(static_cast<std::uint32_t>(first >> 32)) +
                ((lo < splat<VU>(lo0)) ? splat<VU>(1u) : splat<VU>(0u));
  return philox_words(lo, hi, splat<VU>(c2), splat<VU>(c3), key);
}

// ---- uniforms ------------------------------------------------------------------------------
// [0, 1) with 24 bits, and (0, 1] for logarithms.
inline VF u01_f32(VU x) { return convert<VF>(bitcast<VI>(x >> 8)) * splat<VF>(0x1p-24f); }
inline VF u01_open0_f32(VU x) {
  return convert<VF>(bitcast<VI>((x >> 8) + 1u)) * splat<VF>(0x1p-24f);
}
// [0, 1) with 53 bits: (hi >> 11) supplies the top 21 bits and lo the next 32; both terms
// are exact and do not overlap, so the sum is exact.
template <class D, class U>
inline D u01_f64(U lo, U hi) {
  return convert<D>(hi >> 11) * splat<D>(0x1p-21) + convert<D>(lo) * splat<D>(0x1p-53);
}
template <class D, class U>
inline D u01_open0_f64(U lo, U hi) { return u01_f64<D>(lo, hi) + splat<D>(0x1p-53); }

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
template <class D, class U, class U64, class I64>
inline void box_muller_f64(U a_lo, U a_hi, U b_lo, U b_hi, D& z0, D& z1) {
  const D r = vsqrt(log_f64<D, I64>(u01_open0_f64<D>(a_lo, a_hi)) * splat<D>(-2.0));
  const U64 turn = (convert<U64>(b_hi >> 11) << 32) | convert<U64>(b_lo);
  D s, c;
  sincos_turn53<D, I64>(bitcast<I64>(turn), s, c);
  z0 = r * c;
  z1 = r * s;
}

// ---- per-precision parameters, converted once ----------------------------------------------
template <class T>
struct Params {
  T loc, scale, alpha, beta, lambda, mode, lo, hi;
  // max(-inf, v) and min(+inf, v) are v for every v, NaN included: the group kernels skip them.
  bool unclamped;
  // scale * 2^-24 when that product is exact (a normal number or zero, scale >= 0), else -1.
  T scale_ulp24;
  explicit Params(const DistParams& p)
      : loc(static_cast<T>(p.loc)),
        scale(static_cast<T>(p.scale)),
        alpha(static_cast<T>(p.alpha)),
        beta(static_cast<T>(p.beta)),
        lambda(static_cast<T>(p.lambda)),
        mode(static_cast<T>(p.mode)),
        lo(static_cast<T>(p.clamp_lo)),
        hi(static_cast<T>(p.clamp_hi)),
        unclamped(lo == -std::numeric_limits<T>::infinity() &&
                  hi == std::numeric_limits<T>::infinity()),
        scale_ulp24(exact_ulp24(scale)) {}

  static T exact_ulp24(T s) {
    const T scaled = s * static_cast<T>(0x1p-24);
    const bool exact = s == 0 || (s > 0 && scaled >= std::numeric_limits<T>::min() &&
                                  scaled * static_cast<T>(0x1p24) == s);
    return exact ? scaled : static_cast<T>(-1);
  }
};

// (v < lo) ? lo : v and (v > hi) ? hi : v: compiled to maxp(lo, v) and minp(hi, v), which are
// the same for NaN and signed zeros.
template <class V>
inline V at_least(V v, V lo) { return (v < lo) ? lo : v; }
template <class V>
inline V at_most(V v, V hi) { return (v > hi) ? hi : v; }

// Skipping the clamp when both bounds are infinite gives the same values (see unclamped).
template <class V, class T>
inline V clamp(V v, const Params<T>& p) {
  if (p.unclamped) return v;
  return at_most(at_least(v, splat<V>(p.lo)), splat<V>(p.hi));
}

// loc + scale * x, clamped; `scale` is p.scale or, for uniforms, an exact rescaling of it.
template <class V, class T>
inline V finish(V x, const Params<T>& p, T scale) {
  return clamp(splat<V>(p.loc) + splat<V>(scale) * x, p);
}
template <class V, class T>
inline V finish(V x, const Params<T>& p) {
  return finish(x, p, p.scale);
}

// ---- one group: W blocks -----------------------------------------------------------------------
// float32 compute: block b gives elements 4b .. 4b+3; a group is 4W elements.
// Uniform, normal and constant only; truncated normals are assembled by generate_truncated.
// The group's 4W values in element order.
FASTINIT_GROUP_INLINE void group_values_f32(const KernelArgs& a, const Params<float>& p,
                                            std::uint64_t block, VF r[4]) {
  const Dist kind = a.params.kind;
  if (kind == Dist::constant) {  // loc itself: loc + 0 * x would turn -0.0 into +0.0
    r[0] = r[1] = r[2] = r[3] = clamp(splat<VF>(p.loc), p);
    return;
  }
  float scale = p.scale;
  {
    const Words w = philox_lanes(block, a.stream_lo, a.stream_hi, a.round_keys);
    if (kind == Dist::uniform && p.scale_ulp24 >= 0) {
      // loc + scale * (k * 2^-24) == loc + (scale * 2^-24) * k: both products are the exact
      // real product rounded once, since k * 2^-24 and scale * 2^-24 are exact.
      r[0] = convert<VF>(bitcast<VI>(w.w0 >> 8));
      r[1] = convert<VF>(bitcast<VI>(w.w1 >> 8));
      r[2] = convert<VF>(bitcast<VI>(w.w2 >> 8));
      r[3] = convert<VF>(bitcast<VI>(w.w3 >> 8));
      scale = p.scale_ulp24;
    } else if (kind == Dist::uniform) {
      r[0] = u01_f32(w.w0);
      r[1] = u01_f32(w.w1);
      r[2] = u01_f32(w.w2);
      r[3] = u01_f32(w.w3);
    } else {
      box_muller_f32(w.w0, w.w1, r[0], r[1]);
      box_muller_f32(w.w2, w.w3, r[2], r[3]);
    }
  }
  for (int k = 0; k < 4; ++k) r[k] = finish(r[k], p, scale);
  interleave4(r[0], r[1], r[2], r[3]);
}

FASTINIT_GROUP_INLINE void group_f32(const KernelArgs& a, const Params<float>& p,
                                     std::uint64_t block, float* out) {
  VF r[4];
  group_values_f32(a, p, block, r);
  std::memcpy(out, r, sizeof(r));
}

inline bool any_nan(const VF r[4]) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
  const __m512 a = reinterpret_cast<__m512>(r[0]), b = reinterpret_cast<__m512>(r[1]);
  const __m512 c = reinterpret_cast<__m512>(r[2]), d = reinterpret_cast<__m512>(r[3]);
  return (_mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q)) != 0;
#elif FASTINIT_LANES == 8 && defined(__AVX__)
  const __m256 a = reinterpret_cast<__m256>(r[0]), b = reinterpret_cast<__m256>(r[1]);
  const __m256 c = reinterpret_cast<__m256>(r[2]), d = reinterpret_cast<__m256>(r[3]);
  return _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q),
                                         _mm256_cmp_ps(c, d, _CMP_UNORD_Q))) != 0;
#else
  bool nan = false;
  for (int k = 0; k < 4; ++k) nan |= !(r[k] == r[k]);
  return nan;
#endif
}

// float16: vcvtps2ph rounds to nearest even (the mode given in the instruction, not MXCSR),
// the same bits as f32_to_f16_bits for every non-NaN input.
struct RoundF16 {
  static VU16 exact(VF x) { return convert<VU16>(f32_to_f16_bits<VF, VU>(x)); }
  static void four(const VF r[4], std::uint16_t* out) {
    for (int k = 0; k < 4; ++k) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
      const __m256i h = _mm512_cvtps_ph(reinterpret_cast<__m512>(r[k]),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif FASTINIT_LANES == 8 && defined(__F16C__)
      const __m128i h = _mm256_cvtps_ph(reinterpret_cast<__m256>(r[k]),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
      const VU16 h = exact(r[k]);
#endif
      std::memcpy(out + k * W, &h, sizeof(h));
    }
  }
};

// bfloat16: round to nearest even in the upper 16 bits, then keep the upper halves of two
// vectors with one pack. No NaN handling (rounded_high would carry a NaN's payload into the
// sign): callers must have ruled NaN out, as group_half does with any_nan.
struct RoundBF16 {
  static VU16 exact(VF x) { return convert<VU16>(f32_to_bf16_bits<VF, VU>(x)); }
  static VU rounded_high(VF x) {
    const VU bits = bitcast<VU>(x);
    return bits + 0x7fffu + ((bits >> 16) & 1u);
  }
  static void four(const VF r[4], std::uint16_t* out) {
#if FASTINIT_LANES == 16 && defined(__AVX512BW__)
    alignas(64) static constexpr std::uint16_t kOdd[32] = {
        1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
        33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    const __m512i odd = _mm512_load_si512(kOdd);
    for (int k = 0; k < 4; k += 2) {
      const __m512i h = _mm512_permutex2var_epi16(reinterpret_cast<__m512i>(rounded_high(r[k])), odd,
                                                  reinterpret_cast<__m512i>(rounded_high(r[k + 1])));
      std::memcpy(out + k * W, &h, sizeof(h));
    }
#elif FASTINIT_LANES == 8 && defined(__AVX2__)
    for (int k = 0; k < 4; k += 2) {
      const __m256i lo = _mm256_srli_epi32(reinterpret_cast<__m256i>(rounded_high(r[k])), 16);
      const __m256i hi = _mm256_srli_epi32(reinterpret_cast<__m256i>(rounded_high(r[k + 1])), 16);
      // packus works per 128-bit half: reorder the 64-bit quarters to 0, 2, 1, 3.
      const __m256i h = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
      std::memcpy(out + k * W, &h, sizeof(h));
    }
#else
    for (int k = 0; k < 4; ++k) {
      const VU16 h = exact(r[k]);
      std::memcpy(out + k * W, &h, sizeof(h));
    }
#endif
  }
};

// float16 / bfloat16 output: the float32 group rounded in registers (no float32 pass
// through memory). Rounding::four takes the hardware or packed path, exact for every non-NaN
// input; a group holding a NaN (a NaN constant, or a normal_ whose mean/std overflow float32)
// takes the reference conversion, whose canonical NaN the hardware would not produce.
template <class Rounding>
FASTINIT_GROUP_INLINE void round_half(const VF r[4], std::uint16_t* out) {
  if (!any_nan(r)) {
    Rounding::four(r, out);
    return;
  }
  for (int k = 0; k < 4; ++k) {
    const VU16 h = Rounding::exact(r[k]);
    std::memcpy(out + k * W, &h, sizeof(h));
  }
}

template <class Rounding>
FASTINIT_GROUP_INLINE void group_half(const KernelArgs& a, const Params<float>& p,
                                      std::uint64_t block, std::uint16_t* out) {
  VF r[4];
  group_values_f32(a, p, block, r);
  round_half<Rounding>(r, out);
}

// float64 compute: block b gives elements 2b and 2b+1; a group is 2W elements.
FASTINIT_GROUP_INLINE void group_f64(const KernelArgs& a, const Params<double>& p,
                                     std::uint64_t block, double* out) {
  using D = F64Reg::D;
  using U = F64Reg::U;
  using U64 = F64Reg::U64;
  using I64 = F64Reg::I64;
  constexpr int kHalves = F64Reg::kHalves;
  constexpr int kHalfLanes = W / kHalves;
  const Dist kind = a.params.kind;
  if (kind == Dist::constant) {
    const D c = clamp(splat<D>(p.loc), p);
    for (int h = 0; h < kHalves; ++h) store_interleave2(out + 2 * kHalfLanes * h, c, c);
    return;
  }
  const Words w = philox_lanes(block, a.stream_lo, a.stream_hi, a.round_keys);
  for (int h = 0; h < kHalves; ++h) {
#if FASTINIT_LANES > 1
    const U w0 = half_of<U>(w.w0, h), w1 = half_of<U>(w.w1, h);
    const U w2 = half_of<U>(w.w2, h), w3 = half_of<U>(w.w3, h);
#else
    const U w0 = w.w0, w1 = w.w1, w2 = w.w2, w3 = w.w3;
#endif
    D v0, v1;
    if (kind == Dist::uniform) {
      v0 = u01_f64<D>(w0, w1);
      v1 = u01_f64<D>(w2, w3);
    } else {
      box_muller_f64<D, U, U64, I64>(w0, w1, w2, w3, v0, v1);
    }
    store_interleave2(out + 2 * kHalfLanes * h, finish(v0, p), finish(v1, p));
  }
}

// The group kernels as function objects: a direct call inside operator() can always be
// inlined, where a call through a function pointer cannot at -O1 (the sanitizer build).
struct GroupF32 {
  void operator()(const KernelArgs& a, const Params<float>& p, std::uint64_t block,
                  float* out) const {
    group_f32(a, p, block, out);
  }
};
struct GroupF64 {
  void operator()(const KernelArgs& a, const Params<double>& p, std::uint64_t block,
                  double* out) const {
    group_f64(a, p, block, out);
  }
};
template <class Rounding>
struct GroupHalf {
  void operator()(const KernelArgs& a, const Params<float>& p, std::uint64_t block,
                  std::uint16_t* out) const {
    group_half<Rounding>(a, p, block, out);
  }
};

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

// ---- truncated normal ---------------------------------------------------------------------------
// Attempt r = 1, 2, ... of element e draws from sub-stream r of e's own index: counter
// (e lo, e hi, stream lo, stream hi | r << 16). The value therefore depends only on the
// element's index. Rejected elements are compacted into a list and retried W at a time, so
// the ~5% rejections of a +-2 sigma interval cost ~5% more work, not a whole vector each.
template <class M>
inline bool lane_true(const M& m, int l) {
#if FASTINIT_LANES > 1
  return m[l] != 0;
#else
  (void)l;
  return static_cast<bool>(m);
#endif
}

// Bit l set when lane l of the mask is true.
template <class M>
inline std::uint32_t mask_bits(const M& m) {
#if FASTINIT_LANES > 1
  constexpr int kLanes = static_cast<int>(lane_count<M>);  // W, or H for a float64 half
#else
  constexpr int kLanes = 1;
#endif
  std::uint32_t bits = 0;
  for (int l = 0; l < kLanes; ++l) bits |= static_cast<std::uint32_t>(lane_true(m, l)) << l;
  return bits;
}
#if FASTINIT_LANES == 16 && defined(__AVX512DQ__)
inline std::uint32_t mask_bits(const MaskF& m) {
  return _mm512_movepi32_mask(reinterpret_cast<__m512i>(m));
}
inline std::uint32_t mask_bits(const decltype(HD{} < HD{})& m) {
  return _mm512_movepi64_mask(reinterpret_cast<__m512i>(m));
}
#elif FASTINIT_LANES == 8 && defined(__AVX__)
inline std::uint32_t mask_bits(const MaskF& m) {
  return static_cast<std::uint32_t>(_mm256_movemask_ps(reinterpret_cast<__m256>(m)));
}
inline std::uint32_t mask_bits(const decltype(HD{} < HD{})& m) {
  return static_cast<std::uint32_t>(_mm256_movemask_pd(reinterpret_cast<__m256d>(m)));
}
#endif

// Returns the accepted lanes as bits.
inline std::uint32_t truncated_candidate(const KernelArgs& a, const Params<float>& p,
                                         const Words& w, VF& cand) {
  const TruncMethod method = a.params.method;
  if (method == TruncMethod::normal_rejection) {
    VF unused;
    box_muller_f32(w.w0, w.w1, cand, unused);
    return mask_bits((cand >= splat<VF>(p.alpha)) & (cand <= splat<VF>(p.beta)));
  }
  const VF log_u = log_f32<VF, VI>(u01_open0_f32(w.w1));
  if (method == TruncMethod::exponential_rejection) {
    cand = splat<VF>(p.alpha) - log_f32<VF, VI>(u01_open0_f32(w.w0)) / splat<VF>(p.lambda);
    const VF d = cand - splat<VF>(p.lambda);
    return mask_bits((cand <= splat<VF>(p.beta)) & (log_u <= d * d * splat<VF>(-0.5f)));
  }
  cand = splat<VF>(p.alpha) + splat<VF>(p.beta - p.alpha) * u01_f32(w.w0);
  const VF bound = (splat<VF>(p.mode * p.mode) - cand * cand) * splat<VF>(0.5f);
  return mask_bits((cand <= splat<VF>(p.beta)) & (log_u <= bound));
}

template <class D, class U, class U64, class I64>
inline auto truncated_candidate_f64(const KernelArgs& a, const Params<double>& p, U w0, U w1,
                                    U w2, U w3, D& cand) {
  const TruncMethod method = a.params.method;
  if (method == TruncMethod::normal_rejection) {
    D unused;
    box_muller_f64<D, U, U64, I64>(w0, w1, w2, w3, cand, unused);
    return (cand >= splat<D>(p.alpha)) & (cand <= splat<D>(p.beta));
  }
  const D log_u = log_f64<D, I64>(u01_open0_f64<D>(w2, w3));
  if (method == TruncMethod::exponential_rejection) {
    cand = splat<D>(p.alpha) - log_f64<D, I64>(u01_open0_f64<D>(w0, w1)) / splat<D>(p.lambda);
    const D d = cand - splat<D>(p.lambda);
    return (cand <= splat<D>(p.beta)) & (log_u <= d * d * splat<D>(-0.5));
  }
  cand = splat<D>(p.alpha) + splat<D>(p.beta - p.alpha) * u01_f64<D>(w0, w1);
  const D bound = (splat<D>(p.mode * p.mode) - cand * cand) * splat<D>(0.5);
  return (cand <= splat<D>(p.beta)) & (log_u <= bound);
}

inline std::uint32_t truncated_candidate(const KernelArgs& a, const Params<double>& p,
                                         const Words& w, VD& cand) {
#if FASTINIT_LANES > 1
  std::uint32_t bits = 0;
  for (int h = 0; h < 2; ++h) {
    HD c;
    const auto ok = truncated_candidate_f64<HD, HU, HU64, HI64>(
        a, p, half_of<HU>(w.w0, h), half_of<HU>(w.w1, h), half_of<HU>(w.w2, h),
        half_of<HU>(w.w3, h), c);
    bits |= mask_bits(ok) << (h * H);
    std::memcpy(reinterpret_cast<char*>(&cand) + h * sizeof(HD), &c, sizeof(c));
  }
  return bits;
#else
  return mask_bits(truncated_candidate_f64<VD, VU, VU64, VI64>(a, p, w.w0, w.w1, w.w2, w.w3, cand));
#endif
}

// finish(flip ? -x : x) for the W lanes of a retry (float64: half by half).
inline VF finish_flipped(VF x, const Params<float>& p, bool flip) {
  return finish(flip ? -x : x, p);
}
inline VD finish_flipped(VD x, const Params<double>& p, bool flip) {
#if FASTINIT_LANES > 1
  for (int h = 0; h < 2; ++h) {
    HD v = half_of<HD>(x, h);
    v = finish(flip ? -v : v, p);
    std::memcpy(reinterpret_cast<char*>(&x) + h * sizeof(HD), &v, sizeof(v));
  }
  return x;
#else
  return finish(flip ? -x : x, p);
#endif
}

// Appends base + l for every set bit l of `bits` (l < N) to list[count...]. Branch-free:
// about half of the vectors of a +-2 sigma fill hold a rejection, at random, so a branch
// per vector or per rejection would be mispredicted about once per vector.
template <int N>
inline std::size_t append_lanes(std::uint32_t* list, std::size_t count, std::uint32_t bits,
                                std::uint32_t base) {
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
  if constexpr (N == 16) {
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(base)),
                                         reinterpret_cast<__m512i>(lane_iota()));
    // Register compress + full store: the memory form of vpcompressd is microcoded on Zen 4.
    // list has W slots of slack for the full store.
    _mm512_storeu_si512(list + count,
                        _mm512_maskz_compress_epi32(static_cast<__mmask16>(bits), idx));
    return count + static_cast<std::size_t>(__builtin_popcount(bits));
  }
#endif
  for (int l = 0; l < N; ++l) {
    list[count] = base + static_cast<std::uint32_t>(l);
    count += (bits >> l) & 1u;
  }
  return count;
}

#if FASTINIT_LANES == 16 && defined(__AVX512F__)
inline void scatter_lanes(float* out, __m512i idx, __mmask16 m, VF v) {
  _mm512_mask_i32scatter_ps(out, m, idx, reinterpret_cast<__m512>(v), 4);
}
inline void scatter_lanes(double* out, __m512i idx, __mmask16 m, VD v) {
  __m512d h[2];
  std::memcpy(h, &v, sizeof(v));
  _mm512_mask_i32scatter_pd(out, static_cast<__mmask8>(m), _mm512_castsi512_si256(idx), h[0], 8);
  _mm512_mask_i32scatter_pd(out, static_cast<__mmask8>(m >> 8),
                            _mm512_extracti64x4_epi64(idx, 1), h[1], 8);
}
#endif

constexpr std::size_t kTruncChunk = 2048;

// out[list[k]] (k < count) are the pending elements (batch-relative; element = first + list[k]);
// each is written, finished, once accepted. Branch-free per lane (a rejected lane's store goes
// to a scratch slot) since the accept/reject pattern is random.
template <class T, class V>
inline void resolve_pending(const KernelArgs& a, const Params<T>& p, std::uint64_t first, T* out,
                            std::uint32_t* list, std::size_t count, std::uint32_t* spare) {
  const std::uint32_t lo0 = static_cast<std::uint32_t>(first);
  const VU lo_base = splat<VU>(lo0);
  const VU hi_base = splat<VU>(static_cast<std::uint32_t>(first >> 32));
  const bool flip = a.params.flip;
  [[maybe_unused]] T scratch;
  for (std::uint32_t r = 1; count > 0 && r <= kMaxTruncAttempts; ++r) {
    std::size_t next = 0;
    for (std::size_t i = 0; i < count; i += W) {
      const std::size_t lanes = count - i < static_cast<std::size_t>(W) ? count - i : W;
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
      const __mmask16 live = static_cast<__mmask16>((1u << lanes) - 1u);
      const __m512i idx = _mm512_maskz_loadu_epi32(live, list + i);
      const VU off = reinterpret_cast<VU>(idx);
#else
      std::uint32_t idx[W];
      for (int l = 0; l < W; ++l) idx[l] = list[i + (static_cast<std::size_t>(l) < lanes ? l : lanes - 1)];
      VU off;
      std::memcpy(&off, idx, sizeof(off));
#endif
      const VU lo = lo_base + off;
      const VU hi = hi_base + ((lo < lo_base) ? splat<VU>(1u) : splat<VU>(0u));
      const Words w =
          philox_words(lo, hi, splat<VU>(a.stream_lo), splat<VU>(a.stream_hi | (r << 16)), a.round_keys);
      V cand;
      const std::uint32_t ok = truncated_candidate(a, p, w, cand);
      const V done = finish_flipped(cand, p, flip);
#if FASTINIT_LANES == 16 && defined(__AVX512F__)
      scatter_lanes(out, idx, static_cast<__mmask16>(ok & live), done);
      const __mmask16 rejected = static_cast<__mmask16>(~ok & live);
      _mm512_storeu_si512(spare + next, _mm512_maskz_compress_epi32(rejected, idx));
      next += static_cast<std::size_t>(__builtin_popcount(rejected));
#else
      T values[W];
      std::memcpy(values, &done, sizeof(values));
      for (std::size_t l = 0; l < lanes; ++l) {
        const bool accepted = (ok >> l) & 1u;
        T* dst = accepted ? out + idx[l] : &scratch;
        *dst = values[l];
        spare[next] = idx[l];
        next += !accepted;
      }
#endif
    }
    std::uint32_t* t = list;
    list = spare;
    spare = t;
    count = next;
  }
  // Only after 32767 rejections in a row (never seen; docs/stream.md).
  const T last = finish(flip ? -p.mode : p.mode, p);
  for (std::size_t k = 0; k < count; ++k) out[list[k]] = last;
}

// Normal rejection batches the rejected elements of several chunks before retrying them: the
// retries of one chunk (~93 at +-2 sigma) leave the last passes with a single vector each,
// whose Philox + Box-Muller chain then runs latency-bound; a batch of ~4096 keeps the vectors
// of each pass independent. Indices in the lists are relative to the batch start.
constexpr std::size_t kRetryBatch = 4096;

template <class T, class V, int PerBlock, class Group>
inline void generate_truncated(const KernelArgs& a, std::uint64_t first, std::size_t n, T* out,
                               Group group) {
  const Params<T> p(a.params);
  // Attempt 0 of normal rejection is the element's own standard normal value.
  KernelArgs standard = a;
  standard.params.kind = Dist::normal;
  standard.params.loc = 0.0;
  standard.params.scale = 1.0;
  standard.params.clamp_lo = -std::numeric_limits<double>::infinity();
  standard.params.clamp_hi = std::numeric_limits<double>::infinity();
  const Params<T> p_standard(standard.params);
  T z[kTruncChunk];
  constexpr std::size_t kList = kRetryBatch + kTruncChunk + W;
  std::uint32_t list[kList], spare[kList];
  if (a.params.method != TruncMethod::normal_rejection) {  // every element starts pending
    while (n > 0) {
      const std::size_t m = n < kTruncChunk ? n : kTruncChunk;
      for (std::size_t i = 0; i < m; ++i) list[i] = static_cast<std::uint32_t>(i);
      resolve_pending<T, V>(a, p, first, out, list, m, spare);
      out += m;
      first += m;
      n -= m;
    }
    return;
  }
  // Never flipped (validated in fill.cpp).
  std::uint64_t batch_first = first;
  T* batch_out = out;
  std::size_t count = 0;
  while (n > 0) {
    const std::size_t m = n < kTruncChunk ? n : kTruncChunk;
    const auto base = static_cast<std::uint32_t>(first - batch_first);
    generate<T, PerBlock>(standard, p_standard, first, m, z, group);
    std::size_t i = 0;
#if FASTINIT_LANES > 1
    // One register at a time (H doubles or W floats).
    using S = std::conditional_t<std::is_same_v<T, double>, HD, VF>;
    constexpr int kLanes = static_cast<int>(sizeof(S) / sizeof(T));
    for (; i + kLanes <= m; i += kLanes) {
      S x;
      std::memcpy(&x, z + i, sizeof(x));
      const std::uint32_t bits = mask_bits((x < splat<S>(p.alpha)) | (x > splat<S>(p.beta)));
      x = finish(x, p);
      std::memcpy(out + i, &x, sizeof(x));
      count = append_lanes<kLanes>(list, count, bits, base + static_cast<std::uint32_t>(i));
    }
#endif
    for (; i < m; ++i) {
      list[count] = base + static_cast<std::uint32_t>(i);
      count += (z[i] < p.alpha) | (z[i] > p.beta);
      out[i] = finish(z[i], p);
    }
    out += m;
    first += m;
    n -= m;
    // (The span bound keeps batch-relative indices below 2^31 for any n: the AVX-512
    // scatter sign-extends its 32-bit indices.)
    if (count >= kRetryBatch || n == 0 || first - batch_first >= (std::uint64_t{1} << 30)) {
      resolve_pending<T, V>(a, p, batch_first, batch_out, list, count, spare);
      batch_first = first;
      batch_out = out;
      count = 0;
    }
  }
}

void generate_f32(const KernelArgs& a, std::uint64_t first, std::size_t n, float* out) {
  if (a.params.kind == Dist::truncated_normal) {
    generate_truncated<float, VF, 4>(a, first, n, out, GroupF32{});
    return;
  }
  const Params<float> p(a.params);
  generate<float, 4>(a, p, first, n, out, GroupF32{});
}

void generate_f64(const KernelArgs& a, std::uint64_t first, std::size_t n, double* out) {
  if (a.params.kind == Dist::truncated_normal) {
    generate_truncated<double, VD, 2>(a, first, n, out, GroupF64{});
    return;
  }
  const Params<double> p(a.params);
  generate<double, 2>(a, p, first, n, out, GroupF64{});
}

// Whole blocks only: word 4*(first_block + b) + k of the stream goes to out[4*b + k].
void raw_blocks(PhiloxKey key, std::uint32_t c2, std::uint32_t c3, std::uint64_t first_block,
                std::size_t n_blocks, std::uint32_t* out) {
  const RoundKeys rk = round_keys(key);
  std::size_t b = 0;
  for (; b + W <= n_blocks; b += W) {
    const Words w = philox_lanes(first_block + b, c2, c3, rk);
    store_interleave4(out + 4 * b, w.w0, w.w1, w.w2, w.w3);
  }
  if (b < n_blocks) {
    std::uint32_t tmp[4 * W];
    const Words w = philox_lanes(first_block + b, c2, c3, rk);
    store_interleave4(tmp, w.w0, w.w1, w.w2, w.w3);
    std::memcpy(out + 4 * b, tmp, 4 * (n_blocks - b) * sizeof(std::uint32_t));
  }
}

template <class Rounding>
void generate_half(const KernelArgs& a, std::uint64_t first, std::size_t n, std::uint16_t* out) {
  if (a.params.kind == Dist::truncated_normal) {  // assembled in float32, then rounded
    // Twice the retry batch: each call ends its own retry batch, so a small stage would
    // shrink the batches to a few vectors (latency-bound passes).
    constexpr std::size_t kStage = 2 * kRetryBatch;
    alignas(64) float stage[kStage];
    while (n > 0) {
      const std::size_t m = n < kStage ? n : kStage;
      generate_truncated<float, VF, 4>(a, first, m, stage, GroupF32{});
      std::size_t i = 0;
      for (; i + 4 * W <= m; i += 4 * W) {  // whole groups: the fast rounding of group_half
        VF r[4];
        std::memcpy(r, stage + i, sizeof(r));
        round_half<Rounding>(r, out + i);
      }
      for (; i + W <= m; i += W) {
        VF x;
        std::memcpy(&x, stage + i, sizeof(x));
        const VU16 h = Rounding::exact(x);
        std::memcpy(out + i, &h, sizeof(h));
      }
      if (i < m) {  // the last partial vector, padded
        float padded[W] = {};
        std::memcpy(padded, stage + i, (m - i) * sizeof(float));
        VF x;
        std::memcpy(&x, padded, sizeof(x));
        const VU16 h = Rounding::exact(x);
        std::memcpy(out + i, &h, (m - i) * sizeof(std::uint16_t));
      }
      out += m;
      first += m;
      n -= m;
    }
    return;
  }
  const Params<float> p(a.params);
  generate<std::uint16_t, 4>(a, p, first, n, out, GroupHalf<Rounding>{});
}

}  // namespace

const KernelTable& table() {
  static const KernelTable t{&generate_f32, &generate_f64, &generate_half<RoundF16>,
                             &generate_half<RoundBF16>, &raw_blocks};
  return t;
}

}  // namespace FASTINIT_TARGET_NS
}  // namespace fastinit

#undef FASTINIT_GROUP_INLINE
