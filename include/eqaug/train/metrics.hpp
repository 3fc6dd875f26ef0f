#pragma once
// Per-step metrics beyond the fixed record (risk, accuracy, distances): each is a Metric
// with named columns, computed after every step for every strategy when the training
// options list it (train.metrics), written as extra columns of the per-run CSVs and
// steps.csv, named in the manifest, and summarised by `eqaug report`. A metric is one file
// in src/train/metrics/ and one line in src/train/metrics.cpp (docs/extending.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/train/engine.hpp"

namespace eqaug {

/// What a metric sees at one step of one strategy.
template <typename T>
struct MetricInput {
  GradientEngine<T>* engine = nullptr;
  const T* params = nullptr;  // the strategy's dense parameters
  Rng* rng = nullptr;         // the metric's own stream at (seed, run, step): the same for every strategy
  std::size_t samples = 8;    // K of metrics that draw group elements (train.metric_samples)
};

class Metric {
 public:
  virtual ~Metric() = default;
  /// Its name in train.metrics.
  virtual std::string name() const = 0;
  /// One sentence for the configuration reference.
  virtual std::string summary() const = 0;
  /// Its columns for a model (names that are identifiers in numpy, pandas and R).
  virtual std::vector<std::string> columns(const ModelSpec& spec) const = 0;
  /// One value per column.
  virtual std::vector<double> compute(const MetricInput<float>& in) const = 0;
  virtual std::vector<double> compute(const MetricInput<double>& in) const = 0;
};

/// Implements both precisions from `template <typename T> static std::vector<double>
/// K::compute(const MetricInput<T>&)`.
template <class K>
class MetricOf : public Metric {
 public:
  std::vector<double> compute(const MetricInput<float>& in) const override { return K::compute(in); }
  std::vector<double> compute(const MetricInput<double>& in) const override { return K::compute(in); }
};

const std::vector<const Metric*>& metrics();
/// By name; throws eqaug::Error listing the available ones.
const Metric& metric(const std::string& name);

}  // namespace eqaug
