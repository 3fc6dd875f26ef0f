#include "eqaug/analysis/hessian.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <type_traits>

#include "eqaug/core/error.hpp"

namespace eqaug::analysis {

std::string stability(double smallest, double error) {
  if (smallest > 2 * error) return "stable";
  if (smallest < -2 * error) return "unstable";
  return "undecided";
}

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

template <typename T>
std::size_t hessian_cache_bytes(const GradientEngine<T>& engine, std::size_t passes) {
  std::size_t per_pass = 0;
  for (std::size_t c = 0; c < engine.chunks(); ++c)
    per_pass += engine.network().hvp_state_size(engine.chunk_samples(c)) * sizeof(T);
  return per_pass * passes;
}

template <typename T>
SymmetricOperator risk_hessian(GradientEngine<T>& engine, const std::vector<T>& a, const std::vector<Pass>& passes,
                               std::size_t cache_bytes) {
  EQAUG_CHECK(a.size() == engine.spec().num_params(), "parameter vector of the wrong size");
  EQAUG_CHECK(!passes.empty(), "a risk needs at least one pass");
  const std::size_t P = a.size(), chunks = engine.chunks();
  if (cache_bytes == kAutoCache) cache_bytes = available_memory_bytes() / 2;
  auto states = std::make_shared<std::vector<HvpState<T>>>();
  if (hessian_cache_bytes(engine, passes.size()) <= cache_bytes) states->resize(passes.size() * chunks);
  return [&engine, &a, &passes, P, chunks, states](const double* x, double* y, std::size_t count) {
    // The directions in the engine's precision.
    std::vector<T> rounded;
    const T* dir = nullptr;
    if constexpr (std::is_same_v<T, double>) {
      dir = x;
    } else {
      rounded.assign(x, x + P * count);
      dir = rounded.data();
    }
    // Products [j0, j1) in one run: a job per product and pass, summed per product.
    auto products = [&](std::size_t j0, std::size_t j1) {
      std::vector<typename GradientEngine<T>::Job> jobs;
      for (std::size_t j = j0; j < j1; ++j)
        for (std::size_t p = 0; p < passes.size(); ++p) {
          typename GradientEngine<T>::Job job{a.data(), &passes[p], true, j - j0};
          job.direction = dir + j * P;
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

template std::size_t hessian_cache_bytes(const GradientEngine<float>&, std::size_t);
template std::size_t hessian_cache_bytes(const GradientEngine<double>&, std::size_t);
template SymmetricOperator risk_hessian(GradientEngine<float>&, const std::vector<float>&, const std::vector<Pass>&,
                                        std::size_t);
template SymmetricOperator risk_hessian(GradientEngine<double>&, const std::vector<double>&, const std::vector<Pass>&,
                                        std::size_t);

}  // namespace eqaug::analysis
