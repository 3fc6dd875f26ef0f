// eqaug.run, eqaug.hessian and eqaug._load: the command line's `run` and `hessian` in this
// process (apps/eqaug: the same parsing, checks and files), on a thread of their own while
// the caller's thread, with the GIL, relays messages and progress and watches for Ctrl-C.
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <streambuf>
#include <thread>

#include "cli.hpp"
#include "common.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"

namespace eqaug::py_ {
namespace {

namespace fs = std::filesystem;
using namespace pybind11::literals;

/// What the command's thread hands to the caller's: text written to its streams, the
/// latest step.
struct Relay {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::string err, out;  // not yet relayed
  std::string err_tail;  // the last messages, for an error's text
  std::optional<experiment::StepProgress> step;
};

/// A stream buffer that appends to a Relay's text.
class RelayBuf : public std::streambuf {
 public:
  RelayBuf(Relay& r, std::string Relay::*text) : relay_(r), text_(text) {}

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      const char ch = static_cast<char>(c);
      xsputn(&ch, 1);
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> lock(relay_.mutex);
    (relay_.*text_).append(s, static_cast<std::size_t>(n));
    if (text_ == &Relay::err) {
      relay_.err_tail.append(s, static_cast<std::size_t>(n));
      if (relay_.err_tail.size() > 4000) relay_.err_tail.erase(0, relay_.err_tail.size() - 4000);
    }
    return n;
  }

 private:
  Relay& relay_;
  std::string Relay::*text_;
};

py::object step_dict(const experiment::StepProgress& p) {
  return py::dict("sweep"_a = p.sweep, "run"_a = p.run, "runs"_a = p.runs, "step"_a = p.step, "steps"_a = p.steps,
                  "seconds_per_step"_a = p.seconds_per_step, "eta_run_s"_a = p.eta_run_s,
                  "eta_sweep_s"_a = p.eta_sweep_s);
}

/// Writes text to log: True: sys.stderr (sys.stdout for `to_stdout`); False/None: nowhere; a
/// callable: called with the text.
void emit(const py::object& log, const std::string& text, bool to_stdout) {
  if (text.empty() || log.is_none()) return;
  if (py::isinstance<py::bool_>(log)) {
    if (!log.cast<bool>()) return;
    auto stream = py::module_::import("sys").attr(to_stdout ? "stdout" : "stderr");
    stream.attr("write")(text);
    stream.attr("flush")();
    return;
  }
  log(text);
}

/// Runs `args` as the command line would, relaying to log/progress; Ctrl-C (or an exception
/// in a callback) stops it at the next chunk and is raised once it has stopped.
int run_relayed(const std::vector<std::string>& args, const nlohmann::json* config, const py::object& log,
                const py::object& progress, fs::path& out_dir, std::string& tail) {
  Relay relay;
  RelayBuf err_buf(relay, &Relay::err), out_buf(relay, &Relay::out);
  std::ostream err(&err_buf), out(&out_buf);
  std::atomic<int> stop{0};
  cli::Streams streams;
  streams.out = &out;
  streams.err = &err;
  streams.stop = &stop;
  streams.out_dir = &out_dir;
  streams.config = config;
  if (!progress.is_none())
    streams.on_step = [&relay](const experiment::StepProgress& p) {
      std::lock_guard<std::mutex> lock(relay.mutex);
      relay.step = p;
    };
  int status = 0;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      status = cli::run_command(args, streams);
    } catch (...) {
      failure = std::current_exception();
    }
    err.flush();
    out.flush();
    std::lock_guard<std::mutex> lock(relay.mutex);
    relay.done = true;
    relay.done_cv.notify_all();
  });
  std::optional<py::error_already_set> raised;  // KeyboardInterrupt, or a callback's exception
  std::exception_ptr raised_here;               // any other exception of the relaying (a cast, ...)
  for (bool finished = false; !finished;) {
    std::string e, o;
    std::optional<experiment::StepProgress> step;
    {
      py::gil_scoped_release nogil;
      std::unique_lock<std::mutex> lock(relay.mutex);
      relay.done_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return relay.done; });
      finished = relay.done;
      std::swap(e, relay.err);
      std::swap(o, relay.out);
      std::swap(step, relay.step);
    }
    try {
      emit(log, e, false);
      emit(log, o, true);
      if (step && !raised && !raised_here) progress(step_dict(*step));
      if (!raised && !raised_here && PyErr_CheckSignals() != 0) throw py::error_already_set();
    } catch (py::error_already_set& x) {
      if (!raised && !raised_here) raised.emplace(std::move(x));
      stop.store(SIGINT);
    } catch (...) {  // never unwind past the running worker: stop it, then raise
      if (!raised && !raised_here) raised_here = std::current_exception();
      stop.store(SIGINT);
    }
  }
  worker.join();
  {
    std::lock_guard<std::mutex> lock(relay.mutex);
    tail = relay.err_tail;
  }
  if (raised) throw std::move(*raised);
  if (raised_here) std::rethrow_exception(raised_here);
  if (failure) std::rethrow_exception(failure);
  return status;
}

