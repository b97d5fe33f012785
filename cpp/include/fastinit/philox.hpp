// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC 2011), exactly as Random123 defines it.
//
// philox4x32_10 is the scalar reference's round function (a template over the word type, with
// the 32x32 -> 64-bit multiply supplied by the caller); the SIMD kernels run the same rounds on
// 64-bit lanes (cpp/src/kernels_impl.hpp). Both read the per-round keys from RoundKeys.
#pragma once

#include <cstdint>

namespace fastinit {

// Multipliers and Weyl key increments from the paper, Table 2 / Random123 philox.h.
inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1
inline constexpr int kPhiloxRounds = 10;

struct PhiloxKey {
  std::uint32_t k0, k1;
};

// The 64-bit user seed maps to the key as (low word, high word): docs/stream.md.
inline PhiloxKey key_from_seed(std::uint64_t seed) {
  return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
}

// Every round's key (round r uses key + r * Weyl increment: the key is bumped before rounds
// 2..10), computed once per fill: the SIMD
// kernels read them from memory as broadcast operands instead of re-deriving and
// re-broadcasting them for every block group.
struct RoundKeys {
  std::uint32_t k0[kPhiloxRounds], k1[kPhiloxRounds];
};

inline RoundKeys round_keys(PhiloxKey key) {
  RoundKeys rk{};
  for (int round = 0; round < kPhiloxRounds; ++round) {
    rk.k0[round] = key.k0 + static_cast<std::uint32_t>(round) * kPhiloxW0;
    rk.k1[round] = key.k1 + static_cast<std::uint32_t>(round) * kPhiloxW1;
  }
  return rk;
}

// Four counter words in, four random words out. `U` is std::uint32_t or a vector of them;
// lane l of each vector is an independent block. `mul` computes the 32x32 -> 64-bit product's
// high and low words for U (each SIMD target passes its own).
template <class U, class MulHiLo>
inline void philox4x32_10(U& c0, U& c1, U& c2, U& c3, const RoundKeys& rk, MulHiLo mul) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    const std::uint32_t k0 = rk.k0[round], k1 = rk.k1[round];
    U hi0, lo0, hi1, lo1;
    mul(kPhiloxM0, c0, hi0, lo0);
    mul(kPhiloxM1, c2, hi1, lo1);
    const U n0 = hi1 ^ c1 ^ k0;
    const U n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
}

}  // namespace fastinit
