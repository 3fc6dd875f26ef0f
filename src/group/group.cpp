#include "eqaug/group/group.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>
#include <unordered_set>

#include "eqaug/core/error.hpp"

namespace eqaug {

std::string to_string(Sampler s) {
  switch (s) {
    case Sampler::Haar:
      return "haar";
    case Sampler::Reference:
      return "reference";
    case Sampler::RotReversal:
      return "rot-reversal";
  }
  return "?";
}

Permutation::Permutation(std::vector<std::uint32_t> image) : image_(std::move(image)) {
  std::vector<bool> seen(image_.size(), false);
  for (auto v : image_) {
    if (v >= image_.size() || seen[v]) throw Error("not a permutation: image list is not a bijection");
    seen[v] = true;
  }
}

Permutation Permutation::identity(std::size_t n) {
  Permutation p;
  p.image_.resize(n);
  std::iota(p.image_.begin(), p.image_.end(), 0u);
  return p;
}

Permutation Permutation::compose(const Permutation& other) const {
  EQAUG_CHECK(size() == other.size(), "composing permutations of different degrees");
  Permutation p;
  p.image_.resize(size());
  for (std::size_t i = 0; i < size(); ++i) p.image_[i] = image_[other.image_[i]];
  return p;
}

Permutation Permutation::inverse() const {
  Permutation p;
  p.image_.resize(size());
  for (std::size_t i = 0; i < size(); ++i) p.image_[image_[i]] = static_cast<std::uint32_t>(i);
  return p;
}

std::size_t tuple_count(std::size_t degree, std::size_t order) {
  std::size_t n = 1;
  for (std::size_t j = 0; j < order; ++j) {
    if (degree != 0 && n > kMaxSites / degree)
      throw Error(std::to_string(order) + "-tuples of " + std::to_string(degree) + " points are more than " +
                  std::to_string(kMaxSites) + " sites");
    n *= degree;
  }
  return n;
}

Permutation Permutation::on_tuples(std::size_t order) const {
  if (order == 1) return *this;
  const std::size_t n = size();
  tuple_count(n, order);  // refuses more than kMaxSites tuples
  Permutation p;
  if (order == 0) {
    p.image_.assign(1, 0);  // the single empty tuple
    return p;
  }
  // Tuple (t_0..t_{k-1}) has index Σ t_j n^j and image (g t_0 .. g t_{k-1}): the table for
  // k digits is n copies of the table for k − 1, the copy for t_{k-1} shifted by g t_{k-1} n^{k-1}.
  p.image_ = image_;
  std::size_t place = n;
  for (std::size_t j = 1; j < order; ++j, place *= n) {
    std::vector<std::uint32_t> next(place * n);
    for (std::size_t t = 0; t < n; ++t) {
      const auto shift = static_cast<std::uint32_t>(image_[t] * place);
      for (std::size_t r = 0; r < place; ++r) next[t * place + r] = p.image_[r] + shift;
    }
    p.image_ = std::move(next);
  }
  return p;
}

namespace {

class Symmetric final : public FiniteGroup {
 public:
  explicit Symmetric(std::size_t n) : n_(n) {
    if (n == 0) throw Error("symmetric group: n must be at least 1");
  }
  std::string name() const override { return "S_" + std::to_string(n_); }
  std::size_t degree() const override { return n_; }
  std::optional<std::uint64_t> order() const override {
    std::uint64_t f = 1;
    for (std::uint64_t k = 2; k <= n_; ++k) {
      if (f > std::numeric_limits<std::uint64_t>::max() / k) return std::nullopt;
      f *= k;
    }
    return f;
  }
  std::vector<Permutation> generators() const override {
    if (n_ < 2) return {};
    std::vector<std::uint32_t> swap(n_), cycle(n_);
    std::iota(swap.begin(), swap.end(), 0u);
    std::swap(swap[0], swap[1]);
    for (std::size_t i = 0; i < n_; ++i) cycle[i] = static_cast<std::uint32_t>((i + 1) % n_);
    return {Permutation(swap), Permutation(cycle)};
  }
  Permutation sample(Rng& rng) const override { return Permutation(rng.permutation(static_cast<std::uint32_t>(n_))); }
  Permutation sample_with(Rng& rng, Sampler sampler) const override {
    if (sampler == Sampler::RotReversal) return FiniteGroup::sample_with(rng, sampler);
    return sample(rng);  // the reference permutes graphs uniformly too
  }
  std::vector<Permutation> elements(std::uint64_t limit) const override {
    const auto ord = order();
    if (!ord || *ord > limit)
      throw Error(name() + " has too many elements to enumerate (limit " + std::to_string(limit) + ")");
    std::vector<std::uint32_t> p(n_);
    std::iota(p.begin(), p.end(), 0u);
    std::vector<Permutation> out;
    out.reserve(*ord);
    do {
      out.emplace_back(p);
    } while (std::next_permutation(p.begin(), p.end()));
    return out;
  }