/// The command line's options from keyword arguments: name → --name (underscores as
/// dashes); True → a flag, False → --name=false; lists joined by commas (set: one --set
/// each; a dict: KEY=VALUE pairs); shard=(k, n) → k/n. An unknown name is a TypeError.
std::vector<std::string> option_args(const std::string& command, const std::string& function,
                                     const py::kwargs& options) {
  CLI::App app;
  std::vector<std::unique_ptr<cli::Command>> commands;
  cli::build_app(app, commands);
  const CLI::App* sub = app.get_subcommand(command);
  std::vector<std::string> args;
  for (const auto& [k, v] : options) {
    const auto name = k.cast<std::string>();
    std::string flag = "--" + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const CLI::Option* opt = sub->get_option_no_throw(flag);
    if (!opt || name.find('-') != std::string::npos || name == "help") {
      std::string known;
      for (const auto* o : sub->get_options()) {
        if (o->get_lnames().empty() || o->get_lnames()[0] == "help") continue;
        std::string n = o->get_lnames()[0];
        std::replace(n.begin(), n.end(), '-', '_');
        known += (known.empty() ? "" : ", ") + n;
      }
      throw py::type_error(function + "() got an unexpected keyword argument '" + name + "' (options: " + known + ")");
    }
    if (v.is_none()) continue;
    if (name == "set") {
      for (auto& kv : set_args(v)) {
        args.push_back("--set");
        args.push_back(kv);
      }
      continue;
    }
    if (py::isinstance<py::bool_>(v)) {
      args.push_back(flag + (v.cast<bool>() ? "" : "=false"));
      continue;
    }
    std::string value;
    if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
      const std::string sep = name == "shard" ? "/" : ",";
      for (const auto& item : v) value += (value.empty() ? "" : sep) + py::str(item).cast<std::string>();
    } else if (py::hasattr(v, "__fspath__")) {
      value = path_text(v);
    } else {
      value = py::str(v).cast<std::string>();
    }
    args.push_back(flag);
    args.push_back(value);
  }
  return args;
}

/// Runs `command` on config (a name, a path, or a dict) with options; returns the results folder.
std::string run_cli(const std::string& command, const py::object& config, const py::object& out, const py::object& log,
                    const py::object& progress, const std::vector<std::string>& extra, const py::kwargs& options) {
  nlohmann::json inline_config;
  const nlohmann::json* config_json = nullptr;
  std::vector<std::string> args{command};
  if (py::isinstance<py::dict>(config)) {
    inline_config = to_json(config, "config");
    config_json = &inline_config;
    args.push_back("<python dict>");
  } else if (!config.is_none()) {
    args.push_back(path_text(config));
  }
  if (!out.is_none()) {
    args.push_back("--out");
    args.push_back(path_text(out));
  }
  for (auto& a : option_args(command, "eqaug." + command, options)) args.push_back(std::move(a));
  for (const auto& a : extra) args.push_back(a);
  fs::path out_dir;
  std::string tail;
  const int status = run_relayed(args, config_json, log, progress, out_dir, tail);
  if (status != 0)
    throw RuntimeFailure(
        "eqaug " + command + " ended with status " + std::to_string(status) + ": " +
        tail.substr(tail.rfind("eqaug: error:") == std::string::npos ? 0 : tail.rfind("eqaug: error:")));
  return out_dir.string();
}

