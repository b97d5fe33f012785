// The per-target kernel table. Each SIMD target compiles kernels_impl.hpp in its own
// namespace with its own flags; only pointers and counts cross this boundary.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastinit/fill.hpp"
#include "fastinit/philox.hpp"
#include "fastinit/simd.hpp"

namespace fastinit {

// Everything a kernel needs, precomputed once per fill.
struct KernelArgs {
  RoundKeys round_keys;  // round_keys(key_from_seed(seed))
  std::uint32_t stream_lo, stream_hi;  // counter words 2 and 3 of the main stream
  DistParams params;
};

struct KernelTable {
  // Values of global elements [first, first + n) in float32 / float64 compute precision.
  void (*generate_f32)(const KernelArgs&, std::uint64_t first, std::size_t n, float* out);
  void (*generate_f64)(const KernelArgs&, std::uint64_t first, std::size_t n, double* out);
  // float16 / bfloat16 bits: the float32 values rounded to nearest even (docs/stream.md).
  void (*generate_f16)(const KernelArgs&, std::uint64_t first, std::size_t n, std::uint16_t* out);
  void (*generate_bf16)(const KernelArgs&, std::uint64_t first, std::size_t n, std::uint16_t* out);
  // Words of whole blocks [first_block, first_block + n_blocks), block after block.
  void (*raw_blocks)(PhiloxKey key, std::uint32_t c2, std::uint32_t c3, std::uint64_t first_block,
                     std::size_t n_blocks, std::uint32_t* out);
};

const KernelTable& kernels_scalar();
#if defined(FASTINIT_HAVE_X86_TARGETS)
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();
#endif
const KernelTable& kernels_for(SimdLevel level);

}  // namespace fastinit
