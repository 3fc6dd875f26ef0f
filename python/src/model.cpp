// eqaug.Model: a configuration's model (a preset, a TOML file, a results folder or a dict)
// with its parameters, its data, and the risk, gradient and exact Hessian-vector products
// of the training code (train/engine.hpp), in float64.
#include <pybind11/stl.h>

#include <mutex>
#include <optional>

#include "cli.hpp"
#include "common.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/metrics.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::py_ {
namespace {

using namespace pybind11::literals;

struct PyModel {
  io::ExperimentConfig cfg;
  std::shared_ptr<PyGroup> group;
  std::unique_ptr<ModelSpec> spec;
  std::optional<Dataset> data;  // the configuration's, built on first use
  std::vector<double> params;
  std::unique_ptr<ThreadPool> pool;
  // One computation at a time: the pool runs one job at a time, and the data are built once.
  // Taken with the GIL released, so that other Python threads go on meanwhile.
  mutable std::mutex busy;

  const Dataset& preset_data() {
    py::gil_scoped_release nogil;
    const std::lock_guard<std::mutex> lock(busy);
    if (!data) data = io::build_data(cfg, *group->group);
    return *data;
  }
  double input_shift() const { return cfg.json.at("data").value("input_shift", 0.0); }
};

/// params=None: the model's own; else a float array of num_params entries (copied to float64).
std::vector<double> params_of(const PyModel& m, const py::object& params, const std::string& what) {
  if (params.is_none()) return m.params;
  const py::array a = float_array(params, {{m.spec->num_params()}}, what);
  const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  return std::vector<double>(d.data(), d.data() + d.size());
}

py::array_t<double> to_array(const std::vector<double>& v) {
  return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
}

/// The data of a call: the configuration's, or x (n, input dim) and y (n, output dim) given.
Dataset given_data(PyModel& m, const py::object& x, const py::object& y) {
  if (x.is_none() != y.is_none()) value_error("give both x and y, or neither (the configuration's data)");
  if (x.is_none()) return m.preset_data();
  const Space in = m.spec->input(), out = m.spec->output();
  const auto xa = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
  const auto ya = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!xa || !ya) {
    PyErr_Clear();
    value_error("x and y: expected numeric arrays");
  }
  if (xa.ndim() < 1 || xa.shape(0) == 0)
    value_error("x: expected at least one sample, shape (n, " + std::to_string(in.dim()) + ")");
  const auto n = static_cast<std::size_t>(xa.shape(0));
  if (static_cast<std::size_t>(xa.size()) != n * in.dim())
    value_error("x: expected shape (n, " + std::to_string(in.dim()) + ") (the input's channels x sites), found " +
                shape_text(shape_of(xa)));
  if (static_cast<std::size_t>(ya.shape(0)) != n || static_cast<std::size_t>(ya.size()) != n * out.dim())
    value_error("y: expected shape (" + std::to_string(n) + ", " + std::to_string(out.dim()) +
                ") (one target per sample over the output's channels x sites; one-hot for classes), found " +
                shape_text(shape_of(ya)));
  Dataset d;
  d.name = "given";
  d.input = in;
  d.target = out;
  d.size = n;
  d.x.assign(xa.data(), xa.data() + xa.size());
  d.y.assign(ya.data(), ya.data() + ya.size());
  return d;
}

/// One job over the data (identity pass): loss statistics, and the gradient or H·v.
GradientEngine<double>::GroupResult evaluate(PyModel& m, const Dataset& data, const std::vector<double>& params,
                                             bool grad, const std::vector<double>* v) {
  py::gil_scoped_release nogil;
  const std::lock_guard<std::mutex> lock(m.busy);
  GradientEngine<double> engine(*m.spec, data, m.input_shift(), m.cfg.chunk, *m.pool);
  const Pass identity;
  GradientEngine<double>::Job job{params.data(), &identity, grad, 0};
  if (v) job.direction = v->data();
  auto r = engine.run({job}, 1);
  return std::move(r[0]);
}

