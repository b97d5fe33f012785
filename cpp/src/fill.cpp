// The fill driver: splits a (possibly strided, possibly sharded) array into rows of
// consecutive global indices, hands row pieces to the pool, and lets the kernels write
// straight into the array or, for strided or unaligned output, into a stage buffer it then
// scatters. Work is split by index, so
// neither the thread count nor the SIMD level can change a value.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fastinit/fill.hpp"
#include "fastinit/thread_pool.hpp"
#include "kernels.hpp"

namespace fastinit {
namespace {

// Elements per parallel task: large enough that scheduling costs nothing, small enough
// that two threads share the tail of a 1e6-element fill.
constexpr std::int64_t kTaskElements = std::int64_t{1} << 16;
// Below this, the caller fills alone: waking the pool costs more than it saves (issue 2:
// a 1000-element fill must cost about what NumPy's does).
constexpr std::int64_t kInlineElements = std::int64_t{1} << 15;
// A large contiguous fill is split at 2 MiB address boundaries instead, one task per huge
// page, when every thread gets at least kPageTasksPerThread of them: two threads writing into
// one untouched transparent huge page both take the page fault (the kernel may zero the page
// twice and drop one copy), and two threads faulting 4 KiB pages under one page-table page
// share its lock. Measured on a 1.3 GB float32 uniform_ into fresh memory, 2 threads, best of
// 10 alternating: 97 -> 84 ms with huge pages, 265 -> 253 ms without (docs/performance.md).
// Values do not move: a task boundary never changes which global index an element gets.
constexpr std::int64_t kPageBytes = std::int64_t{1} << 21;
constexpr std::int64_t kPageTasksPerThread = 4;
// Staging buffer for converted or strided output, on the stack of each task.
constexpr std::size_t kStage = 2048;

void check_finite(double v, const char* what) {
  if (!std::isfinite(v)) throw std::invalid_argument(std::string(what) + " must be finite");
}

void validate_params(const DistParams& p) {
  if (std::isnan(p.clamp_lo) || std::isnan(p.clamp_hi) || p.clamp_lo > p.clamp_hi) {
    throw std::invalid_argument("clamp bounds must satisfy clamp_lo <= clamp_hi");
  }
  switch (p.kind) {
    case Dist::constant:
      return;  // any value, NaN and infinities included, as torch.nn.init.constant_ allows
    case Dist::uniform:
    case Dist::normal:
      check_finite(p.loc, "loc");
      check_finite(p.scale, "scale");
      if (p.scale < 0) throw std::invalid_argument("scale must be >= 0");
      return;
    case Dist::truncated_normal:
      check_finite(p.loc, "loc");
      check_finite(p.scale, "scale");
      if (p.scale < 0) throw std::invalid_argument("scale must be >= 0");
      if (std::isnan(p.alpha) || std::isnan(p.beta) || !(p.alpha <= p.beta)) {
        throw std::invalid_argument("truncation bounds must satisfy alpha <= beta");
      }
      check_finite(p.mode, "mode");
      if (p.method == TruncMethod::exponential_rejection &&
          !(std::isfinite(p.alpha) && p.alpha >= 0 && p.lambda > 0 && std::isfinite(p.lambda))) {
        throw std::invalid_argument("exponential rejection needs finite alpha >= 0, lambda > 0");
      }
      if (p.method == TruncMethod::uniform_rejection &&
          !(std::isfinite(p.alpha) && std::isfinite(p.beta))) {
        throw std::invalid_argument("uniform rejection needs a finite interval");
      }
      if (p.method == TruncMethod::normal_rejection && p.flip) {
        throw std::invalid_argument("normal rejection never flips");
      }
      return;
  }
  throw std::invalid_argument("unknown distribution kind");
}

struct Plan {
  int ndim;
  std::int64_t shape[32], strides[32], global_start_stride[32], offset[32];
  std::int64_t row_len, rows, tasks_per_row;
  // Row pieces: the first covers [0, first_task), each later one task_len elements.
  std::int64_t first_task, task_len;
  std::uint64_t base;
};

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return 4;
    case DType::float64:
      return 8;
    case DType::float16:
    case DType::bfloat16:
      return 2;
  }
  throw std::invalid_argument("unknown dtype");
}

