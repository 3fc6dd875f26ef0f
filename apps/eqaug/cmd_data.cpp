#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include <algorithm>
#include <cmath>
#include <vector>
#include "eqaug/core/error.hpp"

#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::cli {
namespace {

const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// `eqaug data --save-data`: the data set as .npy files in the layout --data-npy reads.
void export_data(const eqaug::io::ExperimentConfig& cfg, const std::filesystem::path& dir, bool force,
                 std::ostream& out) {
  namespace fs = std::filesystem;
  const auto group = eqaug::io::build_group(cfg);
  const auto data = eqaug::io::build_data(cfg, *group);
  if (fs::exists(dir) && !fs::is_empty(dir) && !force)
    throw eqaug::Error("--save-data: '" + dir.string() + "' exists and is not empty; pass --force to write into it");
  eqaug::io::create_output_dir(dir, "--save-data");
  const auto kind = cfg.json.at("data").at("kind").get<std::string>();
  const std::size_t D = data.input.dim(), Y = data.target.dim(), S = data.input.sites;
  const std::size_t side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(S))));
  if (kind == "sbm") {
    for (std::size_t i = 0; i < data.size; ++i) {
      eqaug::io::write_npy<double>(dir / ("graphmat" + std::to_string(i) + ".npy"), data.x.data() + i * D,
                                   {side, side});
      eqaug::io::write_npy<double>(dir / ("graphlabel" + std::to_string(i) + ".npy"), data.y.data() + i * Y, {});
    }
  } else if (kind == "shapes") {
    for (std::size_t i = 0; i < data.size; ++i) {
      eqaug::io::write_npy<double>(dir / ("shpsimg" + std::to_string(i) + ".npy"), data.x.data() + i * D, {side, side});
      eqaug::io::write_npy<double>(dir / ("shpstrig" + std::to_string(i) + ".npy"), data.y.data() + i * Y,
                                   {side, side});
      eqaug::io::write_npy<double>(dir / ("shpspent" + std::to_string(i) + ".npy"), data.y.data() + i * Y + S,
                                   {side, side});
    }
  } else {
    std::vector<double> labels(data.size);
    for (std::size_t i = 0; i < data.size; ++i)
      labels[i] = static_cast<double>(std::max_element(data.y.begin() + static_cast<std::ptrdiff_t>(i * Y),
                                                       data.y.begin() + static_cast<std::ptrdiff_t>((i + 1) * Y)) -
                                      (data.y.begin() + static_cast<std::ptrdiff_t>(i * Y)));
    eqaug::io::write_npy<double>(dir / "images.npy", data.x.data(), {data.size, side, side});
    eqaug::io::write_npy<double>(dir / "labels.npy", labels.data(), {data.size});
  }
  out << "wrote " << data.size << " samples of " << data.name << " to " << dir.string() << "\n";
}

