#include "eqaug/nn/model.hpp"

#include <algorithm>
#include <cmath>

#include "eqaug/core/error.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {

ModelSpec::ModelSpec(GroupPtr group, Space input) : cache_(std::move(group)), input_(input) {
  EQAUG_CHECK(cache_.group() != nullptr, "model needs a group");
}

ModelSpec& ModelSpec::linear(std::size_t out_channels, std::size_t out_order, InitSpec init) {
  LayerSpec l;
  l.kind = LayerKind::Linear;
  l.in = output();
  l.out = make_space(*group(), out_channels, out_order);
  l.name = "A" + std::to_string(linear_.size());
  // Checked before the orbit table is built: a layer is one BLAS matrix (32-bit sizes).
  constexpr std::size_t kMaxDim = std::size_t{1} << 31;
  if (l.in.dim() * l.out.dim() >= kMaxDim)  // each factor ≤ kMaxSites (make_space), so no overflow
    throw Error("linear layer " + l.name + " from " + std::to_string(l.in.dim()) + " to " +
                std::to_string(l.out.dim()) + " features is too large (at most 2^31 weights per layer)");
  l.subspace = cache_.hom(l.in, l.out);
  l.offset = num_params_;
  l.count = l.in.dim() * l.out.dim();
  l.coord_offset = dim_E();
  l.init = init;
  num_params_ += l.count;
  linear_.push_back(layers_.size());
  layers_.push_back(std::move(l));
  return *this;
}

namespace {
LayerSpec pointwise(LayerKind kind, const Space& s) {
  LayerSpec l;
  l.kind = kind;
  l.in = l.out = s;
  return l;
}
}  // namespace

ModelSpec& ModelSpec::leaky_relu(double slope) {
  layers_.push_back(pointwise(LayerKind::LeakyReLU, output()));
  layers_.back().slope = slope;
  return *this;
}
ModelSpec& ModelSpec::layer_norm(double eps) {
  if (output().channels < 2) throw Error("layer norm across channels needs at least 2 channels");
  layers_.push_back(pointwise(LayerKind::LayerNorm, output()));
  layers_.back().eps = eps;
  return *this;
}
ModelSpec& ModelSpec::sigmoid() {
  layers_.push_back(pointwise(LayerKind::Sigmoid, output()));
  return *this;
}
ModelSpec& ModelSpec::tanh() {
  layers_.push_back(pointwise(LayerKind::Tanh, output()));
  return *this;
}
ModelSpec& ModelSpec::loss(LossKind kind) {
  loss_ = kind;
  return *this;
}

std::size_t ModelSpec::dim_E() const {
  std::size_t d = 0;
  for (auto i : linear_) d += layers_[i].subspace->dim();
  return d;
}

std::size_t ModelSpec::max_width() const {
  std::size_t w = input_.dim();
  for (const auto& l : layers_) w = std::max(w, l.out.dim());
  return w;
}

std::vector<double> ModelSpec::draw_init(Rng& rng) const {
  std::vector<double> a(num_params_);
  for (auto i : linear_) {
    const auto& l = layers_[i];
    double* w = a.data() + l.offset;
    if (l.init.kind == InitSpec::Kind::Normal) {
      for (std::size_t j = 0; j < l.count; ++j) w[j] = l.init.std * rng.normal();
    } else {
      // One value per channel pair, repeated over all site pairs.
      const std::size_t Co = l.out.channels, Ci = l.in.channels, So = l.out.sites, Si = l.in.sites;
      std::vector<double> v(Co * Ci);
      for (auto& x : v) x = l.init.std * rng.normal();
      for (std::size_t co = 0; co < Co; ++co)
        for (std::size_t so = 0; so < So; ++so)
          for (std::size_t ci = 0; ci < Ci; ++ci) std::fill_n(w + ((co * So + so) * Ci + ci) * Si, Si, v[co * Ci + ci]);
    }
  }
  return a;
}