std::unique_ptr<PyModel> make_model(const py::object& config, const std::string& scale, const py::object& set,
                                    std::size_t threads) {
  cli::RunArgs a;
  nlohmann::json inline_config;
  if (py::isinstance<py::dict>(config)) {
    inline_config = to_json(config, "config");
    a.config = "<python dict>";
    a.inline_config = &inline_config;
  } else {
    a.config = path_text(config);
  }
  a.scale = scale;
  a.sets = set_args(set);
  std::string source;
  const auto json = cli::load_config(a, source);
  if (!io::study_members(json, source).empty())
    value_error(source +
                ": a study has one model per member; build a member's (its preset, or the member's "
                "results folder)");
  auto m = std::make_unique<PyModel>();
  m->cfg = io::resolve(json, source);
  io::require_one_model(m->cfg, "eqaug.Model");
  m->group = std::make_shared<PyGroup>(PyGroup{io::build_group(m->cfg), m->cfg.json.at("group")});
  m->spec = io::build_model(m->cfg, m->group->group);
  m->pool = std::make_unique<ThreadPool>(threads ? threads : ThreadPool::available_cores());
  m->params = initial_point(*m->spec, m->cfg.train.seed, 0, true, m->pool.get());
  return m;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel>(m, "Model", R"doc(
A configuration's model: Model("perm"), Model("rot", scale="small"), Model("my.toml"),
Model("results/perm") (a results folder's configuration) or Model({...}) (a dict with the TOML's
structure), with set={"train.lr": 2e-5} as --set. The parameters start at the sweep's A0 of run 0
(drawn from train.seed, projected onto E). Risks, gradients and Hessian-vector products are those
of the training code, in float64, on the configuration's data (built on first use) or on x and
y given: x of shape (n, input.dim), y of shape (n, output.dim) (one-hot for classes); the
configuration's data.input_shift is added to x as in training. The risk is the mean loss.)doc")
      .def(py::init(&make_model), "config"_a, "scale"_a = "full", "set"_a = py::none(), "threads"_a = 0,
           "threads=0: every core (the results do not depend on it).")
      .def_property_readonly("name", [](const PyModel& p) { return p.cfg.name; })
      .def_property_readonly(
          "config", [](const PyModel& p) { return from_json(p.cfg.json); },
          "The resolved configuration (as the manifest records it), a dict.")
      .def_property_readonly("group", [](const PyModel& p) { return p.group; })
      .def_property_readonly(
          "num_params", [](const PyModel& p) { return p.spec->num_params(); }, "dim L")
      .def_property_readonly("dim_E", [](const PyModel& p) { return p.spec->dim_E(); })
      .def_property_readonly("input", [](const PyModel& p) { return p.spec->input(); })
      .def_property_readonly("output", [](const PyModel& p) { return p.spec->output(); })
      .def_property_readonly(
          "layers",
          [](const PyModel& p) {
            py::list l;
            for (std::size_t j = 0; j < p.spec->weight_layers().size(); ++j) {
              const auto& w = p.spec->weight_layer(j);
              PySubspace s{p.group, w.subspace};
              l.append(py::dict("name"_a = w.name, "kind"_a = layer_type(w.kind).name(),
                                "shape"_a = py::tuple(py::cast(s.matrix())), "offset"_a = w.offset, "count"_a = w.count,
                                "dim_E"_a = w.subspace->dim(), "subspace"_a = py::cast(s)));
            }
            return l;
          },
          "The layers with weights, in order: name (A0, affine0, ...), kind, shape of the weight matrix, offset and "
          "count in the parameter vector, dim E, and its eqaug.Subspace (eqaug dims prints the same).")
      .def_property(
          "params", [](const PyModel& p) { return to_array(p.params); },
          [](PyModel& p, const py::object& v) { p.params = params_of(p, v, "params"); },
          "The flat parameter vector (a float64 copy; assign an array of num_params entries to set it).")
      .def_property(
          "weights",
          [](const PyModel& p) {
            py::list l;
            for (std::size_t j = 0; j < p.spec->weight_layers().size(); ++j) {
              const auto& w = p.spec->weight_layer(j);
              py::array_t<double> a({w.w_out.dim(), w.w_in.dim()});
              std::copy_n(p.params.data() + w.offset, w.count, a.mutable_data());
              l.append(a);
            }
            return l;
          },
          [](PyModel& p, const py::list& arrays) {
            const std::size_t n = p.spec->weight_layers().size();
            if (py::len(arrays) != n)
              value_error("weights: expected a list of " + std::to_string(n) + " arrays (one per layer with weights)");
            std::vector<double> params(p.params);  // parameters outside the weight layers keep their values
            for (std::size_t j = 0; j < n; ++j) {
              const auto& w = p.spec->weight_layer(j);
              PySubspace s{p.group, w.subspace};
              const py::array a = s.weights(arrays[j], "weights[" + std::to_string(j) + "] (" + w.name + ")");
              const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
              std::copy_n(d.data(), w.count, params.data() + w.offset);
            }
            p.params = std::move(params);
          },
          "The layers' weight matrices, a list of float64 arrays of shape (C_out*S_out, C_in*S_in) (copies; assign "
          "a list to set them).")
      .def(
          "initial_point",
          [](const PyModel& p, std::size_t run, bool project) {
            std::vector<double> a;
            {
              py::gil_scoped_release nogil;
              const std::lock_guard<std::mutex> lock(p.busy);
              a = initial_point(*p.spec, p.cfg.train.seed, run, project, p.pool.get());
            }
            return to_array(a);
          },
          "run"_a = 0, "project"_a = true,
          "The sweep's A0 of this run (train.seed's init stream), projected onto E unless project=False.")
      .def(
          "project",
          [](const PyModel& p, const py::object& params) {
            auto a = params_of(p, params, "params");
            {
              py::gil_scoped_release nogil;
              const std::lock_guard<std::mutex> lock(p.busy);
              p.spec->project(a.data(), p.pool.get());
            }
            return to_array(a);
          },
          "params"_a = py::none(), "Pi_E of the whole parameter vector (every layer), a new array.")
      .def(
          "distance_to_E",
          [](const PyModel& p, const py::object& params) {
            const auto a = params_of(p, params, "params");
            std::vector<double> d;
            {
              py::gil_scoped_release nogil;
              const std::lock_guard<std::mutex> lock(p.busy);
              d = p.spec->distance_to_E(a.data(), p.pool.get());
            }
            return to_array(d);
          },
          "params"_a = py::none(), "||A - Pi_E A|| per layer with weights (the sweep's dist_E_<layer> columns).")
      .def(
          "data",
          [](PyModel& p) {
            const Dataset& d = p.preset_data();
            py::array_t<double> x({d.size, d.input.dim()}), y({d.size, d.target.dim()});
            std::copy(d.x.begin(), d.x.end(), x.mutable_data());
            std::copy(d.y.begin(), d.y.end(), y.mutable_data());
            return py::make_tuple(x, y);
          },
          "The configuration's data (x, y) as float64 arrays, x before data.input_shift.")
      .def(
          "loss",
          [](PyModel& p, const py::object& params, const py::object& x, const py::object& y) {
            const auto a = params_of(p, params, "params");
            const Dataset d = given_data(p, x, y);
            const auto r = evaluate(p, d, a, false, nullptr);
            const double n = static_cast<double>(r.samples);
            return py::dict("loss"_a = r.stats.loss_sum / n,
                            "accuracy"_a = r.stats.predictions > 0 ? r.stats.correct / r.stats.predictions : 0.0,
                            "samples"_a = r.samples);
          },
          "params"_a = py::none(), "x"_a = py::none(), "y"_a = py::none(),
          "The risk (mean loss) and accuracy, as the sweep's loss and accuracy columns (in float64).")
      .def(
          "gradient",
          [](PyModel& p, const py::object& params, const py::object& x, const py::object& y) {
            const auto a = params_of(p, params, "params");
            const Dataset d = given_data(p, x, y);
            auto r = evaluate(p, d, a, true, nullptr);
            for (double& g : r.grad) g /= static_cast<double>(r.samples);
            return to_array(r.grad);
          },
          "params"_a = py::none(), "x"_a = py::none(), "y"_a = py::none(), "The gradient of the risk, a float64 array.")
      .def(
          "hvp",
          [](PyModel& p, const py::object& v, const py::object& params, const py::object& x, const py::object& y) {
            if (v.is_none()) value_error("hvp: v is required (a direction of num_params entries)");
            const auto a = params_of(p, params, "params");
            const auto dir = params_of(p, v, "v");
            const Dataset d = given_data(p, x, y);
            auto r = evaluate(p, d, a, true, &dir);
            for (double& g : r.grad) g /= static_cast<double>(r.samples);
            return to_array(r.grad);
          },
          "v"_a, "params"_a = py::none(), "x"_a = py::none(), "y"_a = py::none(),
          "The exact Hessian-vector product H v of the risk (forward-over-reverse, no finite differences).")
      .def(
          "equivariance_error",
          [](PyModel& p, const py::object& params, std::size_t samples, std::uint64_t seed, const py::object& x,
             const py::object& y) {
            const auto a = params_of(p, params, "params");
            const Dataset d = given_data(p, x, y);
            const Metric& metric = eqaug::metric("equiv_error");
            const auto columns = metric.columns(*p.spec);
            std::vector<double> values;
            {
              py::gil_scoped_release nogil;
              const std::lock_guard<std::mutex> lock(p.busy);
              GradientEngine<double> engine(*p.spec, d, p.input_shift(), p.cfg.chunk, *p.pool);
              Rng rng(seed);
              values = metric.compute(MetricInput<double>{&engine, a.data(), &rng, samples});
            }
            py::dict out;
            for (std::size_t i = 0; i < columns.size(); ++i) out[py::str(columns[i])] = values[i];
            return out;
          },
          "params"_a = py::none(), "samples"_a = 8, "seed"_a = 0, "x"_a = py::none(), "y"_a = py::none(),
          "How far the network is from equivariant as a function (train.metrics = [\"equiv_error\"]): over `samples` "
          "Haar-random g, the mean relative error |f(g x) - g f(x)|^2 / |f(x)|^2 and, for classifiers, the rate of "
          "unchanged predictions.")
      .def("__repr__", [](const PyModel& p) {
        return "<eqaug.Model " + p.cfg.name + ": " + std::to_string(p.spec->num_params()) + " parameters, dim E " +
               std::to_string(p.spec->dim_E()) + ", group " + p.group->group->name() + ">";
      });
}

}  // namespace eqaug::py_
