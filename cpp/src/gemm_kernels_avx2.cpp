// The avx2 GEMM target: gemm_kernels_impl.hpp compiled with this file's own ISA flags (CMakeLists.txt).
#define FASTINIT_GEMM_NS target_avx2
#define FASTINIT_GEMM_TARGET 1
#include "gemm_kernels_impl.hpp"

namespace fastinit {
namespace gemm {
const Table& table_avx2() { return target_avx2::table(); }
}  // namespace gemm
}  // namespace fastinit
