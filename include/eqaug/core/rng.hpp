#pragma once
// Random streams. Every stream is derived from (seed, run, purpose, index...) by
// hashing, so a run draws the same numbers alone or inside a sweep, whatever the
// thread count. The engine (mt19937_64) is fully specified by the standard; the
// distributions are our own because std::normal_distribution & co. are not portable.
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string_view>
#include <vector>

namespace eqaug {

std::uint64_t splitmix64(std::uint64_t x);
std::uint64_t hash_purpose(std::string_view purpose);

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Independent stream for (seed, purpose, k1, k2, ...).
  static Rng stream(std::uint64_t seed, std::string_view purpose, std::initializer_list<std::uint64_t> keys = {});

  std::uint64_t next_u64() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n), unbiased (rejection).
  std::uint64_t below(std::uint64_t n);
  /// Standard normal (Box–Muller, both values used).
  double normal();
  bool bernoulli(double p) { return uniform() < p; }
  /// Uniformly random permutation of 0..n-1 (Fisher–Yates).
  std::vector<std::uint32_t> permutation(std::uint32_t n);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace eqaug