 private:
  std::size_t n_;
};

struct PermHash {
  std::size_t operator()(const std::vector<std::uint32_t>& v) const {
    std::uint64_t h = 0;
    for (auto x : v) h = splitmix64(h ^ x);
    return static_cast<std::size_t>(h);
  }
};

class Generated final : public FiniteGroup {
 public:
  Generated(std::string name, std::vector<Permutation> gens, std::uint64_t limit)
      : name_(std::move(name)), gens_(std::move(gens)) {
    if (gens_.empty()) throw Error("group '" + name_ + "': needs at least one generator");
    degree_ = gens_.front().size();
    for (const auto& g : gens_)
      if (g.size() != degree_) throw Error("group '" + name_ + "': generators of different degrees");
    // Closure by breadth-first search over right multiplication by generators.
    std::unordered_set<std::vector<std::uint32_t>, PermHash> seen;
    elements_.push_back(Permutation::identity(degree_));
    seen.insert(elements_.back().image());
    for (std::size_t i = 0; i < elements_.size(); ++i) {
      for (const auto& g : gens_) {
        Permutation h = elements_[i].compose(g);
        if (seen.insert(h.image()).second) {
          if (elements_.size() >= limit)
            throw Error("group '" + name_ + "' has more than " + std::to_string(limit) + " elements");
          elements_.push_back(std::move(h));
        }
      }
    }
  }
  std::string name() const override { return name_; }
  std::size_t degree() const override { return degree_; }
  std::optional<std::uint64_t> order() const override { return elements_.size(); }
  std::vector<Permutation> generators() const override { return gens_; }
  Permutation sample(Rng& rng) const override { return elements_[rng.below(elements_.size())]; }
  std::vector<Permutation> elements(std::uint64_t limit) const override {
    if (elements_.size() > limit) throw Error("group '" + name_ + "' exceeds the enumeration limit");
    return elements_;
  }

