// Run-time choice of the instruction set the kernels use. Every level produces the same bytes
// (docs/stream.md); the level only changes speed.
#pragma once

#include <string>

namespace fastinit {

enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2 };

// The best level this CPU (and OS) supports, detected once.
SimdLevel detected_simd_level();
// The level in use: FASTINIT_SIMD=scalar|avx2|avx512 if set (capped at what the CPU has),
// otherwise the detected one.
SimdLevel active_simd_level();
// Forces a level; throws std::invalid_argument if the CPU lacks it.
void set_simd_level(SimdLevel level);
const char* simd_level_name(SimdLevel level);
SimdLevel simd_level_from_name(const std::string& name);

}  // namespace fastinit
