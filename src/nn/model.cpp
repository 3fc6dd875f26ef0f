#include "eqaug/nn/model.hpp"

#include <algorithm>
#include <cmath>

#include "eqaug/core/error.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {

ModelSpec::ModelSpec(GroupPtr group, Space input) : cache_(std::move(group)), input_(input) {
  EQAUG_CHECK(cache_.group() != nullptr, "model needs a group");
}

ModelSpec& ModelSpec::linear(std::size_t out_channels, std::size_t out_order, InitSpec init) {
  LayerSpec l;
  l.kind = LayerKind::Linear;
  l.in = l.w_in = output();
  l.out = l.w_out = make_space(*group(), out_channels, out_order);
  l.init = init;
  add_weighted(std::move(l));
  return *this;
}

ModelSpec& ModelSpec::affine() {
  return add(LayerKind::Affine, {}, make_space(*group(), 2, 0), make_space(*group(), output().channels, 0));
}

ModelSpec& ModelSpec::add(LayerKind kind, const LayerParams& params, const Space& w_in, const Space& w_out) {
  layer_type(kind).check(output(), params);
  LayerSpec l;
  l.kind = kind;
  l.in = l.out = output();
  l.params = params;
  l.w_in = w_in;
  l.w_out = w_out;
  add_weighted(std::move(l));
  return *this;
}

void ModelSpec::add_weighted(LayerSpec l) {
  const LayerType& type = layer_type(l.kind);
  EQAUG_CHECK(type.has_weights(), "add_weighted is for kinds with weights");
  std::size_t same = 0;
  for (auto i : weighted_) same += layers_[i].kind == l.kind;
  l.name = type.weights_name() + std::to_string(same);
  // Checked before the orbit table is built: a layer is one BLAS matrix (32-bit sizes).
  constexpr std::size_t kMaxDim = std::size_t{1} << 31;
  if (l.w_in.dim() * l.w_out.dim() >= kMaxDim)  // each factor ≤ kMaxSites (make_space), so no overflow
    throw Error(type.name() + " layer " + l.name + " from " + std::to_string(l.w_in.dim()) + " to " +
                std::to_string(l.w_out.dim()) + " features is too large (at most 2^31 weights per layer)");
  l.subspace = cache_.hom(l.w_in, l.w_out);
  l.offset = num_params_;
  l.count = l.w_in.dim() * l.w_out.dim();
  l.coord_offset = dim_E();
  num_params_ += l.count;
  weighted_.push_back(layers_.size());
  layers_.push_back(std::move(l));
}

ModelSpec& ModelSpec::add(LayerKind kind, const LayerParams& params) {
  const LayerType& type = layer_type(kind);
  EQAUG_CHECK(!type.has_weights(), "ModelSpec::add is for kinds without weights; use linear() or affine()");
  type.check(output(), params);
  LayerSpec l;
  l.kind = kind;
  l.in = l.out = output();
  l.params = params;
  layers_.push_back(std::move(l));
  return *this;
}

ModelSpec& ModelSpec::leaky_relu(double slope) { return add(LayerKind::LeakyReLU, {.slope = slope}); }
ModelSpec& ModelSpec::layer_norm(double eps) { return add(LayerKind::LayerNorm, {.eps = eps}); }
ModelSpec& ModelSpec::sigmoid() { return add(LayerKind::Sigmoid); }
ModelSpec& ModelSpec::tanh() { return add(LayerKind::Tanh); }
ModelSpec& ModelSpec::set_minibatch(std::size_t samples) {
  minibatch_ = samples;
  return *this;
}

bool ModelSpec::couples_samples() const {
  return std::any_of(layers_.begin(), layers_.end(),
                     [](const LayerSpec& l) { return layer_type(l.kind).couples_samples(); });
}

ModelSpec& ModelSpec::loss(LossKind kind) {
  loss_ = kind;
  return *this;
}

std::size_t ModelSpec::dim_E() const {
  std::size_t d = 0;
  for (auto i : weighted_) d += layers_[i].subspace->dim();
  return d;
}

