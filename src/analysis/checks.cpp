#include "eqaug/analysis/checks.hpp"

#include "eqaug/analysis/hessian.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "eqaug/config/config.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::analysis {

namespace {

using nlohmann::json;

// The reduced model: at most this many channels in hidden layers, groups of this size.
constexpr std::size_t kChannels = 3, kSamples = 12;

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

/// x'[c, g(s)] = x[c, s] for every sample (the engine's augmentation).
std::vector<double> move(const std::vector<double>& x, const Space& space, const Permutation& g, std::size_t n) {
  if (space.order == 0) return x;
  const Permutation p = g.on_tuples(space.order);
  std::vector<double> out(x.size());
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t c = 0; c < space.channels; ++c)
      for (std::size_t s = 0; s < space.sites; ++s)
        out[(b * space.channels + c) * space.sites + p(s)] = x[(b * space.channels + c) * space.sites + s];
  return out;
}

/// Random data on the model's spaces: inputs in [0,1]; targets 0/1 (BCE) or one-hot (CE).
Dataset random_data(const ModelSpec& spec, Rng& rng) {
  Dataset d;
  d.name = "random";
  d.input = spec.input();
  d.target = spec.output();
  d.size = kSamples;
  for (std::size_t i = 0; i < d.size * d.input.dim(); ++i) d.x.push_back(rng.uniform());
  const auto& t = d.target;
  d.y.assign(d.size * t.dim(), 0.0);
  for (std::size_t b = 0; b < d.size; ++b)
    for (std::size_t s = 0; s < t.sites; ++s) {
      if (spec.loss_kind() == LossKind::CrossEntropy) {
        d.y[(b * t.channels + rng.below(t.channels)) * t.sites + s] = 1.0;
      } else {
        for (std::size_t c = 0; c < t.channels; ++c) d.y[(b * t.channels + c) * t.sites + s] = rng.bernoulli(0.5);
      }
    }
  return d;
}

}  // namespace

bool CheckReport::all_passed() const {
  return std::all_of(rows.begin(), rows.end(), [](const CheckRow& r) { return r.passed(); });
}

std::string CheckReport::table() const {
  std::ostringstream os;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-13s %-84s %11s %11s  %s\n", "identity", "compared", "residual", "tolerance", "");
  os << buf;
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-13s %-84s %11.3g %11.3g  %s\n", r.name.c_str(), r.statement.c_str(), r.residual,
                  r.tolerance, r.passed() ? "ok" : "FAILED");
    os << buf;
  }
  return os.str();
}

namespace {

/// A small member of the configuration's family: the group's reduced copy (its kind says
/// which), hidden layers of at most kChannels channels, float64; `reduced` says what changed.
json reduce_config(const json& config, std::string& reduced) {
  json j = config;
  {
    std::string note;
    j["group"] = group_kind(j.at("group").at("kind").get<std::string>()).reduce(j.at("group"), note);
    if (!note.empty()) reduced += note + "; ";
  }
  auto& layers = j["model"]["layers"];
  std::size_t last_linear = 0;
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i]["type"] == "linear") last_linear = i;
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i]["type"] == "linear" && i != last_linear && layers[i]["channels"].get<std::size_t>() > kChannels)
      layers[i]["channels"] = kChannels;
  reduced += "hidden layers at most " + std::to_string(kChannels) + " channels; " + std::to_string(kSamples) +
             " random samples; float64";
  j["train"]["precision"] = "f64";
  return j;
}

/// The reduced model, its random data and the exact augmentation every identity uses.
struct CheckContext {
  const ModelSpec& spec;
  const Dataset& data;
  GradientEngine<double>& engine;
  const std::vector<Permutation>& elements;
  const std::vector<Pass>& passes;  // one per group element: the exact augmented risk
  Strategy exact;
  Pass identity;
  std::vector<double> in_E, off_E;

  GradientEngine<double>::GroupResult aug(const std::vector<double>& a, bool grad) const {
    std::vector<GradientEngine<double>::Job> jobs;
    for (const auto& p : passes) jobs.push_back({a.data(), &p, grad, 0});
    return engine.run(jobs, 1)[0];
  }
  GradientEngine<double>::GroupResult nominal(const std::vector<double>& a, bool grad) const {
    return engine.run({{a.data(), &identity, grad, 0}}, 1)[0];
  }
};

