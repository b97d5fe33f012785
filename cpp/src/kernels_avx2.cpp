// The avx2 target: kernels_impl.hpp compiled with 8 lane(s) and this file's own ISA flags (CMakeLists.txt).
#define FASTINIT_TARGET_NS target_avx2
#define FASTINIT_LANES 8
#include "kernels_impl.hpp"

namespace fastinit {
const KernelTable& kernels_avx2() { return target_avx2::table(); }
}  // namespace fastinit