std::size_t ModelSpec::max_width() const {
  std::size_t w = input_.dim();
  for (const auto& l : layers_) w = std::max(w, l.out.dim());
  return w;
}

std::vector<double> ModelSpec::draw_init(Rng& rng) const {
  std::vector<double> a(num_params_);
  for (auto i : weighted_) layer_type(layers_[i].kind).init(layers_[i], rng, a.data() + layers_[i].offset);
  return a;
}

template <typename T>
std::vector<double> ModelSpec::to_coords(const T* params, ThreadPool* pool) const {
  std::vector<double> c(dim_E());
  for (auto i : weighted_)
    layers_[i].subspace->to_coords(params + layers_[i].offset, c.data() + layers_[i].coord_offset, pool);
  return c;
}

template <typename T>
void ModelSpec::from_coords(const double* c, T* params, ThreadPool* pool) const {
  for (auto i : weighted_)
    layers_[i].subspace->from_coords(c + layers_[i].coord_offset, params + layers_[i].offset, pool);
}

template <typename T>
std::vector<T> ModelSpec::act(const Permutation& g, const std::vector<T>& params) const {
  EQAUG_CHECK(params.size() == num_params_, "parameter vector of the wrong size");
  std::vector<T> out(params.size());
  for (auto i : weighted_) {
    const auto& l = layers_[i];
    l.subspace->act(g.on_tuples(l.out.order), g.on_tuples(l.in.order), params.data() + l.offset, out.data() + l.offset);
  }
  return out;
}

template <typename T>
void ModelSpec::project(T* params, ThreadPool* pool) const {
  for (auto i : weighted_) layers_[i].subspace->project(params + layers_[i].offset, pool);
}

template <typename T>
std::vector<double> ModelSpec::distance_to_E(const T* params, ThreadPool* pool) const {
  std::vector<double> d;
  for (auto i : weighted_) d.push_back(layers_[i].subspace->distance(params + layers_[i].offset, pool));
  return d;
}

template <typename T>
Network<T>::Network(const ModelSpec& spec, Parametrisation p, EquiEval eval) : spec_(&spec), param_(p) {
  if (p == Parametrisation::Dense) return;
  ops_.resize(spec.layers().size());
  for (auto i : spec.weight_layers()) {
    const auto& l = spec.layers()[i];
    if (l.kind == LayerKind::Linear) {
      ops_[i] = make_equi_op<T>(l.subspace, eval);
    } else {  // read by the layer itself: its coordinates in E must be its weights (E = L, singleton orbits)
      EQAUG_CHECK(l.subspace->dim() == l.count,
                  "the equivariant parametrisation needs layer " + l.name + "'s E to be all of its weights");
    }
  }
}

template <typename T>
std::size_t Network<T>::num_params() const {
  return param_ == Parametrisation::Dense ? spec_->num_params() : spec_->dim_E();
}

template <typename T>
std::vector<std::string> Network<T>::layer_kinds() const {
  std::vector<std::string> k;
  for (auto i : spec_->weight_layers()) k.push_back(ops_.empty() || !ops_[i] ? "dense" : ops_[i]->kind());
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
  for (const auto& op : ops_)
    if (op) scratch = std::max(scratch, op->scratch_size(batch));
  ws.scratch.resize(scratch);
  return ws;
}

template <typename T>
LayerBuffers<T> Network<T>::buffers(std::size_t i, const T* params, std::size_t batch) const {
  const LayerSpec& l = spec_->layers()[i];
  LayerBuffers<T> b;
  b.layer = &l;
  b.batch = batch;
  if (layer_type(l.kind).has_weights()) b.w = params + weights_at(i);
  return b;
}

template <typename T>
std::size_t Network<T>::weights_at(std::size_t i) const {
  const LayerSpec& l = spec_->layers()[i];
  return param_ == Parametrisation::Dense ? l.offset : l.coord_offset;
}

