// eqaug.Group, eqaug.Space, eqaug.Subspace: finite permutation groups, the spaces of
// channels × sites they act on, and the equivariant subspace E of a layer with its
// projection, orthonormal orbit coordinates and distance (equivariance/subspace.hpp).
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "common.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/fields.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/registry.hpp"

namespace eqaug::py_ {
namespace {

using namespace pybind11::literals;

std::shared_ptr<PyGroup> group_of_kind(const std::string& kind, const py::kwargs& fields) {
  nlohmann::json table = to_json(fields, "group");
  table["kind"] = kind;
  Fields f(table, "eqaug.Group", "group", nullptr);
  nlohmann::json out;
  const GroupKind& gk = io::resolve_group_table(f, out);
  auto g = std::make_shared<PyGroup>();
  g->group = gk.build(out);
  g->table = out;
  return g;
}

/// Permutations (image lists) as a (count, degree) int64 array.
py::array_t<std::int64_t> permutations_array(const std::vector<Permutation>& perms, std::size_t degree) {
  py::array_t<std::int64_t> a({perms.size(), degree});
  auto* p = a.mutable_data();
  for (const auto& g : perms)
    for (std::size_t i = 0; i < degree; ++i) *p++ = g(i);
  return a;
}

Permutation permutation_of(const py::handle& obj, std::size_t degree, const std::string& what) {
  const auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != degree) {
    PyErr_Clear();
    value_error(what + ": expected a permutation of the " + std::to_string(degree) +
                " base points, an integer array of shape (" + std::to_string(degree) + ",)");
  }
  std::vector<std::uint32_t> image(degree);
  for (std::size_t i = 0; i < degree; ++i) {
    const auto v = a.at(static_cast<py::ssize_t>(i));
    if (v < 0 || static_cast<std::size_t>(v) >= degree)
      value_error(what + ": entry " + std::to_string(i) + " is " + std::to_string(v) + ", expected 0 … " +
                  std::to_string(degree - 1));
    image[i] = static_cast<std::uint32_t>(v);
  }
  return Permutation(std::move(image));
}

Sampler parse_sampler(const std::string& s) {
  for (Sampler k : {Sampler::Haar, Sampler::Reference, Sampler::RotReversal})
    if (to_string(k) == s) return k;
  value_error("sampler: expected '" + to_string(Sampler::Haar) + "', '" + to_string(Sampler::Reference) + "' or '" +
              to_string(Sampler::RotReversal) + "', found '" + s + "'");
}

Space space_of(const PyGroup& g, const py::handle& obj, const std::string& what) {
  if (py::isinstance<Space>(obj)) {
    const auto s = obj.cast<Space>();
    if (make_space(*g.group, s.channels, s.order).sites != s.sites)
      value_error(what + ": this eqaug.Space has " + std::to_string(s.sites) + " sites, not those of order " +
                  std::to_string(s.order) + " of the group given (a Space of another group?)");
    return s;
  }
  if (py::isinstance<py::tuple>(obj) && py::len(obj) == 2) {
    const auto t = obj.cast<py::tuple>();
    std::size_t channels = 0, order = 0;
    try {
      channels = t[0].cast<std::size_t>();
      order = t[1].cast<std::size_t>();
    } catch (const py::cast_error&) {
      value_error(what + ": expected (channels, order) as two non-negative integers, found " +
                  py::repr(obj).cast<std::string>());
    }
    if (channels == 0) value_error(what + ": channels must be at least 1");
    return make_space(*g.group, channels, order);
  }
  value_error(what + ": expected an eqaug.Space or a tuple (channels, order)");
}

/// A C-contiguous array of `a`'s dtype and shape holding a copy of it (`out`, checked, or new).
py::array result_array(const py::array& a, const py::object& out, const std::string& what) {
  const auto np = py::module_::import("numpy");
  if (out.is_none()) return np.attr("array")(a, "copy"_a = true, "order"_a = "C");
  if (!py::isinstance<py::array>(out)) value_error(what + ": out must be a numpy array");
  auto o = py::reinterpret_borrow<py::array>(out);
  if (!o.dtype().is(a.dtype()))
    value_error(what + ": out has dtype " + py::str(o.dtype()).cast<std::string>() + ", expected " +
                py::str(a.dtype()).cast<std::string>() + " (the input's)");
  if (shape_of(o) != shape_of(a))
    value_error(what + ": out has shape " + shape_text(shape_of(o)) + ", expected " + shape_text(shape_of(a)));
  if (!(o.flags() & py::array::c_style)) value_error(what + ": out must be C-contiguous");
  if (!o.writeable()) value_error(what + ": out is read-only");
  // out = w itself (the same memory, the same layout): in place. Any other overlap (a
  // transposed view of out, ...) goes through a copy of w first.
  const bool same =
      o.data() == a.data() && o.ndim() == a.ndim() && std::equal(o.strides(), o.strides() + o.ndim(), a.strides());
  if (!same) {
    if (np.attr("shares_memory")(o, a).cast<bool>())
      np.attr("copyto")(o, np.attr("array")(a, "copy"_a = true));
    else
      np.attr("copyto")(o, a);
  }
  return o;
}

/// The orbit count by the closed form of the group's kind (eqaug dims' check); none for a
/// group without a [group] table or a kind without a closed form.
std::optional<std::size_t> closed_form_orbits(const PySubspace& s) {
  if (s.group->table.is_null()) return std::nullopt;
  return group_kind(s.group->table.at("kind").get<std::string>())
      .closed_form(s.group->table, s.e->out().order, s.e->in().order);
}

py::array contiguous(const py::array& a) {
  if (a.flags() & py::array::c_style) return a;
  return py::module_::import("numpy").attr("ascontiguousarray")(a);
}

}  // namespace

