// Structured Equi layers (fft, pool, trivial) against the dense oracle: W = from_coords(c),
// dense GEMMs, to_coords of the weight gradient — in double (1e-12) and float.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/equi_ops.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

Permutation pixel_map(std::size_t N,
                      const std::function<std::pair<std::size_t, std::size_t>(std::size_t, std::size_t)>& f) {
  std::vector<std::uint32_t> img(N * N);
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t c = 0; c < N; ++c) {
      const auto [r2, c2] = f(r, c);
      img[r * N + c] = static_cast<std::uint32_t>(r2 * N + c2);
    }
  return Permutation(img);
}

enum class PixelGroup { Trans, TransRot, Rot, OneDTrans };

GroupPtr pixel_group(PixelGroup which, std::size_t N) {
  const auto sx = pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{r, (c + 1) % N}; });
  const auto sy = pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{(r + 1) % N, c}; });
  const auto rot = pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{c, N - 1 - r}; });
  switch (which) {
    case PixelGroup::Trans:
      return generated_group("Z_N^2", {sx, sy});
    case PixelGroup::TransRot:
      return generated_group("C_4 x| Z_N^2", {sx, sy, rot});
    case PixelGroup::Rot:
      return generated_group("C_4", {rot});
    case PixelGroup::OneDTrans:
      return generated_group("Z_N", {sx});
  }
  return nullptr;
}

std::shared_ptr<const EquivariantSubspace> hom(SubspaceCache& cache, std::size_t cin, std::size_t kin, std::size_t cout,
                                               std::size_t kout) {
  const auto& g = *cache.group();
  return cache.hom(make_space(g, cin, kin), make_space(g, cout, kout));
}

std::vector<double> random_vec(Rng& rng, std::size_t n) {
  std::vector<double> v(n);
  for (auto& x : v) x = rng.normal();
  return v;
}

template <typename T, typename U>
std::vector<T> cast(const std::vector<U>& v) {
  return std::vector<T>(v.begin(), v.end());
}

/// An array of T at an offset of `shift` elements from its allocation, filled with 7s or
/// with values.
template <typename T>
struct Buf {
  std::vector<T> store;
  T* p;
  Buf(std::size_t n, std::size_t shift) : store(n + 1, T(7)), p(store.data() + shift) {}
  Buf(const std::vector<double>& v, std::size_t shift) : Buf(v.size(), shift) { std::copy(v.begin(), v.end(), p); }
};

/// max |a − b| / max |b|.
template <typename T>
double rel_err(const T* a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / std::max(den, 1e-300);
}

