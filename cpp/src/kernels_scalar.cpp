// The scalar target: kernels_impl.hpp compiled with 1 lane(s).
#define FASTINIT_TARGET_NS target_scalar
#define FASTINIT_LANES 1  // the reference: plain scalar code, no vector types
#include "kernels_impl.hpp"

namespace fastinit {
const KernelTable& kernels_scalar() { return target_scalar::table(); }
}  // namespace fastinit
