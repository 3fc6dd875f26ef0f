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

/// What eqaug writes into OUT; --force removes these and nothing else.
bool is_ours(const fs::path& entry) {
  const std::string name = entry.filename().string();
  if (name == "manifest.json" || name == "summary.csv" || name == "steps.csv" || name == "figure-data" ||
      name.rfind("figure.", 0) == 0)
    return true;
  for (Mode m : {Mode::Nom, Mode::Aug, Mode::Equi, Mode::AugPen})
    if (name == to_string(m)) return true;
  return false;
}

json read_manifest(const fs::path& path) {
  json m;
  try {
    m = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!m.is_object() || !m.contains("program") || !m["program"].is_object() ||
      m["program"].value("name", std::string()) != "eqaug" || !m.contains("config"))
    throw Error(path.string() + ": not a manifest written by eqaug");
  return m;
}

/// Temporary files of writes that a kill interrupted.
void remove_stale_temporaries(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
}

/// Prepares OUT and returns the runs already finished (resume) and the manifest to extend.
json prepare_dir(const ExperimentConfig& cfg, const SweepOptions& opts, std::vector<bool>& done) {
  const fs::path manifest = opts.out / "manifest.json";
  done.assign(cfg.runs, false);
  const bool sharded = opts.shards > 1;
  if (sharded && opts.force)
    throw Error("--force with --shard would delete what the other shards wrote; remove '" + opts.out.string() +
                "' yourself first, or run without --shard");
  // A shard joins the sweep another shard started (or continues its own): like --resume.
  if (opts.resume || (sharded && fs::exists(manifest))) {
    if (!fs::exists(manifest))
      throw Error("--resume: " + manifest.string() + " does not exist (nothing to resume; drop --resume)");
    json old = read_manifest(manifest);
    // Runs are independent streams: more runs extend a sweep; anything else must match.
    json before = old["config"], now = cfg.json;
    const std::size_t old_runs = before.contains("train") ? before["train"].value("runs", std::size_t{0}) : 0;
    if (before.contains("train") && before["train"].is_object()) before["train"].erase("runs");
    if (now.contains("train") && now["train"].is_object()) now["train"].erase("runs");
    if (before != now) {
      std::string diff;
      for (const auto& d : json::diff(before, now)) diff += "\n  " + d.at("path").get<std::string>();
      throw Error("--resume: the configuration differs from the one in " + manifest.string() +
                  "; differing fields:" + diff + "\nuse the same preset and options, or a new --out");
    }
    if (sharded && cfg.runs != old_runs)
      throw Error("--shard: the sweep in " + opts.out.string() + " has " + std::to_string(old_runs) +
                  " runs, this shard was given " + std::to_string(cfg.runs) + "; every shard needs the same --runs");
    if (cfg.runs < old_runs)
      throw Error("--resume: the sweep in " + opts.out.string() + " has " + std::to_string(old_runs) +
                  " runs; --runs " + std::to_string(cfg.runs) +
                  " would drop some (resume with at least as many, or report the finished runs as they are)");
    const bool saved = old.value("save_weights", false);
    if (saved != opts.save_weights)
      throw Error(
          std::string("--resume: the sweep in ") + opts.out.string() +
          (saved ? " saves weights; pass --save-weights to resume it" : " saves no weights; drop --save-weights") +
          " (a sweep saves the weights of all its runs or of none)");
    old["config"] = cfg.json;
    if (!old.contains("runs") || !old["runs"].is_array())
      throw Error(manifest.string() + ": field runs: expected a list");
    json kept = json::array();
    for (const auto& r : old["runs"]) {
      if (!r.is_object() || !r.contains("run") || !r["run"].is_number_unsigned())
        throw Error(manifest.string() + ": field runs: malformed entry " + r.dump());
      const auto k = r["run"].get<std::size_t>();
      bool files = k < cfg.runs && !done[k];
      for (const auto& st : cfg.train.strategies)
        files = files && fs::exists(opts.out / st.name() / (run_name(k) + ".csv"));
      if (files) {
        done[k] = true;
        kept.push_back(r);
      }
    }
    old["runs"] = kept;
    // Another shard may be writing a file right now: its temporaries are not stale.
    if (!sharded) remove_stale_temporaries(opts.out);
    return old;
  }
  bool empty = true;  // but for our own lock files
  for (const auto& entry : fs::directory_iterator(opts.out))
    empty = empty && entry.path().filename().string().rfind(".lock", 0) == 0;
  // A sweep that failed before finishing any run left nothing worth keeping: start over.
  bool nothing_finished = false;
  if (!empty && fs::exists(manifest)) {
    try {
      const json m = read_manifest(manifest);
      nothing_finished = m.contains("runs") && m["runs"].is_array() && m["runs"].empty();
    } catch (const Error&) {
    }
  }
  if (!empty) {
    if (!opts.force && !nothing_finished)
      throw Error("results directory '" + opts.out.string() +
                  "' already exists; pass --force to replace it or --resume to continue it");
    if (!fs::exists(manifest))
      throw Error("--force: '" + opts.out.string() +
                  "' is not empty and has no manifest.json, so it is not an eqaug results directory; "
                  "refusing to delete it");
    read_manifest(manifest);  // only ever delete what eqaug wrote
    for (const auto& entry : fs::directory_iterator(opts.out))
      if (is_ours(entry.path())) fs::remove_all(entry.path());
  }
  return json::object();
}

