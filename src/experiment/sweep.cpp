#include "eqaug/experiment/sweep.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/report/report.hpp"
#include "eqaug_build_info.hpp"
#include "eqaug_revision.hpp"
#include "sweep_folder.hpp"

extern "C" char* openblas_get_config(void);

namespace eqaug::experiment {

using namespace eqaug::io;

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json machine_info() {
  json m;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) m["hostname"] = host;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  m["hardware_threads"] = std::thread::hardware_concurrency();
  m["blas"] = openblas_get_config();
  return m;
}

std::vector<std::string> layer_names(const ModelSpec& spec) {
  std::vector<std::string> names;
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) names.push_back(spec.weight_layer(j).name);
  return names;
}

json model_info(const ModelSpec& spec) {
  json layers = json::array();
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    layers.push_back({{"name", l.name},
                      {"shape", npy_shape(l)},
                      {"params", l.count},
                      {"orbits", l.subspace->orbits().count()},
                      {"dim_E", l.subspace->dim()}});
  }
  return {{"group", spec.group()->name()}, {"params", spec.num_params()}, {"dim_E", spec.dim_E()}, {"layers", layers}};
}

std::string format_duration(double s) {
  std::ostringstream os;
  if (s < 60)
    os << std::fixed << std::setprecision(1) << s << " s";
  else if (s < 3600)
    os << static_cast<long>(s) / 60 << " min " << static_cast<long>(s) % 60 << " s";
  else
    os << static_cast<long>(s) / 3600 << " h " << static_cast<long>(s) % 3600 / 60 << " min";
  return os.str();
}

/// The common start of every run given by --init-weights (projected onto E), with what
/// the manifest records of it; empty when each run draws its own.
struct StartPoint {
  std::vector<double> params;
  json info;
  std::vector<std::string> unused;  // warnings: .npy files in the folder that no layer reads
};

StartPoint load_start_point(const ExperimentConfig& cfg, const ModelSpec& spec) {
  StartPoint s;
  if (cfg.init_weights.empty()) return s;
  s.params = load_layer_weights(
      cfg.init_weights, spec,
      cfg.precision == Precision::F32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max());
  for (const auto& e : fs::directory_iterator(cfg.init_weights)) {
    if (e.path().extension() != ".npy") continue;
    bool read = false;
    for (std::size_t j = 0; j < spec.weight_layers().size(); ++j)
      read = read || e.path().filename() == spec.weight_layer(j).name + ".npy";
    if (!read) {
      std::string names;
      for (std::size_t j = 0; j < spec.weight_layers().size(); ++j)
        names += (j ? ", " : "") + spec.weight_layer(j).name;
      s.unused.push_back("--init-weights: " + e.path().string() + " is not a layer of this model (" + names +
                         "); not read");
    }
  }
  const auto d = spec.distance_to_E(s.params.data());
  json dist = json::object();
  double total = 0;
  for (std::size_t j = 0; j < d.size(); ++j) {
    dist[spec.weight_layer(j).name] = d[j];
    total += d[j] * d[j];
  }
  dist["total"] = std::sqrt(total);
  s.info = {{"dir", cfg.init_weights},
            {"projection_distance", dist},
            {"fingerprint", fingerprint({&s.params})},
            {"projected", !cfg.train.raw_start}};
  if (!cfg.train.raw_start) spec.project(s.params.data());
  return s;
}

/// The data must fit the model: name the fields that disagree (the inputs are model.input,
/// the targets the last layer's output).
void check_data_fits(const ExperimentConfig& cfg, const ModelSpec& spec, const Dataset& data) {
  const bool inputs = data.input.dim() != spec.input().dim() || data.input.order != spec.input().order;
  if (!inputs && data.target.dim() == spec.output().dim() && data.target.order == spec.output().order) return;
  try {
    check_compatible(data, spec.input(), spec.output());
  } catch (const Error& e) {
    throw Error(cfg.source + ": " +
                (inputs ? std::string("model.input")
                        : "model.layers[" + std::to_string(cfg.json["model"]["layers"].size() - 1) + "]") +
                " does not fit data (kind " + cfg.json["data"].value("kind", std::string("?")) + "): " + e.what());
  }
}

void describe_start_point(std::ostream& log, const ExperimentConfig& cfg, const StartPoint& given) {
  log << "init weights from " << cfg.init_weights
      << (cfg.train.raw_start ? ": used as they are (--start raw), " : ": projected onto E, ")
      << "||A - P_E A|| = " << csv_number(given.info["projection_distance"]["total"].get<double>()) << "\n";
  if (cfg.runs > 1)
    log << "note: every run starts from these weights, so Nom and Equi (which draw nothing) will be identical in all "
        << cfg.runs << " runs; only Aug's draws differ\n";
}

