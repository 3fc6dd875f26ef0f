// TEMPORARY dense-only stand-in, replaced by the structured implementation (branch wip-equiops).
#include "eqaug/nn/equi_ops.hpp"

#include <vector>

#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {
template <typename T>
class DenseOp final : public EquiLinearOp<T> {
public:
  explicit DenseOp(std::shared_ptr<const EquivariantSubspace> s) : s_(std::move(s)) {}
  std::string kind() const override { return "dense"; }
  std::size_t scratch_size(std::size_t) const override { return 2 * s_->ambient_dim() + 2 * s_->dim(); }
  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    T* w = weights(c, scratch);
    ops::linear_forward(w, x, y, batch, s_->in().dim(), s_->out().dim());
  }
  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    T* w = weights(c, scratch);
    ops::linear_input_grad(w, gy, gx, batch, s_->in().dim(), s_->out().dim());
  }
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T* scratch) const override {
    T* g = scratch;
    ops::linear_weight_grad(x, gy, g, batch, s_->in().dim(), s_->out().dim(), false);
    std::vector<double> c(s_->dim());
    s_->to_coords(g, c.data());
    for (std::size_t i = 0; i < c.size(); ++i) gc[i] = accumulate ? gc[i] + static_cast<T>(c[i]) : static_cast<T>(c[i]);
  }

private:
  T* weights(const T* c, T* scratch) const {
    std::vector<double> cd(c, c + s_->dim());
    s_->from_coords(cd.data(), scratch);
    return scratch;
  }
  std::shared_ptr<const EquivariantSubspace> s_;
};
}  // namespace

template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub, EquiEval) {
  return std::make_unique<DenseOp<T>>(std::move(sub));
}
template std::unique_ptr<EquiLinearOp<float>> make_equi_op<float>(std::shared_ptr<const EquivariantSubspace>, EquiEval);
template std::unique_ptr<EquiLinearOp<double>> make_equi_op<double>(std::shared_ptr<const EquivariantSubspace>, EquiEval);
}  // namespace eqaug