 private:
  std::string name_;
  std::vector<Permutation> gens_;
  std::size_t degree_ = 0;
  std::vector<Permutation> elements_;
};

class Pixel final : public FiniteGroup {
 public:
  explicit Pixel(const PixelGroupSpec& s) : s_(s) {
    if (s.side == 0) throw Error("image group: the image side must be at least 1");
    if (s.side > 46340) throw Error("image group: the image side is too large");
    nx_ = s.shift_x ? s.side : 1;
    ny_ = s.shift_y ? s.side : 1;
    nr_ = s.rotations ? 4 : 1;
    nm_ = s.mirror ? 2 : 1;
    // Every element's pixel map, in the order (m, r, dy, dx), where they are few enough
    // (16 M entries): sampling, on which augmented training spends its host time, is then
    // a copy. The same draws in the same order, so the same streams.
    const std::size_t entries = nx_ * ny_ * nr_ * nm_ * degree();
    if (entries <= (std::size_t{1} << 24)) cache_ = enumerate();
  }
  std::string name() const override {
    const std::string n = std::to_string(s_.side);
    std::string shifts = s_.shift_x && s_.shift_y ? "Z_" + n + " x Z_" + n
                         : s_.shift_x             ? "Z_" + n + " (x-shifts)"
                         : s_.shift_y             ? "Z_" + n + " (y-shifts)"
                                                  : "";
    const std::string point = s_.rotations && s_.mirror ? "D_4" : s_.rotations ? "C_4" : s_.mirror ? "Z_2 (mirror)" : "";
    if (point.empty()) return shifts.empty() ? "trivial group on " + n + "x" + n + " pixels" : shifts;
    return shifts.empty() ? point + " on " + n + "x" + n + " pixels" : point + " x| (" + shifts + ")";
  }
  std::size_t degree() const override { return s_.side * s_.side; }
  std::optional<std::uint64_t> order() const override { return std::uint64_t{nx_} * ny_ * nr_ * nm_; }
  std::vector<Permutation> generators() const override {
    std::vector<Permutation> g;
    if (s_.shift_x) g.push_back(element(1, 0, 0));
    if (s_.shift_y) g.push_back(element(0, 1, 0));
    if (s_.rotations) g.push_back(element(0, 0, 1));
    if (s_.mirror) g.push_back(element(0, 0, 0, 1));
    if (g.empty()) g.push_back(Permutation::identity(degree()));
    return g;
  }
  Permutation sample(Rng& rng) const override {
    // Rotation first, then the shifts: a fixed order keeps the streams reproducible.
    const auto r = rng.below(nr_);
    const auto dx = rng.below(nx_);
    const auto dy = rng.below(ny_);
    const auto m = nm_ > 1 ? rng.below(nm_) : 0;
    if (!cache_.empty()) return cache_[((m * nr_ + r) * ny_ + dy) * nx_ + dx];
    return element(dx, dy, r, m);
  }
  Permutation sample_with(Rng& rng, Sampler sampler) const override {
    if (sampler == Sampler::Haar) return sample(rng);
    if (nm_ > 1) throw Error(name() + ": the reference's samplers know no mirrors");
    std::size_t r = 0, dx = 0, dy = 0;
    if (sampler == Sampler::RotReversal) {
      if (nr_ != 4 || nx_ > 1 || ny_ > 1)
        throw Error(name() + ": the Rot reference's reversal of the flattened image is an augmentation of C_4 alone");
      const auto k = rng.below(5);  // randint(0, 4); 1, 2 and 3 all reverse the flattened image
      r = k == 0 || k == 4 ? 0 : 2;
    } else {
      // randint(0, n) per factor, in sample()'s order: n + 1 outcomes, n the identity again.
      auto draw = [&rng](std::size_t n) { return n > 1 ? rng.below(n + 1) % n : rng.below(n); };
      r = draw(nr_);
      dx = draw(nx_);
      dy = draw(ny_);
    }
    if (!cache_.empty()) return cache_[(r * ny_ + dy) * nx_ + dx];
    return element(dx, dy, r);
  }
  std::vector<Permutation> elements(std::uint64_t limit) const override {
    if (*order() > limit)
      throw Error(name() + " has too many elements to enumerate (limit " + std::to_string(limit) + ")");
    if (!cache_.empty()) return cache_;
    return enumerate();
  }

 private:
  std::vector<Permutation> enumerate() const {
    std::vector<Permutation> out;
    for (std::size_t m = 0; m < nm_; ++m)
      for (std::size_t r = 0; r < nr_; ++r)
        for (std::size_t dy = 0; dy < ny_; ++dy)
          for (std::size_t dx = 0; dx < nx_; ++dx) out.push_back(element(dx, dy, r, m));
    return out;
  }

  /// Mirror m times, rotate r quarter turns, then shift by (dx, dy): pixel (row, col) goes
  /// to the image.
  Permutation element(std::size_t dx, std::size_t dy, std::size_t r, std::size_t m = 0) const {
    const std::size_t N = s_.side;
    std::vector<std::uint32_t> img(N * N);
    for (std::size_t row = 0; row < N; ++row)
      for (std::size_t col = 0; col < N; ++col) {
        std::size_t rr = row, cc = m ? N - 1 - col : col;
        for (std::size_t k = 0; k < r; ++k) {
          const std::size_t nr = cc, nc = N - 1 - rr;
          rr = nr;
          cc = nc;
        }
        rr = (rr + dy) % N;
        cc = (cc + dx) % N;
        img[row * N + col] = static_cast<std::uint32_t>(rr * N + cc);
      }
    return Permutation(std::move(img));
  }

  PixelGroupSpec s_;
  std::size_t nx_, ny_, nr_, nm_;
  std::vector<Permutation> cache_;  // every element, or empty for large groups
};

}  // namespace

GroupPtr pixel_group(const PixelGroupSpec& spec) { return std::make_shared<Pixel>(spec); }

GroupPtr symmetric_group(std::size_t n) { return std::make_shared<Symmetric>(n); }

GroupPtr generated_group(std::string name, std::vector<Permutation> generators, std::uint64_t limit) {
  return std::make_shared<Generated>(std::move(name), std::move(generators), limit);
}

}  // namespace eqaug