/// A CSV of eqaug's (one header line) as {column: numpy array}: float64 where every cell is a
/// number or empty (NaN), else an array of str.
py::dict read_csv(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw RuntimeFailure(file.string() + ": cannot be read");
  std::string line;
  if (!std::getline(in, line)) throw Error(file.string() + ": empty (expected a header line)");
  const auto header = io::split_csv_line(line);
  std::vector<std::vector<std::string>> cells(header.size());
  std::size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    auto c = io::split_csv_line(line);
    if (c.size() != header.size())
      throw Error(file.string() + ": line " + std::to_string(row) + " has " + std::to_string(c.size()) +
                  " cells, the header " + std::to_string(header.size()));
    for (std::size_t i = 0; i < c.size(); ++i) cells[i].push_back(std::move(c[i]));
  }
  py::dict d;
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::vector<double> x(cells[i].size());
    bool numeric = true;
    for (std::size_t r = 0; r < cells[i].size() && numeric; ++r) {
      const std::string& s = cells[i][r];
      if (s.empty() || s == "nan") {
        x[r] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      try {
        std::size_t used = 0;
        x[r] = std::stod(s, &used);
        numeric = used == s.size();
      } catch (const std::exception&) {
        numeric = false;
      }
    }
    if (numeric)
      d[py::str(header[i])] = py::array_t<double>(static_cast<py::ssize_t>(x.size()), x.data());
    else
      d[py::str(header[i])] = py::module_::import("numpy").attr("array")(py::cast(cells[i]), "dtype"_a = "str");
  }
  return d;
}

py::dict load(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw Error("load: '" + dir.string() + "' is not a directory (expected a results folder)");
  struct Kind {
    const char* name;
    const char* manifest;
    std::vector<const char*> required, optional;
  };
  const std::vector<Kind> kinds = {{"sweep", "manifest.json", {"steps.csv"}, {"summary.csv"}},
                                   {"study", "study.json", {"steps.csv"}, {"summary.csv"}},
                                   {"hessian", "hessian.json", {"hessian.csv"}, {}},
                                   {"minimum", "minimum.json", {"optimizer.csv"}, {"growth.csv"}}};
  for (const auto& k : kinds) {
    if (!fs::exists(dir / k.manifest)) continue;
    const auto manifest = cli::read_json((dir / k.manifest).string());
    py::dict tables;
    for (const char* f : k.required) {
      if (!fs::exists(dir / f))
        throw Error((dir / f).string() + ": missing" +
                    (manifest.value("complete", true)
                         ? std::string()
                         : std::string(" (the ") + k.name + " is not complete: continue it with resume=True)"));
      tables[py::str(fs::path(f).stem().string())] = read_csv(dir / f);
    }
    for (const char* f : k.optional)
      if (fs::exists(dir / f)) tables[py::str(fs::path(f).stem().string())] = read_csv(dir / f);
    return py::dict("kind"_a = k.name, "out"_a = dir.string(), "manifest"_a = from_json(manifest), "tables"_a = tables);
  }
  throw Error("load: '" + dir.string() +
              "' is not a results folder of eqaug (no manifest.json, study.json, hessian.json or minimum.json)");
}

}  // namespace

void bind_sweeps(py::module_& m) {
  m.def(
      "_run",
      [](const py::object& config, const py::object& out, const py::object& log, const py::object& progress,
         bool report, const py::kwargs& options) {
        std::vector<std::string> extra;
        if (!report) extra.push_back("--no-report");
        return run_cli("run", config, out, log, progress, extra, options);
      },
      "config"_a = py::none(), "out"_a = py::none(), "log"_a = true, "progress"_a = py::none(), "report"_a = false,
      "eqaug run in this process; returns the results folder (eqaug.run wraps it).");
  m.def(
      "_hessian",
      [](const py::object& config, const py::object& out, const py::object& log, bool plot, const py::kwargs& options) {
        std::vector<std::string> extra;
        if (!plot) extra.push_back("--no-plot");
        return run_cli("hessian", config, out, log, py::none(), extra, options);
      },
      "config"_a, "out"_a = py::none(), "log"_a = true, "plot"_a = false,
      "eqaug hessian in this process; returns the results folder (eqaug.hessian wraps it).");
  m.def(
      "_load", [](const std::string& out) { return load(out); }, "out"_a,
      "A results folder's manifest and tables as {kind, out, manifest, tables} (eqaug.load wraps it).");
}

}  // namespace eqaug::py_