/// Checks forward, input_grad and coord_grad (written and accumulated) of `op` against the
/// dense double-precision oracle, at every batch size.
template <typename T>
void check_against_oracle(const EquiLinearOp<T>& op, const EquivariantSubspace& sub,
                          const std::vector<std::size_t>& batches, double tol, std::uint64_t seed) {
  Rng rng(seed);
  const std::size_t in = sub.in().dim(), out = sub.out().dim(), dim = sub.dim();
  for (std::size_t batch : batches) {
    SCOPED_TRACE("batch " + std::to_string(batch) + ", kind " + op.kind());
    // Inputs are rounded to T first, so the oracle sees exactly what the op sees.
    const auto cd = cast<double>(cast<T>(random_vec(rng, dim)));
    const auto xd = cast<double>(cast<T>(random_vec(rng, batch * in)));
    const auto gyd = cast<double>(cast<T>(random_vec(rng, batch * out)));
    const auto gc0d = cast<double>(cast<T>(random_vec(rng, dim)));

    std::vector<double> w(sub.ambient_dim()), y_ref(batch * out), gx_ref(batch * in), gw(sub.ambient_dim()),
        gc_ref(dim);
    sub.from_coords(cd.data(), w.data());
    ops::linear_forward(w.data(), xd.data(), y_ref.data(), batch, in, out);
    ops::linear_input_grad(w.data(), gyd.data(), gx_ref.data(), batch, in, out);
    ops::linear_weight_grad(xd.data(), gyd.data(), gw.data(), batch, in, out, false);
    sub.to_coords(gw.data(), gc_ref.data());
    std::vector<double> gc_acc_ref(dim);
    for (std::size_t i = 0; i < dim; ++i) gc_acc_ref[i] = gc0d[i] + gc_ref[i];

    // Every array once aligned and once shifted by one element (FFTW plans depend on it).
    for (std::size_t shift : {0, 1}) {
      SCOPED_TRACE("arrays shifted by " + std::to_string(shift));
      Buf<T> c(cd, shift), x(xd, shift), gy(gyd, shift), y(batch * out, shift), gx(batch * in, shift), gc(dim, shift),
          gc_acc(gc0d, shift), gx2(batch * in, shift), gc2(gc0d, shift), gc3(dim, shift);
      std::vector<T> scratch_store(op.scratch_size(batch) + 1);
      T* scratch = scratch_store.data() + shift;
      op.forward(c.p, x.p, y.p, batch, scratch);
      op.input_grad(c.p, gy.p, gx.p, batch, scratch);
      op.coord_grad(x.p, gy.p, gc.p, batch, false, scratch);
      op.coord_grad(x.p, gy.p, gc_acc.p, batch, true, scratch);
      EXPECT_LT(rel_err(y.p, y_ref), tol) << "forward";
      EXPECT_LT(rel_err(gx.p, gx_ref), tol) << "input_grad";
      EXPECT_LT(rel_err(gc.p, gc_ref), tol) << "coord_grad";
      EXPECT_LT(rel_err(gc_acc.p, gc_acc_ref), tol) << "coord_grad, accumulated";
      // The fused backward, with and without the input gradient.
      op.backward(c.p, x.p, gy.p, gx2.p, gc2.p, batch, true, scratch);
      op.backward(c.p, x.p, gy.p, nullptr, gc3.p, batch, false, scratch);
      EXPECT_LT(rel_err(gx2.p, gx_ref), tol) << "backward, input gradient";
      EXPECT_LT(rel_err(gc2.p, gc_acc_ref), tol) << "backward, accumulated coordinate gradient";
      EXPECT_LT(rel_err(gc3.p, gc_ref), tol) << "backward without input gradient";
      // Inputs are left alone.
      EXPECT_EQ(rel_err(x.p, xd), 0.0);
      EXPECT_EQ(rel_err(gy.p, gyd), 0.0);
    }
  }
}

std::string expected_kind(PixelGroup g, std::size_t kin, std::size_t kout) {
  if (kin == 0 && kout == 0) return "trivial";
  if (kout == 0) return "pool";
  if (kin == 0) return "dense";
  return (g == PixelGroup::Trans || g == PixelGroup::TransRot) ? "fft" : "dense";
}

const char* group_name(PixelGroup g) {
  switch (g) {
    case PixelGroup::Trans:
      return "Z_N^2";
    case PixelGroup::TransRot:
      return "C_4 x| Z_N^2";
    case PixelGroup::Rot:
      return "C_4";
    case PixelGroup::OneDTrans:
      return "Z_N";
  }
  return "";
}

constexpr PixelGroup kGroups[] = {PixelGroup::Trans, PixelGroup::TransRot, PixelGroup::Rot, PixelGroup::OneDTrans};
constexpr std::size_t kOrders[][2] = {{1, 1}, {1, 0}, {0, 0}, {0, 1}};  // (in, out)

TEST(EquiOpsKind, ChosenFromTheOrbitStructure) {
  for (std::size_t N : {4, 5, 6})
    for (PixelGroup g : kGroups) {
      SubspaceCache cache(pixel_group(g, N));
      for (const auto& o : kOrders) {
        SCOPED_TRACE(std::string(group_name(g)) + ", N = " + std::to_string(N) + ", orders " + std::to_string(o[0]) +
                     " -> " + std::to_string(o[1]));
        const auto sub = hom(cache, 2, o[0], 3, o[1]);
        EXPECT_EQ(make_equi_op<double>(sub)->kind(), expected_kind(g, o[0], o[1]));
        EXPECT_EQ(make_equi_op<float>(sub)->kind(), expected_kind(g, o[0], o[1]));
        EXPECT_EQ(make_equi_op<double>(sub, EquiEval::Dense)->kind(), "dense");
        EXPECT_EQ(make_equi_op<float>(sub, EquiEval::Dense)->kind(), "dense");
      }
    }
}