template <typename T>
std::vector<double> ModelSpec::to_coords(const T* params) const {
  std::vector<double> c(dim_E());
  for (auto i : linear_) layers_[i].subspace->to_coords(params + layers_[i].offset, c.data() + layers_[i].coord_offset);
  return c;
}

template <typename T>
void ModelSpec::from_coords(const double* c, T* params) const {
  for (auto i : linear_) layers_[i].subspace->from_coords(c + layers_[i].coord_offset, params + layers_[i].offset);
}

template <typename T>
std::vector<T> ModelSpec::act(const Permutation& g, const std::vector<T>& params) const {
  EQAUG_CHECK(params.size() == num_params_, "parameter vector of the wrong size");
  std::vector<T> out(params.size());
  for (auto i : linear_) {
    const auto& l = layers_[i];
    l.subspace->act(g.on_tuples(l.out.order), g.on_tuples(l.in.order), params.data() + l.offset, out.data() + l.offset);
  }
  return out;
}

template <typename T>
void ModelSpec::project(T* params) const {
  for (auto i : linear_) layers_[i].subspace->project(params + layers_[i].offset);
}

template <typename T>
std::vector<double> ModelSpec::distance_to_E(const T* params) const {
  std::vector<double> d;
  for (auto i : linear_) d.push_back(layers_[i].subspace->distance(params + layers_[i].offset));
  return d;
}

template <typename T>
Network<T>::Network(const ModelSpec& spec, Parametrisation p, EquiEval eval) : spec_(&spec), param_(p) {
  const auto& layers = spec.layers();
  linear_index_.assign(layers.size(), 0);
  for (std::size_t j = 0; j < spec.linear_layers().size(); ++j) {
    linear_index_[spec.linear_layers()[j]] = j;
    if (p == Parametrisation::Equivariant) ops_.push_back(make_equi_op<T>(spec.linear_layer(j).subspace, eval));
  }
}

template <typename T>
std::size_t Network<T>::num_params() const {
  return param_ == Parametrisation::Dense ? spec_->num_params() : spec_->dim_E();
}

template <typename T>
std::vector<std::string> Network<T>::layer_kinds() const {
  std::vector<std::string> k;
  for (std::size_t j = 0; j < spec_->linear_layers().size(); ++j) k.push_back(ops_.empty() ? "dense" : ops_[j]->kind());
  return k;
}

template <typename T>
Workspace<T> Network<T>::make_workspace(std::size_t batch) const {
  Workspace<T> ws;
  ws.capacity = batch;
  const auto& layers = spec_->layers();
  ws.act.resize(layers.size() + 1);
  ws.act[0].resize(batch * spec_->input().dim());
  for (std::size_t i = 0; i < layers.size(); ++i) ws.act[i + 1].resize(batch * layers[i].out.dim());
  ws.grad_a.resize(batch * spec_->max_width());
  ws.grad_b.resize(batch * spec_->max_width());
  ws.target.resize(batch * spec_->output().dim());
  std::size_t scratch = 0;
  for (const auto& op : ops_) scratch = std::max(scratch, op->scratch_size(batch));
  ws.scratch.resize(scratch);
  return ws;
}

template <typename T>
void Network<T>::forward(const T* params, std::size_t batch, Workspace<T>& ws) const {
  EQAUG_CHECK(batch <= ws.capacity, "chunk larger than the workspace");
  const auto& layers = spec_->layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const T* x = ws.act[i].data();
    T* y = ws.act[i + 1].data();
    switch (l.kind) {
      case LayerKind::Linear:
        if (ops_.empty())
          ops::linear_forward(params + l.offset, x, y, batch, l.in.dim(), l.out.dim());
        else
          ops_[linear_index_[i]]->forward(params + l.coord_offset, x, y, batch, ws.scratch.data());
        break;
      case LayerKind::LeakyReLU:
        ops::leaky_relu_forward(x, y, batch * l.in.dim(), static_cast<T>(l.slope));
        break;
      case LayerKind::LayerNorm:
        ops::layer_norm_forward(x, y, batch, l.in.channels, l.in.sites, l.eps);
        break;
      case LayerKind::Sigmoid:
        ops::sigmoid_forward(x, y, batch * l.in.dim());
        break;
      case LayerKind::Tanh:
        ops::tanh_forward(x, y, batch * l.in.dim());
        break;
    }
  }
}

