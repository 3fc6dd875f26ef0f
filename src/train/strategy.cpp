#include "eqaug/train/strategy.hpp"

#include "eqaug/core/error.hpp"

namespace eqaug {

std::string to_string(Mode m) {
  switch (m) {
    case Mode::Nom:
      return "nom";
    case Mode::Aug:
      return "aug";
    case Mode::Equi:
      return "equi";
    case Mode::AugPen:
      return "augpen";
  }
  return "?";
}
std::string to_string(AugPer p) { return p == AugPer::Sample ? "sample" : "batch"; }
std::string to_string(EquiUpdate u) { return u == EquiUpdate::Orbit ? "orbit" : "dense"; }

std::string to_string(EquiEvalChoice e) {
  switch (e) {
    case EquiEvalChoice::Auto:
      return "auto";
    case EquiEvalChoice::Structured:
      return "structured";
    case EquiEvalChoice::Dense:
      return "dense";
  }
  return "?";
}
EquiEvalChoice parse_equi_eval(const std::string& s) {
  if (s == "auto") return EquiEvalChoice::Auto;
  if (s == "structured") return EquiEvalChoice::Structured;
  if (s == "dense") return EquiEvalChoice::Dense;
  throw Error("unknown Equi evaluation '" + s + "' (expected auto, structured or dense)");
}

Mode parse_mode(const std::string& s) {
  if (s == "nom") return Mode::Nom;
  if (s == "aug") return Mode::Aug;
  if (s == "equi") return Mode::Equi;
  if (s == "augpen") return Mode::AugPen;
  throw Error("unknown mode '" + s + "' (expected nom, aug, equi or augpen)");
}
AugPer parse_aug_per(const std::string& s) {
  if (s == "sample") return AugPer::Sample;
  if (s == "batch") return AugPer::Batch;
  throw Error("unknown augmentation granularity '" + s + "' (expected sample or batch)");
}
EquiUpdate parse_equi_update(const std::string& s) {
  if (s == "orbit") return EquiUpdate::Orbit;
  if (s == "dense") return EquiUpdate::Dense;
  throw Error("unknown Equi update '" + s + "' (expected orbit or dense)");
}

Pass make_pass(const Dataset& data, const std::vector<Permutation>& elements,
               const std::vector<std::size_t>& element_of) {
  EQAUG_CHECK(element_of.size() == data.size, "one element index per sample");
  EQAUG_CHECK(!elements.empty(), "a pass needs at least one element");
  Pass p;
  auto fill = [&](const Space& space, std::vector<std::uint32_t>& out) {
    if (space.order == 0) return;  // the trivial site never moves
    out.reserve(elements.size() * space.sites);
    for (const auto& g : elements) {
      const auto img = g.on_tuples(space.order).image();
      out.insert(out.end(), img.begin(), img.end());
    }
  };
  fill(data.input, p.in_sites);
  fill(data.target, p.tgt_sites);
  if (elements.size() > 1) {
    p.element_of.resize(data.size);
    for (std::size_t i = 0; i < data.size; ++i) {
      EQAUG_CHECK(element_of[i] < elements.size(), "element index out of range");
      p.element_of[i] = static_cast<std::uint32_t>(element_of[i]);
    }
  }
  return p;
}

std::vector<Pass> augmentation_passes(const Strategy& s, const FiniteGroup& group, const Dataset& data, Rng& rng,
                                      ThreadPool* pool) {
  std::vector<Pass> passes;
  if (s.exact) {
    // One pass per element, the same element for every sample.
    for (const auto& g : group.elements()) {
      Pass p;
      if (data.input.order > 0) p.in_sites = g.on_tuples(data.input.order).image();
      if (data.target.order > 0) p.tgt_sites = g.on_tuples(data.target.order).image();
      passes.push_back(std::move(p));
    }
    return passes;
  }
  if (s.batch == 0) throw Error("minibatch size must be positive");
  // Every element first, in order from the one stream; then the tables (Perm: 25 000
  // elements a step, each acting on 100 node pairs).
  std::vector<std::vector<Permutation>> elements(s.passes);
  std::vector<std::vector<std::size_t>> element_of(s.passes, std::vector<std::size_t>(data.size));
  for (std::size_t l = 0; l < s.passes; ++l)
    for (std::size_t i = 0; i < data.size; ++i) {
      if (s.per == AugPer::Sample || i % s.batch == 0) elements[l].push_back(group.sample_with(rng, s.sampler));
      element_of[l][i] = elements[l].size() - 1;
    }
  passes.resize(s.passes);
  auto build = [&](std::size_t l, std::size_t) { passes[l] = make_pass(data, elements[l], element_of[l]); };
  if (pool)
    pool->parallel_for(s.passes, build);
  else
    for (std::size_t l = 0; l < s.passes; ++l) build(l, 0);
  return passes;
}

}  // namespace eqaug
