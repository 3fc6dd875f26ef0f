#pragma once
// Small models with data that between them use every layer and loss: graphs with leaky
// ReLU, tanh, sigmoid and BCE on one trivial site (S_4); images with layer norm, leaky ReLU
// and softmax cross-entropy over classes (Z_4²); images with layer norm, sigmoid and
// per-pixel BCE masks (C_4); images with batch norm over minibatches of 5 (D_4, CPU only),
// once more with its affine scale and shift (weights of a layer of their own); a softmax
// before the cross-entropy (the reference's double softmax, CPU only).
// For the tests that check a computation layer by
// layer against another (the GPU against the CPU, Hessian-vector products against finite
// differences).
#include <memory>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/model.hpp"

namespace eqaug::testing {

/// A model and data exercising a set of kernels.
struct Case {
  std::string name;
  GroupPtr group;
  std::shared_ptr<ModelSpec> spec;
  Dataset data;
  bool on_gpu = true;  // every layer has CUDA kernels
};

/// Graphs (order-2 input) → 2 channels on pairs → leaky ReLU → 3 invariant channels → tanh →
/// 1 → sigmoid, BCE.
inline ModelSpec tiny_graph_model(const GroupPtr& g) {
  ModelSpec spec(g, make_space(*g, 1, 2));
  spec.linear(2, 2, {InitSpec::Kind::Normal, 0.5})
      .leaky_relu(0.01)
      .linear(3, 0, {InitSpec::Kind::Normal, 0.5})
      .tanh()
      .linear(1, 0, {InitSpec::Kind::Normal, 0.5})
      .sigmoid()
      .loss(LossKind::BCE);
  return spec;
}

inline Dataset random_images(const FiniteGroup& g, const Space& target, std::size_t n, std::uint64_t seed,
                             bool one_hot) {
  Dataset d;
  d.name = "random images";
  d.input = make_space(g, 1, 1);
  d.target = target;
  d.size = n;
  Rng rng(seed);
  for (std::size_t i = 0; i < n * d.input.dim(); ++i) d.x.push_back(rng.uniform());
  for (std::size_t i = 0; i < n; ++i) {
    if (one_hot) {
      const std::size_t c =
          static_cast<std::size_t>(rng.uniform() * static_cast<double>(target.channels)) % target.channels;
      for (std::size_t k = 0; k < target.channels; ++k) d.y.push_back(k == c ? 1.0 : 0.0);
    } else {
      for (std::size_t k = 0; k < target.dim(); ++k) d.y.push_back(rng.bernoulli(0.5) ? 1.0 : 0.0);
    }
  }
  return d;
}

inline std::vector<Case> cases() {
  std::vector<Case> out;
  {  // Perm-like: linear, leaky ReLU, tanh, sigmoid, BCE on one trivial site
    Case c{"graphs_bce", symmetric_group(4), nullptr, {}};
    c.spec = std::make_shared<ModelSpec>(tiny_graph_model(c.group));
    Dataset d;
    d.name = "random graphs";
    d.input = make_space(*c.group, 1, 2);
    d.target = make_space(*c.group, 1, 0);
    d.size = 23;
    Rng rng(5);
    for (std::size_t i = 0; i < d.size * 16; ++i) d.x.push_back(rng.bernoulli(0.5) ? 1.0 : 0.0);
    for (std::size_t i = 0; i < d.size; ++i) d.y.push_back(rng.bernoulli(0.5) ? 1.0 : 0.0);
    c.data = d;
    out.push_back(c);
  }
  {  // Trans-like: layer norm, leaky ReLU, softmax cross-entropy over classes
    Case c{"images_softmax", pixel_group({4, true, true, false}), nullptr, {}};
    c.spec = std::make_shared<ModelSpec>(c.group, make_space(*c.group, 1, 1));
    c.spec->linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .layer_norm()
        .linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .leaky_relu(0.01)
        .linear(5, 0, {InitSpec::Kind::Normal, 0.4})
        .loss(LossKind::CrossEntropy);
    c.data = random_images(*c.group, make_space(*c.group, 5, 0), 19, 6, true);
    out.push_back(c);
  }
  {  // Rot-like: per-pixel masks, layer norm, sigmoid and BCE over many sites
    Case c{"images_masks", pixel_group({4, false, false, true}), nullptr, {}};
    c.spec = std::make_shared<ModelSpec>(c.group, make_space(*c.group, 1, 1));
    c.spec->linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .layer_norm()
        .linear(2, 1, {InitSpec::Kind::Normal, 0.4})
        .sigmoid()
        .loss(LossKind::BCE);
    c.data = random_images(*c.group, make_space(*c.group, 2, 1), 17, 7, false);
    out.push_back(c);
  }
  {  // Batch statistics over minibatches of 5 (17 samples: the last minibatch has 2)
    Case c{"images_batchnorm", pixel_group({4, false, false, true, true}), nullptr, {}, false};
    c.spec = std::make_shared<ModelSpec>(c.group, make_space(*c.group, 1, 1));
    c.spec->set_minibatch(5)
        .linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .add(LayerKind::BatchNorm, {.eps = 1e-5, .minibatch = 5})
        .leaky_relu(0.01)
        .linear(2, 0, {InitSpec::Kind::Normal, 0.4})
        .loss(LossKind::CrossEntropy);
    c.data = random_images(*c.group, make_space(*c.group, 2, 0), 17, 8, true);
    out.push_back(c);
  }
  {  // The same with the affine scale and shift after the batch norm (weights affine0: (3, 2))
    Case c{"images_batchnorm_affine", pixel_group({4, false, false, true, true}), nullptr, {}, false};
    c.spec = std::make_shared<ModelSpec>(c.group, make_space(*c.group, 1, 1));
    c.spec->set_minibatch(5)
        .linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .add(LayerKind::BatchNorm, {.eps = 1e-5, .minibatch = 5})
        .affine()
        .leaky_relu(0.01)
        .linear(2, 0, {InitSpec::Kind::Normal, 0.4})
        .loss(LossKind::CrossEntropy);
    c.data = random_images(*c.group, make_space(*c.group, 2, 0), 17, 8, true);
    out.push_back(c);
  }
  {  // A softmax layer that the cross-entropy repeats (reference.double_softmax)
    Case c{"images_double_softmax", pixel_group({4, true, true, false}), nullptr, {}, false};
    c.spec = std::make_shared<ModelSpec>(c.group, make_space(*c.group, 1, 1));
    c.spec->linear(3, 1, {InitSpec::Kind::Normal, 0.4})
        .leaky_relu(0.01)
        .linear(4, 0, {InitSpec::Kind::Normal, 0.8})
        .add(LayerKind::Softmax)
        .loss(LossKind::CrossEntropy);
    c.data = random_images(*c.group, make_space(*c.group, 4, 0), 13, 9, true);
    out.push_back(c);
  }
  return out;
}

}  // namespace eqaug::testing