/// The manifest's "seeds": the master seed and how every stream derives from it.
json seeds_description(const ExperimentConfig& cfg, const TrainOptions& train) {
  json seeds = {{"seed", cfg.train.seed},
                {"streams",
                 {{"data", "(seed, 'data')"},
                  {"init", cfg.train.raw_start ? "(seed, 'init', run), not projected (start raw)"
                                               : "(seed, 'init', run), projected onto E"},
                  {"aug", "(seed, 'aug', run, step, mode)"}}}};
  if (!train.metrics.empty()) seeds["streams"]["metrics"] = "(seed, 'metrics', run, step)";
  return seeds;
}

/// The manifest's "model": shapes and dims, how Equi evaluates, batch statistics.
template <typename T>
json model_description(const ExperimentConfig& cfg, const ModelSpec& spec, const GradientEngine<T>& engine) {
  json m = model_info(spec);
  for (const auto& st : cfg.train.strategies)
    if (st.mode == Mode::Equi && uses_structured_equi(st, engine))
      m["equi_layer_eval"] = engine.equi_network().layer_kinds();
  if (spec.couples_samples())
    m["batch_statistics"] = {
        {"minibatch", spec.minibatch()},
        {"chunk", engine.chunk_samples(0)},
        {"note", "layers with batch statistics: every strategy evaluates in minibatches of train.batch samples"}};
  return m;
}

/// The manifest's "data".
json data_description(const Dataset& data, const ModelSpec& spec) {
  json info = {{"name", data.name},
               {"samples", data.size},
               {"accuracy", accuracy_kind(spec)},
               {"fingerprint", fingerprint({&data.x, &data.y})},
               {"notes", data.notes}};
  if (data.target.dim() == 1) {
    double positives = 0;
    for (double y : data.y) positives += y;
    info["positive_fraction"] = positives / static_cast<double>(data.y.size());
  }
  return info;
}

/// Resuming on other inputs (an edited --data-npy or --init-weights folder) would mix results.
void check_same_inputs(const json& manifest, const json& data_info, const StartPoint& given, const fs::path& out) {
  if (manifest.contains("data") && manifest["data"].value("fingerprint", "") != data_info["fingerprint"])
    throw Error("--resume: the data differ from those the sweep in " + out.string() +
                " was computed from (fingerprint " + manifest["data"].value("fingerprint", std::string("?")) +
                ", now " + data_info["fingerprint"].get<std::string>() + ")");
  if (manifest.contains("init_weights") && !given.info.is_null() &&
      manifest["init_weights"].value("fingerprint", "") != given.info["fingerprint"])
    throw Error("--resume: the --init-weights files differ from those the sweep in " + out.string() + " started from");
}

void print_header(std::ostream& log, const ExperimentConfig& cfg, const ModelSpec& spec, const Dataset& data,
                  const std::string& where, const fs::path& out, bool resumed, bool joined, std::size_t skipped) {
  log << cfg.name << ": " << cfg.runs << " run(s) x " << cfg.train.epochs << " steps, modes";
  for (const auto& st : cfg.train.strategies) log << " " << st.name();
  log << "; " << spec.num_params() << " parameters, dim E = " << spec.dim_E() << "; " << where << " -> " << out.string()
      << "\n";
  if (cfg.train.raw_start)
    log << "start raw: Nom and Aug start at A0 as drawn, off E; Equi at its projection (train.start)\n";
  for (const auto& note : data.notes) log << "note: " << data.name << ": " << note << "\n";
  if (resumed && joined)
    log << "joining the shards' folder: " << skipped << " of this shard's run(s) already finished\n";
  else if (resumed)
    log << "resuming: " << skipped << " run(s) already finished\n";
}

/// A run's CSV per strategy and, with `weights_of` (the model), its start and final weights.
template <typename T>
void write_run_files(const fs::path& out, std::size_t k, const std::vector<StrategyRun>& result,
                     const std::vector<std::string>& names, const std::vector<std::string>& metric_names,
                     const ModelSpec* weights_of, const std::vector<double>& a0) {
  for (const auto& sr : result) {
    write_file_atomic(out / sr.strategy.name() / (run_name(k) + ".csv"), records_csv(sr, k, names, metric_names));
    if (weights_of) {
      const fs::path base = out / sr.strategy.name() / run_name(k);
      const std::vector<T> init(a0.begin(), a0.end()), fin(sr.final_params.begin(), sr.final_params.end());
      save_layer_weights(base / "init", *weights_of, init);
      save_layer_weights(base / "final", *weights_of, fin);
    }
  }
}