template <typename T>
ChunkStats Network<T>::evaluate(const T* params, std::size_t batch, Workspace<T>& ws, T* grad, bool accumulate) const {
  forward(params, batch, ws);
  const auto& layers = spec_->layers();
  const Space& out = spec_->output();
  ChunkStats st;
  T* gy = grad ? ws.grad_a.data() : nullptr;
  st = spec_->loss_kind() == LossKind::CrossEntropy
           ? ops::softmax_cross_entropy(ws.act.back().data(), ws.target.data(), batch, out.channels, out.sites, gy)
           : ops::bce_loss(ws.act.back().data(), ws.target.data(), batch, out.channels, out.sites, gy);
  if (!grad) return st;
  T* gx = ws.grad_b.data();
  for (std::size_t i = layers.size(); i-- > 0;) {
    const auto& l = layers[i];
    const T* x = ws.act[i].data();
    const T* y = ws.act[i + 1].data();
    const bool need_gx = i > 0;  // nobody needs the gradient w.r.t. the data
    switch (l.kind) {
      case LayerKind::Linear:
        if (ops_.empty()) {
          ops::linear_weight_grad(x, gy, grad + l.offset, batch, l.in.dim(), l.out.dim(), accumulate);
          if (need_gx) ops::linear_input_grad(params + l.offset, gy, gx, batch, l.in.dim(), l.out.dim());
        } else {
          ops_[linear_index_[i]]->backward(params + l.coord_offset, x, gy, need_gx ? gx : nullptr,
                                           grad + l.coord_offset, batch, accumulate, ws.scratch.data());
        }
        break;
      case LayerKind::LeakyReLU:
        if (need_gx) ops::leaky_relu_backward(y, gy, gx, batch * l.in.dim(), static_cast<T>(l.slope));
        break;
      case LayerKind::LayerNorm:
        if (need_gx) ops::layer_norm_backward(x, y, gy, gx, batch, l.in.channels, l.in.sites, l.eps);
        break;
      case LayerKind::Sigmoid:
        if (need_gx) ops::sigmoid_backward(y, gy, gx, batch * l.in.dim());
        break;
      case LayerKind::Tanh:
        if (need_gx) ops::tanh_backward(y, gy, gx, batch * l.in.dim());
        break;
    }
    if (!need_gx) break;
    std::swap(gy, gx);
  }
  return st;
}

namespace {
/// Which primal quantities the R-passes of Network::hvp read: act[i] for i ≥ 1 (act[0], the
/// data, is loaded for every chunk) and the loss gradient at layer i's output.
struct HvpReads {
  std::vector<bool> act, gy;
};
HvpReads hvp_reads(const std::vector<LayerSpec>& layers) {
  const std::size_t L = layers.size();
  HvpReads r{std::vector<bool>(L + 1, false), std::vector<bool>(L, false)};
  r.act[L] = true;  // the loss's R-operator
  for (std::size_t i = 0; i < L; ++i) {
    const LayerKind k = layers[i].kind;
    if (k == LayerKind::Linear || k == LayerKind::LayerNorm) r.act[i] = true;  // their input
    if (k != LayerKind::Linear) r.act[i + 1] = true;                           // the non-linearities' output
    r.gy[i] = k != LayerKind::LeakyReLU;  // piecewise linear: its R-backward needs the mask only
  }
  r.act[0] = false;
  return r;
}
}  // namespace

template <typename T>
std::size_t Network<T>::hvp_state_size(std::size_t batch) const {
  const auto& layers = spec_->layers();
  const auto r = hvp_reads(layers);
  std::size_t n = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (r.act[i + 1]) n += layers[i].out.dim();
    if (r.gy[i]) n += layers[i].out.dim();
  }
  return n * batch;
}

