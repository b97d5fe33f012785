// The fastinit core's public fill API: pointer + shape + strides + key + global position.
// No pybind11, no vector types in signatures. See docs/stream.md for the value contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace fastinit {

enum class DType : int { float32 = 0, float64 = 1, float16 = 2, bfloat16 = 3 };

std::size_t dtype_size(DType dtype);

enum class Dist : int { uniform = 0, normal = 1, truncated_normal = 2, constant = 3 };

// How a truncated normal draws its candidates (docs/stream.md, "truncated normal").
enum class TruncMethod : int {
  normal_rejection = 0,       // attempt 0 is the element's own normal value
  exponential_rejection = 1,  // Robert (1995) translated-exponential proposal, alpha >= 0
  uniform_rejection = 2,      // uniform proposal on [alpha, beta], for narrow intervals
};

// Highest sub-stream tag usable by truncated-normal retries; tags above it are reserved for
// auxiliary streams (e.g. sparse_'s choice of zeros).
inline constexpr std::uint32_t kMaxTruncAttempts = 0x7FFF;
inline constexpr std::uint64_t kStreamLimit = std::uint64_t{1} << 48;

struct DistParams {
  Dist kind = Dist::uniform;
  // uniform: value = loc + scale * u;  normal: value = loc + scale * z;
  // truncated_normal: value = loc + scale * x with x the standardized draw;  constant: loc.
  double loc = 0.0;
  double scale = 1.0;
  // truncated_normal only, in standardized units (after the optional flip x -> -x).
  TruncMethod method = TruncMethod::normal_rejection;
  double alpha = 0.0;
  double beta = 0.0;
  double lambda = 0.0;  // exponential rate for exponential_rejection
  double mode = 0.0;    // the point of [alpha, beta] nearest 0, for uniform_rejection
  bool flip = false;
  // Every output is clamped into [clamp_lo, clamp_hi] in the compute precision; the caller
  // passes bounds representable in the output dtype so that rounding cannot leave them.
  double clamp_lo = -std::numeric_limits<double>::infinity();
  double clamp_hi = std::numeric_limits<double>::infinity();
};

// Where the filled block sits in the global tensor: global index of local element
// (l_0, ..., l_{d-1}) is sum_k (offset_k + l_k) * prod(global_shape[k+1:]).
struct FillLayout {
  void* data = nullptr;
  DType dtype = DType::float32;
  std::vector<std::int64_t> shape;          // local shape
  std::vector<std::int64_t> strides;        // local strides, in bytes (may be negative)
  std::vector<std::int64_t> global_shape;   // empty: same as shape
  std::vector<std::int64_t> offset;         // empty: zeros
  std::uint64_t base_index = 0;             // added to every global index
};

struct StreamId {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;  // < kStreamLimit; the top 16 bits of the counter are sub-stream tags
};

// Validates parameters (std::invalid_argument) and layout (std::out_of_range), then fills.
void fill(const FillLayout& layout, const StreamId& id, const DistParams& params);

// The raw words of stream `id`, starting at word 4 * first_block + phase (phase < 4): the
// contract's ground truth. Word w is word w % 4 of block w / 4; the block index wraps at 2^64.
// `sub_stream` selects the top-16-bit counter tag (0 = the main stream).
void random_raw(std::uint32_t* out, std::size_t count, const StreamId& id,
                std::uint64_t first_block, unsigned phase, std::uint32_t sub_stream = 0);

}  // namespace fastinit
