#include "eqaug/core/rng.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

namespace eqaug {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_purpose(std::string_view purpose) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : purpose) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

Rng Rng::stream(std::uint64_t seed, std::string_view purpose, std::initializer_list<std::uint64_t> keys) {
  std::uint64_t h = splitmix64(seed ^ splitmix64(hash_purpose(purpose)));
  for (std::uint64_t k : keys) h = splitmix64(h ^ splitmix64(k + 0x632be59bd9b4e019ULL));
  return Rng(h);
}

std::uint64_t Rng::below(std::uint64_t n) {
  if (n <= 1) return 0;
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 0.0);
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(t);
  has_spare_ = true;
  return r * std::cos(t);
}

std::vector<std::uint32_t> Rng::permutation(std::uint32_t n) {
  std::vector<std::uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  for (std::uint32_t i = n; i > 1; --i) {
    const auto j = static_cast<std::uint32_t>(below(i));
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

}  // namespace eqaug