/// The manifest's entry of a finished run: its wall time and where it went per strategy.
/// "aug's risk grew more than 10-fold by step 7 (2.3 at A0, 41): ..." per
/// strategy where it did.
std::vector<std::string> loss_growth_warnings(const std::vector<StrategyRun>& result) {
  std::vector<std::string> w;
  for (const auto& sr : result)
    if (sr.loss_grew_at) {
      std::ostringstream m;
      m << sr.strategy.name() << "'s risk grew more than " << kLossGrowth << "-fold by step " << *sr.loss_grew_at
        << " (" << sr.records.front().loss << " at A0, " << sr.records[*sr.loss_grew_at].loss
        << "): the learning rate may be too large";
      w.push_back(m.str());
    }
  return w;
}

json run_entry(std::size_t k, double wall, const std::vector<StrategyRun>& result, const std::string& shard) {
  json entry = {{"run", k}, {"wall_s", wall}, {"finished", utc_now_iso()}};
  for (const auto& sr : result)
    entry["phase_s"][sr.strategy.name()] = {{"passes", sr.seconds.passes},
                                            {"gradients", sr.seconds.gradients},
                                            {"measures", sr.seconds.measures},
                                            {"updates", sr.seconds.updates}};
  if (const auto w = loss_growth_warnings(result); !w.empty()) entry["warnings"] = w;
  if (!shard.empty()) entry["shard"] = shard;
  return entry;
}

/// The tidy table of every finished run, rewritten with each run (read back from the
/// per-run files, so resumed sweeps include the runs of earlier sessions).
void rewrite_steps_csv(const fs::path& out, const ExperimentConfig& cfg, const json& manifest,
                       const std::vector<std::string>& names, const std::vector<std::string>& metric_names) {
  std::vector<std::size_t> finished;
  for (const auto& r : manifest["runs"]) finished.push_back(r["run"].get<std::size_t>());
  std::sort(finished.begin(), finished.end());
  std::vector<std::string> modes;
  for (const auto& st : cfg.train.strategies) modes.push_back(st.name());
  write_file_atomic(out / "steps.csv", steps_csv(out, modes, finished, names, metric_names));
}

/// "run 3/30 done in 20 s  nom loss ... (ETA ...)"; eta < 0: none.
void print_run_done(std::ostream& log, std::size_t k, std::size_t runs, double wall,
                    const std::vector<StrategyRun>& result, double eta) {
  log << "  run " << k + 1 << "/" << runs << " done in " << format_duration(wall);
  for (const auto& sr : result) {
    const auto& r = sr.records.back();
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %s loss %.4f |A-PA| %.3g", sr.strategy.name().c_str(), r.loss, r.dist_E);
    log << buf;
  }
  if (eta >= 0) log << "  (ETA " << format_duration(eta) << ")";
  log << "\n" << std::flush;
}

/// [reference] nom_distance_on_aug: Nom's distance travelled replaced by Aug's, as the
/// reference's logs recorded it (docs/reference.md).
void measure_nom_on_aug(std::vector<StrategyRun>& result) {
  StrategyRun* nom = nullptr;
  const StrategyRun* aug = nullptr;
  for (auto& r : result) {
    if (r.strategy.mode == Mode::Nom) nom = &r;
    if (r.strategy.mode == Mode::Aug) aug = &r;
  }
  EQAUG_CHECK(nom && aug && nom->records.size() == aug->records.size(), "nom_distance_on_aug needs Nom and Aug");
  for (std::size_t t = 0; t < nom->records.size(); ++t) {
    nom->records[t].dist_init = aug->records[t].dist_init;
    nom->records[t].dist_init_layer = aug->records[t].dist_init_layer;
  }
}

