// The table of per-step metrics: one line a metric.
#include "eqaug/train/metrics.hpp"

#include "eqaug/core/error.hpp"

namespace eqaug {

// The metrics, one file each in src/train/metrics/.
const Metric& equiv_error_metric();

const std::vector<const Metric*>& metrics() {
  static const std::vector<const Metric*> all = {&equiv_error_metric()};
  return all;
}

const Metric& metric(const std::string& name) {
  std::string names;
  for (const auto* m : metrics()) {
    if (m->name() == name) return *m;
    names += (names.empty() ? "" : ", ") + m->name();
  }
  throw Error("unknown metric '" + name + "' (available: " + names + ")");
}

}  // namespace eqaug
