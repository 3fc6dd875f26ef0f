#include "eqaug/analysis/hessian.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include "eqaug/core/error.hpp"

namespace eqaug::analysis {

std::size_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::size_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  const long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(size) : 0;
}

std::size_t hessian_cache_bytes(const GradientEngine<double>& engine, std::size_t passes) {
  std::size_t per_pass = 0;
  for (std::size_t c = 0; c < engine.chunks(); ++c)
    per_pass += engine.network().hvp_state_size(engine.chunk_samples(c)) * sizeof(double);
  return per_pass * passes;
}

SymmetricOperator risk_hessian(GradientEngine<double>& engine, const std::vector<double>& a,
                               const std::vector<Pass>& passes, std::size_t cache_bytes) {
  EQAUG_CHECK(a.size() == engine.spec().num_params(), "parameter vector of the wrong size");
  EQAUG_CHECK(!passes.empty(), "a risk needs at least one pass");
  const std::size_t P = a.size(), chunks = engine.chunks();
  if (cache_bytes == kAutoCache) cache_bytes = available_memory_bytes() / 2;
  auto states = std::make_shared<std::vector<HvpState<double>>>();
  if (hessian_cache_bytes(engine, passes.size()) <= cache_bytes) states->resize(passes.size() * chunks);
  return [&engine, &a, &passes, P, chunks, states](const double* x, double* y, std::size_t count) {
    // Products [j0, j1) in one run: a job per product and pass, summed per product.
    auto products = [&](std::size_t j0, std::size_t j1) {
      std::vector<GradientEngine<double>::Job> jobs;
      for (std::size_t j = j0; j < j1; ++j)
        for (std::size_t p = 0; p < passes.size(); ++p) {
          GradientEngine<double>::Job job{a.data(), &passes[p], true, j - j0};
          job.direction = x + j * P;
          if (!states->empty()) job.hvp_states = states->data() + p * chunks;
          jobs.push_back(job);
        }
      auto results = engine.run(jobs, j1 - j0);
      for (std::size_t j = j0; j < j1; ++j) {
        auto& r = results[j - j0];
        const double scale = 1.0 / static_cast<double>(r.samples);
        for (std::size_t i = 0; i < P; ++i) y[j * P + i] = r.grad[i] * scale;
        engine.recycle(std::move(r.grad));
      }
    };
    // Items that share a state must find it ready: the first product fills them alone.
    const bool filling = std::any_of(states->begin(), states->end(), [](const auto& s) { return !s.ready; });
    if (filling && count > 1) {
      products(0, 1);
      products(1, count);
    } else {
      products(0, count);
    }
  };
}

}  // namespace eqaug::analysis
