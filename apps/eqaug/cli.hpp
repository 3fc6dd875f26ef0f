#pragma once
// The command line's shared parts: the arguments of a run, reading and overriding a
// configuration, the stop signals, the exit statuses, and the Command each subcommand
// implements in a file of its own (cmd_<name>.cpp).
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/config/config.hpp"
#include "eqaug/experiment/sweep.hpp"

namespace eqaug::cli {

// Exit statuses (documented in --help and the README).
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

struct RunArgs {
  std::string config;
  std::optional<std::size_t> runs, epochs, aug_passes, batch, threads, chunk;
  std::optional<std::uint64_t> seed;
  std::optional<double> lr, penalty, weight_decay;
  std::optional<std::string> aug_per, precision, equi_update, equi_eval, data_npy, data_dir, init_weights;
  std::string scale = "full";
  std::vector<std::string> sets;     // --set key.path=value, any config key
  std::optional<std::string> modes;  // comma-separated, one token (never swallows the config path)
  std::optional<std::string> start;
  std::optional<bool> aug_exact;  // --aug-exact, --aug-exact=false
  std::string out;
  bool force = false, resume = false, save_weights = false, no_report = false;
  std::string device = "cpu";
  bool tf32 = false;
  std::optional<std::string> shard;
  // An embedding's configuration (a Python dict, as the TOML's JSON) read in place of the
  // file `config`, which then only names it in messages.
  const nlohmann::json* inline_config = nullptr;
};

/// Set by SIGINT/SIGTERM to the signal number (catch_stop_signals); a sweep stops at the
/// next chunk.
extern std::atomic<int> g_stop;
void catch_stop_signals();

/// --shard k/n: 0 <= k < n.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& text);

/// The configuration a RunArgs names (a preset, a file, or a results folder's), with its
/// scale and every override applied; `source` names it in messages.
nlohmann::json load_config(const RunArgs& a, std::string& source);
/// A results folder's JSON file (manifest.json, study.json, ...), or an eqaug::Error naming it.
nlohmann::json read_json(const std::string& path);
/// Every configuration of a file: one, or a study's members (name, resolved).
std::vector<std::pair<std::string, io::ExperimentConfig>> resolve_all(const nlohmann::json& j,
                                                                      const std::string& source);

/// A finite real number > 0; digits only (unsigned options must not take "-1").
extern const CLI::Validator positive_real;
extern const CLI::Validator non_negative_real;
extern const CLI::Validator whole_number;

/// The command line as typed (for the manifest).
std::string joined(int argc, char** argv);

/// Where a command writes and what it answers to: the program's standard streams and its
/// stop signals, or an embedding's (the Python module: its own streams, its stop flag,
/// a progress callback, and where the results went).
struct Streams {
  std::ostream* out = nullptr;               // tables and results (stdout)
  std::ostream* err = nullptr;               // progress and messages (stderr)
  const std::atomic<int>* stop = nullptr;    // a signal number once the user asks to stop
  experiment::StepCallback on_step;          // every training step of `run` (may be empty)
  std::filesystem::path* out_dir = nullptr;  // set by run and hessian to their results folder
  const nlohmann::json* config = nullptr;    // the configuration (RunArgs::inline_config), or null: the file
};
/// The program's: std::cout, std::cerr, g_stop.
Streams standard_streams();

/// A subcommand: adds itself and its options to the program, then runs when chosen.
class Command {
 public:
  virtual ~Command() = default;
  virtual void add_to(CLI::App& app) = 0;
  void set_streams(const Streams& s) { io_ = s; }
  bool chosen() const { return sub_ != nullptr && sub_->parsed(); }
  std::string name() const { return sub_ ? sub_->get_name() : std::string(); }
  /// Checks of the parsed values beyond CLI11's own (throws CLI::ValidationError).
  virtual void validate() {}
  /// The exit status; errors are exceptions, which main() maps to statuses.
  virtual int run(int argc, char** argv) = 0;

 protected:
  std::ostream& out() const { return *io_.out; }
  std::ostream& err() const { return *io_.err; }
  CLI::App* sub_ = nullptr;
  Streams io_ = standard_streams();
};

std::unique_ptr<Command> make_run_command();
std::unique_ptr<Command> make_report_command();
std::unique_ptr<Command> make_dims_command();
std::unique_ptr<Command> make_data_command();
std::unique_ptr<Command> make_check_command();
std::unique_ptr<Command> make_hessian_command();
std::unique_ptr<Command> make_minimum_command();
std::unique_ptr<Command> make_config_reference_command();

/// The program: every command added to `app` (which `commands` then holds).
void build_app(CLI::App& app, std::vector<std::unique_ptr<Command>>& commands);

/// Runs one command line (args without the program's name, e.g. {"run", "perm", "--runs",
/// "2"}) in this process with `streams`, as `eqaug ARGS` would: its exit status, or the
/// exception of a failure (eqaug::Error for bad usage or input, with CLI11's message for an
/// unknown or malformed option; RuntimeFailure for the environment; Interrupted when
/// stopped). Installs no signal handler. For embeddings (the Python module).
int run_command(const std::vector<std::string>& args, const Streams& streams);

}  // namespace eqaug::cli