template <typename T>
ChunkStats Network<T>::hvp(const T* params, const T* v, std::size_t batch, Workspace<T>& ws, T* hv, bool accumulate,
                           HvpState<T>* state) const {
  EQAUG_CHECK(ops_.empty(), "Hessian-vector products need the dense parametrisation");
  const auto& layers = spec_->layers();
  const std::size_t L = layers.size();
  EQAUG_CHECK(L > 0 && layers[0].kind == LayerKind::Linear, "Hessian-vector products need a linear first layer");
  if (ws.ract.size() != L + 1) {
    ws.gy.assign(L, {});
    ws.ract.assign(L + 1, {});
    for (std::size_t i = 0; i < L; ++i) {
      ws.gy[i].resize(ws.capacity * layers[i].out.dim());
      ws.ract[i + 1].resize(ws.capacity * layers[i].out.dim());
    }
    ws.rgrad_a.resize(ws.capacity * spec_->max_width());
    ws.rgrad_b.resize(ws.capacity * spec_->max_width());
  }
  const Space& out = spec_->output();
  const bool cached = state && state->ready;
  ChunkStats st;
  if (cached) {
    EQAUG_CHECK(state->batch == batch, "Hessian-vector state of another chunk");
    st = state->stats;
  } else {
    // The primal passes: activations, then the loss gradient at every layer's output.
    forward(params, batch, ws);
    st = spec_->loss_kind() == LossKind::CrossEntropy
             ? ops::softmax_cross_entropy(ws.act.back().data(), ws.target.data(), batch, out.channels, out.sites,
                                          ws.gy[L - 1].data())
             : ops::bce_loss(ws.act.back().data(), ws.target.data(), batch, out.channels, out.sites,
                             ws.gy[L - 1].data());
    for (std::size_t i = L; i-- > 1;) {  // the gradient at layer i − 1's output
      const auto& l = layers[i];
      const T* x = ws.act[i].data();
      const T* y = ws.act[i + 1].data();
      const T* gy = ws.gy[i].data();
      T* gx = ws.gy[i - 1].data();
      const std::size_t n = batch * l.in.dim();
      switch (l.kind) {
        case LayerKind::Linear:
          ops::linear_input_grad(params + l.offset, gy, gx, batch, l.in.dim(), l.out.dim());
          break;
        case LayerKind::LeakyReLU:
          ops::leaky_relu_backward(y, gy, gx, n, static_cast<T>(l.slope));
          break;
        case LayerKind::LayerNorm:
          ops::layer_norm_backward(x, y, gy, gx, batch, l.in.channels, l.in.sites, l.eps);
          break;
        case LayerKind::Sigmoid:
          ops::sigmoid_backward(y, gy, gx, n);
          break;
        case LayerKind::Tanh:
          ops::tanh_backward(y, gy, gx, n);
          break;
      }
    }
    if (state) {
      const auto r = hvp_reads(layers);
      state->act.assign(L + 1, {});
      state->gy.assign(L, {});
      for (std::size_t i = 0; i < L; ++i) {
        const std::size_t n = batch * layers[i].out.dim();
        if (r.act[i + 1]) state->act[i + 1].assign(ws.act[i + 1].begin(), ws.act[i + 1].begin() + n);
        if (r.gy[i]) state->gy[i].assign(ws.gy[i].begin(), ws.gy[i].begin() + n);
      }
      state->batch = batch;
      state->stats = st;
      state->ready = true;
    }
  }
  // What the R-passes read (hvp_reads), from the state or from this pass.
  auto act = [&](std::size_t i) -> const T* { return cached && i > 0 ? state->act[i].data() : ws.act[i].data(); };
  auto grad = [&](std::size_t i) -> const T* { return cached ? state->gy[i].data() : ws.gy[i].data(); };

  // R-forward: the inputs do not depend on A (ract[0] stays empty: null below).
  for (std::size_t i = 0; i < L; ++i) {
    const auto& l = layers[i];
    const T* rx = i == 0 ? nullptr : ws.ract[i].data();
    T* ry = ws.ract[i + 1].data();
    const std::size_t n = batch * l.in.dim();
    switch (l.kind) {
      case LayerKind::Linear:
        ops::linear_rop_forward(params + l.offset, v + l.offset, act(i), rx, ry, batch, l.in.dim(), l.out.dim());
        break;
      case LayerKind::LeakyReLU:  // ry = f'(x) rx: the backward map
        ops::leaky_relu_backward(act(i + 1), rx, ry, n, static_cast<T>(l.slope));
        break;
      case LayerKind::LayerNorm:  // its Jacobian is symmetric: the backward map again
        ops::layer_norm_backward(act(i), act(i + 1), rx, ry, batch, l.in.channels, l.in.sites, l.eps);
        break;
      case LayerKind::Sigmoid:
        ops::sigmoid_backward(act(i + 1), rx, ry, n);
        break;
      case LayerKind::Tanh:
        ops::tanh_backward(act(i + 1), rx, ry, n);
        break;
    }
  }
  T* rgy = ws.rgrad_a.data();
  T* rgx = ws.rgrad_b.data();
  if (spec_->loss_kind() == LossKind::CrossEntropy)
    ops::softmax_cross_entropy_rop(act(L), ws.target.data(), ws.ract.back().data(), rgy, batch, out.channels,
                                   out.sites);
  else
    ops::bce_loss_rop(act(L), ws.target.data(), ws.ract.back().data(), rgy, batch, out.channels, out.sites);
  // R-backward.
  for (std::size_t i = L; i-- > 0;) {
    const auto& l = layers[i];
    const T* rx = i == 0 ? nullptr : ws.ract[i].data();
    const T* ry = ws.ract[i + 1].data();
    const bool need_gx = i > 0;
    const std::size_t n = batch * l.in.dim();
    switch (l.kind) {
      case LayerKind::Linear:
        ops::linear_rop_weight_grad(act(i), rx, grad(i), rgy, hv + l.offset, batch, l.in.dim(), l.out.dim(),
                                    accumulate);
        if (need_gx)
          ops::linear_rop_input_grad(params + l.offset, v + l.offset, grad(i), rgy, rgx, batch, l.in.dim(),
                                     l.out.dim());
        break;
      case LayerKind::LeakyReLU:  // piecewise linear: R(gx) = f'(x) R(gy)
        ops::leaky_relu_backward(act(i + 1), rgy, rgx, n, static_cast<T>(l.slope));
        break;
      case LayerKind::LayerNorm:
        ops::layer_norm_rop_backward(act(i), act(i + 1), grad(i), rx, ry, rgy, rgx, batch, l.in.channels, l.in.sites,
                                     l.eps);
        break;
      case LayerKind::Sigmoid:
        ops::sigmoid_rop_backward(act(i + 1), grad(i), ry, rgy, rgx, n);
        break;
      case LayerKind::Tanh:
        ops::tanh_rop_backward(act(i + 1), grad(i), ry, rgy, rgx, n);
        break;
    }
    if (!need_gx) break;
    std::swap(rgy, rgx);
  }
  return st;
}

template <typename T>
std::vector<T> Network<T>::predict(const T* params, const T* inputs, std::size_t batch) const {
  auto ws = make_workspace(batch);
  std::copy_n(inputs, batch * spec_->input().dim(), ws.act[0].data());
  forward(params, batch, ws);
  return ws.act.back();
}

template std::vector<double> ModelSpec::to_coords<float>(const float*) const;
template std::vector<double> ModelSpec::to_coords<double>(const double*) const;
template void ModelSpec::from_coords<float>(const double*, float*) const;
template void ModelSpec::from_coords<double>(const double*, double*) const;
template std::vector<float> ModelSpec::act<float>(const Permutation&, const std::vector<float>&) const;
template std::vector<double> ModelSpec::act<double>(const Permutation&, const std::vector<double>&) const;
template void ModelSpec::project<float>(float*) const;
template void ModelSpec::project<double>(double*) const;
template std::vector<double> ModelSpec::distance_to_E<float>(const float*) const;
template std::vector<double> ModelSpec::distance_to_E<double>(const double*) const;
template class Network<float>;
template class Network<double>;

}  // namespace eqaug