template <typename T>
void Network<T>::forward(const T* params, std::size_t batch, Workspace<T>& ws) const {
  EQAUG_CHECK(batch <= ws.capacity, "chunk larger than the workspace");
  const auto& layers = spec_->layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const T* x = ws.act[i].data();
    T* y = ws.act[i + 1].data();
    if (!ops_.empty() && ops_[i]) {
      ops_[i]->forward(params + l.coord_offset, x, y, batch, ws.scratch.data());
      continue;
    }
    auto b = buffers(i, params, batch);
    b.x = x;
    layer_type(l.kind).forward(b, y);
  }
}

template <typename T>
ChunkStats Network<T>::loss(const T* out, const T* target, std::size_t batch, T* g) const {
  const Space& o = spec_->output();
  return spec_->loss_kind() == LossKind::CrossEntropy
             ? ops::softmax_cross_entropy(out, target, batch, o.channels, o.sites, g)
             : ops::bce_loss(out, target, batch, o.channels, o.sites, g);
}

template <typename T>
ChunkStats Network<T>::evaluate(const T* params, std::size_t batch, Workspace<T>& ws, T* grad, bool accumulate) const {
  forward(params, batch, ws);
  const auto& layers = spec_->layers();
  T* gy = grad ? ws.grad_a.data() : nullptr;
  const ChunkStats st = loss(ws.act.back().data(), ws.target.data(), batch, gy);
  if (!grad) return st;
  T* gx = ws.grad_b.data();
  for (std::size_t i = layers.size(); i-- > 0;) {
    const auto& l = layers[i];
    const bool need_gx = i > 0;  // nobody needs the gradient w.r.t. the data
    if (!ops_.empty() && ops_[i]) {
      ops_[i]->backward(params + l.coord_offset, ws.act[i].data(), gy, need_gx ? gx : nullptr,
                                       grad + l.coord_offset, batch, accumulate, ws.scratch.data());
    } else {
      auto b = buffers(i, params, batch);
      b.x = ws.act[i].data();
      b.y = ws.act[i + 1].data();
      b.gy = gy;
      layer_type(l.kind).backward(b, need_gx ? gx : nullptr, b.w ? grad + weights_at(i) : nullptr, accumulate);
    }
    if (!need_gx) break;
    std::swap(gy, gx);
  }
  return st;
}

