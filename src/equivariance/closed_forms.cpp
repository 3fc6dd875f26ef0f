#include "eqaug/equivariance/closed_forms.hpp"

#include <vector>

namespace eqaug {

std::size_t bell_number(std::size_t m) {
  // The Bell triangle: each row starts with the previous row's last entry.
  std::vector<std::size_t> row = {1};
  for (std::size_t i = 0; i < m; ++i) {
    std::vector<std::size_t> next = {row.back()};
    for (std::size_t v : row) next.push_back(next.back() + v);
    row = std::move(next);
  }
  return row.front();
}

std::optional<std::size_t> closed_form_orbits(const GroupFamily& g, std::size_t out, std::size_t in) {
  using K = GroupFamily::Kind;
  if (g.kind == K::Symmetric) {
    if (g.size < out + in || out + in > 25) return std::nullopt;
    return bell_number(out + in);
  }
  if (out > 1 || in > 1) return std::nullopt;
  const std::size_t N = g.size, N2 = N * N;
  const bool odd = N % 2 == 1;
  if (out == 0 && in == 0) return 1;
  if (out == 1 && in == 1) {
    switch (g.kind) {
      case K::Translation2D:
        return N2;  // circular convolutions
      case K::TranslationX:
        return N2 * N;  // convolution in x, dense in y
      case K::Rotation:
        return odd ? (N2 * N2 + 3) / 4 : N2 * N2 / 4;  // the centre pair is fixed
      case K::TranslationRotation:
        return odd ? (N2 + 3) / 4 : (N2 + 8) / 4;  // rotation orbits of offsets
      default:
        return std::nullopt;
    }
  }
  // Pixels → the trivial site, or back: the orbits of pixels.
  switch (g.kind) {
    case K::Translation2D:
      return 1;
    case K::TranslationX:
      return N;  // one per row
    case K::Rotation:
      return odd ? (N2 + 3) / 4 : N2 / 4;
    case K::TranslationRotation:
      return 1;
    default:
      return std::nullopt;
  }
}

std::optional<GroupFamily> group_family(const std::string& kind, std::size_t size) {
  using K = GroupFamily::Kind;
  if (kind == "symmetric") return GroupFamily{K::Symmetric, size};
  if (kind == "translation2d") return GroupFamily{K::Translation2D, size};
  if (kind == "translation_x") return GroupFamily{K::TranslationX, size};
  if (kind == "rotation") return GroupFamily{K::Rotation, size};
  if (kind == "translation_rotation") return GroupFamily{K::TranslationRotation, size};
  return std::nullopt;
}

}  // namespace eqaug
