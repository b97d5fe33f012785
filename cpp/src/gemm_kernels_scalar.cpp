// The scalar GEMM target: gemm_kernels_impl.hpp compiled with this file's own ISA flags (CMakeLists.txt).
#define FASTINIT_GEMM_NS target_scalar
#define FASTINIT_GEMM_TARGET 0
#include "gemm_kernels_impl.hpp"

namespace fastinit {
namespace gemm {
const Table& table_scalar() { return target_scalar::table(); }
}  // namespace gemm
}  // namespace fastinit