void bind_groups(py::module_& m) {
  py::class_<PyGroup, std::shared_ptr<PyGroup>>(m, "Group", R"doc(
A finite group acting by permutations on base points (graph nodes or the pixels of an image).

Group(kind, **fields) builds one of the kinds a configuration's [group] table names, with the
same fields: Group("symmetric", n=5), Group("translation2d", side=14), Group("rotation", side=8),
Group("translation_x", side=14), Group("translation_rotation", side=14), Group("flip", side=4),
Group("dihedral", side=4), Group("dihedral_translation", side=6),
Group("generated", acts_on="nodes", generators=[[1, 2, 0], [1, 0, 2]]).
Group.from_generators(generators) is the last one. The CLI equivalent is a [group] table.)doc")
      .def(py::init(&group_of_kind), "kind"_a,
           "Builds the group of this kind (eqaug config-reference lists the kinds and fields); a ValueError names a "
           "bad field.")
      .def_static(
          "from_generators",
          [](const py::object& generators, const std::string& acts_on, std::optional<std::size_t> side) {
            py::kwargs k;
            k["generators"] = generators;
            k["acts_on"] = acts_on;
            if (side) k["side"] = *side;
            return group_of_kind("generated", k);
          },
          "generators"_a, "acts_on"_a = "nodes", "side"_a = py::none(),
          "The group generated by permutations of the base points (each an integer array: entry i is g(i)); "
          "acts_on='pixels' with side=N for images (pixel index row*N + col). All elements are enumerated.")
      .def_property_readonly("name", [](const PyGroup& g) { return g.group->name(); })
      .def_property_readonly(
          "kind", [](const PyGroup& g) { return from_json(g.table.value("kind", nlohmann::json())); },
          "The configuration's group.kind (None for none).")
      .def_property_readonly(
          "table", [](const PyGroup& g) { return from_json(g.table); },
          "The resolved [group] table (every default filled in), as a dict.")
      .def_property_readonly(
          "degree", [](const PyGroup& g) { return g.group->degree(); }, "Number of base points.")
      .def_property_readonly(
          "order",
          [](const PyGroup& g) -> py::object {
            const auto o = g.group->order();
            return o ? py::object(py::int_(*o)) : py::object(py::none());
          },
          "|G|, or None beyond 2^64.")
      .def_property_readonly(
          "generators", [](const PyGroup& g) { return permutations_array(g.group->generators(), g.group->degree()); },
          "The generators, a (k, degree) int64 array of images.")
      .def(
          "elements",
          [](const PyGroup& g, std::uint64_t limit) {
            std::vector<Permutation> el;
            {
              py::gil_scoped_release nogil;
              el = g.group->elements(limit);
            }
            return permutations_array(el, g.group->degree());
          },
          "limit"_a = 1'000'000,
          "Every element, an (order, degree) int64 array; ValueError when the order exceeds limit.")
      .def(
          "sample",
          [](const PyGroup& g, std::uint64_t seed, std::size_t count, const std::string& sampler) {
            const Sampler s = parse_sampler(sampler);
            Rng rng(seed);
            std::vector<Permutation> el;
            for (std::size_t i = 0; i < count; ++i) el.push_back(g.group->sample_with(rng, s));
            return permutations_array(el, g.group->degree());
          },
          "seed"_a, "count"_a = 1, "sampler"_a = "haar",
          "count elements drawn from a generator seeded with seed (mt19937_64): uniformly (Haar, sampler='haar'), or "
          "by the reference code's rules ('reference', 'rot_reversal'); a (count, degree) int64 array.")
      .def("__repr__", [](const PyGroup& g) {
        const auto o = g.group->order();
        return "<eqaug.Group " + g.group->name() + ", degree " + std::to_string(g.group->degree()) + ", order " +
               (o ? std::to_string(*o) : std::string("> 2^64")) + ">";
      });

  py::class_<Space>(m, "Space", R"doc(
Channels x sites: the sites are k-tuples of the group's base points (order 0: one trivial
site; 1: the points, e.g. pixels; 2: pairs, e.g. adjacency matrices). Feature index
c*sites + s.)doc")
      .def(py::init([](const PyGroup& g, std::size_t channels, std::size_t order) {
             if (channels == 0) value_error("Space: channels must be at least 1");
             return make_space(*g.group, channels, order);
           }),
           "group"_a, "channels"_a, "order"_a)
      .def_readonly("channels", &Space::channels)
      .def_readonly("order", &Space::order)
      .def_readonly("sites", &Space::sites)
      .def_property_readonly("dim", &Space::dim, "channels * sites")
      .def("__repr__", [](const Space& s) {
        return "<eqaug.Space " + std::to_string(s.channels) + " channel(s) x " + std::to_string(s.sites) +
               " site(s), order " + std::to_string(s.order) + ">";
      });

  py::class_<PySubspace>(m, "Subspace", R"doc(
The equivariant subspace E = Hom_G(input, output) of a layer's weights: the matrices constant
on every G-orbit of site pairs, for each channel pair. dim E is an orbit count; the projection
Pi_E is the orbit average (the Haar average of the group's action); the orbit indicators over
sqrt(|orbit|) are an orthonormal basis.

Weights are the layer's matrix, shape (output.dim, input.dim) = (C_out*S_out, C_in*S_in), or
the same memory as (C_out, S_out, C_in, S_in); float32 or float64. (The .npy files of
--save-weights hold (C_out, C_in, S_out, S_in).) CLI: `eqaug dims` prints dim E per layer.)doc")
      .def(py::init([](std::shared_ptr<PyGroup> g, const py::object& input, const py::object& output) {
             if (!g) value_error("Subspace: group is required (an eqaug.Group)");
             SubspaceCache cache(g->group);
             const Space in = space_of(*g, input, "input"), out = space_of(*g, output, "output");
             std::shared_ptr<const EquivariantSubspace> e;
             {
               py::gil_scoped_release nogil;
               e = cache.hom(in, out);
             }
             return PySubspace{std::move(g), std::move(e)};
           }),
           py::arg("group").none(false), "input"_a, "output"_a,
           "E of the maps input -> output, each an eqaug.Space or a tuple (channels, order).")
      .def_property_readonly(
          "dim", [](const PySubspace& s) { return s.e->dim(); }, "dim E")
      .def_property_readonly(
          "ambient_dim", [](const PySubspace& s) { return s.e->ambient_dim(); },
          "dim of all weight matrices, output.dim * input.dim")
      .def_property_readonly(
          "shape", [](const PySubspace& s) { return py::tuple(py::cast(s.matrix())); },
          "The weight matrix's shape (output.dim, input.dim).")
      .def_property_readonly("input", [](const PySubspace& s) { return s.e->in(); })
      .def_property_readonly("output", [](const PySubspace& s) { return s.e->out(); })
      .def_property_readonly("group", [](const PySubspace& s) { return s.group; })
      .def_property_readonly(
          "orbits", [](const PySubspace& s) { return s.e->orbits().count(); },
          "Number of G-orbits of site pairs (dim E per channel pair).")
      .def_property_readonly(
          "orbit_sizes",
          [](const PySubspace& s) {
            const auto& v = s.e->orbits().sizes();
            return py::array_t<std::int64_t>(static_cast<py::ssize_t>(v.size()),
                                             std::vector<std::int64_t>(v.begin(), v.end()).data());
          },
          "Size of each orbit, an int64 array.")
      .def_property_readonly(
          "orbit_index",
          [](const PySubspace& s) {
            const auto& o = s.e->orbits();
            py::array_t<std::int64_t> a({o.sites_out(), o.sites_in()});
            std::copy(o.orbit_of().begin(), o.orbit_of().end(), a.mutable_data());
            return a;
          },
          "The orbit of each site pair, an (S_out, S_in) int64 array.")
      .def_property_readonly(
          "closed_form_orbits",
          [](const PySubspace& s) -> py::object {
            const auto n = closed_form_orbits(s);
            return n ? py::object(py::int_(*n)) : py::object(py::none());
          },
          "The orbit count by the closed form of the group's kind (eqaug dims' check), or None where none is known.")
      .def(
          "check",
          [](const PySubspace& s) -> py::object {
            const auto n = closed_form_orbits(s);
            if (!n) return py::none();
            return py::bool_(*n == s.e->orbits().count());
          },
          "Whether the orbit count equals its closed form (True/False), None where the kind has none (eqaug dims).")
      .def(
          "project",
          [](const PySubspace& s, const py::object& w, const py::object& out, std::size_t threads) {
            const py::array a = s.weights(w, "project");
            py::array r = result_array(a, out, "project");
            const bool f32 = is_f32(r);
            void* p = r.mutable_data();
            {
              py::gil_scoped_release nogil;
              const auto pool = pool_for(s.e->ambient_dim(), threads);
              if (f32)
                s.e->project(static_cast<float*>(p), pool.get());
              else
                s.e->project(static_cast<double*>(p), pool.get());
            }
            return r;
          },
          "w"_a, "out"_a = py::none(), "threads"_a = 0,
          "Pi_E w: a new array of w's dtype and shape, or written into out (out=w projects in place, no copy). "
          "threads=0: every core for layers of 65536 entries or more.")
      .def(
          "to_coords",
          [](const PySubspace& s, const py::object& w, std::size_t threads) {
            const py::array a = contiguous(s.weights(w, "to_coords"));
            py::array_t<double> c(static_cast<py::ssize_t>(s.e->dim()));
            double* cp = c.mutable_data();
            const bool f32 = is_f32(a);
            const void* p = a.data();
            {
              py::gil_scoped_release nogil;
              const auto pool = pool_for(s.e->ambient_dim(), threads);
              if (f32)
                s.e->to_coords(static_cast<const float*>(p), cp, pool.get());
              else
                s.e->to_coords(static_cast<const double*>(p), cp, pool.get());
            }
            return c;
          },
          "w"_a, "threads"_a = 0,
          "The orthonormal orbit coordinates of Pi_E w, a float64 array of dim E: entry (c_out*C_in + c_in)*K + k is "
          "the sum of w over orbit k divided by sqrt(|orbit k|).")
      .def(
          "from_coords",
          [](const PySubspace& s, const py::object& coords, const py::object& dtype, const py::object& out,
             std::size_t threads) {
            const auto c = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(coords);
            if (!c || c.ndim() != 1 || static_cast<std::size_t>(c.shape(0)) != s.e->dim()) {
              PyErr_Clear();
              value_error("from_coords: expected coordinates of shape (" + std::to_string(s.e->dim()) + ",) (dim E)");
            }
            py::array r;
            if (out.is_none()) {
              const py::dtype dt = py::dtype::from_args(dtype);
              if (!dt.is(py::dtype::of<float>()) && !dt.is(py::dtype::of<double>()))
                value_error("from_coords: dtype must be float32 or float64");
              r = py::array(dt, s.matrix());
            } else {
              r = s.weights(out, "from_coords: out");
              if (!(r.flags() & py::array::c_style) || !r.writeable())
                value_error("from_coords: out must be C-contiguous and writeable");
            }
            const bool f32 = is_f32(r);
            void* p = r.mutable_data();
            const double* cp = c.data();
            {
              py::gil_scoped_release nogil;
              const auto pool = pool_for(s.e->ambient_dim(), threads);
              if (f32)
                s.e->from_coords(cp, static_cast<float*>(p), pool.get());
              else
                s.e->from_coords(cp, static_cast<double*>(p), pool.get());
            }
            return r;
          },
          "coords"_a, "dtype"_a = "float64", "out"_a = py::none(), "threads"_a = 0,
          "The element of E with these orthonormal coordinates, as a weight matrix (new, or written into out).")
      .def(
          "distance",
          [](const PySubspace& s, const py::object& w, std::size_t threads) {
            const py::array a = contiguous(s.weights(w, "distance"));
            const bool f32 = is_f32(a);
            const void* p = a.data();
            py::gil_scoped_release nogil;
            const auto pool = pool_for(s.e->ambient_dim(), threads);
            return f32 ? s.e->distance(static_cast<const float*>(p), pool.get())
                       : s.e->distance(static_cast<const double*>(p), pool.get());
          },
          "w"_a, "threads"_a = 0, "||w - Pi_E w|| (Frobenius), computed in float64.")
      .def(
          "act",
          [](const PySubspace& s, const py::object& g, const py::object& w) {
            const py::array a = contiguous(s.weights(w, "act"));
            const Permutation p = permutation_of(g, s.group->group->degree(), "act: g");
            const Permutation po = p.on_tuples(s.e->out().order), pi = p.on_tuples(s.e->in().order);
            py::array r(a.dtype(), shape_of(a));
            if (is_f32(a))
              s.e->act(po, pi, static_cast<const float*>(a.data()), static_cast<float*>(r.mutable_data()));
            else
              s.e->act(po, pi, static_cast<const double*>(a.data()), static_cast<double*>(r.mutable_data()));
            return r;
          },
          "g"_a, "w"_a,
          "rho(g) w: the weights moved by the group element g (a permutation of the base points); w is in E iff "
          "act(g, w) == w for every g.")
      .def("__repr__", [](const PySubspace& s) {
        return "<eqaug.Subspace dim " + std::to_string(s.e->dim()) + " of " + std::to_string(s.e->ambient_dim()) +
               ", " + std::to_string(s.e->orbits().count()) + " orbit(s), group " + s.group->group->name() + ">";
      });
}

}  // namespace eqaug::py_
