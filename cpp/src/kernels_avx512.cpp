// The avx512 target: kernels_impl.hpp compiled with 16 lane(s) and this file's own ISA flags (CMakeLists.txt).
#define FASTINIT_TARGET_NS target_avx512
#define FASTINIT_LANES 16
#include "kernels_impl.hpp"

namespace fastinit {
const KernelTable& kernels_avx512() { return target_avx512::table(); }
}  // namespace fastinit
