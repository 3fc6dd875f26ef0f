#pragma once
// The statistics of the ablation tables (`eqaug report` on a study): a paired bootstrap
// confidence interval for a ratio of medians, and the Mann–Whitney rank test.
#include <cstdint>
#include <vector>

namespace eqaug::report {

struct RatioEstimate {
  double ratio;      // median(num) / median(den) over the paired values
  double low, high;  // percentile bootstrap interval (2.5 %, 97.5 % for level 0.95)
  int pairs = 0;     // pairs used (both values finite)
};

/// median(num) / median(den) and its percentile bootstrap interval: `resamples` draws of the
/// pairs (num[i], den[i]) with replacement (one run keeps its Aug and Nom together), from
/// core::Rng(seed), so the interval is reproducible. Pairs with a NaN are left out; no
/// pairs (or a zero median of den) gives NaN.
RatioEstimate bootstrap_ratio_of_medians(const std::vector<double>& num, const std::vector<double>& den,
                                         int resamples = 10000, double level = 0.95, std::uint64_t seed = 1);

struct RankTest {
  double u = 0;        // Mann–Whitney U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties 1/2
  double p = 1;        // two-sided p-value
  bool exact = false;  // the exact null distribution (no ties, n_a·n_b ≤ 10⁴); else normal with ties
                       // and continuity corrected
};

/// The two-sided Mann–Whitney U test of a against b (NaNs left out). With fewer than one
/// value in either sample, p = NaN.
RankTest mann_whitney(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace eqaug::report