/// `eqaug data`: a contact sheet of the first samples with their labels or masks.
int write_data_sheet(const eqaug::io::ExperimentConfig& cfg, const std::filesystem::path& dir, std::size_t count,
                     bool force, std::ostream& out) {
  const auto group = eqaug::io::build_group(cfg);
  const auto data = eqaug::io::build_data(cfg, *group);
  const auto& in = data.input;
  const std::size_t side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(in.sites))));
  // Images (order 1 on an N x N grid), or graphs (order 2: one adjacency matrix per sample,
  // drawn as an n x n image, node i's row i).
  const bool graphs = in.order == 2;
  if ((in.order != 1 && !graphs) || in.channels != 1 || side * side != in.sites)
    throw eqaug::Error(cfg.name +
                       ": contact sheets show images (one channel on an N x N grid); the inputs of this "
                       "preset are " +
                       std::to_string(in.channels) + " channel(s) on " + std::to_string(in.sites) + " sites of order " +
                       std::to_string(in.order) + " (e.g. graphs: see --save-data of Perm)");
  const auto png = dir / (cfg.name + "-data.png");
  if (std::filesystem::exists(png) && !force)
    throw eqaug::Error(png.string() + " already exists; pass --force to replace it");
  eqaug::report::ContactSheet sheet;
  sheet.side = side;
  count = std::min(count, data.size);
  const bool fashion = data.name.rfind("fashion-mnist", 0) == 0;
  const auto& tg = data.target;
  if (tg.order == 1)
    for (std::size_t c = 0; c < tg.channels; ++c)
      sheet.mask_names.push_back(c == 0 ? "triangle mask" : c == 1 ? "pentagon mask" : "mask " + std::to_string(c));
  for (std::size_t i = 0; i < count; ++i) {
    sheet.images.emplace_back(data.x.begin() + static_cast<std::ptrdiff_t>(i * in.dim()),
                              data.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * in.dim()));
    const double* y = data.y.data() + i * tg.dim();
    if (tg.order == 1) {
      std::vector<std::vector<double>> masks;
      std::string what;
      for (std::size_t c = 0; c < tg.channels; ++c) {
        masks.emplace_back(y + c * tg.sites, y + (c + 1) * tg.sites);
        double on = 0;
        for (std::size_t s = 0; s < tg.sites; ++s) on += y[c * tg.sites + s];
        if (on > 0 && on < static_cast<double>(tg.sites) && tg.channels == 2) what = c == 0 ? "triangle" : "pentagon";
      }
      sheet.masks.push_back(std::move(masks));
      sheet.labels.push_back(what.empty() ? "#" + std::to_string(i) : what);
    } else {
      std::size_t label = 0;
      for (std::size_t c = 1; c < tg.channels; ++c)
        if (y[c] > y[label]) label = c;
      std::string text = tg.channels == 1 ? (y[0] > 0.5 ? "1" : "0") : std::to_string(label);
      if (fashion && label < 10 && tg.channels == 10) text += std::string(" (") + kFashionClasses[label] + ")";
      sheet.labels.push_back(text);
    }
  }
  sheet.title = cfg.name + ": first " + std::to_string(count) + " of " + std::to_string(data.size) + " samples, " +
                data.name + ", " +
                (graphs ? "adjacency matrices of " + std::to_string(side) + " nodes (white: an edge), label below"
                        : std::to_string(side) + "x" + std::to_string(side) + " pixels in [0,1]") +
                " (before the " + eqaug::io::csv_number(cfg.json.at("data").value("input_shift", 0.0)) + " shift)";
  eqaug::io::create_output_dir(dir, "--out");
  const auto written = eqaug::report::write_contact_sheet(sheet, png);
  out << "wrote " << written.string() << " (" << data.name << ")\n";
  for (const auto& note : data.notes) out << "note: " << note << "\n";
  return 0;
}

/// `eqaug data`: a contact sheet of a preset's first samples, and/or its data as .npy.
class DataCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* datacmd = sub_ = app.add_subcommand("data",
                                              "Contact sheet (PNG) of the first samples of a preset's data (images, or "
                                              "graphs as adjacency matrices), with labels or masks");
    datacmd->add_option("config", ds.config, "Preset name (perm, trans, rot, groups) or path to a config .toml")
        ->required();
    datacmd->add_option("--out", data_out,
                        "Folder for the contact sheet <name>-data.png (default: none; needs --out or --save-data)");
    datacmd->add_option("--save-data", save_data,
                        "Export the data set to DIR as .npy in the authors' layout: graphs graphmat{i}.npy + "
                        "graphlabel{i}.npy, shapes shpsimg{i}.npy + shpstrig{i}.npy + shpspent{i}.npy, images "
                        "images.npy + labels.npy (default: none); --data-npy reads it back");
    datacmd->add_option("--count", data_count, "Samples shown (default: 32)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
    datacmd->add_option("--scale", ds.scale, "Preset scale: full or small (default: full)");
    datacmd->add_option("--set", ds.sets, "As for run: KEY=VALUE for any config key (default: none)")
        ->allow_extra_args(false);
    datacmd->add_option("--data-npy", ds.data_npy, "As for run (default: data.npy; none)");
    datacmd->add_option("--data-dir", ds.data_dir, "As for run (default: data.dir; Debian's Fashion-MNIST)");
    datacmd->add_option("--seed", ds.seed, "Seed of generated data (default: train.seed)")->check(whole_number);
    datacmd->add_flag("--force", data_force, "Replace an existing sheet (default: off)");
  }

  int run(int, char**) override {
    if (data_out.empty() && save_data.empty())
      throw eqaug::Error("data: nothing to do; pass --out DIR (a contact sheet) and/or --save-data DIR (.npy files)");
    std::string source;
    const auto all = resolve_all(load_config(ds, source), source);
    if (!save_data.empty()) export_data(all.front().second, save_data, data_force, out());
    if (!data_out.empty()) return write_data_sheet(all.front().second, data_out, data_count, data_force, out());
    return 0;
  }

 private:
  RunArgs ds;
  std::string data_out, save_data;
  std::size_t data_count = 32;
  bool data_force = false;
};

}  // namespace

std::unique_ptr<Command> make_data_command() { return std::make_unique<DataCommand>(); }

}  // namespace eqaug::cli
