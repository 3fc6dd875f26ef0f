#pragma once
// A sweep's results folder while a sweep writes to it (internal to src/experiment/): its
// preparation (a fresh folder, --force, --resume, a shard joining the others), its locks,
// the manifest and this session's entry in it. Every write is atomic; shards rewrite the
// shared files one at a time under a blocking lock.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/config/config.hpp"
#include "eqaug/experiment/sweep.hpp"

namespace eqaug::experiment {

/// manifest.json of OUT, checked to be eqaug's.
nlohmann::json read_manifest(const std::filesystem::path& path);
/// Two-space-indented JSON with a final newline.
std::string dump(const nlohmann::json& j);

/// A lock on a file in OUT. Exclusive (a sweep's own directory) or shared (the shards of
/// one sweep), never waiting: a second process is told that OUT is in use. Blocking: held
/// for a moment, while a shard rewrites the files that all shards share.
class DirLock {
 public:
  enum class Kind { Exclusive, Shared, Blocking };
  DirLock(const std::filesystem::path& dir, const std::string& name, Kind kind);
  // An exclusive lock is unlinked while still held, so a finished sweep leaves no lock file
  // behind; shared and blocking ones stay (another process may hold them at this moment).
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  std::filesystem::path path_;
  Kind kind_;
  int fd_;
  int slot_ = -1;  // in the registry of release_locks_for_exit()
};

class SweepFolder {
 public:
  /// Checks OUT, creates it where missing, takes its locks and prepares it: the runs
  /// already finished (--resume, a shard joining) and the manifest to extend, or an empty
  /// folder (--force removes only what eqaug wrote). Nothing is written yet; shards hold
  /// the shared files' lock until open().
  SweepFolder(const io::ExperimentConfig& cfg, const SweepOptions& opts);
  SweepFolder(const SweepFolder&) = delete;
  SweepFolder& operator=(const SweepFolder&) = delete;

  bool resumed() const { return resumed_; }
  /// Whether this session created OUT.
  bool created() const { return cleanup_.armed; }
  /// Removes OUT whole: for a folder this session created in which no run was saved (every
  /// run diverged, or the sweep failed), so that nothing half-written stays. Not for shards.
  void discard();
  bool sharded() const { return shards_ > 1; }
  /// "k/n" of a shard, else "".
  const std::string& shard_name() const { return shard_name_; }
  /// Per run: finished before this session.
  const std::vector<bool>& done() const { return done_; }
  /// The manifest to fill in before open(): what the earlier sessions wrote when resumed,
  /// else the program, the configuration and an empty list of runs.
  nlohmann::json& manifest() { return manifest_; }

  /// Starts this session (recorded in the manifest's sessions) and writes the manifest.
  void open(const std::string& command, std::size_t threads, const nlohmann::json& device);
  /// A run's files are on disk: adds its entry to the manifest as the other shards left it,
  /// calls `also` with that manifest (under the same lock: steps.csv) and writes it.
  void add_run(const nlohmann::json& entry, const std::function<void(const nlohmann::json&)>& also);
  /// A run that diverged: its entry in the manifest's "diverged" (replacing an earlier
  /// session's for the same run); the run stays to do.
  void add_diverged(const nlohmann::json& entry);
  /// Marks the sweep complete where every run is on disk, ends this session (its wall
  /// time) and writes the manifest.
  void close(double wall_s);

 private:
  /// The manifest as other shards left it (re-read), with this session's entry up to date.
  nlohmann::json current() const;
  nlohmann::json with_session(nlohmann::json m) const;
  std::unique_ptr<DirLock> hold_shared_files() const;
  void write(const nlohmann::json& m) const;

  // Removes OUT at the end when this sweep created it and it is still empty (a failed start).
  struct RemoveIfEmpty {
    std::filesystem::path dir;
    bool armed;
    ~RemoveIfEmpty();
  };
  RemoveIfEmpty cleanup_;  // first: destroyed after the locks
  std::size_t shards_;
  std::string shard_name_;
  bool resume_;  // --resume given
  DirLock lock_;
  std::optional<DirLock> shard_lock_;
  std::unique_ptr<DirLock> held_;
  std::vector<bool> done_;
  nlohmann::json manifest_, session_;
  bool resumed_ = false;
};

}  // namespace eqaug::experiment
