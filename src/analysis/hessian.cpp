#include "eqaug/analysis/hessian.hpp"

#include <algorithm>

#include "eqaug/core/error.hpp"

namespace eqaug::analysis {

SymmetricOperator risk_hessian(GradientEngine<double>& engine, const std::vector<double>& a,
                               const std::vector<Pass>& passes) {
  EQAUG_CHECK(a.size() == engine.spec().num_params(), "parameter vector of the wrong size");
  EQAUG_CHECK(!passes.empty(), "a risk needs at least one pass");
  return [&engine, &a, &passes](const double* x, double* y) {
    std::vector<GradientEngine<double>::Job> jobs;
    for (const auto& p : passes) {
      GradientEngine<double>::Job j{a.data(), &p, true, 0};
      j.direction = x;
      jobs.push_back(j);
    }
    auto r = engine.run(jobs, 1)[0];
    const double scale = 1.0 / static_cast<double>(r.samples);
    for (std::size_t i = 0; i < r.grad.size(); ++i) y[i] = r.grad[i] * scale;
    engine.recycle(std::move(r.grad));
  };
}

}  // namespace eqaug::analysis
