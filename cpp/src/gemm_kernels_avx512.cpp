// The avx512 GEMM target: gemm_kernels_impl.hpp compiled with this file's own ISA flags (CMakeLists.txt).
#define FASTINIT_GEMM_NS target_avx512
#define FASTINIT_GEMM_TARGET 2
#include "gemm_kernels_impl.hpp"

namespace fastinit {
namespace gemm {
const Table& table_avx512() { return target_avx512::table(); }
}  // namespace gemm
}  // namespace fastinit