/// A lock on a file in OUT. Exclusive (a sweep's own directory) or shared (the shards of
/// one sweep), never waiting: a second process is told that OUT is in use. Blocking: held
/// for a moment, while a shard rewrites the files that all shards share.
class DirLock {
 public:
  enum class Kind { Exclusive, Shared, Blocking };
  DirLock(const fs::path& dir, const std::string& name, Kind kind) : path_(dir / name), kind_(kind) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create " + path_.string() + ": " + std::strerror(errno));
    const int op = kind == Kind::Shared ? LOCK_SH | LOCK_NB : kind == Kind::Exclusive ? LOCK_EX | LOCK_NB : LOCK_EX;
    int rc;
    do rc = ::flock(fd_, op);
    while (rc != 0 && errno == EINTR && kind == Kind::Blocking);
    if (rc != 0) {
      ::close(fd_);
      throw Error(kind == Kind::Blocking
                      ? "cannot lock " + path_.string() + ": " + std::strerror(errno)
                      : "results directory '" + dir.string() + "' is in use by another eqaug process" +
                            (name == ".lock" ? "" : " (the same shard)"));
    }
  }
  // An exclusive lock is unlinked while still held, so a finished sweep leaves no lock file
  // behind; shared and blocking ones stay (another process may hold them at this moment).
  ~DirLock() {
    if (kind_ == Kind::Exclusive) ::unlink(path_.c_str());
    ::close(fd_);
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  fs::path path_;
  Kind kind_;
  int fd_;
};

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

/// The common start of every run given by --init-weights (projected onto E), with what
/// the manifest records of it; empty when each run draws its own.
struct StartPoint {
  std::vector<double> params;
  json info;
};

StartPoint load_start_point(const ExperimentConfig& cfg, const ModelSpec& spec) {
  StartPoint s;
  if (cfg.init_weights.empty()) return s;
  s.params = load_layer_weights(cfg.init_weights, spec);
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
                  const std::string& where, const fs::path& out, std::size_t skipped) {
  log << cfg.name << ": " << cfg.runs << " run(s) x " << cfg.train.epochs << " steps, modes";
  for (const auto& st : cfg.train.strategies) log << " " << st.name();
  log << "; " << spec.num_params() << " parameters, dim E = " << spec.dim_E() << "; " << where << " -> " << out.string()
      << "\n";
  for (const auto& note : data.notes) log << "note: " << data.name << ": " << note << "\n";
  if (skipped) log << "resuming: " << skipped << " run(s) already finished\n";
}

/// A run's CSV per strategy and, with `weights_of` (the model), its start and final weights.
template <typename T>
void write_run_files(const fs::path& out, std::size_t k, const std::vector<StrategyRun>& result,
                     const std::vector<std::string>& names, const std::vector<std::string>& metric_names,
                     const ModelSpec* weights_of, const std::vector<double>& a0) {
  for (const auto& sr : result) {
    write_file_atomic(out / sr.strategy.name() / (run_name(k) + ".csv"), records_csv(sr, names, metric_names));
    if (weights_of) {
      const fs::path base = out / sr.strategy.name() / run_name(k);
      const std::vector<T> init(a0.begin(), a0.end()), fin(sr.final_params.begin(), sr.final_params.end());
      save_layer_weights(base / "init", *weights_of, init);
      save_layer_weights(base / "final", *weights_of, fin);
    }
  }
}