void fill(const FillLayout& layout, const StreamId& id, const DistParams& params) {
  validate_params(params);
  if (id.stream >= kStreamLimit) {
    throw std::invalid_argument("stream must be < 2**48 (the counter's top 16 bits are "
                                "reserved for sub-streams)");
  }
  const int ndim = static_cast<int>(layout.shape.size());
  if (ndim > 32) throw std::invalid_argument("at most 32 dimensions are supported");
  if (layout.strides.size() != layout.shape.size()) {
    throw std::invalid_argument("strides must have one entry per dimension");
  }
  const bool sharded = !layout.global_shape.empty();
  if (sharded && (layout.global_shape.size() != layout.shape.size() ||
                  layout.offset.size() != layout.shape.size())) {
    throw std::invalid_argument("global_shape and offset must have one entry per dimension");
  }
  Plan plan{};
  plan.ndim = ndim > 0 ? ndim : 1;
  std::int64_t n = 1;
  for (int k = 0; k < ndim; ++k) {
    const std::int64_t extent = layout.shape[k];
    if (extent < 0) throw std::invalid_argument("shape entries must be >= 0");
    const std::int64_t global = sharded ? layout.global_shape[k] : extent;
    const std::int64_t off = sharded ? layout.offset[k] : 0;
    if (off < 0 || global < 0 || off > global || extent > global - off) {
      throw std::out_of_range("dimension " + std::to_string(k) + ": offset " +
                              std::to_string(off) + " + local extent " + std::to_string(extent) +
                              " exceeds the global extent " + std::to_string(global));
    }
    plan.shape[k] = extent;
    plan.strides[k] = layout.strides[k];
    plan.offset[k] = off;
    n *= extent;
  }
  if (ndim == 0) {
    plan.shape[0] = 1;
    plan.strides[0] = 0;
    plan.offset[0] = 0;
  }
  if (n == 0) return;
  // Global C-order strides (in elements); the global size must fit the 64-bit index space.
  // (running * global > 2**62 is tested as running > 2**62 / global: no 128-bit integers,
  // which MSVC lacks; global >= 1 here since n > 0.)
  constexpr std::uint64_t kMaxGlobal = std::uint64_t{1} << 62;
  std::uint64_t running = 1;
  for (int k = plan.ndim - 1; k >= 0; --k) {
    plan.global_start_stride[k] = static_cast<std::int64_t>(running);
    const std::int64_t global = (sharded && ndim > 0) ? layout.global_shape[k] : plan.shape[k];
    const auto g = static_cast<std::uint64_t>(global);
    if (g != 0 && running > kMaxGlobal / g) {
      throw std::out_of_range("the global tensor has more than 2**62 elements");
    }
    running *= g;
  }
  plan.base = layout.base_index;

  const std::int64_t itemsize = static_cast<std::int64_t>(dtype_size(layout.dtype));
  const int last = plan.ndim - 1;
  // A C-contiguous block that spans every dimension but the first is one run of global indices.
  bool one_run = true;
  std::int64_t expect = itemsize;
  for (int k = last; k >= 0; --k) {
    if (plan.shape[k] != 1 && plan.strides[k] != expect) one_run = false;
    if (k > 0 && sharded && (plan.offset[k] != 0 || plan.shape[k] != layout.global_shape[k])) {
      one_run = false;
    }
    expect *= plan.shape[k];
  }
  if (one_run) {
    plan.base += static_cast<std::uint64_t>(plan.offset[0] * plan.global_start_stride[0]);
    plan.ndim = 1;
    plan.shape[0] = n;
    plan.strides[0] = itemsize;
    plan.offset[0] = 0;
    plan.global_start_stride[0] = 1;
  }
  const int row_dim = plan.ndim - 1;
  plan.row_len = plan.shape[row_dim];
  plan.rows = n / plan.row_len;
  plan.first_task = plan.task_len = kTaskElements;
  const auto address = reinterpret_cast<std::uintptr_t>(layout.data);
  const std::int64_t page_elems = kPageBytes / itemsize;
  if (plan.rows == 1 && plan.strides[row_dim] == itemsize && address % itemsize == 0 &&
      n / page_elems >= kPageTasksPerThread * get_num_threads()) {
    const auto into_page = static_cast<std::int64_t>(address % kPageBytes);
    plan.task_len = page_elems;
    plan.first_task = into_page == 0 ? page_elems : (kPageBytes - into_page) / itemsize;
  }
  plan.tasks_per_row =
      plan.row_len <= plan.first_task
          ? 1
          : 1 + (plan.row_len - plan.first_task + plan.task_len - 1) / plan.task_len;

  const KernelTable& kt = kernels_for(active_simd_level());
  KernelArgs args{};
  args.round_keys = round_keys(key_from_seed(id.seed));
  args.stream_lo = static_cast<std::uint32_t>(id.stream);
  args.stream_hi = static_cast<std::uint32_t>(id.stream >> 32);
  args.params = params;
  char* const data = static_cast<char*>(layout.data);
  const DType dtype = layout.dtype;

  auto run_task = [&](std::size_t task) {
    const std::int64_t row = static_cast<std::int64_t>(task) / plan.tasks_per_row;
    const std::int64_t piece = static_cast<std::int64_t>(task) % plan.tasks_per_row;
    std::int64_t rem = row, byte_off = 0;
    std::uint64_t global = plan.base;
    for (int k = row_dim - 1; k >= 0; --k) {
      const std::int64_t idx = rem % plan.shape[k];
      rem /= plan.shape[k];
      byte_off += idx * plan.strides[k];
      global += static_cast<std::uint64_t>((plan.offset[k] + idx) * plan.global_start_stride[k]);
    }
    const std::int64_t c0 = piece == 0 ? 0 : plan.first_task + (piece - 1) * plan.task_len;
    const std::int64_t len = piece == 0 ? plan.first_task : plan.task_len;
    const std::int64_t c1 = len < plan.row_len - c0 ? c0 + len : plan.row_len;
    const std::int64_t stride = plan.strides[row_dim];
    global += static_cast<std::uint64_t>(plan.offset[row_dim] + c0);
    char* out = data + byte_off + c0 * stride;
    std::size_t count = static_cast<std::size_t>(c1 - c0);
    // The kernels store whole floats/doubles/16-bit words: straight into the array only when
    // it is aligned for them (NumPy allows unaligned arrays, e.g. a view at an odd byte offset);
    // otherwise through the aligned stage buffer and memcpy below (same values).
    const bool aligned = reinterpret_cast<std::uintptr_t>(out) % static_cast<std::uintptr_t>(itemsize) == 0;
    if (dtype == DType::float32 && stride == 4 && aligned) {
      kt.generate_f32(args, global, count, reinterpret_cast<float*>(out));
      return;
    }
    if (dtype == DType::float64 && stride == 8 && aligned) {
      kt.generate_f64(args, global, count, reinterpret_cast<double*>(out));
      return;
    }
    if ((dtype == DType::float16 || dtype == DType::bfloat16) && stride == 2 && aligned) {
      auto* dst = reinterpret_cast<std::uint16_t*>(out);
      if (dtype == DType::float16) {
        kt.generate_f16(args, global, count, dst);
      } else {
        kt.generate_bf16(args, global, count, dst);
      }
      return;
    }
    alignas(64) unsigned char stage[kStage * 8];
    while (count > 0) {
      const std::size_t m = count < kStage ? count : kStage;
      switch (dtype) {
        case DType::float64:
          kt.generate_f64(args, global, m, reinterpret_cast<double*>(stage));
          break;
        case DType::float32:
          kt.generate_f32(args, global, m, reinterpret_cast<float*>(stage));
          break;
        case DType::float16:
          kt.generate_f16(args, global, m, reinterpret_cast<std::uint16_t*>(stage));
          break;
        case DType::bfloat16:
          kt.generate_bf16(args, global, m, reinterpret_cast<std::uint16_t*>(stage));
          break;
      }
      const unsigned char* src = stage;
      if (stride == itemsize) {
        std::memcpy(out, src, m * static_cast<std::size_t>(itemsize));
      } else {
        for (std::size_t j = 0; j < m; ++j) {
          std::memcpy(out + static_cast<std::int64_t>(j) * stride, src + j * itemsize,
                      static_cast<std::size_t>(itemsize));
        }
      }
      out += static_cast<std::int64_t>(m) * stride;
      global += m;
      count -= m;
    }
  };

  const std::size_t n_tasks = static_cast<std::size_t>(plan.rows * plan.tasks_per_row);
  if (n < kInlineElements) {
    for (std::size_t t = 0; t < n_tasks; ++t) run_task(t);
  } else {
    parallel_for(n_tasks, run_task);
  }
}