/// One sweep in one precision: what it computes with (model, data, engine, trainer) built and
/// checked before OUT is touched, then its runs, each written as it finishes.
template <typename T>
class Sweep {
 public:
  Sweep(const ExperimentConfig& cfg, const SweepOptions& opts)
      : cfg_(cfg),
        opts_(opts),
        log_(opts.progress ? *opts.progress : std::clog),
        show_(opts.progress != nullptr),
        tty_(show_ && opts.progress == &std::cerr && isatty(STDERR_FILENO)),
        group_(build_group(cfg)),
        spec_(build_model(cfg, group_)),
        data_(build_data(cfg, *group_)),
        given_((check_data_fits(cfg, *spec_, data_), load_start_point(cfg, *spec_))),
        threads_(opts.threads ? opts.threads : ThreadPool::available_cores()),
        pool_(threads_),
        engine_(*spec_, data_, cfg.json.at("data").value("input_shift", 0.0), cfg.chunk, pool_, EquiEval::Structured,
                opts.device),
        device_info_(describe(opts.device)),
        train_(train_options()),
        names_(layer_names(*spec_)),
        metric_names_(metric_columns(train_, *spec_)) {
    if (show_ && !given_.params.empty()) describe_start_point(log_, cfg, given_);
    engine_.set_stop_flag(opts.stop);
    // [reference] nom_aug_norm: Nom and Aug train their own model (docs/reference.md, defect 7).
    nom_aug_spec_ = build_nom_aug_model(cfg, group_);
    if (nom_aug_spec_) {
      if (opts.save_weights)
        throw Error(cfg.source +
                    ": reference.nom_aug_norm: Nom and Aug train another model (batch norms with a scale and shift) "
                    "than the one --save-weights writes; run without --save-weights");
      if (opts.device.cuda())
        throw Error(cfg.source +
                    ": reference.nom_aug_norm: the batch norm it puts into Nom and Aug runs on the CPU "
                    "only (--device cpu)");
      nom_aug_engine_ =
          std::make_unique<GradientEngine<T>>(*nom_aug_spec_, data_, cfg.json.at("data").value("input_shift", 0.0),
                                              cfg.chunk, pool_, EquiEval::Structured, opts.device);
      nom_aug_engine_->set_stop_flag(opts.stop);
      for (std::size_t j = 0, i = 0; j < nom_aug_spec_->weight_layers().size(); ++j) {
        const auto& l = nom_aug_spec_->weight_layer(j);
        const bool shared = i < spec_->weight_layers().size() && spec_->weight_layer(i).kind == l.kind &&
                            spec_->weight_layer(i).count == l.count;
        shared_layer_.push_back(shared ? i++ : kNotShared);
      }
    }
    // The strategies of each model, in the order of the configuration.
    for (int part = 0; part < (nom_aug_spec_ ? 2 : 1); ++part) {
      TrainOptions o = train_;
      o.strategies.clear();
      for (std::size_t k = 0; k < train_.strategies.size(); ++k)
        if (!nom_aug_spec_ || (train_.strategies[k].mode != Mode::Equi) == (part == 1)) {
          o.strategies.push_back(train_.strategies[k]);
          parts_.resize(part + 1);
          parts_[part].order.push_back(k);
        }
      if (o.strategies.empty()) continue;
      parts_[part].trainer = std::make_unique<Trainer<T>>(part == 1 ? *nom_aug_engine_ : engine_, o);
      parts_[part].nom_aug = part == 1;
    }
    std::erase_if(parts_, [](const Part& p) { return !p.trainer; });
    collect_warnings();
  }

  SweepSummary run() {
    SweepFolder folder(cfg_, opts_);  // only now is OUT touched
    // A summary or figure of an earlier state must not pass for this sweep's: `report` draws
    // them anew (marked in progress until the sweep is complete).
    report::remove_stale_report(opts_.out);
    fill_manifest(folder.manifest(), folder.resumed());
    folder.open(opts_.command_line, threads_, device_info_);

    // This process's runs: all, or those of its shard.
    std::vector<std::size_t> todo;
    std::size_t planned = 0;
    for (std::size_t k = 0; k < cfg_.runs; ++k)
      if (k % opts_.shards == opts_.shard) {
        ++planned;
        if (!folder.done()[k]) todo.push_back(k);
      }
    SweepSummary summary;
    summary.runs_skipped = planned - todo.size();
    if (show_)
      print_header(log_, cfg_, *spec_, data_, where(), opts_.out, folder.resumed(), folder.sharded() && !opts_.resume,
                   summary.runs_skipped);
    if (show_)
      for (const auto& w : warnings_) log_ << "warning: " << w << "\n";
    if (show_) print_estimate(todo.size());
    if (show_ && nom_aug_spec_)
      log_ << "reference.nom_aug_norm: Nom and Aug train " << nom_aug_spec_->num_params()
           << " parameters (every layernorm an affine batchnorm over minibatches of " << nom_aug_spec_->minibatch()
           << "), Equi the layer-norm model\n";
    const auto sweep_start = std::chrono::steady_clock::now();
    // A folder this session created that ends without a single saved run (every run
    // diverged, or a failure such as running out of memory) is removed whole: nothing
    // half-written stays. An interrupted one stays, for --resume.
    const auto nothing_saved = [&] { return folder.created() && !folder.sharded() && summary.runs_done == 0; };
    try {
      run_all(folder, todo, planned, summary);
    } catch (const Interrupted&) {
      throw;
    } catch (...) {
      if (nothing_saved()) folder.discard();
      throw;
    }
    summary.wall_s = seconds_since(sweep_start);
    if (nothing_saved() && !summary.diverged.empty()) {
      folder.discard();
      summary.discarded = true;
      return summary;
    }
    folder.close(summary.wall_s);
    return summary;
  }

