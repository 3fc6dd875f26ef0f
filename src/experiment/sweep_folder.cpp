#include "sweep_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug::experiment {

using namespace eqaug::io;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// What eqaug writes into OUT; --force removes these and nothing else.
bool is_ours(const fs::path& entry) {
  const std::string name = entry.filename().string();
  if (name == "manifest.json" || name == "summary.csv" || name == "steps.csv" || name == "figure-data" ||
      name == "figure-paper-data" || name.rfind("figure.", 0) == 0 || name.rfind("figure-paper.", 0) == 0)
    return true;
  for (Mode m : {Mode::Nom, Mode::Aug, Mode::Equi, Mode::AugPen})
    if (name == to_string(m)) return true;
  return false;
}

}  // namespace

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

namespace {

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
    // Everything that differs, in one message with the command that started the sweep.
    std::vector<std::string> conflicts;
    for (const auto& d : json::diff(before, now)) {
      const auto ptr = json::json_pointer(d.at("path").get<std::string>());
      const std::string was = before.contains(ptr) ? before.at(ptr).dump() : std::string("(absent)");
      const std::string is = now.contains(ptr) ? now.at(ptr).dump() : std::string("(absent)");
      conflicts.push_back(d.at("path").get<std::string>() + ": " + was + " in the sweep, " + is + " now");
    }
    if (sharded && cfg.runs != old_runs)
      conflicts.push_back("--shard: the sweep has " + std::to_string(old_runs) + " runs, this shard was given " +
                          std::to_string(cfg.runs) + " (every shard needs the same --runs)");
    if (cfg.runs < old_runs)
      conflicts.push_back("--runs " + std::to_string(cfg.runs) + ": the sweep has " + std::to_string(old_runs) +
                          " runs and would drop some (resume with at least as many)");
    const bool saved = old.value("save_weights", false);
    if (saved != opts.save_weights)
      conflicts.push_back(saved ? "--save-weights: the sweep saves weights (a sweep saves those of all its runs or of "
                                  "none); pass it"
                                : "--save-weights: the sweep saves no weights; drop it");
    if (!conflicts.empty()) {
      std::string text = std::string(sharded && !opts.resume ? "--shard" : "--resume") + ": " +
                         std::to_string(conflicts.size()) + " difference(s) from the sweep in " + opts.out.string() +
                         ":";
      for (const auto& c : conflicts) text += "\n  " + c;
      if (old.contains("command") && old["command"].is_string())
        text += "\nit was started with: " + old["command"].get<std::string>();
      text += "\n`eqaug run --resume --out " + opts.out.string() +
              "` continues it with its own configuration; or choose a new --out";
      throw Error(text);
    }
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

}  // namespace

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

namespace {

// The exclusive locks this process holds, for release_locks_for_exit(): fixed buffers, so
// that a signal handler can read them.
constexpr std::size_t kLockSlots = 16, kLockPath = 4096;
char g_lock_paths[kLockSlots][kLockPath];
std::atomic<bool> g_lock_used[kLockSlots];

int register_lock(const fs::path& path) {
  const std::string p = path.string();
  if (p.size() >= kLockPath) return -1;
  for (std::size_t i = 0; i < kLockSlots; ++i) {
    bool expected = false;
    if (!g_lock_used[i].load() && g_lock_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_lock_paths[i], p.c_str(), p.size() + 1);
      return static_cast<int>(i);
    }
  }
  return -1;
}

