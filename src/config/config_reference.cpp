// The reference of every configuration key: docs/config.md is this table printed
// (`eqaug config-reference`), and tests/io/test_config_reference.cpp holds it to the
// parser: every key resolve() reads is here with the same type and default, and every
// entry here is read by resolve() for some preset.
#include <set>
#include <sstream>

#include "eqaug/config/config.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/train/metrics.hpp"

namespace eqaug::io {

namespace {

/// "`a`, `b`, …": the names of a table's entries, as the reference writes allowed values.
template <typename Table, typename Name>
std::string names_of(const Table& table, Name name) {
  std::string s;
  for (const auto& entry : table) s += (s.empty() ? "`" : ", `") + name(entry) + "`";
  return s;
}

std::string kind_names() {
  return names_of(group_kinds(), [](const GroupKind& k) { return k.name; });
}

std::string kind_meanings() {
  std::string s;
  for (const auto& k : group_kinds()) s += (s.empty() ? "`" : " `") + k.name + "`: " + k.summary;
  return s;
}

std::string metric_names() {
  return names_of(metrics(), [](const Metric* m) { return m->name(); });
}

std::string metric_meanings() {
  std::string s;
  for (const auto* m : metrics()) s += (s.empty() ? "" : " ") + m->summary() + ".";
  return s;
}

std::string layer_names() {
  return names_of(layer_types(), [](const LayerType* t) { return t->name(); });
}

std::string layer_meanings() {
  std::string s = "Layer type.";
  for (const auto* t : layer_types()) s += " `" + t->name() + "`: " + t->summary() + ".";
  return s;
}

/// The table with every layer kind's own keys after model.layers[].type, in kind order
/// (a key two kinds share is documented once, by the first).
std::vector<KeyDoc> with_layer_fields(std::vector<KeyDoc> keys) {
  std::vector<KeyDoc> out;
  for (auto& k : keys) {
    const bool type_row = k.path == "model.layers[].type";
    out.push_back(std::move(k));
    if (!type_row) continue;
    std::set<std::string> seen;
    for (const auto* t : layer_types())
      for (const auto& f : t->fields())
        if (seen.insert(f.key).second)
          out.push_back({"model.layers[]." + f.key, f.type, f.default_value, f.allowed, f.meaning});
  }
  return out;
}

}  // namespace

const std::vector<KeyDoc>& config_reference() {
  static const std::vector<KeyDoc> keys = with_layer_fields({
      {"name", "string", "required", "letters, digits, `.`, `_`, `-`",
       "Name of the experiment; the default results folder is `results/<name>` (a study member's is "
       "`<name>-<member>`)."},
      {"scale", "string", "`full`", "`full` or a table name under `[scales]`",
       "Which scale ran; set by `--scale` (a `[scales.<name>]` table merged over the file). Recorded in the manifest."},
      {"group", "table", "required", "", "The symmetry group."},
      {"group.kind", "string", "required", kind_names(), kind_meanings()},
      {"group.n", "integer", "required (symmetric)", "≥ 1", "Number of graph nodes n of S_n."},
      {"group.side", "integer", "required (image groups; generated on pixels)", "1 … 1024",
       "Image side N; image data are resized to N×N."},
      {"group.acts_on", "string", "`pixels`", "`pixels`, `nodes`",
       "generated: what the generators permute: the side × side pixels (image data) or graph nodes (graph data)."},
      {"group.generators", "list", "required (generated)", "lists of integers, each a permutation of 0 … d−1",
       "generated: the generators, each the images g(0), g(1), … of the d base points; the group is their closure "
       "(every element kept, so at most 2²⁶ entries in all). `eqaug dims` and `eqaug check` take it as it is."},
      {"data", "table", "required", "", "The data set."},
      {"data.kind", "string", "required", "`sbm`, `images`, `shapes`",
       "`sbm`: stochastic-block-model graphs, label 1 if connected (Perm). `images`: MNIST-format images with class "
       "labels (Trans, Groups). `shapes`: triangles and pentagons with two target masks (Rot)."},
      {"data.samples", "integer", "`1000` (sbm), `10000` (images), `3000` (shapes)", "≥ 1",
       "Number of samples (the first ones of a file)."},
      {"data.clusters", "list", "`[5, 5]`", "positive integers",
       "sbm: cluster sizes; the node count is their sum (= group.n)."},
      {"data.p", "number", "`0.5`", "0 … 1", "sbm: edge probability inside a cluster."},
      {"data.q", "number", "`0.05`", "0 … 1", "sbm: edge probability between clusters."},
      {"data.classes", "integer", "`10`", "≥ 2", "images: number of classes (one-hot targets on the trivial site)."},
      {"data.dir", "string", "`\"\"`", "a folder",
       "images: folder of MNIST-format IDX files (`t10k-images-idx3-ubyte[.gz]`, ...); `\"\"` = Debian's Fashion-MNIST "
       "in /usr/share/datasets/fashion-mnist. `--data-dir`."},
      {"data.split", "string", "`test`", "`test`, `train`", "images: which IDX files (`t10k-*` or `train-*`)."},
      {"data.r_min", "number", "`0.7`", "> 0", "shapes: smallest scale r of the unit-circle polygon."},
      {"data.r_max", "number", "`0.8`", "≥ r_min", "shapes: largest scale r."},
      {"data.shift", "number", "`0.5`", "≥ 0",
       "shapes: the centre is drawn from U[−shift, shift]² on the canvas [−1, 1]²."},
      {"data.input_shift", "number", "`0`", "", "Added to every input value (the presets use −0.5, as the reference)."},
      {"data.npy", "string", "`\"\"`", "a folder",
       "Read the data from .npy files instead: sbm `graphmat{i}.npy`/`graphlabel{i}.npy`; images `images.npy` "
       "(n,H,W) in [0,1] and `labels.npy` (n,); shapes `shpsimg{i}.npy`, `shpstrig{i}.npy`, `shpspent{i}.npy`. "
       "`--data-npy`."},
      {"model", "table", "required", "", "The network: a chain of layers."},
      {"model.input", "table", "required", "", "The input space."},
      {"model.input.channels", "integer", "required", "≥ 1", "Input channels."},
      {"model.input.order", "integer", "required", "0 … 4",
       "Sites of the input: tuples of this many base points (2: node pairs / adjacency matrices, 1: pixels, 0: the "
       "one trivial site)."},
      {"model.loss", "string", "required", "`bce`, `cross_entropy`",
       "`bce`: binary cross-entropy on probabilities, per sample the sum over channels of the mean over sites (needs "
       "a final `sigmoid`). `cross_entropy`: softmax over the channels at each site from the logits (the last layer "
       "must be `linear`)."},
      {"model.layers", "list", "required", "tables", "The layers, input to output."},
      {"model.layers[].type", "string", "required", layer_names(), layer_meanings()},
      {"train", "table", "every default", "", "Training; a file without `[train]` takes every default below."},
      {"train.runs", "integer", "`30`", "≥ 1",
       "Independent runs (each its own start A⁰ and augmentation draws). `--runs`."},
      {"train.epochs", "integer", "`50`", "≥ 0", "Full-batch gradient steps per run. `--epochs`."},
      {"train.lr", "number", "`0.0001`", "> 0", "Learning rate η. `--lr`."},
      {"train.weight_decay", "number", "`0`", "≥ 0",
       "λ of the weight decay λ/2 ‖A‖² added to every strategy's objective (‖A‖ is G-invariant, so E stays "
       "invariant); it gives R an interior minimum where the data alone have none (`eqaug minimum`). The loss "
       "columns stay the data risk R; Hessian eigenvalues (`hessian`, `minimum`) include its + λ. Recorded only "
       "where positive. `--weight-decay`."},
      {"train.seed", "integer", "`0`", "0 … 2⁶³−1",
       "Master seed: data, init and augmentation streams derive from (seed, purpose, run, ...). `--seed`."},
      {"train.chunk", "integer", "`500`", "≥ 1",
       "Samples per matrix product; a speed setting, but fixed for reproducibility (float sums depend on it). "
       "`--chunk`."},
      {"train.batch", "integer", "`200`", "≥ 1",
       "Minibatch: the samples that share one group element when aug.per = batch. `--batch`."},
      {"train.precision", "string", "`f32`", "`f32`, `f64`", "Arithmetic of the passes. `--precision`."},
      {"train.init_weights", "string", "`\"\"`", "a folder",
       "Start every run from `<layer>.npy` (`A<j>`, `affine<j>`) in this folder (projected onto E): shape (C_out, "
       "C_in, S_out, S_in), or "
       "(out, in) for layers between one-site spaces; float32 or float64. `--init-weights`."},
      {"train.start", "string", "`projected`", "`projected`, `raw`",
       "Where runs start: A⁰ projected onto E (the paper), or `raw`: the drawn (or --init-weights) point as it is, "
       "off E; Equi then starts at Π_E A⁰. `--start`."},
      {"train.metrics", "list", "`[]`", metric_names(),
       "Per-step metrics, extra columns of the per-run CSVs, steps.csv and the summary. " + metric_meanings()},
      {"train.metric_samples", "integer", "`8`", "≥ 1",
       "K: the Haar-random group elements per step of the metrics that draw them (recorded where a metric runs)."},
      {"train.modes", "list", "`[\"nom\", \"aug\", \"equi\"]`", "`nom`, `aug`, `equi`, `augpen`, each once",
       "Strategies to train (`augpen`: Aug plus the penalty γ/2 ‖A − Π_E A‖², with Aug's draws). `--modes`."},
      {"train.penalty", "number", "`0`", "> 0 when `augpen` runs",
       "γ of augpen's penalty γ/2 ‖A − Π_E A‖² (the stabiliser of E the paper proposes); recorded only when augpen "
       "runs. `--penalty`."},
      {"train.aug", "table", "every default", "", "The Aug strategy."},
      {"train.aug.passes", "integer", "`25`", "≥ 1",
       "L: augmented passes over the data per step (not used when exact). `--aug-passes`."},
      {"train.aug.per", "string", "`sample`", "`sample`, `batch`",
       "One Haar-random group element per sample or per minibatch of train.batch samples (not used when exact). "
       "`--aug-per`."},
      {"train.aug.exact", "boolean", "`false`", "",
       "Average over every group element (one pass each): the augmented risk itself, for small groups. `--aug-exact`."},
      {"train.equi", "table", "every default", "", "The Equi strategy."},
      {"train.equi.update", "string", "`orbit`", "`orbit`, `dense`",
       "`orbit`: update the orthonormal orbit coordinates of E (kept in float64); `dense`: the reference's update of "
       "the dense weights with the projected gradient. `--equi-update`."},
      {"train.equi.eval", "string", "`auto`", "`auto`, `structured`, `dense`",
       "How Equi evaluates its layers with orbit updates: through E's structure (FFT convolutions, orbit pooling), on "
       "dense weights (the oracle), or `auto` = structured where a layer has a Fourier path. `--equi-eval`."},
      {"reference", "table", "every switch off", "",
       "The reference code's choices that eqaug does not make by default, each alone or together; recorded in the "
       "manifest and named in the report's titles where one is on. docs/reference.md gives every known defect of "
       "the reference with its evidence."},
      {"reference.sampler", "boolean", "`false`", "",
       "Draw augmentations as the reference does: each cyclic factor (x-shift, y-shift, quarter turn) as randint(0, "
       "n), the identity with probability 2/(n + 1); S_n uniformly as before. Not with train.aug.exact."},
      {"reference.rot_aug", "boolean", "`false`", "",
       "The Rot reference's augmentation, a reversal of the flattened image: the identity with probability 2/5, the "
       "180° rotation with 3/5 (C_4 only; over `sampler` where both are on)."},
      {"reference.nom_distance_on_aug", "boolean", "`false`", "",
       "Nom's distance travelled (dist_init and its per-layer columns) measured on the Aug model, as the reference's "
       "logs did (a plotting defect; needs nom and aug)."},
      {"reference.double_softmax", "boolean", "`false`", "",
       "A `softmax` layer after the last linear layer, so that the cross_entropy loss applies softmax a second time, "
       "as the reference's translation models did (every strategy; cross_entropy only)."},
      {"reference.equi_last_layer", "boolean", "`false`", "",
       "Equi as the reference's ProjectNet.project_grads: every gradient projected except the last group layer's, "
       "whose weights are projected before a step with its raw gradient, so that layer ends each step off E by "
       "eta Pi_perp g (implies train.equi.update = \"dense\")."},
      {"reference.nom_aug_norm", "boolean", "`false`", "",
       "Nom and Aug (and AugPen) train a model whose every `layernorm` is an affine `batchnorm` (statistics of a "
       "minibatch of train.batch samples, a scale and shift per channel), as the reference's Nom/Aug networks had; "
       "Equi keeps the layer norm. Distances are over the layers all strategies share (the affine scale and shift, "
       "all in E, are trained but not counted). CPU only; not with --save-weights."},
      {"scales.<name>", "table", "none", "any keys above",
       "Merged over the file by `--scale <name>` (tables key by key; lists such as model.layers replaced whole)."},
      {"study.members", "list", "none", "tables with a `name`",
       "A study: one sweep per member, each the file (without [study]) with the member's tables merged over it, "
       "written to `OUT/<member>/`."},
      {"study.members[].preset", "string", "none", "a preset name or .toml path",
       "The member starts from that preset at the study's scale (a study preset lends its shared tables, not its "
       "members); the study file's tables and the command line go over it, the member's own tables last."},
  });
  return keys;
}

std::string config_reference_markdown() {
  std::ostringstream os;
  os << "# Configuration reference\n\n"
     << "Generated from the table in `src/config/config_reference.cpp` by `eqaug config-reference`; a test holds it "
        "to the parser (every key the parser reads is listed here with its type and default). Configurations are "
        "TOML files (`configs/*.toml`); any key can also be set with `eqaug run --set KEY=VALUE`. Unknown keys are "
        "errors.\n\n"
     << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : config_reference())
    os << "| `" << k.path << "` | " << k.type << " | " << k.default_value << " | " << k.allowed << " | " << k.meaning
       << " |\n";
  os << "\nLayer weights on disk (`--save-weights`, `--init-weights`): `A<j>.npy` per linear layer j (and "
        "`affine<j>.npy`, shape (C, 2): scale and shift per channel, per affine layer j), shape "
        "(C_out, C_in, S_out, S_in) in C order — a site index is Σ_k t_k·d^(order−1−k) for the tuple (t_0, …) of "
        "base points (node pairs: i·n + j; pixels: row·N + col) — or (out, in) when both spaces have one site.\n";
  return os.str();
}

}  // namespace eqaug::io