 private:
  void run_all(SweepFolder& folder, const std::vector<std::size_t>& todo, std::size_t planned, SweepSummary& summary) {
    const auto sweep_start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < todo.size(); ++i) {
      const std::size_t k = todo[i];
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<double> a0 = start_of(k);
      std::vector<StrategyRun> result;
      try {
        if (opts_.stop && opts_.stop->load() != 0) throw StopRequested{opts_.stop->load()};
        result = train_run(k, a0, t0, todo.size() - i);
      } catch (const Diverged& d) {
        // Nothing of the run is written; the manifest says what happened, the sweep goes on.
        if (tty_) log_ << "\n";
        const std::string line = "run " + std::to_string(k) + ": " + d.what();
        log_ << "DIVERGED: " << line << " - run not saved\n";
        json entry = {{"run", k},
                      {"mode", d.mode},
                      {"step", d.step},
                      {"loss", std::isfinite(d.loss) ? json(d.loss) : json(std::to_string(d.loss))},
                      {"weights_finite", !d.weights},
                      {"message", d.what()},
                      {"when", utc_now_iso()}};
        if (!folder.shard_name().empty()) entry["shard"] = folder.shard_name();
        folder.add_diverged(entry);
        summary.diverged.push_back(line);
        continue;
      } catch (const StopRequested& s) {
        if (show_ && tty_) log_ << "\n";
        Interrupted e;
        e.signal = s.signal;
        e.runs_done = summary.runs_skipped + i;
        e.runs_total = planned;
        throw e;
      }
      const double wall = save_run(folder, k, a0, t0, result);
      ++summary.runs_done;
      if (show_) {
        const double elapsed = seconds_since(sweep_start);
        const double eta = elapsed / static_cast<double>(i + 1) * static_cast<double>(todo.size() - i - 1);
        if (tty_) log_ << "\r";
        print_run_done(log_, k, cfg_.runs, wall, result, i + 1 < todo.size() ? eta : -1.0);
        for (const auto& w : loss_growth_warnings(result)) log_ << "warning: run " << k << ": " << w << "\n";
      }
    }
  }

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  /// The configuration's training options, less the per-step metrics on a GPU: they
  /// evaluate the network's outputs, which the CUDA backend does not return, so a GPU
  /// sweep runs without them and says so (console and manifest).
  TrainOptions train_options() {
    TrainOptions train = cfg_.train;
    train.keep_final_params = opts_.save_weights;  // a double copy of every model: only when saved
    if (opts_.device.cuda() && !train.metrics.empty()) {
      metrics_note_ =
          "train.metrics (" + cfg_.json["train"]["metrics"].dump() + ") not computed: they run on the CPU only";
      train.metrics.clear();
    }
    return train;
  }

  /// What the manifest says of this sweep besides its runs and sessions.
  void fill_manifest(json& manifest, bool resumed) const {
    manifest["save_weights"] = opts_.save_weights;
    // The command that started the sweep; every session's own is in "sessions" (and each
    // shard's in "shard_commands").
    if (!resumed) manifest["command"] = opts_.command_line;
    manifest["machine"] = machine_info();
    manifest["device"] = device_info_;
    manifest["seeds"] = seeds_description(cfg_, train_);
    manifest["metrics"] = {{"columns", metric_names_}};
    if (!metrics_note_.empty()) manifest["metrics"]["note"] = metrics_note_;
    manifest["model"] = model_description(cfg_, *spec_, engine_);
    if (nom_aug_spec_) {
      manifest["model"]["nom_aug_model"] = model_info(*nom_aug_spec_);
      manifest["model"]["nom_aug_model"]["note"] =
          "reference.nom_aug_norm: the model Nom and Aug train (every layernorm an affine batchnorm); distances "
          "over the layers all strategies share";
    }
    const json data_info = data_description(data_, *spec_);
    if (resumed) check_same_inputs(manifest, data_info, given_, opts_.out);
    manifest["data"] = data_info;
    if (!given_.info.is_null()) manifest["init_weights"] = given_.info;
    if (!warnings_.empty()) manifest["warnings"] = warnings_;  // absent where there are none
  }

  /// Settings accepted but not used as written: the configuration's, and those only the
  /// model, data and engine reveal.
  void collect_warnings() {
    warnings_ = cfg_.warnings;
    for (const auto& st : train_.strategies)
      if (st.batch > data_.size && ((st.augments() && st.per == AugPer::Batch) || spec_->couples_samples())) {
        warnings_.push_back("train.batch = " + std::to_string(st.batch) + " exceeds the " + std::to_string(data_.size) +
                            " samples: one minibatch holds the whole data set");
        break;
      }
    for (const auto& st : train_.strategies)
      if (st.mode == Mode::Equi && st.equi_eval == EquiEvalChoice::Structured && uses_structured_equi(st, engine_)) {
        const auto kinds = engine_.equi_network().layer_kinds();
        for (std::size_t j = 0; j < kinds.size(); ++j) {
          const auto& l = spec_->weight_layer(j);
          if (kinds[j] == "dense" && l.subspace->dim() < l.subspace->ambient_dim())
            warnings_.push_back("train.equi.eval = \"structured\": layer " + l.name + " has no structured form for " +
                                group_->name() + "; Equi evaluates it on dense weights");
        }
      }
    for (const auto& file : given_.unused) warnings_.push_back(file);
  }

  /// Before the first step (issue: full-size runs started without a word): the multiply-adds
  /// of a run over this machine's GEMM rate measured now, one BLAS thread per worker as the
  /// sweep computes. Dense passes are counted, so structured Equi makes it an upper bound.
  void print_estimate(std::size_t runs_to_do) const {
    if (opts_.device.cuda() || runs_to_do == 0) return;
    double passes = 0;
    for (const auto& st : train_.strategies) {
      double p = 1;
      if (st.augments()) {
        const auto order = spec_->group()->order();
        p = (st.exact && order ? static_cast<double>(*order) : static_cast<double>(st.passes)) + 1;
      }
      passes += p;
    }
    const double flops = 6.0 * static_cast<double>(spec_->num_params()) * static_cast<double>(data_.size) * passes *
                         static_cast<double>(cfg_.train.epochs + 1);
    // The best of three 256³ products, on one thread.
    constexpr std::size_t n = 256;
    std::vector<T> a(n * n, T(0.5)), b(n * n, T(0.25)), c(n * n);
    double best = 1e300;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      blas::gemm<T>(blas::Op::N, blas::Op::N, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
      best = std::min(best, seconds_since(t0));
    }
    const double rate = 2.0 * n * n * n / std::max(best, 1e-9) * static_cast<double>(threads_);
    const double per_run = flops / rate;
    std::ostringstream m;
    m << std::setprecision(3) << "estimate: at least " << format_duration(per_run) << " per run, "
      << format_duration(per_run * static_cast<double>(runs_to_do)) << " for the " << runs_to_do << " run(s) to do ("
      << flops / 1e9 << " GFLOP of dense passes per run at " << rate / 1e9 << " GFLOP/s, a GEMM probe on " << threads_
      << " thread(s) just now; the passes reach part of it)";
    log_ << m.str() << "; the ETA follows each step\n";
  }

  /// "GPU …" or "N thread(s)", for the header.
  std::string where() const {
    if (!opts_.device.cuda()) return std::to_string(threads_) + " thread(s)";
    return "GPU " + opts_.device.name() + " (" + device_info_.value("name", std::string("?")) +
           (opts_.device.tf32 ? ", TF32 allowed" : "") + ", " + std::to_string(engine_.gpu()->chunk()) +
           " samples per chunk)";
  }

  /// Run k of every strategy, with its progress: the step rate gives the ETA of the run and
  /// of the sweep (`runs_left` runs alike, this one included); on a terminal every step, in
  /// a log file at most once a minute.
  std::vector<StrategyRun> train_run(std::size_t k, const std::vector<double>& a0,
                                     std::chrono::steady_clock::time_point t0, std::size_t runs_left) {
    auto last_line = t0;
    // Where the models differ (nom_aug_norm) their strategies train one model after the
    // other: the steps shown count both.
    const std::size_t steps = cfg_.train.epochs + 1, total = steps * parts_.size();
    std::size_t before = 0;
    auto progress = [&](std::size_t step, const std::vector<StrategyRun>&) {
      if (!show_ && !opts_.on_step) return;
      const std::size_t done = before + step + 1;
      const auto now = std::chrono::steady_clock::now();
      const double per_step = seconds_since(t0) / static_cast<double>(done);
      const double run_left = per_step * static_cast<double>(total - done);
      const double run_total = per_step * static_cast<double>(total);
      const double sweep_left = run_left + run_total * static_cast<double>(runs_left - 1);
      if (opts_.on_step) opts_.on_step({cfg_.name, k + 1, cfg_.runs, done, total, per_step, run_left, sweep_left});
      if (!show_) return;
      const bool due = tty_ || std::chrono::duration<double>(now - last_line).count() >= 60.0;
      if (!due || done == total) return;
      last_line = now;
      log_ << (tty_ ? "\r" : "") << "  run " << k + 1 << "/" << cfg_.runs << "  step " << done << "/" << total << "  "
           << format_duration(per_step) << "/step  run ETA " << format_duration(run_left);
      if (runs_left > 1) log_ << ", sweep ETA " << format_duration(sweep_left);
      log_ << (tty_ ? "   " : "\n") << std::flush;
    };
    std::vector<StrategyRun> result(train_.strategies.size());
    for (const Part& part : parts_) {
      auto runs = part.trainer->run(k, part.nom_aug ? nom_aug_start(a0) : a0, progress);
      for (std::size_t i = 0; i < runs.size(); ++i) {
        if (part.nom_aug) keep_shared_layers(runs[i]);
        result[part.order[i]] = std::move(runs[i]);
      }
      before += steps;
    }
    if (cfg_.reference.nom_distance_on_aug) measure_nom_on_aug(result);
    return result;
  }

  /// The Nom/Aug model's start (nom_aug_norm): A⁰ in the layers both models have, the
  /// batch norms' scale and shift as drawn (1 and 0).
  std::vector<double> nom_aug_start(const std::vector<double>& a0) const {
    Rng unused = Rng::stream(0, "nom_aug_norm", {});
    std::vector<double> b = nom_aug_spec_->draw_init(unused);
    for (std::size_t j = 0; j < shared_layer_.size(); ++j) {
      if (shared_layer_[j] == kNotShared) continue;
      const auto& from = spec_->weight_layer(shared_layer_[j]);
      std::copy_n(a0.begin() + static_cast<std::ptrdiff_t>(from.offset), from.count,
                  b.begin() + static_cast<std::ptrdiff_t>(nom_aug_spec_->weight_layer(j).offset));
    }
    return b;
  }

  /// A Nom/Aug record over the layers every strategy has (nom_aug_norm): the batch norms'
  /// scale and shift are in E (distance 0) and are left out of the distance travelled.
  void keep_shared_layers(StrategyRun& run) const {
    for (auto& r : run.records) {
      std::vector<double> init, to_E;
      double init2 = 0, e2 = 0;
      for (std::size_t j = 0; j < shared_layer_.size(); ++j) {
        if (shared_layer_[j] == kNotShared) continue;
        init.push_back(r.dist_init_layer[j]);
        to_E.push_back(r.dist_E_layer[j]);
        init2 += init.back() * init.back();
        e2 += to_E.back() * to_E.back();
      }
      r.dist_init_layer = std::move(init);
      r.dist_E_layer = std::move(to_E);
      r.dist_init = std::sqrt(init2);
      r.dist_E = std::sqrt(e2);
    }
    run.layer_eval.assign(spec_->weight_layers().size(), "dense");
  }

  /// Run k's start: its own draw, or the --init-weights point.
  std::vector<double> start_of(std::size_t k) {
    return given_.params.empty() ? initial_point(*spec_, cfg_.train.seed, k, !cfg_.train.raw_start, &pool_)
                                 : given_.params;
  }

  /// Writes run k's files and its manifest entry (and steps.csv); returns its wall time.
  double save_run(SweepFolder& folder, std::size_t k, const std::vector<double>& a0,
                  std::chrono::steady_clock::time_point t0, const std::vector<StrategyRun>& result) {
    write_run_files<T>(opts_.out, k, result, names_, metric_names_, opts_.save_weights ? &*spec_ : nullptr, a0);
    const double wall = seconds_since(t0);
    folder.add_run(run_entry(k, wall, result, folder.shard_name()),
                   [&](const json& manifest) { rewrite_steps_csv(opts_.out, cfg_, manifest, names_, metric_names_); });
    return wall;
  }

  const ExperimentConfig& cfg_;
  const SweepOptions& opts_;
  std::ostream& log_;
  const bool show_, tty_;
  const GroupPtr group_;
  const std::unique_ptr<ModelSpec> spec_;
  const Dataset data_;
  const StartPoint given_;
  const std::size_t threads_;
  ThreadPool pool_;
  // One BLAS thread for the whole sweep (the engine widens it around large models' chunks):
  // switching OpenBLAS's count at every engine call would wake its idle threads each time.
  const blas::ThreadsGuard serial_blas_{1};
  GradientEngine<T> engine_;
  const json device_info_;
  std::string metrics_note_;  // set by train_options()
  const TrainOptions train_;
  const std::vector<std::string> names_, metric_names_;
  // [reference] nom_aug_norm: the model Nom and Aug train, and which of its weight layers
  // is which of spec_'s.
  static constexpr std::size_t kNotShared = static_cast<std::size_t>(-1);
  std::unique_ptr<ModelSpec> nom_aug_spec_;
  std::unique_ptr<GradientEngine<T>> nom_aug_engine_;
  std::vector<std::size_t> shared_layer_;
  /// One trainer per model: its strategies (indices into train_.strategies).
  struct Part {
    std::unique_ptr<Trainer<T>> trainer;
    std::vector<std::size_t> order;
    bool nom_aug = false;
  };
  std::vector<Part> parts_;
  std::vector<std::string> warnings_;  // collect_warnings()
};

}  // namespace

