#include "eqaug/experiment/results.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/npy.hpp"

namespace eqaug::io {

namespace fs = std::filesystem;

std::vector<std::size_t> npy_shape(const LayerSpec& l) {
  if (l.w_out.sites == 1 && l.w_in.sites == 1) return {l.w_out.channels, l.w_in.channels};
  return {l.w_out.channels, l.w_in.channels, l.w_out.sites, l.w_in.sites};
}

std::string shape_str(const std::vector<std::size_t>& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

std::vector<std::string> record_columns(const std::vector<std::string>& layer_names,
                                        const std::vector<std::string>& metric_columns) {
  std::vector<std::string> c = {"mode", "run", "step", "loss", "accuracy", "dist_init", "dist_E", "loss_aug"};
  for (const auto& n : layer_names) c.push_back("dist_init_" + n);
  for (const auto& n : layer_names) c.push_back("dist_E_" + n);
  c.insert(c.end(), metric_columns.begin(), metric_columns.end());
  return c;
}

std::string records_csv(const StrategyRun& run, std::size_t run_index, const std::vector<std::string>& layer_names,
                        const std::vector<std::string>& metric_columns) {
  const bool aug = run.strategy.augments();
  std::string s;
  for (const auto& c : record_columns(layer_names, metric_columns)) s += (s.empty() ? "" : ",") + c;
  s += "\n";
  const std::string prefix = run.strategy.name() + "," + std::to_string(run_index) + ",";
  for (const auto& r : run.records) {
    s += prefix + std::to_string(r.step) + "," + csv_number(r.loss) + "," + csv_number(r.accuracy) + "," +
         csv_number(r.dist_init) + "," + csv_number(r.dist_E) + "," + (aug ? csv_number(r.loss_aug) : std::string());
    for (double d : r.dist_init_layer) s += "," + csv_number(d);
    for (double d : r.dist_E_layer) s += "," + csv_number(d);
    for (double d : r.metrics) s += "," + csv_number(d);
    s += "\n";
  }
  return s;
}

std::string steps_csv(const fs::path& out, const std::vector<std::string>& modes, const std::vector<std::size_t>& runs,
                      const std::vector<std::string>& layer_names, const std::vector<std::string>& metric_columns) {
  // mode and run come from the folder's layout; the rest by name, in a file of the earlier
  // layout by its old name (no loss_aug there for a mode that does not augment).
  const auto all = record_columns(layer_names, metric_columns);
  const std::vector<std::string> columns(all.begin() + 2, all.end());
  std::string csv;
  for (const auto& c : all) csv += (csv.empty() ? "" : ",") + c;
  csv += "\n";
  for (const auto& mode : modes)
    for (std::size_t k : runs) {
      const fs::path file = out / mode / (run_name(k) + ".csv");
      const std::string text = read_file(file);
      std::vector<std::string> lines;
      for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        if (end > at) lines.push_back(text.substr(at, end - at));
        at = end + 1;
      }
      if (lines.empty()) throw Error(file.string() + ": empty, expected a header and rows");
      auto header = split_csv_line(lines[0]);
      for (auto& h : header) h = current_column_name(h);
      std::vector<int> index;
      for (const auto& c : columns) {
        const auto it = std::find(header.begin(), header.end(), c);
        if (it == header.end() && c != "loss_aug") throw Error(file.string() + ": no column " + c);
        index.push_back(it == header.end() ? -1 : static_cast<int>(it - header.begin()));
      }
      for (std::size_t r = 1; r < lines.size(); ++r) {
        const auto cells = split_csv_line(lines[r]);
        if (cells.size() != header.size())
          throw Error(file.string() + ": row " + std::to_string(r) + " has " + std::to_string(cells.size()) +
                      " cells, expected " + std::to_string(header.size()));
        csv += mode + "," + std::to_string(k);
        for (int i : index) csv += "," + (i < 0 ? std::string() : cells[static_cast<std::size_t>(i)]);
        csv += "\n";
      }
    }
  return csv;
}

template <typename T>
void save_layer_weights(const fs::path& dir, const ModelSpec& spec, const std::vector<T>& params) {
  fs::create_directories(dir);
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    // Internal layout (C_out, S_out, C_in, S_in) → file layout (C_out, C_in, S_out, S_in).
    const std::size_t Co = l.w_out.channels, Ci = l.w_in.channels, So = l.w_out.sites, Si = l.w_in.sites;
    std::vector<T> w(l.count);
    const T* src = params.data() + l.offset;
    for (std::size_t co = 0; co < Co; ++co)
      for (std::size_t so = 0; so < So; ++so)
        for (std::size_t ci = 0; ci < Ci; ++ci)
          std::copy_n(src + ((co * So + so) * Ci + ci) * Si, Si, w.data() + ((co * Ci + ci) * So + so) * Si);
    write_npy<T>(dir / (l.name + ".npy"), w.data(), npy_shape(l));
  }
}

std::vector<double> load_layer_weights(const fs::path& dir, const ModelSpec& spec, double max_abs) {
  if (!fs::is_directory(dir)) throw Error("--init-weights: '" + dir.string() + "' is not a directory");
  std::vector<double> params(spec.num_params());
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    const fs::path file = dir / (l.name + ".npy");
    const NpyArray a = read_npy(file);
    const std::size_t Co = l.w_out.channels, Ci = l.w_in.channels, So = l.w_out.sites, Si = l.w_in.sites;
    const std::vector<std::size_t> four = {Co, Ci, So, Si};
    if (a.shape != npy_shape(l) && a.shape != four)
      throw Error(file.string() + ": expected shape " + shape_str(npy_shape(l)) + " for layer " + l.name + ", found " +
                  shape_str(a.shape));
    // read_npy has refused big-endian data: what is left is '<', '=' or no byte order.
    const std::string kind = a.descr.find_first_of("<=|") == 0 ? a.descr.substr(1) : a.descr;
    if (kind != "f4" && kind != "f8")
      throw Error(file.string() + ": expected float32 or float64 weights, found dtype '" + a.descr + "'");
    for (std::size_t i = 0; i < a.data.size(); ++i) {
      if (!std::isfinite(a.data[i]))
        throw Error(file.string() + ": weights contain NaN or infinity (entry " + std::to_string(i) + ")");
      if (std::abs(a.data[i]) > max_abs)
        throw Error(file.string() + ": entry " + std::to_string(i) + " = " + csv_number(a.data[i]) +
                    " overflows float32 (train.precision = \"f32\"; largest " + csv_number(max_abs) +
                    "); use train.precision = \"f64\" or smaller weights");
    }
    double* dst = params.data() + l.offset;
    for (std::size_t co = 0; co < Co; ++co)
      for (std::size_t ci = 0; ci < Ci; ++ci)
        for (std::size_t so = 0; so < So; ++so)
          std::copy_n(a.data.data() + ((co * Ci + ci) * So + so) * Si, Si, dst + ((co * So + so) * Ci + ci) * Si);
  }
  return params;
}

template void save_layer_weights<float>(const fs::path&, const ModelSpec&, const std::vector<float>&);
template void save_layer_weights<double>(const fs::path&, const ModelSpec&, const std::vector<double>&);

}  // namespace eqaug::io
