// The paper's own metric (docs/reference.md, defect 6): what the authors' plotting code put on
// the axes of Figures 1 and 6, computed from the per-layer columns of the run files.
#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/report/report.hpp"

#include <cmath>

namespace eqaug::report {

namespace {

using detail::in_quotes;
using nlohmann::json;

const std::vector<double>& layer_column(const RunCurve& c, const std::string& name, const Sweep& sweep,
                                        const std::string& mode, int run) {
  const auto it = c.columns.find(name);
  if (it == c.columns.end())
    throw Error(in_quotes(sweep.dir / mode) + ": run " + std::to_string(run) + " has no column '" + name +
                "', which the paper's metric needs (the per-layer distances of every group layer)");
  return it->second;
}

}  // namespace

std::vector<std::string> group_layers(const Sweep& sweep) {
  const std::string where = in_quotes(sweep.dir / "manifest.json");
  const json& m = sweep.manifest;
  if (!m.is_object() || !m.contains("model") || !m["model"].is_object() || !m["model"].contains("layers") ||
      !m["model"]["layers"].is_array())
    throw Error(where +
                ": no field model.layers (name, params, dim_E of every weight layer), which the paper's "
                "metric needs to tell the group layers from the fully connected head");
  std::vector<std::string> names;
  const json& layers = m["model"]["layers"];
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& l = layers[i];
    const std::string field = "model.layers[" + std::to_string(i) + "]";
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string() || !l.contains("params") ||
        !l["params"].is_number() || !l.contains("dim_E") || !l["dim_E"].is_number())
      throw Error(where + ": field " + field + ": expected {name, params, dim_E}");
    // A layer the group constrains: E is a proper subspace of its weights. The fully
    // connected head (order 0 to order 0) and per-channel affine weights have E = all.
    if (l["dim_E"].get<double>() < l["params"].get<double>()) names.push_back(l["name"].get<std::string>());
  }
  if (names.empty())
    throw Error(where + ": no group layer (every layer has dim_E = params), so the paper's metric is undefined");
  return names;
}

Sweep paper_metric(const Sweep& sweep) {
  Sweep view = sweep;
  view.paper_layers = group_layers(sweep);
  view.paper_metric = true;
  for (auto& [mode, curves] : view.curves)
    for (std::size_t i = 0; i < curves.size(); ++i) {
      RunCurve& c = curves[i];
      const int run = i < sweep.runs.size() ? sweep.runs[i] : static_cast<int>(i);
      std::vector<double> x(c.step.size(), 0.0), y(c.step.size(), 0.0);
      for (const auto& layer : view.paper_layers) {
        const auto& travelled = layer_column(c, "dist_init_" + layer, sweep, mode, run);
        const auto& off_E = layer_column(c, "dist_E_" + layer, sweep, mode, run);
        for (std::size_t s = 0; s < x.size(); ++s) {
          const double d2 = off_E[s] * off_E[s];  // the reference's per-layer entry Σ(A − Π_E A)²
          x[s] += travelled[s] * travelled[s];
          y[s] += d2 * d2;
        }
      }
      for (std::size_t s = 0; s < x.size(); ++s) {
        x[s] = std::sqrt(x[s]);
        y[s] = std::sqrt(y[s]);
      }
      c.dist_init = std::move(x);
      c.dist_E = std::move(y);
    }
  return view;
}

}  // namespace eqaug::report