/// Whether fd still is the file at path (not unlinked and replaced by another process).
bool still_there(int fd, const fs::path& path) {
  struct stat a {
  }, b{};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void release_locks_for_exit() noexcept {
  for (std::size_t i = 0; i < kLockSlots; ++i)
    if (g_lock_used[i].load()) ::unlink(g_lock_paths[i]);
}

DirLock::DirLock(const fs::path& dir, const std::string& name, Kind kind) : path_(dir / name), kind_(kind) {
  const int op = kind == Kind::Shared ? LOCK_SH | LOCK_NB : kind == Kind::Exclusive ? LOCK_EX | LOCK_NB : LOCK_EX;
  // The last holder unlinks a lock file: one locked after that unlink is stale, so open it
  // again until the lock is on the file the path names.
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create " + path_.string() + ": " + std::strerror(errno));
    int rc;
    do rc = ::flock(fd_, op);
    while (rc != 0 && errno == EINTR && kind == Kind::Blocking);
    if (rc != 0) {
      ::close(fd_);
      throw Error(kind == Kind::Blocking ? "cannot lock " + path_.string() + ": " + std::strerror(errno)
                                         : "results directory '" + dir.string() + "' is in use by another eqaug " +
                                               "process" + (name == ".lock" ? "" : " (the same shard)"));
    }
    if (still_there(fd_, path_)) break;
    ::close(fd_);
  }
  if (kind == Kind::Exclusive) slot_ = register_lock(path_);
}

DirLock::~DirLock() {
  // An exclusive lock is ours alone; a shared or blocking one is unlinked by whoever finds
  // no other holder (its exclusive, non-blocking lock succeeds), so nothing stays behind.
  if (kind_ == Kind::Exclusive || ::flock(fd_, LOCK_EX | LOCK_NB) == 0) ::unlink(path_.c_str());
  if (slot_ >= 0) g_lock_used[slot_].store(false);
  ::close(fd_);
}

namespace {
/// Checks OUT before anything is written and creates it; true when it did not exist.
bool create_out(const SweepOptions& opts) {
  if (opts.shards > 1 && opts.force)
    throw Error("--force with --shard would delete what the other shards wrote; remove '" + opts.out.string() +
                "' yourself first, or run without --shard");
  if (fs::exists(opts.out) && !fs::is_directory(opts.out))
    throw Error("--out: '" + opts.out.string() + "' exists and is not a directory");
  if (opts.resume && !fs::exists(opts.out / "manifest.json"))
    throw Error("--resume: " + (opts.out / "manifest.json").string() +
                " does not exist (nothing to resume; drop --resume)");
  const bool created = !fs::exists(opts.out);
  create_output_dir(opts.out, "--out");
  return created;
}
}  // namespace