MemoryEstimate estimate_memory(const ExperimentConfig& cfg) {
  MemoryEstimate e;
  const auto group = build_group(cfg);
  const json& model = cfg.json.at("model");
  Space in = make_space(*group, model.at("input").at("channels").get<std::size_t>(),
                        model.at("input").at("order").get<std::size_t>());
  for (std::size_t i = 0; i < model.at("layers").size(); ++i) {
    const json& l = model["layers"][i];
    if (l.value("type", std::string()) != "linear") continue;
    const Space out = make_space(*group, l.at("channels").get<std::size_t>(), l.value("order", std::size_t{1}));
    const double weights = static_cast<double>(in.dim()) * static_cast<double>(out.dim());
    e.params += weights;
    if (weights > e.largest) {
      e.largest = weights;
      e.largest_layer = "model.layers[" + std::to_string(i) + "]";
    }
    e.activations += static_cast<double>(out.dim());
    in = out;
  }
  const double t = cfg.precision == Precision::F32 ? 4 : 8;
  const double strategies = static_cast<double>(cfg.train.strategies.size());
  // Per parameter: its orbit index (4 bytes), A⁰ and a gradient in double, and per strategy
  // its weights and gradient in T and a double copy (measured: 60 bytes per parameter for
  // small Trans at side 16 and 20 in float32, three strategies).
  e.per_param = 4 + 8 + 8 + strategies * (2 * t + 8);
  const double samples = cfg.json.at("data").value("samples", 1000.0);
  double passes = 0;
  for (const auto& st : cfg.train.strategies)
    if (st.augments() && !st.exact) passes = std::max(passes, static_cast<double>(st.passes));
  const Space input = make_space(*group, model.at("input").at("channels").get<std::size_t>(),
                                 model.at("input").at("order").get<std::size_t>());
  e.bytes = e.params * e.per_param + samples * static_cast<double>(input.dim()) * (2 * t + passes * 4) +
            static_cast<double>(cfg.chunk) * e.activations * t * 4;
  return e;
}

