// Stochastic block model graphs and the authors' .npy graph data.
#include <gtest/gtest.h>

#include "../support/helpers.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/formats/npy.hpp"

namespace eqaug {
namespace {

namespace fs = std::filesystem;

TEST(DataConnectivity, HandMadeGraphs) {
  // Path 0-1-2-3.
  std::vector<double> path(16, 0.0);
  for (int i = 0; i < 3; ++i) path[i * 4 + i + 1] = path[(i + 1) * 4 + i] = 1.0;
  EXPECT_TRUE(is_connected(path.data(), 4));
  // Two components {0,1} and {2,3}.
  std::vector<double> two(16, 0.0);
  two[0 * 4 + 1] = two[1 * 4 + 0] = 1.0;
  two[2 * 4 + 3] = two[3 * 4 + 2] = 1.0;
  EXPECT_FALSE(is_connected(two.data(), 4));
  // An isolated node with a self loop is still isolated.
  std::vector<double> loop(9, 0.0);
  loop[0 * 3 + 1] = loop[1 * 3 + 0] = 1.0;
  loop[2 * 3 + 2] = 1.0;
  EXPECT_FALSE(is_connected(loop.data(), 3));
  // Star via one-directional (upper-triangular) entries only.
  std::vector<double> star(25, 0.0);
  for (int j = 1; j < 5; ++j) star[0 * 5 + j] = 1.0;
  EXPECT_TRUE(is_connected(star.data(), 5));
  // ... and via lower-triangular entries only.
  std::vector<double> star_low(25, 0.0);
  for (int j = 1; j < 5; ++j) star_low[j * 5 + 0] = 1.0;
  EXPECT_TRUE(is_connected(star_low.data(), 5));
  // A long cycle 0-1-…-9-0 minus one edge is still connected; minus two is not.
  std::vector<double> cyc(100, 0.0);
  for (int i = 0; i < 10; ++i) cyc[i * 10 + (i + 1) % 10] = cyc[((i + 1) % 10) * 10 + i] = 1.0;
  cyc[0 * 10 + 1] = cyc[1 * 10 + 0] = 0.0;
  EXPECT_TRUE(is_connected(cyc.data(), 10));
  cyc[5 * 10 + 6] = cyc[6 * 10 + 5] = 0.0;
  EXPECT_FALSE(is_connected(cyc.data(), 10));
  // Single node, and the empty graph on 2 nodes.
  const double one = 0.0;
  EXPECT_TRUE(is_connected(&one, 1));
  std::vector<double> empty2(4, 0.0);
  EXPECT_FALSE(is_connected(empty2.data(), 2));
  // Complete graph.
  std::vector<double> full(36, 1.0);
  EXPECT_TRUE(is_connected(full.data(), 6));
  // Any nonzero value is an edge.
  std::vector<double> weighted = {0, 0.5, 0.5, 0};
  EXPECT_TRUE(is_connected(weighted.data(), 2));
}

TEST(DataSbm, DeterministicAndWellFormed) {
  const auto g = symmetric_group(10);
  SbmOptions opts;
  opts.samples = 1000;
  Rng r1(2023), r2(2023), r3(2024);
  const Dataset a = make_sbm(opts, *g, r1), b = make_sbm(opts, *g, r2), c = make_sbm(opts, *g, r3);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_NE(a.x, c.x);
  ASSERT_EQ(a.size, 1000u);
  EXPECT_EQ(a.input.channels, 1u);
  EXPECT_EQ(a.input.order, 2u);
  EXPECT_EQ(a.input.sites, 100u);
  EXPECT_EQ(a.target.order, 0u);
  EXPECT_EQ(a.target.dim(), 1u);
  ASSERT_EQ(a.x.size(), 1000u * 100u);
  ASSERT_EQ(a.y.size(), 1000u);
  std::size_t connected = 0, edges = 0;
  for (std::size_t k = 0; k < a.size; ++k) {
    const double* m = a.x.data() + k * 100;
    for (std::size_t i = 0; i < 10; ++i) {
      ASSERT_EQ(m[i * 10 + i], 0.0);
      for (std::size_t j = 0; j < 10; ++j) {
        ASSERT_TRUE(m[i * 10 + j] == 0.0 || m[i * 10 + j] == 1.0);
        ASSERT_EQ(m[i * 10 + j], m[j * 10 + i]);
        edges += m[i * 10 + j] != 0.0;
      }
    }
    ASSERT_EQ(a.y[k], is_connected(m, 10) ? 1.0 : 0.0) << k;
    connected += a.y[k] == 1.0;
  }
  const double rate = static_cast<double>(connected) / 1000.0;
  EXPECT_GT(rate, 0.35);
  EXPECT_LT(rate, 0.6);
  // Expected edges per graph: 2·C(5,2)·0.5 + 25·0.05 = 11.25 (each counted twice above).
  const double mean_edges = static_cast<double>(edges) / 2.0 / 1000.0;
  EXPECT_NEAR(mean_edges, 11.25, 0.5);
}

TEST(DataSbm, RelabellingSpreadsClusters) {
  // Without relabelling node 0's neighbours would be mostly nodes 1–4; after a uniform
  // relabelling every node pair is equally likely to be an edge.
  const auto g = symmetric_group(10);
  SbmOptions opts;
  opts.samples = 2000;
  Rng rng(5);
  const Dataset d = make_sbm(opts, *g, rng);
  std::vector<double> freq(100, 0.0);
  for (std::size_t k = 0; k < d.size; ++k)
    for (std::size_t s = 0; s < 100; ++s) freq[s] += d.x[k * 100 + s];
  // Edge probability of a random pair: (2·10·0.5 + 25·0.05)/45 = 0.25.
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t j = 0; j < 10; ++j)
      if (i != j) {
        EXPECT_NEAR(freq[i * 10 + j] / 2000.0, 0.25, 0.06) << i << "," << j;
      }
}

TEST(DataSbm, OptionsAreChecked) {
  const auto g = symmetric_group(10);
  Rng rng(1);
  SbmOptions opts;
  opts.samples = 10;
  opts.clusters = {4, 4};
  EXPECT_THROW(make_sbm(opts, *g, rng), Error);  // 8 nodes for a group on 10
  opts.clusters = {5, 5};
  opts.p = 1.5;
  EXPECT_THROW(make_sbm(opts, *g, rng), Error);
  opts.p = 0.5;
  opts.samples = 0;
  EXPECT_THROW(make_sbm(opts, *g, rng), Error);
  // p = 1, q = 0: two cliques, never connected; p = q = 1: always connected.
  opts.samples = 20;
  opts.p = 1.0;
  opts.q = 0.0;
  for (double y : make_sbm(opts, *g, rng).y) EXPECT_EQ(y, 0.0);
  opts.q = 1.0;
  for (double y : make_sbm(opts, *g, rng).y) EXPECT_EQ(y, 1.0);
}

TEST(DataNpy, ReferenceStochasticBlockData) {
  const fs::path dir = fs::path(EQAUG_REFERENCE_DATA) / "stoch_block";
  if (!fs::exists(dir / "graphmat999.npy")) GTEST_SKIP() << "reference data missing: " << dir;
  const auto g = symmetric_group(10);
  const Dataset d = load_graph_npy(dir, 1000, *g);
  ASSERT_EQ(d.size, 1000u);
  ASSERT_EQ(d.x.size(), 100000u);
  EXPECT_EQ(d.input.order, 2u);
  EXPECT_EQ(d.target.order, 0u);
  // The authors' labels are kept verbatim. 474 graphs are labelled connected, but 42 of
  // them are not (e.g. graph 36 has an isolated node 6): every label-0 graph is
  // disconnected, and 432 graphs are truly connected.
  std::size_t labelled = 0, connected = 0, label1_disconnected = 0;
  for (std::size_t k = 0; k < d.size; ++k) {
    const double* m = d.x.data() + k * 100;
    const bool c = is_connected(m, 10);
    ASSERT_TRUE(d.y[k] == 0.0 || d.y[k] == 1.0);
    if (d.y[k] == 0.0) {
      ASSERT_FALSE(c) << "graph " << k << " is labelled 0 but connected";
    }
    label1_disconnected += d.y[k] == 1.0 && !c;
    for (std::size_t i = 0; i < 10; ++i) {
      ASSERT_EQ(m[i * 10 + i], 0.0);
      for (std::size_t j = 0; j < 10; ++j) ASSERT_EQ(m[i * 10 + j], m[j * 10 + i]);
    }
    labelled += d.y[k] == 1.0;
    connected += c;
  }
  EXPECT_NEAR(static_cast<double>(labelled), 474.0, 1.0);
  EXPECT_EQ(connected, 432u);
  EXPECT_EQ(label1_disconnected, 42u);
  EXPECT_EQ(d.y[36], 1.0);
  EXPECT_FALSE(is_connected(d.x.data() + 36 * 100, 10));
  for (std::size_t j = 0; j < 10; ++j) EXPECT_EQ(d.x[36 * 100 + 6 * 10 + j], 0.0);  // node 6 isolated
  // The first graph's matrix is exactly what is on disk.
  const auto m0 = io::read_npy(dir / "graphmat0.npy");
  EXPECT_TRUE(std::equal(m0.data.begin(), m0.data.end(), d.x.begin()));
  // A prefix loads too.
  EXPECT_EQ(load_graph_npy(dir, 10, *g).y, std::vector<double>(d.y.begin(), d.y.begin() + 10));
}

/// A temporary folder for the test, named after it.
class TempDir : public testing::TempDir {
 public:
  TempDir() : testing::TempDir("eqaug_test_sbm") {}
};

template <typename F>
std::string error_message(F&& f) {
  const std::string m = testing::message_of(std::forward<F>(f));
  return m == "(no error)" ? "<no eqaug::Error thrown>" : m;
}

TEST(DataNpy, ErrorsNameTheFile) {
  const auto g = symmetric_group(4);
  // Missing directory.
  const std::string missing = "/nonexistent/eqaug/graphs_dir";
  const std::string m1 = error_message([&] { load_graph_npy(missing, 3, *g); });
  EXPECT_NE(m1.find(missing), std::string::npos) << m1;

  TempDir tmp;
  const std::vector<double> good(16, 0.0), bad(9, 0.0), label = {1.0};
  io::write_npy(tmp.path() / "graphmat0.npy", good.data(), {4, 4});
  io::write_npy(tmp.path() / "graphlabel0.npy", label.data(), {});
  io::write_npy(tmp.path() / "graphmat1.npy", bad.data(), {3, 3});
  io::write_npy(tmp.path() / "graphlabel1.npy", label.data(), {});
  // One good sample loads.
  const Dataset one = load_graph_npy(tmp.path(), 1, *g);
  EXPECT_EQ(one.y, std::vector<double>{1.0});
  // A wrongly shaped matrix.
  const std::string m2 = error_message([&] { load_graph_npy(tmp.path(), 2, *g); });
  EXPECT_NE(m2.find("graphmat1.npy"), std::string::npos) << m2;
  EXPECT_NE(m2.find("(3, 3)"), std::string::npos) << m2;
  // A missing file.
  const std::string m3 = error_message([&] { load_graph_npy(tmp.path(), 3, *g); });
  EXPECT_NE(m3.find("graphmat1.npy"), std::string::npos) << m3;  // fails on the bad one first
  io::write_npy(tmp.path() / "graphmat1.npy", good.data(), {4, 4});
  const std::string m4 = error_message([&] { load_graph_npy(tmp.path(), 3, *g); });
  EXPECT_NE(m4.find("graphmat2.npy"), std::string::npos) << m4;
  // A bad label value and a non-scalar label.
  const std::vector<double> two = {2.0}, pair = {0.0, 1.0};
  io::write_npy(tmp.path() / "graphlabel1.npy", two.data(), {});
  const std::string m5 = error_message([&] { load_graph_npy(tmp.path(), 2, *g); });
  EXPECT_NE(m5.find("graphlabel1.npy"), std::string::npos) << m5;
  io::write_npy(tmp.path() / "graphlabel1.npy", pair.data(), {2});
  const std::string m6 = error_message([&] { load_graph_npy(tmp.path(), 2, *g); });
  EXPECT_NE(m6.find("graphlabel1.npy"), std::string::npos) << m6;
}

TEST(DataCompat, CheckCompatible) {
  const auto g = symmetric_group(4);
  Dataset d;
  d.name = "d";
  d.input = make_space(*g, 1, 2);
  d.target = make_space(*g, 1, 0);
  EXPECT_NO_THROW(check_compatible(d, make_space(*g, 1, 2), make_space(*g, 1, 0)));
  EXPECT_THROW(check_compatible(d, make_space(*g, 2, 2), make_space(*g, 1, 0)), Error);
  EXPECT_THROW(check_compatible(d, make_space(*g, 1, 2), make_space(*g, 1, 1)), Error);
  EXPECT_THROW(check_compatible(d, make_space(*g, 1, 2), make_space(*g, 2, 0)), Error);
}

}  // namespace
}  // namespace eqaug