SweepFolder::RemoveIfEmpty::~RemoveIfEmpty() {
  std::error_code ec;
  if (armed && fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

SweepFolder::SweepFolder(const ExperimentConfig& cfg, const SweepOptions& opts)
    : cleanup_{opts.out, create_out(opts)},
      shards_(opts.shards),
      shard_name_(opts.shards > 1 ? std::to_string(opts.shard) + "/" + std::to_string(opts.shards) : ""),
      resume_(opts.resume),
      lock_(opts.out, ".lock", opts.shards > 1 ? DirLock::Kind::Shared : DirLock::Kind::Exclusive) {
  // The lock is taken before anything in OUT is read or removed.
  if (sharded())
    shard_lock_.emplace(opts.out, ".lock-shard-" + std::to_string(opts.shard) + "-of-" + std::to_string(opts.shards),
                        DirLock::Kind::Exclusive);
  held_ = hold_shared_files();  // until open() has written the manifest
  manifest_ = prepare_dir(cfg, opts, done_);
  resumed_ = !manifest_.empty();
  if (!resumed_) {
    manifest_["program"] = program_info();
    manifest_["config"] = cfg.json;
    manifest_["runs"] = json::array();
    manifest_["started"] = utc_now_iso();
    manifest_["sessions"] = json::array();
  }
  if (!manifest_.contains("sessions") || !manifest_["sessions"].is_array()) manifest_["sessions"] = json::array();
  for (const auto& st : cfg.train.strategies) fs::create_directories(opts.out / st.name());
}

std::unique_ptr<DirLock> SweepFolder::hold_shared_files() const {
  return sharded() ? std::make_unique<DirLock>(cleanup_.dir, ".lock-manifest", DirLock::Kind::Blocking) : nullptr;
}

void SweepFolder::write(const json& m) const { write_file_atomic(cleanup_.dir / "manifest.json", dump(m)); }

void SweepFolder::open(const std::string& command, std::size_t threads, const json& device) {
  // Every invocation that ran runs here is one session (a resumed sweep has several).
  static std::atomic<unsigned> sessions_here{0};  // a process may run several sweeps (a study, the tests)
  session_ = {
      {"id", utc_now_iso() + " pid " + std::to_string(::getpid()) + " #" + std::to_string(sessions_here.fetch_add(1))},
      {"started", utc_now_iso()},
      {"command", command},
      {"threads", threads},
      {"device", device},
      {"resumed", resumed_ && !(sharded() && !resume_)},  // a shard joining the others resumes nothing
      {"runs", json::array()}};
  if (sharded()) {
    session_["shard"] = shard_name_;
    // Each shard's own command line (the top-level "command" is the first shard's).
    manifest_["shard_commands"][shard_name_] = command;
  }
  manifest_["complete"] = false;
  manifest_["finished"] = nullptr;
  write(manifest_);
  held_.reset();
}

json SweepFolder::current() const {
  if (!sharded()) return manifest_;
  json m = read_manifest(cleanup_.dir / "manifest.json");
  if (!m.contains("runs") || !m["runs"].is_array()) m["runs"] = json::array();
  if (!m.contains("sessions") || !m["sessions"].is_array()) m["sessions"] = json::array();
  return m;
}

json SweepFolder::with_session(json m) const {
  auto& sessions = m["sessions"];
  for (auto& x : sessions)
    if (x.value("id", std::string()) == session_["id"]) {
      x = session_;
      return m;
    }
  sessions.push_back(session_);
  return m;
}

void SweepFolder::add_run(const json& entry, const std::function<void(const json&)>& also) {
  const auto held = hold_shared_files();
  manifest_ = current();
  manifest_["runs"].push_back(entry);
  also(manifest_);
  session_["runs"].push_back(entry["run"]);
  write(with_session(manifest_));
}

void SweepFolder::discard() {
  EQAUG_CHECK(created() && !sharded(), "only a folder this session created alone is discarded");
  held_.reset();
  std::error_code ec;
  fs::remove_all(cleanup_.dir, ec);
}

void SweepFolder::add_diverged(const json& entry) {
  const auto held = hold_shared_files();
  manifest_ = current();
  json& list = manifest_["diverged"];
  if (!list.is_array()) list = json::array();
  for (auto it = list.begin(); it != list.end();)
    it = (*it).value("run", json()) == entry["run"] ? list.erase(it) : it + 1;
  list.push_back(entry);
  write(with_session(manifest_));
}

void SweepFolder::close(double wall_s) {
  const auto held = hold_shared_files();
  manifest_ = current();
  // Runs in order whatever order they finished in (resume, shards); complete once every run
  // is on disk, whichever shard ran it (the last shard to finish marks it).
  auto& runs = manifest_["runs"];
  std::sort(runs.begin(), runs.end(), [](const json& a, const json& b) { return a["run"] < b["run"]; });
  std::vector<bool> present(done_.size(), false);
  for (const auto& r : runs)
    if (r["run"].get<std::size_t>() < present.size()) present[r["run"].get<std::size_t>()] = true;
  const bool complete = std::all_of(present.begin(), present.end(), [](bool b) { return b; });
  manifest_["complete"] = complete;
  manifest_["finished"] = complete ? json(utc_now_iso()) : json(nullptr);
  session_["finished"] = utc_now_iso();
  session_["wall_s"] = wall_s;
  manifest_ = with_session(manifest_);
  double total = 0;
  for (const auto& s : manifest_["sessions"]) total += s.value("wall_s", 0.0);
  manifest_["sweep_wall_s"] = total;  // all sessions together
  write(manifest_);
}

}  // namespace eqaug::experiment