/// The manifest's entry of a finished run: its wall time and where it went per strategy.
json run_entry(std::size_t k, double wall, const std::vector<StrategyRun>& result, const std::string& shard) {
  json entry = {{"run", k}, {"wall_s", wall}, {"finished", utc_now_iso()}};
  for (const auto& sr : result)
    entry["phase_s"][sr.strategy.name()] = {{"passes", sr.seconds.passes},
                                            {"gradients", sr.seconds.gradients},
                                            {"measures", sr.seconds.measures},
                                            {"updates", sr.seconds.updates}};
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

/// Runs in order whatever order they finished in (resume, shards); complete once every run
/// is on disk, whichever shard ran it (the last shard to finish marks it).
void mark_completion(json& manifest, std::size_t total) {
  auto& runs = manifest["runs"];
  std::sort(runs.begin(), runs.end(), [](const json& a, const json& b) { return a["run"] < b["run"]; });
  std::vector<bool> present(total, false);
  for (const auto& r : runs)
    if (r["run"].get<std::size_t>() < total) present[r["run"].get<std::size_t>()] = true;
  const bool complete = std::all_of(present.begin(), present.end(), [](bool b) { return b; });
  manifest["complete"] = complete;
  manifest["finished"] = complete ? json(utc_now_iso()) : json(nullptr);
}

template <typename T>
void sweep_typed(const ExperimentConfig& cfg, const SweepOptions& opts, SweepSummary& summary) {
  auto& log = opts.progress ? *opts.progress : std::clog;
  const bool show = opts.progress != nullptr;
  const bool tty = show && opts.progress == &std::cerr && isatty(STDERR_FILENO);

  const GroupPtr group = build_group(cfg);
  const auto spec = build_model(cfg, group);
  const Dataset data = build_data(cfg, *group);
  check_data_fits(cfg, *spec, data);

  // Read everything that can fail before touching OUT.
  const StartPoint given = load_start_point(cfg, *spec);
  if (show && !given.params.empty()) describe_start_point(log, cfg, given);
  const std::size_t threads = opts.threads ? opts.threads : ThreadPool::available_cores();
  ThreadPool pool(threads);
  // One BLAS thread for the whole sweep (the engine widens it around large models' chunks):
  // switching OpenBLAS's count at every engine call would wake its idle threads each time.
  const blas::ThreadsGuard serial_blas(1);
  GradientEngine<T> engine(*spec, data, cfg.json.at("data").value("input_shift", 0.0), cfg.chunk, pool,
                           EquiEval::Structured, opts.device);
  const json device_info = describe(opts.device);
  TrainOptions train = cfg.train;
  train.keep_final_params = opts.save_weights;  // a double copy of every model: only when saved
  // The per-step metrics evaluate the network's outputs, which the CUDA backend does not
  // return: a GPU sweep runs without them and says so (console and manifest).
  std::string metrics_note;
  if (opts.device.cuda() && !train.metrics.empty()) {
    metrics_note = "train.metrics (" + cfg.json["train"]["metrics"].dump() + ") not computed: they run on the CPU only";
    train.metrics.clear();
  }
  Trainer<T> trainer(engine, train);
  engine.set_stop_flag(opts.stop);
  const auto names = layer_names(*spec);
  const auto metric_names = metric_columns(train, *spec);

  // Only now is OUT touched. The lock is taken before anything in it is read or removed.
  if (fs::exists(opts.out) && !fs::is_directory(opts.out))
    throw Error("--out: '" + opts.out.string() + "' exists and is not a directory");
  if (opts.resume && !fs::exists(opts.out / "manifest.json"))
    throw Error("--resume: " + (opts.out / "manifest.json").string() +
                " does not exist (nothing to resume; drop --resume)");
  const bool created = !fs::exists(opts.out);
  fs::create_directories(opts.out);
  // A directory we made for a sweep that failed before writing anything goes again.
  struct RemoveIfEmpty {
    const fs::path& dir;
    bool armed;
    ~RemoveIfEmpty() {
      std::error_code ec;
      if (armed && fs::is_empty(dir, ec)) fs::remove(dir, ec);
    }
  } cleanup{opts.out, created};
  const bool sharded = opts.shards > 1;
  const std::string shard_name = std::to_string(opts.shard) + "/" + std::to_string(opts.shards);
  DirLock lock(opts.out, ".lock", sharded ? DirLock::Kind::Shared : DirLock::Kind::Exclusive);
  std::optional<DirLock> shard_lock;
  if (sharded)
    shard_lock.emplace(opts.out, ".lock-shard-" + std::to_string(opts.shard) + "-of-" + std::to_string(opts.shards),
                       DirLock::Kind::Exclusive);
  // Shards rewrite manifest.json and steps.csv in turn: each read-modify-write holds this.
  auto shared_files = [&] {
    return sharded ? std::make_unique<DirLock>(opts.out, ".lock-manifest", DirLock::Kind::Blocking) : nullptr;
  };
  auto held = shared_files();
  std::vector<bool> done;
  json manifest = prepare_dir(cfg, opts, done);
  const bool resumed = !manifest.empty();
  // A summary or figure of an earlier state must not pass for this sweep's: `report` draws
  // them anew (marked in progress until the sweep is complete).
  report::remove_stale_report(opts.out);
  if (!resumed) {
    manifest["program"] = program_info();
    manifest["config"] = cfg.json;
    manifest["runs"] = json::array();
    manifest["started"] = utc_now_iso();
    manifest["sessions"] = json::array();
  }
  manifest["save_weights"] = opts.save_weights;
  manifest["command"] = opts.command_line;
  manifest["machine"] = machine_info();
  manifest["device"] = device_info;
  manifest["seeds"] = seeds_description(cfg, train);
  manifest["metrics"] = {{"columns", metric_names}};
  if (!metrics_note.empty()) manifest["metrics"]["note"] = metrics_note;
  manifest["model"] = model_description(cfg, *spec, engine);
  const json data_info = data_description(data, *spec);
  if (resumed) check_same_inputs(manifest, data_info, given, opts.out);
  manifest["data"] = data_info;
  if (!given.info.is_null()) manifest["init_weights"] = given.info;
  manifest["complete"] = false;
  manifest["finished"] = nullptr;
  // Every invocation that ran runs here is one session (a resumed sweep has several).
  static std::atomic<unsigned> sessions_here{0};  // a process may run several sweeps (a study, the tests)
  json session = {
      {"id", utc_now_iso() + " pid " + std::to_string(::getpid()) + " #" + std::to_string(sessions_here.fetch_add(1))},
      {"started", utc_now_iso()},
      {"command", opts.command_line},
      {"threads", threads},
      {"device", device_info},
      {"resumed", resumed},
      {"runs", json::array()}};
  if (sharded) session["shard"] = shard_name;
  if (!manifest.contains("sessions") || !manifest["sessions"].is_array()) manifest["sessions"] = json::array();
  for (const auto& st : cfg.train.strategies) fs::create_directories(opts.out / st.name());
  write_file_atomic(opts.out / "manifest.json", dump(manifest));
  held.reset();

  // This process's runs: all, or those of its shard.
  auto mine = [&](std::size_t k) { return k % opts.shards == opts.shard; };
  std::size_t todo = 0, planned = 0;
  for (std::size_t k = 0; k < cfg.runs; ++k)
    if (mine(k)) {
      ++planned;
      todo += done[k] ? 0 : 1;
    }
  summary.runs_skipped = planned - todo;
  // The manifest as other shards left it (re-read under the lock), with this session's
  // entry brought up to date; written back by the caller.
  auto current_manifest = [&] {
    if (!sharded) return manifest;
    json m = read_manifest(opts.out / "manifest.json");
    if (!m.contains("runs") || !m["runs"].is_array()) m["runs"] = json::array();
    if (!m.contains("sessions") || !m["sessions"].is_array()) m["sessions"] = json::array();
    return m;
  };
  auto with_session = [&](json m) {
    auto& sessions = m["sessions"];
    for (auto& x : sessions)
      if (x.value("id", std::string()) == session["id"]) {
        x = session;
        return m;
      }
    sessions.push_back(session);
    return m;
  };
  if (show) {
    const std::string where = opts.device.cuda()
                                  ? "GPU " + opts.device.name() + " (" + device_info.value("name", std::string("?")) +
                                        (opts.device.tf32 ? ", TF32 allowed" : "") + ", " +
                                        std::to_string(engine.gpu()->chunk()) + " samples per chunk)"
                                  : std::to_string(threads) + " thread(s)";
    print_header(log, cfg, *spec, data, where, opts.out, summary.runs_skipped);
  }
  const auto sweep_start = std::chrono::steady_clock::now();
  std::size_t finished_now = 0;
  for (std::size_t k = 0; k < cfg.runs; ++k) {
    if (done[k] || !mine(k)) continue;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<double> a0 =
        given.params.empty() ? initial_point(*spec, cfg.train.seed, k, !cfg.train.raw_start, &pool) : given.params;
    // Within a run: the step rate gives the ETA of the run and of the sweep (runs are
    // alike); on a terminal every step, in a log file at most once a minute.
    auto last_line = t0;
    auto progress = [&](std::size_t step, const std::vector<StrategyRun>&) {
      if (!show) return;
      const auto now = std::chrono::steady_clock::now();
      const double in_run = std::chrono::duration<double>(now - t0).count();
      const double per_step = in_run / static_cast<double>(step + 1);
      const double run_left = per_step * static_cast<double>(cfg.train.epochs - step);
      const double run_total = per_step * static_cast<double>(cfg.train.epochs + 1);
      const double sweep_left = run_left + run_total * static_cast<double>(todo - finished_now - 1);
      const bool due = tty || std::chrono::duration<double>(now - last_line).count() >= 60.0;
      if (!due || step == cfg.train.epochs) return;
      last_line = now;
      log << (tty ? "\r" : "") << "  run " << k + 1 << "/" << cfg.runs << "  step " << step + 1 << "/"
          << cfg.train.epochs + 1 << "  " << format_duration(per_step) << "/step  run ETA "
          << format_duration(run_left);
      if (todo - finished_now > 1) log << ", sweep ETA " << format_duration(sweep_left);
      log << (tty ? "   " : "\n") << std::flush;
    };
    auto interrupted = [&](int signal) {
      if (show && tty) log << "\n";
      Interrupted e;
      e.signal = signal;
      e.runs_done = summary.runs_skipped + finished_now;
      e.runs_total = planned;
      return e;
    };
    if (opts.stop && opts.stop->load() != 0) throw interrupted(opts.stop->load());
    std::vector<StrategyRun> result;
    try {
      result = trainer.run(k, a0, progress);
    } catch (const StopRequested& s) {
      throw interrupted(s.signal);
    }
    write_run_files<T>(opts.out, k, result, names, metric_names, opts.save_weights ? &*spec : nullptr, a0);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    held = shared_files();
    manifest = current_manifest();
    manifest["runs"].push_back(run_entry(k, wall, result, sharded ? shard_name : ""));
    rewrite_steps_csv(opts.out, cfg, manifest, names, metric_names);
    session["runs"].push_back(k);
    write_file_atomic(opts.out / "manifest.json", dump(with_session(manifest)));
    held.reset();
    ++finished_now;
    ++summary.runs_done;
    if (show) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep_start).count();
      const double eta = elapsed / static_cast<double>(finished_now) * static_cast<double>(todo - finished_now);
      if (tty) log << "\r";
      print_run_done(log, k, cfg.runs, wall, result, finished_now < todo ? eta : -1.0);
    }
  }
  held = shared_files();
  manifest = current_manifest();
  mark_completion(manifest, cfg.runs);
  summary.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep_start).count();
  session["finished"] = utc_now_iso();
  session["wall_s"] = summary.wall_s;
  manifest = with_session(manifest);
  double total = 0;
  for (const auto& s : manifest["sessions"]) total += s.value("wall_s", 0.0);
  manifest["sweep_wall_s"] = total;  // all sessions together
  write_file_atomic(opts.out / "manifest.json", dump(manifest));
}

}  // namespace

SweepSummary run_sweep(const ExperimentConfig& cfg, const SweepOptions& opts) {
  if (opts.force && opts.resume) throw Error("--force and --resume exclude each other");
  if (opts.out.empty()) throw Error("--out: no results directory given");
  if (opts.threads > kMaxThreads)
    throw Error("--threads: at most " + std::to_string(kMaxThreads) + " threads, got " + std::to_string(opts.threads));
  SweepSummary summary;
  if (cfg.precision == Precision::F32)
    sweep_typed<float>(cfg, opts, summary);
  else
    sweep_typed<double>(cfg, opts, summary);
  return summary;
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