namespace {
/// MemAvailable of /proc/meminfo, in bytes (0 when unknown).
double available_memory() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::stod(line.substr(13)) * 1024.0;
  return 0;
}
}  // namespace

void check_memory(const ExperimentConfig& cfg) {
  const double available = available_memory();
  if (available <= 0) return;
  const MemoryEstimate e = estimate_memory(cfg);
  if (e.bytes <= available) return;
  std::ostringstream m;
  m << std::setprecision(3) << cfg.source << ": the run needs about " << e.bytes / 1e9 << " GB ("
    << static_cast<std::uint64_t>(e.params) << " weights at about " << e.per_param << " bytes each for "
    << cfg.train.strategies.size() << " strategies, the largest " << e.largest_layer << " with "
    << static_cast<std::uint64_t>(e.largest) << "), but " << available / 1e9
    << " GB are available; lower group.side, the channels of model.layers or the number of modes"
    << (cfg.precision == Precision::F64 ? ", or use train.precision = \"f32\"" : "");
  throw Error(m.str());
}

std::vector<double> run_start(const ExperimentConfig& cfg, const ModelSpec& spec, std::size_t run, ThreadPool* pool) {
  if (cfg.init_weights.empty()) return initial_point(spec, cfg.train.seed, run, !cfg.train.raw_start, pool);
  return load_start_point(cfg, spec).params;
}

SweepSummary run_sweep(const ExperimentConfig& cfg, const SweepOptions& opts) {
  if (opts.force && opts.resume) throw Error("--force and --resume exclude each other");
  if (opts.out.empty()) throw Error("--out: no results directory given");
  if (opts.threads > kMaxThreads)
    throw Error("--threads: at most " + std::to_string(kMaxThreads) + " threads, got " + std::to_string(opts.threads));
  check_memory(cfg);  // before the model (its orbit tables) is built
  if (cfg.precision == Precision::F32) return Sweep<float>(cfg, opts).run();
  return Sweep<double>(cfg, opts).run();
}

json program_info() {
  return {{"name", "eqaug"},
          {"version", EQAUG_VERSION},
          {"revision", EQAUG_SOURCE_REVISION},
          {"compiler", std::string(EQAUG_COMPILER) + ", " + __VERSION__},
          {"build_type", EQAUG_BUILD_TYPE},
          {"build_flags", EQAUG_BUILD_FLAGS}};
}

}  // namespace eqaug::experiment
