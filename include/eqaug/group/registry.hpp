#pragma once
// The group kinds a configuration can name (group.kind): for each, its fields, how it is
// built, its closed-form orbit counts (the oracles of `eqaug dims`) and the smaller member
// of its family that `eqaug check` uses. Adding a kind is one entry in
// src/group/registry.cpp (docs/extending.md); a finite group given by generators needs
// none: `kind = "generated"`.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/core/fields.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug {

/// What a group's base points are, and so which data live on them: graph nodes (graphs,
/// as adjacency matrices on node pairs) or the pixels of a side × side image.
enum class BasePoints { Nodes, Pixels };

struct GroupKind {
  std::string name;     // group.kind
  std::string summary;  // one sentence for the configuration reference
  /// Reads the kind's own fields of the [group] table (`kind` is read already) and writes
  /// them, every default filled in, into `out`; errors name the field.
  std::function<void(Fields& fields, nlohmann::json& out)> parse;
  /// What the base points of a resolved [group] table are.
  std::function<BasePoints(const nlohmann::json& group)> base;
  /// The group of a resolved [group] table.
  std::function<GroupPtr(const nlohmann::json& group)> build;
  /// Orbits of site pairs (tuple orders out, in) by a closed form, where one is known.
  std::function<std::optional<std::size_t>(const nlohmann::json& group, std::size_t out, std::size_t in)> closed_form;
  /// A smaller member of the family, small enough to enumerate (for `eqaug check`), and a
  /// note of what changed ("" when the group is kept as it is).
  std::function<nlohmann::json(const nlohmann::json& group, std::string& note)> reduce;
};

/// Every kind, in the order the reference lists them.
const std::vector<GroupKind>& group_kinds();
/// The kind of that name; throws eqaug::Error listing the available ones.
const GroupKind& group_kind(const std::string& name);
/// "symmetric, translation2d, ...".
std::string group_kind_names();

/// Base points of a resolved [group] table, and the image side of a pixel group.
BasePoints base_points(const nlohmann::json& group);
std::size_t image_side(const nlohmann::json& group);

/// Bell number B(m): the set partitions of m elements (m ≤ 25), S_n's closed form.
std::size_t bell_number(std::size_t m);

}  // namespace eqaug
