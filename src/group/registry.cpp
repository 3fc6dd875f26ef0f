#include "eqaug/group/registry.hpp"

#include <algorithm>
#include <limits>

#include "eqaug/core/error.hpp"

namespace eqaug {

using nlohmann::json;

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

namespace {

// The smaller members `eqaug check` uses: enumerable groups (S_5: 120 elements; an image
// group on 5×5 pixels: at most 200).
constexpr std::size_t kCheckNodes = 5, kCheckSide = 5;
// A generated group keeps every element: at most this many pixel-map entries in all.
constexpr std::uint64_t kGeneratedEntries = std::uint64_t{1} << 26;

// ---- S_n on graph nodes --------------------------------------------------------------

GroupKind symmetric_kind() {
  GroupKind k;
  k.name = "symmetric";
  k.summary = "S_n permuting the n graph nodes (Perm); `group.n`.";
  k.parse = [](Fields& f, json& out) { out["n"] = f.count("n", 1); };
  k.base = [](const json&) { return BasePoints::Nodes; };
  k.build = [](const json& g) { return symmetric_group(g.at("n").get<std::size_t>()); };
  k.closed_form = [](const json& g, std::size_t out, std::size_t in) -> std::optional<std::size_t> {
    // Orbits of (k + l)-tuples of nodes under S_n: their equality patterns, where n ≥ k + l.
    if (g.at("n").get<std::size_t>() < out + in || out + in > 25) return std::nullopt;
    return bell_number(out + in);
  };
  k.reduce = [](const json& g, std::string& note) {
    json r = g;
    const auto n = g.at("n").get<std::size_t>();
    if (n > kCheckNodes) {
      note = "S_" + std::to_string(n) + " -> S_" + std::to_string(kCheckNodes) + " (enumerable)";
      r["n"] = kCheckNodes;
    }
    return r;
  };
  return k;
}

// ---- groups of N×N pixels -------------------------------------------------------------

void parse_side(Fields& f, json& out) {
  const auto side = f.count("side", 1);
  if (side > 1024) f.fail(f.at("side"), "images larger than 1024x1024 are not supported");
  out["side"] = side;
}

json reduce_side(const json& g, std::string& note) {
  json r = g;
  const auto side = g.at("side").get<std::size_t>();
  if (side > kCheckSide) {
    note = "side " + std::to_string(side) + " -> " + std::to_string(kCheckSide);
    r["side"] = kCheckSide;
  }
  return r;
}

/// Orbits of pixel pairs (1 → 1) and of pixels (1 → 0 and 0 → 1) for side N.
using PixelOrbits = std::size_t (*)(std::size_t N);

GroupKind pixel_kind(std::string name, std::string summary, PixelGroupSpec spec, PixelOrbits pairs,
                     PixelOrbits pixels) {
  GroupKind k;
  k.name = std::move(name);
  k.summary = std::move(summary);
  k.parse = parse_side;
  k.base = [](const json&) { return BasePoints::Pixels; };
  k.build = [spec](const json& g) {
    PixelGroupSpec s = spec;
    s.side = g.at("side").get<std::size_t>();
    return pixel_group(s);
  };
  k.closed_form = [pairs, pixels](const json& g, std::size_t out, std::size_t in) -> std::optional<std::size_t> {
    const auto N = g.at("side").get<std::size_t>();
    if (out > 1 || in > 1) return std::nullopt;
    if (out == 0 && in == 0) return 1;
    return out == 1 && in == 1 ? pairs(N) : pixels(N);
  };
  k.reduce = reduce_side;
  return k;
}

// Closed forms by Burnside's lemma (orbits = mean over g of the fixed points); o = N mod 2
// counts the centre (pixel or pixel row/column) of an odd image.
std::size_t sq(std::size_t x) { return x * x; }

std::size_t trans_pairs(std::size_t N) { return N * N; }  // circular convolutions
std::size_t one_orbit(std::size_t) { return 1; }
std::size_t transx_pairs(std::size_t N) { return N * N * N; }  // convolution in x, dense in y
std::size_t transx_pixels(std::size_t N) { return N; }         // one per row
std::size_t rot_pairs(std::size_t N) { return N % 2 ? (sq(N * N) + 3) / 4 : sq(N * N) / 4; }  // the centre is fixed
std::size_t rot_pixels(std::size_t N) { return N % 2 ? (N * N + 3) / 4 : N * N / 4; }
std::size_t transrot_pairs(std::size_t N) { return N % 2 ? (N * N + 3) / 4 : (N * N + 8) / 4; }  // C_4 on offsets
// The mirror fixes the middle column of an odd image: N·o pixels, (N·o)² pairs.
std::size_t flip_pairs(std::size_t N) { return (sq(N * N) + sq(N * (N % 2))) / 2; }
std::size_t flip_pixels(std::size_t N) { return (N * N + N * (N % 2)) / 2; }
// D_4: three rotations fix o pixels, two axis mirrors N·o, two diagonal mirrors N.
std::size_t dihedral_pairs(std::size_t N) {
  const std::size_t o = N % 2;
  return (sq(N * N) + 3 * o + 2 * sq(N * o) + 2 * N * N) / 8;
}
std::size_t dihedral_pixels(std::size_t N) {
  const std::size_t o = N % 2;
  return (N * N + 3 * o + 2 * N * o + 2 * N) / 8;
}
// p4m: D_4 on the offsets Z_N². Fixed offsets: quarter turns 2 − o, the half turn 4 − 3o,
// axis mirrors N(2 − o), diagonal mirrors N.
std::size_t dihedral_translation_pairs(std::size_t N) {
  return N % 2 ? (N * N + 4 * N + 3) / 8 : (N * N + 6 * N + 8) / 8;
}

// ---- a group given by its generators --------------------------------------------------

GroupKind generated_kind() {
  GroupKind k;
  k.name = "generated";
  k.summary =
      "the group generated by `group.generators`, permutations of the base points (`group.acts_on`: graph nodes, "
      "or the pixels of a `group.side` × `group.side` image, pixel index row·N + col).";
  k.parse = [](Fields& f, json& out) {
    const auto acts_on = f.str("acts_on", "pixels");
    std::size_t degree = 0;
    if (acts_on == "pixels") {
      parse_side(f, out);
      degree = out["side"].get<std::size_t>() * out["side"].get<std::size_t>();
    } else if (acts_on != "nodes") {
      f.fail(f.at("acts_on"), "expected \"pixels\" or \"nodes\", found '" + acts_on + "'");
    }
    out["acts_on"] = acts_on;
    const json& gens = f.list("generators");
    if (!gens.is_array() || gens.empty())
      f.fail(f.at("generators"), "expected a non-empty list of permutations, e.g. [[1, 0, 2], [0, 2, 1]]");
    for (std::size_t i = 0; i < gens.size(); ++i) {
      const std::string where = f.at("generators") + "[" + std::to_string(i) + "]";
      const json& p = gens[i];
      if (!p.is_array() || p.empty()) f.fail(where, "expected a list of point indices");
      if (degree == 0) degree = p.size();
      if (p.size() != degree)
        f.fail(where, "has " + std::to_string(p.size()) + " entries, expected " + std::to_string(degree) +
                          (acts_on == "pixels" ? " (side x side pixels)" : " (as the first generator)"));
      std::vector<bool> hit(degree, false);
      for (std::size_t j = 0; j < degree; ++j) {
        const json& x = p[j];
        if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::uint64_t>() >= degree)
          f.fail(where, "entry " + std::to_string(j) + " is " + x.dump() + ", expected an integer in 0 … " +
                            std::to_string(degree - 1));
        if (hit[x.get<std::size_t>()])
          f.fail(where, "is not a permutation: " + x.dump() + " appears twice (entries are the images g(i) of the "
                        "points i = 0, 1, …)");
        hit[x.get<std::size_t>()] = true;
      }
    }
    out["generators"] = gens;
  };
  k.base = [](const json& g) { return g.at("acts_on") == "nodes" ? BasePoints::Nodes : BasePoints::Pixels; };
  k.build = [](const json& g) {
    std::vector<Permutation> gens;
    for (const auto& p : g.at("generators")) gens.emplace_back(p.get<std::vector<std::uint32_t>>());
    const std::uint64_t degree = gens.front().size();
    const std::uint64_t limit = std::max<std::uint64_t>(1, kGeneratedEntries / degree);
    std::string name = "generated group on ";
    name += g.at("acts_on") == "pixels" ? std::to_string(g.at("side").get<std::size_t>()) + "x" +
                                              std::to_string(g.at("side").get<std::size_t>()) + " pixels"
                                        : std::to_string(degree) + " nodes";
    try {
      return generated_group(name, std::move(gens), limit);
    } catch (const Error& e) {
      throw Error(std::string("group.generators: ") + e.what() + " (a generated group keeps every element: at most " +
                  std::to_string(limit) + " on " + std::to_string(degree) + " points)");
    }
  };
  k.closed_form = [](const json&, std::size_t, std::size_t) -> std::optional<std::size_t> { return std::nullopt; };
  k.reduce = [](const json& g, std::string& note) {
    note = "";
    return g;
  };
  return k;
}

std::vector<GroupKind> make_kinds() {
  std::vector<GroupKind> k;
  k.push_back(symmetric_kind());
  k.push_back(pixel_kind("translation2d", "Z_N² circular shifts of N×N pixels (Trans).", {0, true, true, false, false},
                         trans_pairs, one_orbit));
  k.push_back(pixel_kind("translation_x", "Z_N circular shifts along x (OneDTrans).", {0, true, false, false, false},
                         transx_pairs, transx_pixels));
  k.push_back(pixel_kind("rotation", "C_4, rotations by 90° about the image centre (Rot).",
                         {0, false, false, true, false}, rot_pairs, rot_pixels));
  k.push_back(pixel_kind("translation_rotation", "C_4 ⋉ Z_N² (TransRot).", {0, true, true, true, false},
                         transrot_pairs, one_orbit));
  k.push_back(pixel_kind("flip", "Z_2, the left–right mirror (row, col) ↦ (row, N−1−col).",
                         {0, false, false, false, true}, flip_pairs, flip_pixels));
  k.push_back(pixel_kind("dihedral", "D_4, the rotations by 90° and the mirrors of the square.",
                         {0, false, false, true, true}, dihedral_pairs, dihedral_pixels));
  k.push_back(pixel_kind("dihedral_translation", "p4m = D_4 ⋉ Z_N² on the torus.", {0, true, true, true, true},
                         dihedral_translation_pairs, one_orbit));
  k.push_back(generated_kind());
  return k;
}

}  // namespace

const std::vector<GroupKind>& group_kinds() {
  static const std::vector<GroupKind> kinds = make_kinds();
  return kinds;
}

std::string group_kind_names() {
  std::string s;
  for (const auto& k : group_kinds()) s += (s.empty() ? "" : ", ") + k.name;
  return s;
}

const GroupKind& group_kind(const std::string& name) {
  for (const auto& k : group_kinds())
    if (k.name == name) return k;
  throw Error("unknown group '" + name + "' (available: " + group_kind_names() + ")");
}

BasePoints base_points(const json& group) { return group_kind(group.at("kind").get<std::string>()).base(group); }

std::size_t image_side(const json& group) {
  EQAUG_CHECK(base_points(group) == BasePoints::Pixels, "image_side of a group of graph nodes");
  return group.at("side").get<std::size_t>();
}

}  // namespace eqaug
