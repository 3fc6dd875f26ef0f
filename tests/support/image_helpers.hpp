#pragma once
// Helpers shared by the image-group tests: the four pixel groups of docs/reference.mdmoving a
// batch of images the way the engine does, and central finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug::testing {

/// The image groups by their configuration names: the paper's four (Trans, OneDTrans,
/// Rot, TransRot) and the reflection groups.
struct PixelKind {
  const char* name;  // group.kind in the configuration files
  bool shift_x, shift_y, rotations;
  bool mirror = false;
};

inline const std::vector<PixelKind>& pixel_kinds() {
  static const std::vector<PixelKind> kinds = {
      {"translation2d", true, true, false},
      {"translation_x", true, false, false},
      {"rotation", false, false, true},
      {"translation_rotation", true, true, true},
      {"flip", false, false, false, true},
      {"dihedral", false, false, true, true},
      {"dihedral_translation", true, true, true, true},
  };
  return kinds;
}

inline GroupPtr make_pixel_group(const PixelKind& k, std::size_t side) {
  PixelGroupSpec s;
  s.side = side;
  s.shift_x = k.shift_x;
  s.shift_y = k.shift_y;
  s.rotations = k.rotations;
  s.mirror = k.mirror;
  return pixel_group(s);
}

/// x'[b, c, π(s)] = x[b, c, s]: how the engine moves a batch (row-major batch × C·S)
/// by the site permutation π.
inline std::vector<double> permute_sites(const Permutation& pi, const std::vector<double>& x, std::size_t batch,
                                         std::size_t channels) {
  const std::size_t S = pi.size();
  EXPECT_EQ(x.size(), batch * channels * S);
  std::vector<double> out(x.size());
  for (std::size_t bc = 0; bc < batch * channels; ++bc)
    for (std::size_t s = 0; s < S; ++s) out[bc * S + pi(s)] = x[bc * S + s];
  return out;
}

/// Central differences of f at x, one coordinate at a time (only those in `which`, or
/// all): the 3-point stencil (error O(h²)), or with `fourth_order` the 5-point one,
/// (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h)))/(12h), error O(h⁴).
inline std::vector<double> central_differences(const std::function<double(const std::vector<double>&)>& f,
                                               std::vector<double> x, double h,
                                               const std::vector<std::size_t>* which = nullptr,
                                               bool fourth_order = false) {
  std::vector<double> g(x.size(), 0.0);
  auto at = [&](std::size_t i, double x0, double step) {
    x[i] = x0 + step;
    const double v = f(x);
    x[i] = x0;
    return v;
  };
  auto one = [&](std::size_t i) {
    const double x0 = x[i];
    const double d1 = at(i, x0, h) - at(i, x0, -h);
    if (!fourth_order) {
      g[i] = d1 / (2 * h);
      return;
    }
    const double d2 = at(i, x0, 2 * h) - at(i, x0, -2 * h);
    g[i] = (8 * d1 - d2) / (12 * h);
  };
  if (which)
    for (std::size_t i : *which) one(i);
  else
    for (std::size_t i = 0; i < x.size(); ++i) one(i);
  return g;
}

/// |got − want| ≤ abs + rel·max(|got|, |want|) entry by entry (only `which`, or all);
/// returns the largest relative error among entries above 1000·abs (for reports).
inline double expect_all_close(const std::vector<double>& got, const std::vector<double>& want, double rel, double abs,
                               const std::string& what, const std::vector<std::size_t>* which = nullptr) {
  EXPECT_EQ(got.size(), want.size()) << what;
  if (got.size() != want.size()) return INFINITY;
  int failures = 0;
  double worst = 0.0;
  auto one = [&](std::size_t i) {
    const double scale = std::max(std::abs(got[i]), std::abs(want[i]));
    const double err = std::abs(got[i] - want[i]);
    if (scale > 1000 * abs) worst = std::max(worst, err / scale);
    if (!(err <= abs + rel * scale) && ++failures <= 10)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << got[i] << " vs numeric " << want[i];
  };
  if (which)
    for (std::size_t i : *which) one(i);
  else
    for (std::size_t i = 0; i < got.size(); ++i) one(i);
  EXPECT_EQ(failures, 0) << what;
  return worst;
}

}  // namespace eqaug::testing
