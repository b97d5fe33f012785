// Transcendental math for the stream, written once as templates over a "float-like" type F
// (float, double, or a GCC vector of them) and its same-width integer types. Every target
// instantiates the same source with the same operation order and no fused multiply-add
// (the build passes -ffp-contract=off), so scalar, AVX2 and AVX-512 give identical bits.
// Nothing here calls libm: the bits must not depend on the platform's libm (docs/stream.md).
//
// Included once per target translation unit, inside that target's namespace
// (FASTINIT_TARGET_NS), so that no inline function compiled with one target's flags can be
// picked by the linker for another target: hence no include guard.
#ifndef FASTINIT_TARGET_NS
#error "kernel_math.hpp is included by kernels_impl.hpp with FASTINIT_TARGET_NS defined"
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fastinit {
namespace FASTINIT_TARGET_NS {
namespace kmath {

template <class To, class From>
inline To bitcast(const From& x) {
  static_assert(sizeof(To) == sizeof(From), "bitcast between types of different sizes");
  To t;
  std::memcpy(&t, &x, sizeof(To));
  return t;
}

template <class To, class From>
inline To convert(const From& x) {
  if constexpr (std::is_arithmetic_v<From>) {
    return static_cast<To>(x);
  } else {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_convertvector(x, To);  // GCC/Clang vector types (x86-64 targets only)
#else
    static_assert(std::is_arithmetic_v<From>, "vector kernels need GCC or Clang");
    return To{};
#endif
  }
}

// A value of type T with every lane equal to s.
template <class T, class S>
inline T splat(S s) {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<T>(s);
  } else {
    // s - 0 keeps the sign of zero (0 + -0.0 would give +0.0 and break SIMD = scalar).
    return static_cast<std::remove_reference_t<decltype(T{}[0])>>(s) - T{};
  }
}

// ---- natural logarithm -------------------------------------------------------------------
// log(x) = e*ln2 + 2*atanh(s), s = (m-1)/(m+1), x = 2^e * m, m in [sqrt(1/2), sqrt(2)).
// |s| <= 0.1716, so the atanh series converges fast; m-1 is exact (Sterbenz), which keeps
// the relative error small near x = 1.
// Valid range: positive normal numbers. Maximum error measured against float64 / long double
// references (tests/test_golden.py, docs/stream.md): float 1.68 ulp over every input the
// stream produces, double 2.03 ulp (worst just below 1/sqrt(2), where e*ln2 + log m cancels).
template <class F, class I>
inline F log_f32(F x) {
  const I bits = bitcast<I>(x);
  // Adding (1.0f - sqrt(1/2)) bit patterns carries into the exponent exactly when m >= sqrt(2).
  const I e = ((bits + (0x3f800000 - 0x3f3504f3)) >> 23) - 127;
  const F m = bitcast<F>(bits - e * (1 << 23));  // e < 0 is common: no << (UB before C++20)
  const F one = splat<F>(1.0f);
  const F s = (m - one) / (m + one);
  const F s2 = s * s;
  // 2*atanh(s) = 2s + 2s * s2 * (1/3 + s2/5 + s2^2/7 + s2^3/9); truncation error < 2e-9 relative.
  const F poly = s2 * (splat<F>(1.0f / 3.0f) +
                       s2 * (splat<F>(1.0f / 5.0f) +
                             s2 * (splat<F>(1.0f / 7.0f) + s2 * splat<F>(1.0f / 9.0f))));
  const F two_s = s + s;
  const F log_m = two_s + two_s * poly;
  const F ef = convert<F>(e);
  // ln2 split so that ef * ln2_hi is exact for |e| < 2^8.
  const F ln2_hi = splat<F>(0.693145751953125f);
  const F ln2_lo = splat<F>(1.428606765330187e-06f);
  return ef * ln2_hi + (log_m + ef * ln2_lo);
}

template <class D, class I64>
inline D log_f64(D x) {
  const I64 bits = bitcast<I64>(x);
  const I64 e = ((bits + (0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL)) >> 52) - 1023;
  const D m = bitcast<D>(bits - e * (std::int64_t{1} << 52));  // e < 0: no << (UB before C++20)
  const D one = splat<D>(1.0);
  const D s = (m - one) / (m + one);
  const D s2 = s * s;
  // 2*atanh(s) series through s^23; the first omitted term is < 2e-19 relative.
  D poly = splat<D>(1.0 / 23.0);
  poly = splat<D>(1.0 / 21.0) + s2 * poly;
  poly = splat<D>(1.0 / 19.0) + s2 * poly;
  poly = splat<D>(1.0 / 17.0) + s2 * poly;
  poly = splat<D>(1.0 / 15.0) + s2 * poly;
  poly = splat<D>(1.0 / 13.0) + s2 * poly;
  poly = splat<D>(1.0 / 11.0) + s2 * poly;
  poly = splat<D>(1.0 / 9.0) + s2 * poly;
  poly = splat<D>(1.0 / 7.0) + s2 * poly;
  poly = splat<D>(1.0 / 5.0) + s2 * poly;
  poly = splat<D>(1.0 / 3.0) + s2 * poly;
  poly = s2 * poly;
  const D two_s = s + s;
  const D log_m = two_s + two_s * poly;
  // e is a small integer: 1.5*2^52 + e converts it exactly without an int64 -> double instruction.
  const D ef = bitcast<D>(e + 0x4338000000000000LL) - splat<D>(6755399441055744.0);
  const D ln2_hi = splat<D>(0.6931471803691238);   // 33 significant bits: ef * ln2_hi exact
  const D ln2_lo = splat<D>(1.9082149292705877e-10);
  return ef * ln2_hi + (log_m + ef * ln2_lo);
}

// ---- sin and cos of 2*pi*u ---------------------------------------------------------------
// The argument is a fixed-point fraction of a turn, so the reduction to [-pi/4, pi/4] is an
// exact integer operation: k / 2^bits = q/4 + r, |r| <= 1/8. Taylor polynomials on
// [-pi/4, pi/4]; truncation error < 2e-9 (float) and < 3e-18 (double) absolute.
template <class F>
inline void sincos_poly_f32(F t, F& s, F& c) {
  const F t2 = t * t;
  s = t + t * t2 *
              (splat<F>(-1.0f / 6.0f) +
               t2 * (splat<F>(1.0f / 120.0f) +
                     t2 * (splat<F>(-1.0f / 5040.0f) + t2 * splat<F>(1.0f / 362880.0f))));
  c = splat<F>(1.0f) +
      t2 * (splat<F>(-0.5f) +
            t2 * (splat<F>(1.0f / 24.0f) +
                  t2 * (splat<F>(-1.0f / 720.0f) +
                        t2 * (splat<F>(1.0f / 40320.0f) + t2 * splat<F>(-1.0f / 3628800.0f)))));
}

template <class D>
inline void sincos_poly_f64(D t, D& s, D& c) {
  const D t2 = t * t;
  // sin: odd terms through t^17; cos: even terms through t^18 (coefficients +-1/n!).
  D ps = splat<D>(1.0 / 355687428096000.0);          // 1/17!
  ps = splat<D>(-1.0 / 1307674368000.0) + t2 * ps;     // -1/15!
  ps = splat<D>(1.0 / 6227020800.0) + t2 * ps;         // 1/13!
  ps = splat<D>(-1.0 / 39916800.0) + t2 * ps;          // -1/11!
  ps = splat<D>(1.0 / 362880.0) + t2 * ps;             // 1/9!
  ps = splat<D>(-1.0 / 5040.0) + t2 * ps;              // -1/7!
  ps = splat<D>(1.0 / 120.0) + t2 * ps;                // 1/5!
  ps = splat<D>(-1.0 / 6.0) + t2 * ps;                 // -1/3!
  s = t + t * t2 * ps;
  D pc = splat<D>(1.0 / 6402373705728000.0);          // 1/18!
  pc = splat<D>(-1.0 / 20922789888000.0) + t2 * pc;    // -1/16!
  pc = splat<D>(1.0 / 87178291200.0) + t2 * pc;        // 1/14!
  pc = splat<D>(-1.0 / 479001600.0) + t2 * pc;         // -1/12!
  pc = splat<D>(1.0 / 3628800.0) + t2 * pc;            // 1/10!
  pc = splat<D>(-1.0 / 40320.0) + t2 * pc;             // -1/8!
  pc = splat<D>(1.0 / 720.0) + t2 * pc;                // 1/6!
  pc = splat<D>(-1.0 / 24.0) + t2 * pc;                // -1/4!
  pc = splat<D>(0.5) + t2 * pc;                        // 1/2!
  c = splat<D>(1.0) - t2 * pc;
}

// k: a 24-bit turn fraction in the low bits (angle = 2*pi*k/2^24).
template <class F, class I>
inline void sincos_turn24(I k, F& sin_out, F& cos_out) {
  const I q = (k + (1 << 21)) >> 22;   // nearest quarter turn, 0..4
  const I r = k - (q << 22);           // in [-2^21, 2^21)
  const F t = convert<F>(r) * splat<F>(3.7450702e-07f);  // 2*pi / 2^24
  F s, c;
  sincos_poly_f32(t, s, c);
  const auto odd = (q & 1) != 0;
  const F cc = odd ? s : c;
  const F ss = odd ? c : s;
  // cos(t + q*pi/2) is negative for q mod 4 in {1, 2}; sin for q mod 4 in {2, 3}.
  const I cos_sign = ((q + 1) & 2) << 30;
  const I sin_sign = (q & 2) << 30;
  cos_out = bitcast<F>(bitcast<I>(cc) ^ cos_sign);
  sin_out = bitcast<F>(bitcast<I>(ss) ^ sin_sign);
}

// k: a 53-bit turn fraction (angle = 2*pi*k/2^53).
template <class D, class I64>
inline void sincos_turn53(I64 k, D& sin_out, D& cos_out) {
  const I64 q = (k + (I64{} + (1LL << 50))) >> 51;
  const I64 r = k - (q << 51);  // |r| <= 2^50: converted exactly by the 1.5*2^52 trick
  const D rd = bitcast<D>(r + 0x4338000000000000LL) - splat<D>(6755399441055744.0);
  const D t = rd * splat<D>(6.975736996017264e-16);  // 2*pi / 2^53
  D s, c;
  sincos_poly_f64(t, s, c);
  // Swap by bit masks rather than ?: (which GCC scalarises on two-register vectors).
  const I64 odd = -(q & 1);
  const I64 si = bitcast<I64>(s), ci = bitcast<I64>(c);
  const D cc = bitcast<D>((si & odd) | (ci & ~odd));
  const D ss = bitcast<D>((ci & odd) | (si & ~odd));
  const I64 cos_sign = ((q + 1) & 2) << 62;
  const I64 sin_sign = (q & 2) << 62;
  cos_out = bitcast<D>(bitcast<I64>(cc) ^ cos_sign);
  sin_out = bitcast<D>(bitcast<I64>(ss) ^ sin_sign);
}

// ---- half-precision conversions, round to nearest even -------------------------------------
// Same bits as the hardware's vcvtps2ph / NumPy's astype(float16); software so that every
// target (and non-x86) agrees. After F. Giesen's branch-free float_to_half (public domain
// algorithm description), written as selects.
template <class F, class U>
inline U f32_to_f16_bits(F x) {
  const U bits = bitcast<U>(x);
  const U sign = bits & 0x80000000u;
  const U mag = bits ^ sign;
  // Subnormal/zero results (|x| < 2^-14): the float16 code is |x| / 2^-24 rounded to nearest
  // even, in integers (a float add would follow the caller's rounding mode, where vcvtps2ph's
  // immediate does not). |x| = m * 2^(e - 150) with m the significand and its hidden bit, so
  // the code is m >> (126 - e) rounded; shifts above 31 (e < 95) give 0 anyway. A code of
  // 0x400 is the smallest normal, which is what rounding up into it must give.
  const U e = mag >> 23;
  const U m = (mag & 0x7fffffu) | ((e != 0u) ? splat<U>(0x800000u) : splat<U>(0u));
  U shift = splat<U>(126u) - ((e < 95u) ? splat<U>(95u) : ((e > 112u) ? splat<U>(112u) : e));
  const U kept = m >> shift;
  const U rest = m & ((splat<U>(1u) << shift) - 1u);
  const U half = splat<U>(1u) << (shift - 1u);
  const U sub = kept + ((rest > half) | ((rest == half) & ((kept & 1u) != 0u)) ? splat<U>(1u)
                                                                              : splat<U>(0u));
  const U mant_odd = (mag >> 13) & 1u;
  const U norm = (mag + (((15u - 127u) << 23) + 0xfffu) + mant_odd) >> 13;
  const U inf_nan = (mag > 0x7f800000u) ? splat<U>(0x7e00u) : splat<U>(0x7c00u);
  U out = (mag < 0x38800000u) ? sub : norm;
  out = (mag >= 0x47800000u) ? inf_nan : out;
  return out | (sign >> 16);
}

template <class F, class U>
inline U f32_to_bf16_bits(F x) {
  const U bits = bitcast<U>(x);
  const U rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const U quiet_nan = (bits >> 16) | 0x40u;
  return ((bits & 0x7fffffffu) > 0x7f800000u) ? quiet_nan : rounded;
}

}  // namespace kmath
}  // namespace FASTINIT_TARGET_NS
}  // namespace fastinit
