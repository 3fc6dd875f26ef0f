#pragma once
// The Python module's shared parts: conversions between Python objects and the JSON of
// configurations, numpy arrays checked against the shapes eqaug expects, and a thread pool
// for a call. The module is a thin layer: every computation is the C++ library's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/core/thread_pool.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug::py_ {

namespace py = pybind11;

/// A Python value (None, bool, int, float, str, list, tuple, dict, numpy arrays and
/// scalars) as JSON; `where` names it in a ValueError.
nlohmann::json to_json(const py::handle& obj, const std::string& where);
py::object from_json(const nlohmann::json& j);

/// A group with the [group] table it was built from (null for none), which gives the
/// closed forms of its kind.
struct PyGroup {
  GroupPtr group;
  nlohmann::json table;  // resolved [group] table, or null
};

/// An array of float32 or float64 (any other dtype or a non-array: ValueError naming
/// `what` and the expected shape), of one of the `shapes` (else ValueError).
py::array float_array(const py::handle& obj, const std::vector<std::vector<std::size_t>>& shapes,
                      const std::string& what);
std::string shape_text(const std::vector<std::size_t>& s);
std::vector<std::size_t> shape_of(const py::array& a);
bool is_f32(const py::array& a);

/// A layer's E with the group it belongs to (eqaug.Subspace).
struct PySubspace {
  std::shared_ptr<PyGroup> group;
  std::shared_ptr<const EquivariantSubspace> e;
  /// The weight matrix's shape (C_out·S_out, C_in·S_in), and the same memory as (C_out, S_out, C_in, S_in).
  std::vector<std::size_t> matrix() const { return {e->out().dim(), e->in().dim()}; }
  std::vector<std::size_t> four() const { return {e->out().channels, e->out().sites, e->in().channels, e->in().sites}; }
  py::array weights(const py::handle& w, const std::string& what) const {
    return float_array(w, {matrix(), four()}, what);
  }
};

/// Layers of image size run Π_E on every core; small ones on the calling thread.
inline constexpr std::size_t kParallelEntries = std::size_t{1} << 16;
std::unique_ptr<ThreadPool> pool_for(std::size_t entries, std::size_t threads);

/// --set arguments "KEY=VALUE" (VALUE as TOML) from a dict {"train.lr": 2e-5}, a list of
/// "KEY=VALUE" strings, one such string, or None.
std::vector<std::string> set_args(const py::handle& set);

/// A path (str, bytes or os.PathLike) as text: os.fsdecode (a bytes path is decoded, not
/// written as "b'...'").
inline std::string path_text(const py::handle& path) {
  return py::module_::import("os").attr("fsdecode")(path).cast<std::string>();
}

/// A ValueError (eqaug::Error is mapped to it).
[[noreturn]] void value_error(const std::string& msg);

void bind_groups(py::module_& m);
void bind_model(py::module_& m);
void bind_sweeps(py::module_& m);

}  // namespace eqaug::py_