// Lemma 3: on E the network is equivariant (invariant for trivial outputs).
void lemma3(const CheckContext& c, std::vector<CheckRow>& rows) {
  Network<double> net(c.spec);
  const auto y = net.predict(c.in_E.data(), c.data.x.data(), c.data.size);
  double worst = 0;
  for (const auto& e : c.elements) {
    const auto xg = move(c.data.x, c.spec.input(), e, c.data.size);
    const auto yg = net.predict(c.in_E.data(), xg.data(), c.data.size);
    const auto want = move(y, c.spec.output(), e, c.data.size);
    std::vector<double> d(yg.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = yg[i] - want[i];
    worst = std::max(worst, norm(d) / std::max(norm(want), 1e-300));
  }
  rows.push_back({"Lemma 3", "|Phi_A(g x) - g Phi_A(x)| / |Phi_A(x)|, A in E, every g", worst, 1e-12});
}

// Lemma 4: R^aug(A) = mean over g of R(rho(g) A), at a point off E.
void lemma4(const CheckContext& c, std::vector<CheckRow>& rows) {
  const auto r = c.aug(c.off_E, false);
  const double lhs = r.stats.loss_sum / static_cast<double>(r.samples);
  double rhs = 0;
  for (const auto& e : c.elements) {
    const auto moved = c.spec.act(e.inverse(), c.off_E);
    const auto n = c.nominal(moved, false);
    rhs += n.stats.loss_sum / static_cast<double>(n.samples);
  }
  rhs /= static_cast<double>(c.elements.size());
  rows.push_back(
      {"Lemma 4", "|R^aug(A) - mean_g R(rho(g)^-1 A)| / R^aug(A), A off E", std::abs(lhs - rhs) / lhs, 1e-12});
}

// Proposition 1: on E, grad R^aug = Pi_E grad R = grad R^eq (the last through E's coordinates
// and the structured layers: FFT convolutions where the group has them).
void proposition1(const CheckContext& c, std::vector<CheckRow>& rows) {
  auto ga = c.aug(c.in_E, true);
  for (auto& x : ga.grad) x /= static_cast<double>(ga.samples);
  auto gn = c.nominal(c.in_E, true);
  for (auto& x : gn.grad) x /= static_cast<double>(gn.samples);
  c.spec.project(gn.grad.data());
  const auto coords = c.spec.to_coords(c.in_E.data());
  const auto ge = c.engine.run({{coords.data(), &c.identity, true, 0, true}}, 1)[0];
  std::vector<double> gc(ge.grad);
  for (auto& x : gc) x /= static_cast<double>(ge.samples);
  std::vector<double> geq(c.in_E.size());
  c.spec.from_coords(gc.data(), geq.data());
  std::vector<double> d1(ga.grad.size()), d2(ga.grad.size());
  for (std::size_t i = 0; i < d1.size(); ++i) {
    d1[i] = ga.grad[i] - gn.grad[i];
    d2[i] = gn.grad[i] - geq[i];
  }
  const double scale = std::max(norm(ga.grad), 1e-300);
  rows.push_back({"Prop. 1", "|grad R^aug - Pi_E grad R| / |grad R^aug|, A in E", norm(d1) / scale, 1e-11});
  std::string kinds;
  for (const auto& k : c.engine.equi_network().layer_kinds()) kinds += (kinds.empty() ? "" : ",") + k;
  rows.push_back(
      {"Prop. 1", "|Pi_E grad R - grad R^eq (layers: " + kinds + ")| / |grad R^aug|", norm(d2) / scale, 1e-11});
}

// Proposition 2: the augmented Hessian is the Haar average of the nominal one at the
// transformed layers; at A in E it is block diagonal on E + E-perp, with the E-block of
// the nominal Hessian (that of R^eq, whose Hessian in E's coordinates is B^T H B).
void proposition2(const CheckContext& c, Rng& rng, std::vector<CheckRow>& rows) {
  auto hess = [&](const std::vector<double>& a, const std::vector<Pass>& ps, const std::vector<double>& x) {
    std::vector<double> y(x.size());
    risk_hessian(c.engine, a, ps)(x.data(), y.data(), 1);
    return y;
  };
  const std::vector<Pass> nominal_pass(1);
  std::vector<double> x = c.spec.draw_init(rng);
  const auto lhs = hess(c.off_E, c.passes, x);
  std::vector<double> rhs(x.size(), 0.0);
  for (const auto& e : c.elements) {
    const auto inv = e.inverse();
    const auto y = c.spec.act(e, hess(c.spec.act(inv, c.off_E), nominal_pass, c.spec.act(inv, x)));
    for (std::size_t i = 0; i < y.size(); ++i) rhs[i] += y[i] / static_cast<double>(c.elements.size());
  }
  std::vector<double> d(x.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = lhs[i] - rhs[i];
  rows.push_back({"Prop. 2", "|Hess R^aug(A) x - mean_g rho(g) Hess R(rho(g)^-1 A) rho(g)^-1 x| / |.|, A off E",
                  norm(d) / std::max(norm(lhs), 1e-300), 1e-11});
  // Block structure at A in E, for x in E and x in E-perp.
  std::vector<double> xe = x, xp = x;
  c.spec.project(xe.data());
  for (std::size_t i = 0; i < xp.size(); ++i) xp[i] -= xe[i];
  auto split = [&](const std::vector<double>& y) {  // (Pi_E y, y - Pi_E y)
    std::vector<double> ye = y, yp = y;
    c.spec.project(ye.data());
    for (std::size_t i = 0; i < yp.size(); ++i) yp[i] -= ye[i];
    return std::pair{ye, yp};
  };
  const auto he = hess(c.in_E, c.passes, xe), hp = hess(c.in_E, c.passes, xp);
  const auto [he_e, he_p] = split(he);
  const auto [hp_e, hp_p] = split(hp);
  rows.push_back({"Prop. 2", "|Pi_perp Hess R^aug x_E| / |Hess R^aug x_E| + same for x_perp, A in E",
                  norm(he_p) / std::max(norm(he), 1e-300) + norm(hp_e) / std::max(norm(hp), 1e-300), 1e-11});
  auto hn_e = hess(c.in_E, nominal_pass, xe);
  c.spec.project(hn_e.data());
  std::vector<double> de(x.size());
  for (std::size_t i = 0; i < de.size(); ++i) de[i] = he_e[i] - hn_e[i];
  rows.push_back({"Prop. 2", "|Pi_E Hess R^aug x_E - Pi_E Hess R x_E| / |.| (E-block = Hess R^eq), A in E",
                  norm(de) / std::max(norm(he_e), 1e-300), 1e-11});
}

// Corollary 1: exact augmented descent from A in E stays in E.
void corollary1(const CheckContext& c, std::vector<CheckRow>& rows) {
  TrainOptions o;
  o.epochs = 20;
  o.lr = 0.5;
  o.strategies = {c.exact};
  const auto runs = Trainer<double>(c.engine, o).run(0, c.in_E);
  double worst = 0;
  for (const auto& r : runs[0].records)
    if (r.dist_init > 0) worst = std::max(worst, r.dist_E / r.dist_init);
  rows.push_back({"Corollary 1", "max over 20 exact Aug steps of |A - Pi_E A| / |A - A0|, A0 in E", worst, 1e-10});
}

}  // namespace

CheckReport check_theory(const json& config, const std::string& source, std::uint64_t seed, std::size_t threads) {
  std::string reduced;
  const auto cfg = io::resolve(reduce_config(config, reduced), source + " (reduced for check)");
  const GroupPtr group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  const auto order = group->order();
  if (!order || *order > 5000)
    throw Error(source + ": the reduced group " + group->name() + " is too large to enumerate");
  const auto elements = group->elements();

  Rng rng = Rng::stream(seed, "check");
  const Dataset data = random_data(*spec, rng);
  ThreadPool pool(threads ? threads : ThreadPool::available_cores());
  const blas::ThreadsGuard serial_blas(1);  // as a sweep: not switched at every engine call
  GradientEngine<double> engine(*spec, data, 0.0, 4, pool);
  Strategy exact;
  exact.mode = Mode::Aug;
  exact.exact = true;
  const auto passes = augmentation_passes(exact, *group, data, rng);
  CheckContext c{*spec, data, engine, elements, passes, exact, Pass{}, {}, spec->draw_init(rng)};
  c.in_E = c.off_E;
  spec->project(c.in_E.data());

  CheckReport report;
  report.reduction = "group " + group->name() + " (" + std::to_string(*order) + " elements); " + reduced;
  lemma3(c, report.rows);
  lemma4(c, report.rows);
  proposition1(c, report.rows);
  proposition2(c, rng, report.rows);
  corollary1(c, report.rows);
  return report;
}

}  // namespace eqaug::analysis
