#if defined(FASTINIT_HAVE_X86_TARGETS)
#include <cpuid.h>
#endif
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "fastinit/simd.hpp"
#include "kernels.hpp"

namespace fastinit {
namespace {

SimdLevel detect() {
#if defined(FASTINIT_HAVE_X86_TARGETS)
  __builtin_cpu_init();
  // F16C (CPUID.1:ECX bit 29) converts float16 in the AVX2 kernels; every AVX2 CPU has it, but
  // a hypervisor may mask it. (cpuid.h: __builtin_cpu_supports("f16c") is GCC-only.)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  // The AVX-512 level requires the AVX2 level too, so that every level up to the detected one
  // can be forced (FASTINIT_SIMD, set_simd_level). GCC's and Clang's cpu model also checks
  // that the OS saves the wider registers (XGETBV).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    return SimdLevel::avx512;
  }
  if (avx2) return SimdLevel::avx2;
#endif
  return SimdLevel::scalar;
}

SimdLevel initial_level() {
  const SimdLevel best = detected_simd_level();
  if (const char* env = std::getenv("FASTINIT_SIMD")) {
    try {
      const SimdLevel wanted = simd_level_from_name(env);
      // A level the CPU lacks would crash; fall back to the best one it has.
      return static_cast<int>(wanted) <= static_cast<int>(best) ? wanted : best;
    } catch (const std::invalid_argument&) {
      return best;
    }
  }
  return best;
}

std::atomic<int> g_active{-1};

}  // namespace

SimdLevel detected_simd_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel active_simd_level() {
  int level = g_active.load(std::memory_order_relaxed);
  if (level < 0) {
    level = static_cast<int>(initial_level());
    g_active.store(level, std::memory_order_relaxed);
  }
  return static_cast<SimdLevel>(level);
}

void set_simd_level(SimdLevel level) {
  if (static_cast<int>(level) > static_cast<int>(detected_simd_level())) {
    throw std::invalid_argument(std::string("this CPU does not support SIMD level '") +
                                simd_level_name(level) + "'; the best it has is '" +
                                simd_level_name(detected_simd_level()) + "'");
  }
  g_active.store(static_cast<int>(level), std::memory_order_relaxed);
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx512:
      return "avx512";
    case SimdLevel::avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

SimdLevel simd_level_from_name(const std::string& name) {
  if (name == "scalar") return SimdLevel::scalar;
  if (name == "avx2") return SimdLevel::avx2;
  if (name == "avx512") return SimdLevel::avx512;
  throw std::invalid_argument("unknown SIMD level '" + name +
                              "'; valid levels are 'scalar', 'avx2', 'avx512'");
}

const KernelTable& kernels_for(SimdLevel level) {
#if defined(FASTINIT_HAVE_X86_TARGETS)
  if (level == SimdLevel::avx512) return kernels_avx512();
  if (level == SimdLevel::avx2) return kernels_avx2();
#else
  (void)level;
#endif
  return kernels_scalar();
}

}  // namespace fastinit
