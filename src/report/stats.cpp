#include "eqaug/report/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "eqaug/core/rng.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> finite(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (!std::isnan(x)) out.push_back(x);
  return out;
}

// The q-quantile of sorted values, numpy's linear rule (as describe()).
double quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

double median_of(std::vector<double> v) { return describe(std::move(v)).median; }

// P(U ≤ u) under the null without ties: the number of arrangements with U = k, counted by
// the recursion f(m, n, k) = f(m − 1, n, k − n) + f(m, n − 1, k), over C(m + n, m).
double exact_cdf(std::size_t m, std::size_t n, double u) {
  // f[j][k] for the current m' and every n' ≤ n, k ≤ m'·n'.
  const std::size_t kmax = m * n;
  std::vector<std::vector<double>> f(n + 1, std::vector<double>(kmax + 1, 0.0));
  for (std::size_t j = 0; j <= n; ++j) f[j][0] = 1;  // m' = 0: U = 0 only
  for (std::size_t i = 1; i <= m; ++i) {
    std::vector<std::vector<double>> g(n + 1, std::vector<double>(kmax + 1, 0.0));
    g[0][0] = 1;  // n' = 0: U = 0 only
    for (std::size_t j = 1; j <= n; ++j)
      for (std::size_t k = 0; k <= i * j; ++k) g[j][k] = (k >= j ? f[j][k - j] : 0.0) + g[j - 1][k];
    f = std::move(g);
  }
  double total = 0, below = 0;
  for (std::size_t k = 0; k <= kmax; ++k) {
    total += f[n][k];
    if (static_cast<double>(k) <= u + 1e-9) below += f[n][k];
  }
  return below / total;
}

}  // namespace

RatioEstimate bootstrap_ratio_of_medians(const std::vector<double>& num, const std::vector<double>& den, int resamples,
                                         double level, std::uint64_t seed) {
  std::vector<std::pair<double, double>> pairs;
  for (std::size_t i = 0; i < std::min(num.size(), den.size()); ++i)
    if (!std::isnan(num[i]) && !std::isnan(den[i])) pairs.emplace_back(num[i], den[i]);
  RatioEstimate r{kNaN, kNaN, kNaN, static_cast<int>(pairs.size())};
  if (pairs.empty()) return r;
  const auto ratio = [](const std::vector<std::pair<double, double>>& p) {
    std::vector<double> a, b;
    for (const auto& [x, y] : p) {
      a.push_back(x);
      b.push_back(y);
    }
    const double d = median_of(b);
    return d == 0 ? kNaN : median_of(a) / d;
  };
  r.ratio = ratio(pairs);
  Rng rng(seed);
  std::vector<double> draws;
  std::vector<std::pair<double, double>> sample(pairs.size());
  for (int b = 0; b < resamples; ++b) {
    for (auto& s : sample) s = pairs[rng.below(pairs.size())];
    const double v = ratio(sample);
    if (!std::isnan(v)) draws.push_back(v);
  }
  if (draws.empty()) return r;
  std::sort(draws.begin(), draws.end());
  r.low = quantile(draws, (1 - level) / 2);
  r.high = quantile(draws, 1 - (1 - level) / 2);
  return r;
}

RankTest mann_whitney(const std::vector<double>& a_in, const std::vector<double>& b_in) {
  const auto a = finite(a_in), b = finite(b_in);
  RankTest t;
  if (a.empty() || b.empty()) {
    t.p = kNaN;
    return t;
  }
  bool ties = false;
  for (double x : a)
    for (double y : b) {
      if (x > y) t.u += 1;
      if (x == y) {
        t.u += 0.5;
        ties = true;
      }
    }
  // Ties within a sample matter for the variance too.
  std::vector<double> all(a);
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  double tie_term = 0;  // Σ (t³ − t) over groups of equal values
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j] == all[i]) ++j;
    const double n_tied = static_cast<double>(j - i);
    if (n_tied > 1) ties = true;
    tie_term += n_tied * n_tied * n_tied - n_tied;
    i = j;
  }
  const double m = static_cast<double>(a.size()), n = static_cast<double>(b.size());
  const double mean = m * n / 2;
  if (!ties && a.size() * b.size() <= 10000) {
    t.exact = true;
    // Two-sided: twice the smaller tail, the distribution being symmetric about m·n/2.
    const double low = std::min(t.u, m * n - t.u);
    t.p = std::min(1.0, 2 * exact_cdf(a.size(), b.size(), low));
    return t;
  }
  const double N = m + n;
  const double var = m * n / 12 * ((N + 1) - tie_term / (N * (N - 1)));
  if (!(var > 0)) {
    t.p = 1;
    return t;
  }
  const double z = std::max(0.0, std::abs(t.u - mean) - 0.5) / std::sqrt(var);
  t.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return t;
}

}  // namespace eqaug::report
