// `import eqaug`: the extension module `eqaug._eqaug` (the package python/eqaug wraps it).
// Errors: eqaug::Error (bad input) is ValueError, eqaug::RuntimeFailure and filesystem
// errors (the environment) RuntimeError, an interrupted sweep KeyboardInterrupt.
#include <filesystem>
#include <stdexcept>

#include "common.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/sweep.hpp"

namespace eqaug::py_ {

void value_error(const std::string& msg) { throw py::value_error(msg); }

namespace {
/// Dicts and lists nested deeper than this (or one that holds itself) are refused.
constexpr int kMaxDepth = 64;

nlohmann::json to_json_at(const py::handle& obj, const std::string& where, int depth) {
  if (depth > kMaxDepth)
    value_error(where + ": nested more than " + std::to_string(kMaxDepth) +
                " levels deep (or a dict or list that contains itself)");
  if (obj.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(obj)) return obj.cast<bool>();
  if (py::isinstance<py::int_>(obj)) {
    try {
      return obj.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      return obj.cast<std::uint64_t>();  // 2^63 … 2^64 − 1 (seeds); beyond: ValueError (cast_error)
    }
  }
  if (py::isinstance<py::float_>(obj)) return obj.cast<double>();
  if (py::isinstance<py::str>(obj)) return obj.cast<std::string>();
  if (py::isinstance<py::dict>(obj)) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : obj.cast<py::dict>()) {
      if (!py::isinstance<py::str>(k))
        value_error(where + ": keys must be strings, found " + py::repr(k).cast<std::string>());
      const auto key = k.cast<std::string>();
      j[key] = to_json_at(v, where + "." + key, depth + 1);
    }
    return j;
  }
  if (py::isinstance<py::array>(obj)) return to_json_at(obj.attr("tolist")(), where, depth + 1);
  if (py::hasattr(obj, "item") && py::hasattr(obj, "dtype"))
    return to_json_at(obj.attr("item")(), where, depth + 1);  // numpy scalar
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    nlohmann::json j = nlohmann::json::array();
    std::size_t i = 0;
    for (const auto& v : obj) j.push_back(to_json_at(v, where + "[" + std::to_string(i++) + "]", depth + 1));
    return j;
  }
  value_error(where + ": expected a number, string, boolean, list or dict, found " +
              py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
}
}  // namespace

nlohmann::json to_json(const py::handle& obj, const std::string& where) { return to_json_at(obj, where, 0); }

py::object from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(j.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list l;
      for (const auto& v : j) l.append(from_json(v));
      return l;
    }
    case nlohmann::json::value_t::object: {
      py::dict d;
      for (const auto& [k, v] : j.items()) d[py::str(k)] = from_json(v);
      return d;
    }
    default:
      return py::none();
  }
}

namespace {
/// A JSON value written as a TOML value (for --set).
std::string toml_text(const nlohmann::json& j, const std::string& where) {
  if (j.is_null()) value_error(where + ": None has no TOML value");
  if (j.is_string() || j.is_boolean() || j.is_number()) return j.dump();  // TOML's basic strings take JSON's escapes
  std::string s;
  if (j.is_array()) {
    for (const auto& v : j) s += (s.empty() ? "" : ", ") + toml_text(v, where);
    return "[" + s + "]";
  }
  for (const auto& [k, v] : j.items())
    s += (s.empty() ? "" : ", ") + nlohmann::json(k).dump() + " = " + toml_text(v, where);
  return "{ " + s + " }";
}
}  // namespace

std::vector<std::string> set_args(const py::handle& set) {
  std::vector<std::string> out;
  if (set.is_none()) return out;
  if (py::isinstance<py::str>(set)) return {set.cast<std::string>()};
  if (py::isinstance<py::dict>(set)) {
    for (const auto& [k, v] : set.cast<py::dict>()) {
      const auto key = py::str(k).cast<std::string>();
      out.push_back(key + "=" + toml_text(to_json(v, "set[" + key + "]"), "set[" + key + "]"));
    }
    return out;
  }
  if (py::isinstance<py::list>(set) || py::isinstance<py::tuple>(set)) {
    for (const auto& v : set) {
      if (!py::isinstance<py::str>(v))
        value_error("set: expected a dict {\"train.lr\": 2e-5} or strings \"KEY=VALUE\"");
      out.push_back(v.cast<std::string>());
    }
    return out;
  }
  value_error("set: expected a dict {\"train.lr\": 2e-5} or strings \"KEY=VALUE\"");
}

std::unique_ptr<ThreadPool> pool_for(std::size_t entries, std::size_t threads) {
  if (threads == 0) threads = entries >= kParallelEntries ? ThreadPool::available_cores() : 1;
  if (threads <= 1) return nullptr;
  return std::make_unique<ThreadPool>(threads);
}

std::string shape_text(const std::vector<std::size_t>& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

std::vector<std::size_t> shape_of(const py::array& a) {
  std::vector<std::size_t> s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(static_cast<std::size_t>(a.shape(i)));
  return s;
}

bool is_f32(const py::array& a) { return a.dtype().is(py::dtype::of<float>()); }

py::array float_array(const py::handle& obj, const std::vector<std::vector<std::size_t>>& shapes,
                      const std::string& what) {
  std::string expected;
  for (const auto& s : shapes) expected += (expected.empty() ? "" : " or ") + shape_text(s);
  py::array a;
  if (py::isinstance<py::array>(obj)) {
    a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().is(py::dtype::of<float>()) && !a.dtype().is(py::dtype::of<double>()))
      value_error(what + ": expected a float32 or float64 array of shape " + expected + ", found dtype " +
                  py::str(a.dtype()).cast<std::string>());
  } else if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
    if (!a) {
      PyErr_Clear();
      value_error(what + ": expected an array of numbers of shape " + expected);
    }
  } else {
    value_error(what + ": expected a numpy array of shape " + expected + " (float32 or float64), found " +
                py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
  const auto s = shape_of(a);
  for (const auto& want : shapes)
    if (s == want) return a;
  value_error(what + ": expected shape " + expected + ", found " + shape_text(s));
}

}  // namespace eqaug::py_

PYBIND11_MODULE(_eqaug, m) {
  namespace py = pybind11;
  using namespace eqaug::py_;
  m.doc() =
      "eqaug's C++ library from Python: groups, equivariant subspaces E and their projections, models with "
      "their risks, gradients and Hessian-vector products, and sweeps (eqaug run / eqaug hessian). Import the "
      "package `eqaug`, not this module.";
  m.attr("__version__") = EQAUG_VERSION;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const eqaug::experiment::Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, "interrupted: finished runs are kept; continue with resume=True");
    } catch (const eqaug::RuntimeFailure& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const eqaug::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::filesystem::filesystem_error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const py::cast_error& e) {  // a value of the wrong type or range (an int beyond 2^64, ...)
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def(
      "_blas_threads", [] { return eqaug::blas::num_threads(); },
      "OpenBLAS's thread count now (eqaug sets it only inside its own calls and restores it).");

  bind_groups(m);
  bind_model(m);
  bind_sweeps(m);
}
