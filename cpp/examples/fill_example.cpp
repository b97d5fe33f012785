// fastinit from C++: fill buffers with fastinit::fill and check them against the raw Philox
// stream (fastinit::random_raw), which itself is checked against Random123's known answers.
// Built and run by CTest (cpp/examples/CMakeLists.txt); exits non-zero on any failure.
//
//   fastinit_fill_example [philox4x32_kat.txt]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastinit/fill.hpp"
#include "fastinit/simd.hpp"
#include "fastinit/thread_pool.hpp"

namespace {

int g_checks = 0, g_failures = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  }
}

struct Kat {
  std::uint32_t ctr[4], key[2], expected[4];
};

// Random123's kat_vectors for philox4x32 with 10 rounds (also in shared/reference/).
const Kat kInlineKats[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

// Counter (c0, c1, c2, c3) and key (k0, k1) in fastinit's terms (docs/stream.md): seed =
// k0 + 2^32 k1, block = c0 + 2^32 c1, stream = c2 + 2^32 (c3 & 0xffff), sub-stream = c3 >> 16.
bool kat_matches(const Kat& k) {
  fastinit::StreamId id;
  id.seed = k.key[0] | (std::uint64_t{k.key[1]} << 32);
  id.stream = k.ctr[2] | (std::uint64_t{k.ctr[3] & 0xffffu} << 32);
  const std::uint64_t block = k.ctr[0] | (std::uint64_t{k.ctr[1]} << 32);
  std::uint32_t out[4];
  fastinit::random_raw(out, 4, id, block, 0, k.ctr[3] >> 16);
  return std::memcmp(out, k.expected, sizeof(out)) == 0;
}

std::vector<Kat> read_kat_file(const char* path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot open ") + path);
  std::vector<Kat> kats;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string name;
    int rounds = 0;
    words >> name >> std::dec >> rounds;
    if (name != "philox4x32" || rounds != 10) continue;
    Kat k{};
    words >> std::hex;
    for (auto& w : k.ctr) words >> w;
    for (auto& w : k.key) words >> w;
    for (auto& w : k.expected) words >> w;
    if (!words) throw std::runtime_error("malformed line: " + line);
    kats.push_back(k);
  }
  return kats;
}

fastinit::FillLayout contiguous(float* data, std::int64_t n, std::uint64_t base_index = 0) {
  fastinit::FillLayout layout;
  layout.data = data;
  layout.dtype = fastinit::DType::float32;
  layout.shape = {n};
  layout.strides = {static_cast<std::int64_t>(sizeof(float))};
  layout.base_index = base_index;
  return layout;
}

// U[0, 1) in float32: element i is word i of the stream, top 24 bits (docs/stream.md).
void check_uniform_against_raw(std::uint64_t base_index, std::int64_t n, const char* what) {
  const fastinit::StreamId id{0x1234abcd5678ef90ull, 7};
  fastinit::DistParams p;
  p.kind = fastinit::Dist::uniform;
  p.loc = 0.0;
  p.scale = 1.0;
  std::vector<float> values(static_cast<std::size_t>(n));
  fastinit::fill(contiguous(values.data(), n, base_index), id, p);
  std::vector<std::uint32_t> words(static_cast<std::size_t>(n));
  fastinit::random_raw(words.data(), words.size(), id, base_index / 4,
                       static_cast<unsigned>(base_index % 4));
  std::int64_t bad = -1;
  for (std::int64_t i = 0; i < n && bad < 0; ++i) {
    const float expected = static_cast<float>(words[i] >> 8) * 0x1p-24f;
    if (std::memcmp(&values[i], &expected, sizeof(float)) != 0) bad = i;
  }
  check(bad < 0, std::string(what) + ": uniform value != (word >> 8) * 2^-24 at element " +
                     std::to_string(bad));
}

std::vector<float> normal_fill(std::int64_t n) {
  const fastinit::StreamId id{2024, 3};
  fastinit::DistParams p;
  p.kind = fastinit::Dist::normal;
  p.loc = 0.5;
  p.scale = 2.0;
  std::vector<float> values(static_cast<std::size_t>(n));
  fastinit::fill(contiguous(values.data(), n), id, p);
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  // 1. The generator: Random123's known answers.
  for (const Kat& k : kInlineKats) check(kat_matches(k), "inline philox4x32-10 known answer");
  if (argc > 1) {
    const std::vector<Kat> kats = read_kat_file(argv[1]);
    check(!kats.empty(), std::string("no philox4x32 10-round vectors in ") + argv[1]);
    for (const Kat& k : kats) check(kat_matches(k), std::string("known answer from ") + argv[1]);
  }

  // 2. Fills are the stream: at the start, at an odd length, and across the 2^32-block carry.
  check_uniform_against_raw(0, 4099, "start");
  check_uniform_against_raw((std::uint64_t{1} << 34) - 10, 64, "block counter carry");

  // 3. Every SIMD level and thread count gives the same bytes.
  const std::int64_t n = 1 << 18;
  const std::vector<float> reference = normal_fill(n);
  const int best = static_cast<int>(fastinit::detected_simd_level());
  for (int level = 0; level <= best; ++level) {
    fastinit::set_simd_level(static_cast<fastinit::SimdLevel>(level));
    for (int threads : {1, 3}) {
      fastinit::set_num_threads(threads);
      const std::vector<float> again = normal_fill(n);
      check(std::memcmp(again.data(), reference.data(), n * sizeof(float)) == 0,
            std::string("normal fill differs at SIMD level ") +
                fastinit::simd_level_name(static_cast<fastinit::SimdLevel>(level)) + " with " +
                std::to_string(threads) + " threads");
    }
  }
  double sum = 0.0, sum2 = 0.0;
  for (float v : reference) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // 2^18 draws: the standard errors of the mean and variance are 0.004 and 0.011.
  check(std::fabs(mean - 0.5) < 0.03 && std::fabs(var - 4.0) < 0.08,
        "normal(0.5, 2) moments: mean " + std::to_string(mean) + ", variance " +
            std::to_string(var));

  // 4. Bad input is an exception, not a write.
  std::vector<float> guard(8, -1.0f);
  fastinit::DistParams bad;
  bad.kind = fastinit::Dist::normal;
  bad.scale = -1.0;
  bool threw = false;
  try {
    fastinit::fill(contiguous(guard.data(), 8), {1, 0}, bad);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw && guard[0] == -1.0f, "a negative scale throws std::invalid_argument, writes nothing");
  fastinit::FillLayout shard = contiguous(guard.data(), 8);
  shard.global_shape = {10};
  shard.offset = {5};
  threw = false;
  try {
    fastinit::fill(shard, {1, 0}, fastinit::DistParams{});
  } catch (const std::out_of_range&) {
    threw = true;
  }
  check(threw && guard[0] == -1.0f, "a shard past the global extent throws std::out_of_range");

  std::printf("fastinit C++ example: %d checks, %d failed (SIMD level %s)\n", g_checks,
              g_failures, fastinit::simd_level_name(fastinit::detected_simd_level()));
  return g_failures == 0 ? 0 : 1;
}