namespace {
/// Which primal quantities the R-passes of Network::hvp read: act[i] for i ≥ 1 (act[0], the
/// data, is loaded for every chunk) and the loss gradient at layer i's output.
struct PrimalReads {
  std::vector<bool> act, gy;
};
PrimalReads hvp_reads(const std::vector<LayerSpec>& layers) {
  const std::size_t L = layers.size();
  PrimalReads r{std::vector<bool>(L + 1, false), std::vector<bool>(L, false)};
  r.act[L] = true;  // the loss's R-operator
  for (std::size_t i = 0; i < L; ++i) {
    const HvpReads k = layer_type(layers[i].kind).hvp_reads();
    if (k.input) r.act[i] = true;
    if (k.output) r.act[i + 1] = true;
    r.gy[i] = k.grad;
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
void Network<T>::hvp_workspace(Workspace<T>& ws) const {
  const auto& layers = spec_->layers();
  const std::size_t L = layers.size();
  if (ws.ract.size() == L + 1) return;
  ws.gy.assign(L, {});
  ws.ract.assign(L + 1, {});
  for (std::size_t i = 0; i < L; ++i) {
    ws.gy[i].resize(ws.capacity * layers[i].out.dim());
    ws.ract[i + 1].resize(ws.capacity * layers[i].out.dim());
  }
  ws.rgrad_a.resize(ws.capacity * spec_->max_width());
  ws.rgrad_b.resize(ws.capacity * spec_->max_width());
}

template <typename T>
ChunkStats Network<T>::hvp_primal(const T* params, std::size_t batch, Workspace<T>& ws, HvpState<T>* state) const {
  const auto& layers = spec_->layers();
  const std::size_t L = layers.size();
  // Activations, then the loss gradient at every layer's output.
  forward(params, batch, ws);
  const ChunkStats st = loss(ws.act.back().data(), ws.target.data(), batch, ws.gy[L - 1].data());
  for (std::size_t i = L; i-- > 1;) {  // the gradient at layer i − 1's output
    auto b = buffers(i, params, batch);
    b.x = ws.act[i].data();
    b.y = ws.act[i + 1].data();
    b.gy = ws.gy[i].data();
    layer_type(layers[i].kind).backward(b, ws.gy[i - 1].data(), nullptr, false);
  }
  if (!state) return st;
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
  return st;
}

template <typename T>
ChunkStats Network<T>::hvp(const T* params, const T* v, std::size_t batch, Workspace<T>& ws, T* hv, bool accumulate,
                           HvpState<T>* state) const {
  EQAUG_CHECK(ops_.empty(), "Hessian-vector products need the dense parametrisation");
  const auto& layers = spec_->layers();
  const std::size_t L = layers.size();
  EQAUG_CHECK(L > 0 && layers[0].kind == LayerKind::Linear, "Hessian-vector products need a linear first layer");
  hvp_workspace(ws);
  const Space& out = spec_->output();
  const bool cached = state && state->ready;
  EQAUG_CHECK(!cached || state->batch == batch, "Hessian-vector state of another chunk");
  const ChunkStats st = cached ? state->stats : hvp_primal(params, batch, ws, state);
  // What the R-passes read (hvp_reads), from the state or from this pass.
  auto act = [&](std::size_t i) -> const T* { return cached && i > 0 ? state->act[i].data() : ws.act[i].data(); };
  auto grad = [&](std::size_t i) -> const T* { return cached ? state->gy[i].data() : ws.gy[i].data(); };

  // What a layer's R-passes read (hvp_reads), from the state or from this pass; the inputs
  // do not depend on A (ract[0] stays empty: null below).
  auto rbuffers = [&](std::size_t i) {
    auto b = buffers(i, params, batch);
    if (b.w) b.v = v + layers[i].offset;
    b.x = act(i);
    b.y = act(i + 1);
    b.gy = grad(i);
    b.rx = i == 0 ? nullptr : ws.ract[i].data();
    b.ry = ws.ract[i + 1].data();
    return b;
  };
  for (std::size_t i = 0; i < L; ++i) layer_type(layers[i].kind).rop_forward(rbuffers(i), ws.ract[i + 1].data());
  T* rgy = ws.rgrad_a.data();
  T* rgx = ws.rgrad_b.data();
  if (spec_->loss_kind() == LossKind::CrossEntropy)
    ops::softmax_cross_entropy_rop(act(L), ws.target.data(), ws.ract.back().data(), rgy, batch, out.channels,
                                   out.sites);
  else
    ops::bce_loss_rop(act(L), ws.target.data(), ws.ract.back().data(), rgy, batch, out.channels, out.sites);
  // R-backward.
  for (std::size_t i = L; i-- > 0;) {
    auto b = rbuffers(i);
    b.rgy = rgy;
    const bool need_gx = i > 0;
    layer_type(layers[i].kind).rop_backward(b, need_gx ? rgx : nullptr, b.w ? hv + layers[i].offset : nullptr,
                                            accumulate);
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

template std::vector<double> ModelSpec::to_coords<float>(const float*, ThreadPool*) const;
template std::vector<double> ModelSpec::to_coords<double>(const double*, ThreadPool*) const;
template void ModelSpec::from_coords<float>(const double*, float*, ThreadPool*) const;
template void ModelSpec::from_coords<double>(const double*, double*, ThreadPool*) const;
template std::vector<float> ModelSpec::act<float>(const Permutation&, const std::vector<float>&) const;
template std::vector<double> ModelSpec::act<double>(const Permutation&, const std::vector<double>&) const;
template void ModelSpec::project<float>(float*, ThreadPool*) const;
template void ModelSpec::project<double>(double*, ThreadPool*) const;
template std::vector<double> ModelSpec::distance_to_E<float>(const float*, ThreadPool*) const;
template std::vector<double> ModelSpec::distance_to_E<double>(const double*, ThreadPool*) const;
template class Network<float>;
template class Network<double>;

}  // namespace eqaug