TEST(EquiOpsKind, SquareSiteCountAloneIsNotAConvolution) {
  // S_4 on node pairs: 16 = 4² sites, but orbits do not follow circular offsets.
  SubspaceCache cache(symmetric_group(4));
  EXPECT_EQ(make_equi_op<double>(hom(cache, 2, 2, 3, 2))->kind(), "dense");
  EXPECT_EQ(make_equi_op<double>(hom(cache, 2, 2, 3, 0))->kind(), "pool");
}

template <typename T>
void check_all_groups(double tol) {
  const std::vector<std::size_t> batches{1, 3, 70};
  std::uint64_t seed = 1;
  for (std::size_t N : {4, 5, 6})
    for (PixelGroup g : kGroups) {
      SubspaceCache cache(pixel_group(g, N));
      for (const auto& o : kOrders)
        for (const auto& [cin, cout] : {std::pair<std::size_t, std::size_t>{2, 3}, {3, 1}}) {
          SCOPED_TRACE(std::string(group_name(g)) + ", N = " + std::to_string(N) + ", orders " + std::to_string(o[0]) +
                       " -> " + std::to_string(o[1]) + ", channels " + std::to_string(cin) + " -> " +
                       std::to_string(cout));
          const auto sub = hom(cache, cin, o[0], cout, o[1]);
          check_against_oracle<T>(*make_equi_op<T>(sub), *sub, batches, tol, ++seed);
          check_against_oracle<T>(*make_equi_op<T>(sub, EquiEval::Dense), *sub, {2}, tol, ++seed);
        }
    }
}

TEST(EquiOpsOracle, AllGroupsDouble) { check_all_groups<double>(1e-12); }
TEST(EquiOpsOracle, AllGroupsFloat) { check_all_groups<float>(2e-5); }

TEST(EquiOpsOracle, FftBlockTails) {
  // Blocks that are not powers of two, and batches that are not multiples of them.
  SubspaceCache cache(pixel_group(PixelGroup::TransRot, 6));
  const auto sub = hom(cache, 3, 1, 2, 1);
  for (std::size_t block : {1, 5, 8}) {
    SCOPED_TRACE("block " + std::to_string(block));
    const auto opd = make_equi_op<double>(sub, EquiEval::Structured, EquiOpTuning{block});
    const auto opf = make_equi_op<float>(sub, EquiEval::Structured, EquiOpTuning{block});
    ASSERT_EQ(opd->kind(), "fft");
    check_against_oracle<double>(*opd, *sub, {1, 4, 5, 13, 17}, 1e-12, 100 + block);
    check_against_oracle<float>(*opf, *sub, {1, 13}, 2e-5, 200 + block);
  }
}

TEST(EquiOpsOracle, LargerGridWithManyChannels) {
  SubspaceCache cache(pixel_group(PixelGroup::Trans, 14));
  const auto sub = hom(cache, 5, 1, 4, 1);
  const auto op = make_equi_op<double>(sub);
  ASSERT_EQ(op->kind(), "fft");
  check_against_oracle<double>(*op, *sub, {1, 131}, 1e-12, 7);
  check_against_oracle<float>(*make_equi_op<float>(sub), *sub, {131}, 2e-5, 8);
}

TEST(EquiOpsThreads, ConcurrentCallsAgree) {
  SubspaceCache cache(pixel_group(PixelGroup::Trans, 6));
  const auto sub = hom(cache, 3, 1, 4, 1);
  const auto op = make_equi_op<double>(sub);
  Rng rng(3);
  const std::size_t batch = 37;
  const auto c = random_vec(rng, sub->dim()), x = random_vec(rng, batch * sub->in().dim()),
             gy = random_vec(rng, batch * sub->out().dim());
  auto run = [&](std::vector<double>& y, std::vector<double>& gc) {
    std::vector<double> scratch(op->scratch_size(batch));
    y.assign(batch * sub->out().dim(), 0);
    gc.assign(sub->dim(), 0);
    for (int rep = 0; rep < 20; ++rep) {
      op->forward(c.data(), x.data(), y.data(), batch, scratch.data());
      op->coord_grad(x.data(), gy.data(), gc.data(), batch, false, scratch.data());
    }
  };
  std::vector<double> y1, y2, gc1, gc2;
  std::thread t1([&] { run(y1, gc1); }), t2([&] { run(y2, gc2); });
  t1.join();
  t2.join();
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(gc1, gc2);
}

}  // namespace
}  // namespace eqaug