void random_raw(std::uint32_t* out, std::size_t count, const StreamId& id,
                std::uint64_t first_block, unsigned phase, std::uint32_t sub_stream) {
  if (id.stream >= kStreamLimit) throw std::invalid_argument("stream must be < 2**48");
  if (sub_stream > 0xFFFF) throw std::invalid_argument("sub_stream must be < 2**16");
  if (phase > 3) throw std::invalid_argument("phase must be < 4");
  if (count == 0) return;
  const KernelTable& kt = kernels_for(active_simd_level());
  const PhiloxKey key = key_from_seed(id.seed);
  const std::uint32_t c2 = static_cast<std::uint32_t>(id.stream);
  const std::uint32_t c3 = static_cast<std::uint32_t>(id.stream >> 32) | (sub_stream << 16);
  if (phase != 0) {  // the rest of the first block
    std::uint32_t block[4];
    kt.raw_blocks(key, c2, c3, first_block, 1, block);
    const std::size_t take = count < 4 - phase ? count : 4 - phase;
    std::memcpy(out, block + phase, take * sizeof(std::uint32_t));
    out += take;
    count -= take;
    first_block += 1;
  }
  const std::size_t whole = count / 4;
  const std::size_t per_task = static_cast<std::size_t>(kTaskElements) / 4;
  const std::size_t n_tasks = (whole + per_task - 1) / per_task;
  auto run_task = [&](std::size_t t) {
    const std::size_t begin = t * per_task;
    const std::size_t m = whole - begin < per_task ? whole - begin : per_task;
    kt.raw_blocks(key, c2, c3, first_block + begin, m, out + 4 * begin);
  };
  if (count < static_cast<std::size_t>(kInlineElements)) {
    for (std::size_t t = 0; t < n_tasks; ++t) run_task(t);
  } else {
    parallel_for(n_tasks, run_task);
  }
  if (count % 4 != 0) {
    std::uint32_t block[4];
    kt.raw_blocks(key, c2, c3, first_block + whole, 1, block);
    std::memcpy(out + 4 * whole, block, (count % 4) * sizeof(std::uint32_t));
  }
}

}  // namespace fastinit
