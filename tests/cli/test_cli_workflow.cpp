// The command line's contract (issue 6, "Command line"): the error prefix and exit codes,
// list options that leave the config path alone, booleans that can be turned off,
// refused out-of-range values, and Ctrl-C / SIGTERM during a sweep.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/helpers.hpp"
#include "eqaug/formats/atomic_file.hpp"

namespace fs = std::filesystem;

namespace {

using eqaug::testing::run_cli;
using Result = eqaug::testing::CliResult;
Result cli(const std::string& args) { return run_cli(args); }

fs::path temp_dir(const std::string& tag) {
  const auto d = fs::temp_directory_path() / ("eqaug-cliwf-" + std::to_string(::getpid()) + "-" + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

/// Starts eqaug with stdout/stderr to `log`, sends `sig` after `after`, returns the exit status.
int run_and_signal(const std::string& args, const fs::path& log, int sig, std::chrono::milliseconds after) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + std::string(EQAUG_BINARY) + " " + args + " > '" + log.string() + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(after);
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

}  // namespace

TEST(CliWorkflow, ErrorsHaveThePrefixAndExitTwo) {
  for (const char* args : {"run perm --bogus-option", "run perm --aug-per pixel", "run perm --runs -1", "run",
                           "run perm --seed 18446744073709551616", "run perm --seed 99999999999999999999999",
                           "run perm --out \"\"", "run perm --modes nom,bogus", "report", "dims no-such-preset"}) {
    const auto r = cli(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("eqaug: error: ", 0), 0u) << args << ": " << r.output;
  }
  // A weight decay is a finite number >= 0, said in words on every command that takes it.
  for (const char* args :
       {"run perm --weight-decay -1", "minimum perm --weight-decay inf", "hessian perm --weight-decay 1e-3x"}) {
    const auto r = cli(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("--weight-decay: expected a non-negative number, found '"), std::string::npos)
        << args << ": " << r.output;
  }
  // One range for seeds everywhere: 0 ... 2^63 - 1, the integers a TOML file holds.
  EXPECT_NE(cli("run perm --seed 9223372036854775808").output.find("at most 9223372036854775807"), std::string::npos);
  EXPECT_NE(cli("run perm --set train.seed=18446744073709551615").output.find("beyond the integers a config holds"),
            std::string::npos);
  // The largest seed is accepted (dims does not run anything).
  const auto runn = cli("runn perm");
  EXPECT_EQ(runn.code, 2);
  EXPECT_NE(runn.output.find("unknown command 'runn'"), std::string::npos) << runn.output;
  const auto help = cli("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("130 or 143"), std::string::npos) << help.output;
  // Every option of run states its default (an entry runs until the next option line).
  const std::string text = cli("run --help").output;
  std::vector<std::string> entries;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.rfind("  -", 0) == 0)
      entries.push_back(line);
    else if (!entries.empty() && line.rfind("    ", 0) == 0)
      entries.back() += line;
    else if (!entries.empty() && !line.empty() && line[0] != ' ')
      break;  // the next section
  }
  std::size_t checked = 0;
  for (const auto& e : entries) {
    if (e.find("--help") != std::string::npos) continue;
    ++checked;
    EXPECT_NE(e.find("default"), std::string::npos) << "no default in: " << e;
  }
  EXPECT_GT(checked, 20u);
}

TEST(CliWorkflow, ListOptionLeavesTheConfigPathAndBooleansTurnOff) {
  const auto dir = temp_dir("lists");
  // --modes takes one comma-separated token: the preset after it is the config.
  auto r = cli("run --modes nom,equi perm --runs 1 --epochs 0 --no-report --out " + (dir / "a").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto manifest = nlohmann::json::parse(eqaug::io::read_file(dir / "a" / "manifest.json"));
  EXPECT_EQ(manifest["config"]["train"]["modes"], (nlohmann::json{"nom", "equi"})) << manifest.dump();
  // The manifest identifies the build: source revision, compiler, flags.
  for (const char* key : {"revision", "compiler", "build_flags", "build_type", "version"}) {
    ASSERT_TRUE(manifest["program"].contains(key)) << key;
    EXPECT_FALSE(manifest["program"][key].get<std::string>().empty()) << key;
  }
  // --aug-exact turns exact augmentation on (S_10 is too large for it: a clear refusal)...
  r = cli("run perm --aug-exact --modes aug --runs 1 --epochs 0 --out " + (dir / "b").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("exact augmentation"), std::string::npos) << r.output;
  // ... and --aug-exact=false turns a config's exact = true off.
  std::ifstream in(std::string(EQAUG_SOURCE_CONFIG_DIR) + "/perm.toml");
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "exact = false";
  ASSERT_NE(toml.find(from), std::string::npos);
  toml.replace(toml.find(from), from.size(), "exact = true");
  std::ofstream(dir / "exact.toml") << toml;
  r = cli("run " + (dir / "exact.toml").string() +
          " --aug-exact=false --modes aug --aug-passes 1 --runs 1 --epochs 0 --no-report --out " +
          (dir / "c").string());
  EXPECT_EQ(r.code, 0) << r.output;
  // With exact augmentation the sampling settings are refused, not silently ignored.
  r = cli("run " + (dir / "exact.toml").string() + " --aug-passes 3 --out " + (dir / "d").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--aug-passes: not used with exact augmentation"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CliWorkflow, ConfigValuesAreCheckedEvenWhenTheCommandLineReplacesThem) {
  const auto dir = temp_dir("cfg");
  std::ifstream in(std::string(EQAUG_SOURCE_CONFIG_DIR) + "/perm.toml");
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  toml.replace(toml.find("runs = 30"), 9, "runs = -3");
  std::ofstream(dir / "bad.toml") << toml;
  const auto r = cli("run " + (dir / "bad.toml").string() + " --runs 1 --out " + (dir / "never").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("train.runs"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "never"));
  fs::remove_all(dir);
}

TEST(CliWorkflow, InterruptKeepsFinishedRunsAndResumeCompletesTheSweep) {
  const auto dir = temp_dir("interrupt");
  const std::string common = "run perm --runs 12 --epochs 3 --aug-passes 2 --threads 2 --no-report --out ";
  for (int sig : {SIGINT, SIGTERM}) {
    const auto out = dir / ("sig" + std::to_string(sig));
    const int code = run_and_signal(common + out.string(), dir / "log.txt", sig, std::chrono::milliseconds(2500));
    const std::string log = eqaug::io::read_file(dir / "log.txt");
    ASSERT_EQ(code, 128 + sig) << log;
    EXPECT_NE(log.find("interrupted after "), std::string::npos) << log;
    EXPECT_NE(log.find("of 12 runs; continue with --resume"), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(out / ".lock"));  // the lock is released
    const auto r = cli(common + out.string() + " --resume");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("resuming:"), std::string::npos) << r.output;
  }
  // The interrupted-then-resumed sweeps equal an uninterrupted one, file by file.
  const auto whole = dir / "whole";
  ASSERT_EQ(cli(common + whole.string()).code, 0);
  for (int sig : {SIGINT, SIGTERM})
    for (const char* mode : {"nom", "aug", "equi"})
      for (int k = 0; k < 12; ++k) {
        char name[32];
        std::snprintf(name, sizeof name, "run-%03d.csv", k);
        const auto a = dir / ("sig" + std::to_string(sig)) / mode / name;
        ASSERT_TRUE(fs::exists(a)) << a;
        EXPECT_EQ(eqaug::io::read_file(a), eqaug::io::read_file(whole / mode / name)) << a;
      }
  fs::remove_all(dir);
}

TEST(CliWorkflow, SetOverridesAnyKeyAndMisspeltKeysAreNamed) {
  const auto dir = temp_dir("set");
  auto r =
      cli("run perm --set model.layers[0].channels=8 --set data.p=0.4 --set train.aug.per=batch --runs 1 "
          "--epochs 0 --no-report --out " +
          (dir / "a").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto m = nlohmann::json::parse(eqaug::io::read_file(dir / "a" / "manifest.json"));
  EXPECT_EQ(m["config"]["model"]["layers"][0]["channels"], 8);
  EXPECT_EQ(m["config"]["data"]["p"], 0.4);
  EXPECT_EQ(m["config"]["train"]["aug"]["per"], "batch");
  EXPECT_EQ(m["model"]["layers"][0]["shape"][0], 8);
  // The options of their own have the last word over --set.
  r = cli("run perm --set train.lr=0.5 --lr 0.25 --runs 1 --epochs 0 --no-report --out " + (dir / "lr").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(eqaug::io::read_file(dir / "lr" / "manifest.json"))["config"]["train"]["lr"], 0.25);
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"--set model.layers[20].channels=8", "no element 20 (the list has 9)"},
           {"--set train.lr=abc", "train.lr: expected a number"},
           // Checked as given even where an option of its own replaces it.
           {"--set train.epochs='\"nom\"' --epochs 1", "--set train.epochs=\"nom\": train.epochs: expected a"},
           {"--set noequals", "expected KEY=VALUE"}}) {
    r = cli("run perm " + args + " --out " + (dir / "never").string());
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_NE(r.output.find(want), std::string::npos) << args << ": " << r.output;
  }
  // A --set that is valid only with an option of its own is accepted.
  r = cli("run perm --set 'train.modes=[\"nom\",\"augpen\"]' --penalty 1 --runs 1 --epochs 0 --no-report --out " +
          (dir / "augpen").string());
  EXPECT_EQ(r.code, 0) << r.output;
  // A study's name that is not a string (the fuzz campaign's one internal error).
  r = cli("run groups --scale small --set name=true --out " + (dir / "never").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--set name=true: name: expected a string, found true"), std::string::npos) << r.output;
  // A misspelt key in a file is named as such, with the key it resembles.
  std::ifstream in(std::string(EQAUG_SOURCE_CONFIG_DIR) + "/perm.toml");
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "{ type = \"linear\", channels = 32, order = 2";
  ASSERT_NE(toml.find(from), std::string::npos);
  toml.replace(toml.find(from), from.size(), "{ type = \"linear\", chanels = 32, order = 2");
  std::ofstream(dir / "typo.toml") << toml;
  r = cli("dims " + (dir / "typo.toml").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("model.layers[0].chanels: unknown key; did you mean `channels`?"), std::string::npos)
      << r.output;
  // A file without [train] trains with the defaults, for run and dims alike.
  std::string no_train = eqaug::io::read_file(std::string(EQAUG_SOURCE_CONFIG_DIR) + "/perm.toml");
  no_train = no_train.substr(0, no_train.find("[train]"));
  std::ofstream(dir / "no-train.toml") << no_train;
  EXPECT_EQ(cli("dims " + (dir / "no-train.toml").string()).code, 0);
  r = cli("run " + (dir / "no-train.toml").string() + " --runs 1 --epochs 0 --no-report --out " + (dir / "b").string());
  EXPECT_EQ(r.code, 0) << r.output;
  fs::remove_all(dir);
}

TEST(CliWorkflow, SaveDataExportsWhatDataNpyReadsBack) {
  const auto dir = temp_dir("savedata");
  for (const char* preset : {"perm", "rot --scale small", "trans --scale small"}) {
    const std::string p = preset, tag = p.substr(0, p.find(' '));
    const std::string common = " --set data.samples=24 ";
    auto r = cli("data " + p + common + "--save-data " + (dir / tag).string());
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string run = "run " + p + common + "--runs 1 --epochs 0 --modes nom --no-report --out ";
    ASSERT_EQ(cli(run + (dir / (tag + "-own")).string()).code, 0);
    r = cli(run + (dir / (tag + "-npy")).string() + " --data-npy " + (dir / tag).string());
    ASSERT_EQ(r.code, 0) << r.output;
    const auto own = nlohmann::json::parse(eqaug::io::read_file(dir / (tag + "-own") / "manifest.json"));
    const auto npy = nlohmann::json::parse(eqaug::io::read_file(dir / (tag + "-npy") / "manifest.json"));
    EXPECT_EQ(own["data"]["fingerprint"], npy["data"]["fingerprint"]) << tag;              // the same numbers
    EXPECT_EQ(cli("data " + p + common + "--save-data " + (dir / tag).string()).code, 2);  // not over a full folder
  }
  EXPECT_EQ(cli("data perm").code, 2);  // nothing to do
  fs::remove_all(dir);
}

TEST(CliWorkflow, CheckReportsTheIdentitiesOfEveryPreset) {
  for (const char* preset : {"perm", "rot --scale small", "trans --scale small"}) {
    const auto r = cli(std::string("check ") + preset);
    EXPECT_EQ(r.code, 0) << preset << ": " << r.output;
    for (const char* row : {"Lemma 3", "Lemma 4", "Prop. 1", "Corollary 1"})
      EXPECT_NE(r.output.find(row), std::string::npos) << preset << ": " << row;
    EXPECT_NE(r.output.find("every identity holds"), std::string::npos) << r.output;
  }
  // S_10 cannot be enumerated: the check says it used S_5.
  EXPECT_NE(cli("check perm").output.find("S_10 -> S_5"), std::string::npos);
}

// --shard k/n: three processes run the runs r ≡ k (mod 3) into one folder at the same time;
// the files equal one process's sweep, the manifest lists every run once with its shard,
// and only the sweep as a whole is complete.
TEST(CliWorkflow, ShardsShareOneResultsFolder) {
  const auto dir = temp_dir("shards");
  const std::string common = "run perm --runs 5 --epochs 2 --aug-passes 2 --threads 1 --no-report --out ";
  const auto whole = dir / "whole", parts = dir / "parts";
  ASSERT_EQ(cli(common + whole.string()).code, 0);
  // One shard alone: the sweep is not complete yet.
  const auto first = cli(common + parts.string() + " --shard 2/3");
  ASSERT_EQ(first.code, 0) << first.output;
  auto manifest = nlohmann::json::parse(eqaug::io::read_file(parts / "manifest.json"));
  EXPECT_FALSE(manifest["complete"].get<bool>());
  EXPECT_EQ(manifest["runs"].size(), 1u);  // run 2
  // The other two at once (a shell runs them side by side).
  const std::string bin = std::getenv("EQAUG_BINARY") ? std::getenv("EQAUG_BINARY") : EQAUG_BINARY;
  const std::string both = "sh -c '" + bin + " " + common + parts.string() + " --shard 0/3 > " +
                           (dir / "s0.log").string() + " 2>&1 & " + bin + " " + common + parts.string() +
                           " --shard 1/3 > " + (dir / "s1.log").string() + " 2>&1; wait'";
  ASSERT_EQ(std::system(both.c_str()), 0);
  for (const char* log : {"s0.log", "s1.log"})
    EXPECT_NE(eqaug::io::read_file(dir / log).find("sweep finished"), std::string::npos)
        << eqaug::io::read_file(dir / log);
  for (const char* mode : {"nom", "aug", "equi"})
    for (int k = 0; k < 5; ++k) {
      char name[32];
      std::snprintf(name, sizeof name, "run-%03d.csv", k);
      ASSERT_TRUE(fs::exists(parts / mode / name)) << name;
      EXPECT_EQ(eqaug::io::read_file(parts / mode / name), eqaug::io::read_file(whole / mode / name)) << name;
    }
  EXPECT_EQ(eqaug::io::read_file(parts / "steps.csv"), eqaug::io::read_file(whole / "steps.csv"));
  manifest = nlohmann::json::parse(eqaug::io::read_file(parts / "manifest.json"));
  EXPECT_TRUE(manifest["complete"].get<bool>());
  ASSERT_EQ(manifest["runs"].size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(manifest["runs"][k]["run"], k);
    EXPECT_EQ(manifest["runs"][k]["shard"], std::to_string(k % 3) + "/3");
  }
  EXPECT_EQ(manifest["sessions"].size(), 3u);
  // Running a shard again has nothing left to do; --force would delete the others' work.
  const auto again = cli(common + parts.string() + " --shard 1/3");
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("sweep finished: 0 run(s)"), std::string::npos) << again.output;
  const auto force = cli(common + parts.string() + " --shard 1/3 --force");
  EXPECT_EQ(force.code, 2);
  EXPECT_NE(force.output.find("--force with --shard"), std::string::npos) << force.output;
  // Another run count, or a malformed shard, is refused.
  const auto runs = cli("run perm --runs 6 --epochs 2 --aug-passes 2 --no-report --shard 0/3 --out " + parts.string());
  EXPECT_EQ(runs.code, 2);
  EXPECT_NE(runs.output.find("every shard needs the same --runs"), std::string::npos) << runs.output;
  for (const char* bad : {"3/3", "1", "a/2", "1/0", "-1/2"}) {
    const auto r = cli(common + (dir / "bad").string() + " --shard " + bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.output.find("--shard: expected k/n"), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli("report --no-plot " + parts.string()).code, 0);
  fs::remove_all(dir);
}

// `eqaug hessian` on a small Perm (S_4, 40 graphs, few channels): the CSV has a row per
// trajectory, step, operator and eigenvalue; the exact Hessian has no standard error, the
// Monte-Carlo one has; the folder is refused a second time without --force and reported.
TEST(CliWorkflow, HessianWritesSpectraAlongTheTrajectories) {
  const auto dir = temp_dir("hessian");
  const std::string base =
      "hessian perm --set group.n=4 --set 'data.clusters=[2,2]' --set data.samples=40 "
      "--set model.layers[0].channels=3 --set model.layers[2].channels=4 --set model.layers[5].channels=3 "
      "--epochs 3 --k 2 --no-plot ";
  const std::string small = base + "--tol 1e-6 ";  // within float32's reach: mixed-precision products
  const auto exact =
      cli(small + "--steps 0,3 --modes aug,augpen --penalty 5 --hessian-exact --out " + (dir / "e").string());
  ASSERT_EQ(exact.code, 0) << exact.output;
  EXPECT_NE(exact.output.find("E linearly"), std::string::npos) << exact.output;
  const std::string csv = eqaug::io::read_file(dir / "e" / "hessian.csv");
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = csv.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(csv.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 1u + 2 * 2 * 2 * 2);  // header + trajectories × steps × operators × k
  EXPECT_EQ(lines[0], "trajectory,step,operator,index,eigenvalue,residual,stderr,dist_E,converged");
  EXPECT_NE(csv.find("augpen,3,aug_on_Eperp,1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("aug,0,eq_on_E,0,"), std::string::npos) << csv;
  const auto info = nlohmann::json::parse(eqaug::io::read_file(dir / "e" / "hessian.json"));
  EXPECT_EQ(info["hessian_aug"], "exact: every group element");
  EXPECT_EQ(info["penalty"], 5.0);
  EXPECT_EQ(info["lanczos"]["products"].get<std::string>().substr(0, 6), "mixed:");
  const std::string drift = eqaug::io::read_file(dir / "e" / "drift.csv");
  EXPECT_EQ(drift.substr(0, drift.find('\n')), "trajectory,step,dist_E,dist_init,loss");
  EXPECT_NE(drift.find("augpen,2,"), std::string::npos) << drift;  // every step, not only the examined ones
  const auto again = cli(small + "--hessian-exact --out " + (dir / "e").string());
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.output.find("already exists; pass --force"), std::string::npos) << again.output;
  const auto mc = cli(small + "--steps 3 --hessian-samples 3 --repeats 2 --out " + (dir / "m").string());
  ASSERT_EQ(mc.code, 0) << mc.output;
  EXPECT_EQ(cli("report --no-plot " + (dir / "m").string()).code, 0);
  // The thick-restart solver with blocks or float64 products only, and Spectra's, find the
  // same spectra as the default (mixed-precision products).
  auto eigenvalue = [](const std::string& table, const std::string& row) {
    const auto at = table.find(row);
    return at == std::string::npos ? NAN : std::stod(table.substr(at + row.size()));
  };
  EXPECT_NE(exact.output.find(" float32 + "), std::string::npos) << exact.output;
  for (const std::string solver : {"--block 3", "--spectra", "--products f64"}) {
    const auto alt = cli(small + "--steps 0,3 --modes aug,augpen --penalty 5 --hessian-exact --force " + solver +
                         " --out " + (dir / "s").string());
    ASSERT_EQ(alt.code, 0) << alt.output;
    const std::string other = eqaug::io::read_file(dir / "s" / "hessian.csv");
    for (const std::string row : {"aug,0,aug_on_Eperp,0,", "augpen,3,aug_on_Eperp,1,", "aug,3,eq_on_E,0,"})
      EXPECT_NEAR(eigenvalue(other, row), eigenvalue(csv, row), 1e-6 * (1 + std::abs(eigenvalue(csv, row))))
          << solver << " " << row;
  }
  const auto spectra_mixed = cli(small + "--spectra --products mixed --out " + (dir / "b").string());
  EXPECT_EQ(spectra_mixed.code, 2);
  EXPECT_NE(spectra_mixed.output.find("--products mixed needs the thick-restart solver"), std::string::npos)
      << spectra_mixed.output;
  const auto mixed_too_fine = cli(base + "--products mixed --tol 1e-8 --out " + (dir / "b").string());
  EXPECT_EQ(mixed_too_fine.code, 2);
  EXPECT_NE(mixed_too_fine.output.find("--products mixed: --tol 1e-08 asks for residuals below float32's accuracy"),
            std::string::npos)
      << mixed_too_fine.output;
  const auto spectra_block = cli(small + "--spectra --block 2 --out " + (dir / "b").string());
  EXPECT_EQ(spectra_block.code, 2);
  EXPECT_NE(spectra_block.output.find("--block 2: Spectra's Lanczos (--spectra) takes one vector at a time"),
            std::string::npos)
      << spectra_block.output;
  // A basis that cannot fit in memory (2 · 10 000 vectors of 33.6 M parameters): refused
  // before any product, with the sizes.
  const auto huge =
      cli("hessian perm --set 'model.layers[0].channels=2048' --set data.samples=10 --set train.chunk=1 --ncv 10000 "
          "--out " +
          (dir / "b").string());
  EXPECT_EQ(huge.code, 2);
  EXPECT_NE(huge.output.find("--ncv 10000: the Lanczos basis of 33589280 parameters takes 5374.3 GB"),
            std::string::npos)
      << huge.output;
  const auto bad = cli(small + "--steps 0,x --out " + (dir / "b").string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("--steps: expected"), std::string::npos) << bad.output;
  const auto beyond = cli(small + "--steps 9 --out " + (dir / "b").string());
  EXPECT_EQ(beyond.code, 2);
  EXPECT_NE(beyond.output.find("beyond the trajectory"), std::string::npos) << beyond.output;
  const auto nom = cli(small + "--modes nom --out " + (dir / "b").string());
  EXPECT_EQ(nom.code, 2);
  EXPECT_NE(nom.output.find("must include aug or augpen"), std::string::npos) << nom.output;
  EXPECT_FALSE(fs::exists(dir / "b"));
  fs::create_directories(dir / "sweep");
  eqaug::io::write_file_atomic(dir / "sweep" / "manifest.json", "{}");
  const auto into_sweep = cli(small + "--out " + (dir / "sweep").string());
  EXPECT_EQ(into_sweep.code, 2);
  EXPECT_NE(into_sweep.output.find("holds a sweep"), std::string::npos) << into_sweep.output;
  fs::remove_all(dir);
}

namespace {

/// Leaves only run 0 of a sweep's manifest finished, as a sweep interrupted after it.
void keep_first_run_only(const fs::path& dir) {
  auto m = nlohmann::json::parse(eqaug::io::read_file(dir / "manifest.json"));
  m["runs"] = nlohmann::json::array({m["runs"][0]});
  m["complete"] = false;
  eqaug::io::write_file_atomic(dir / "manifest.json", m.dump(2));
}

TEST(CliWorkflow, ResumeWithoutTheConfigContinuesWithTheRecordedOne) {
  const auto d = temp_dir("resume-recorded");
  const std::string out = (d / "s").string();
  const auto first =
      cli("run rot --scale small --runs 2 --epochs 2 --set data.samples=30 --save-weights --no-report --out " + out);
  ASSERT_EQ(first.code, 0) << first.output;
  keep_first_run_only(out);
  // Retyping the preset without the original options: every difference at once, and the
  // command that started the sweep.
  const auto wrong = cli("run rot --scale small --resume --no-report --out " + out);
  EXPECT_EQ(wrong.code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("/train/epochs: 2 in the sweep, 50 now"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("/data/samples: 30 in the sweep, 500 now"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("--save-weights: the sweep saves weights"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("it was started with: "), std::string::npos) << wrong.output;
  // No config: the folder's own, weights included.
  const auto again = cli("run --resume --no-report --out " + out);
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("resuming: 1 run(s) already finished"), std::string::npos) << again.output;
  EXPECT_TRUE(fs::exists(fs::path(out) / "nom" / "run-001" / "final"));
  // Without --resume the config is required; a directory that is no results folder is named.
  const auto none = cli("run --out " + out);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.output.find("--resume --out DIR"), std::string::npos) << none.output;
  const auto dir = cli("run " + d.string());
  EXPECT_EQ(dir.code, 2);
  EXPECT_NE(dir.output.find("is a directory, but neither a configuration file nor a results folder"), std::string::npos)
      << dir.output;
  fs::remove_all(d);
}

TEST(CliWorkflow, AStudyResumesFromItsFolderAlone) {
  const auto d = temp_dir("resume-study");
  const std::string out = (d / "g").string();
  const std::string quick = " --runs 2 --epochs 1 --set data.samples=20 --set train.metrics=[] --no-report";
  ASSERT_EQ(cli("run groups --scale small" + quick + " --out " + out).code, 0);
  keep_first_run_only(fs::path(out) / "rot");
  const auto again = cli("run --resume --no-report --out " + out);
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("study finished: 1 run(s) in 4 member(s)"), std::string::npos) << again.output;
  // The study's report: one tidy steps.csv of every member, with its member and group.
  ASSERT_EQ(cli("report " + out).code, 0);
  std::istringstream steps(eqaug::io::read_file(fs::path(out) / "steps.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(steps, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("member,group,mode,run,step,loss,accuracy,dist_init,dist_E,loss_aug,", 0), 0u) << lines[0];
  EXPECT_EQ(lines.size(), 1u + 4 * 3 * 2 * 2);  // members x modes x runs x steps 0, 1
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) { return l.rfind("rot,\"C_4 on 8x8 pixels\",aug,1,1,", 0) == 0; }),
            lines.end());
  // And summary.csv says which step its rows are.
  const std::string summary = eqaug::io::read_file(fs::path(out) / "summary.csv");
  EXPECT_NE(summary.find(",step\n"), std::string::npos) << summary;
  fs::remove_all(d);
}

TEST(CliWorkflow, MistakesInModesAndOutSayWhatToDo) {
  const auto d = temp_dir("mistakes");
  const auto modes = cli("run rot --modes nom equi base.toml");
  EXPECT_EQ(modes.code, 2);
  EXPECT_NE(modes.output.find("--modes takes one comma-separated list (--modes nom,equi)"), std::string::npos)
      << modes.output;
  eqaug::io::write_file_atomic(d / "file", "x");
  for (const std::string cmd :
       {"run rot --scale small --runs 1 --epochs 1 --out ", "hessian rot --scale small --out "}) {
    const auto r = cli(cmd + (d / "file" / "sub").string());
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.output.find("--out: cannot create the directory"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("is a file, not a directory"), std::string::npos) << r.output;
  }
  fs::remove_all(d);
}

TEST(CliWorkflow, OverridesAndScalesAreCheckedAndNamed) {
  const auto d = temp_dir("overrides");
  const std::string run = "run trans --scale small --runs 1 --epochs 1 --no-report --out " + (d / "o").string() + " ";
  auto expect = [&](const std::string& args, const std::string& text) {
    const auto r = cli(run + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(text), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("internal"), std::string::npos) << args << "\n" << r.output;
  };
  // An override's mistake names the --set, with the near spelling even where the right key is set too.
  expect("--set train.epoch=3", "--set train.epoch=3: train.epoch: unknown key; did you mean `epochs`?");
  expect("--set trian.lr=1e-5", "--set trian.lr=1e-5: trian: unknown key; did you mean `train`?");
  expect("--set data.p=0.3", "data.p: a key of data.kind = \"sbm\" data, not of \"images\"");
  expect("--set model.layers[18446744073709551616].channels=1", "no element 18446744073709551616");
  expect("--set data.classes=2305843009213693952", "has 10 channels, one per class");
  expect("--set scale=huge", "--set scale=huge: scale is chosen with --scale");
  expect("--set scales.small.data.samples=1", "scales cannot be changed from the command line");
  expect("--set train.seed=18446744073709551615", "beyond the integers a config holds");
  // A table the file lacks is created: trans.toml has no [train.reference]-like table for this one.
  const auto ok =
      cli("run rot --scale small --runs 1 --epochs 1 --no-report --set data.samples=30 --set "
          "train.metrics=[] --set reference.sampler=true --out " +
          (d / "created").string());
  EXPECT_EQ(ok.code, 0) << ok.output;
  // The file is checked as written, values that its scale replaces included; dates are named.
  eqaug::io::write_file_atomic(d / "bad.toml", eqaug::io::read_file(EQAUG_SOURCE_CONFIG_DIR "/rot.toml") +
                                                   "\n[scales.tiny]\ndata = { samples = 30 }\n");
  std::string text = eqaug::io::read_file(d / "bad.toml");
  text.replace(text.find("samples = 3000"), 14, "samples = 0");
  eqaug::io::write_file_atomic(d / "bad.toml", text);
  const auto full = cli("run " + (d / "bad.toml").string() + " --scale tiny --no-report --out " + (d / "b").string());
  EXPECT_EQ(full.code, 2) << full.output;
  EXPECT_NE(full.output.find("data.samples: must be at least 1"), std::string::npos) << full.output;
  eqaug::io::write_file_atomic(d / "date.toml", "name = \"x\"\nwhen = 2026-12-03\n");
  const auto date = cli("run " + (d / "date.toml").string() + " --out " + (d / "c").string());
  EXPECT_NE(date.output.find("date.toml: when: a TOML date or time"), std::string::npos) << date.output;
  eqaug::io::write_file_atomic(
      d / "nested.toml", eqaug::io::read_file(EQAUG_SOURCE_CONFIG_DIR "/rot.toml") + "\n[scales.tiny.scales.x]\n");
  const auto nested = cli("run " + (d / "nested.toml").string() + " --scale tiny --out " + (d / "n").string());
  EXPECT_NE(nested.output.find("scales.tiny.scales: a scale changes the experiment's tables"), std::string::npos)
      << nested.output;
  fs::remove_all(d);
}

TEST(CliWorkflow, NoLockFileStaysBehind) {
  const auto d = temp_dir("locks");
  // A refused --shard --force creates nothing.
  const auto refused = cli("run perm --runs 2 --epochs 1 --shard 0/2 --force --out " + (d / "new").string());
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_FALSE(fs::exists(d / "new"));
  // Two shards, one after the other: the folder ends with no lock file, and the manifest
  // records each shard's own command.
  const std::string shard = "run perm --runs 2 --epochs 1 --aug-passes 2 --threads 1 --no-report --out " +
                            (d / "sharded").string() + " --shard ";
  ASSERT_EQ(cli(shard + "0/2").code, 0);
  ASSERT_EQ(cli(shard + "1/2").code, 0);
  for (const auto& e : fs::directory_iterator(d / "sharded"))
    EXPECT_NE(e.path().filename().string().rfind(".lock", 0), 0u) << e.path();
  const auto m = nlohmann::json::parse(eqaug::io::read_file(d / "sharded" / "manifest.json"));
  EXPECT_NE(m["shard_commands"]["0/2"].get<std::string>().find("--shard 0/2"), std::string::npos);
  EXPECT_NE(m["shard_commands"]["1/2"].get<std::string>().find("--shard 1/2"), std::string::npos);
  EXPECT_NE(m["command"].get<std::string>().find("--shard 0/2"), std::string::npos);  // the one that started it
  EXPECT_FALSE(m["sessions"][1]["resumed"].get<bool>());  // the second shard joined, it resumed nothing
  // A second Ctrl-C stops at once, says so, and leaves no lock. The first one's orderly stop
  // can end the program before the second arrives 50 ms later (it waits for the current
  // chunk, 0.1 to 1 s, but a chunk may just be ending): that is an orderly exit 130, also
  // without a lock, and the test tries again, up to 4 times, to reach the second signal.
  bool stopped_at_once = false;
  for (int attempt = 0; attempt < 4 && !stopped_at_once; ++attempt) {
    const auto out = d / ("twice" + std::to_string(attempt));
    const auto log_file = d / ("log" + std::to_string(attempt) + ".txt");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string cmd = "exec " + std::string(EQAUG_BINARY) + " run perm --runs 5 --epochs 50 --threads 1 " +
                              "--no-report --out " + out.string() + " > '" + log_file.string() + "' 2>&1";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ::kill(pid, SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const std::string log = eqaug::io::read_file(log_file);
    EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 130)) << log;
    stopped_at_once = log.find("stopped at once (second signal)") != std::string::npos;
    if (!stopped_at_once) {
      EXPECT_NE(log.find("eqaug: interrupted after"), std::string::npos) << log;
    }
    EXPECT_FALSE(fs::exists(out / ".lock"));
  }
  EXPECT_TRUE(stopped_at_once) << "the first signal's orderly stop ended the program before the second, 4 times";
  fs::remove_all(d);
}

TEST(CliWorkflow, SettingsNotUsedAsWrittenAreWarnedAndRecorded) {
  const auto d = temp_dir("warnings");
  const auto r =
      cli("run perm --runs 1 --epochs 1 --equi-eval structured --penalty 3 --no-report --out " + (d / "p").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: train.penalty = 3 is not used: train.modes has no augpen"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("layer A0 has no structured form for S_10"), std::string::npos) << r.output;
  const auto m = nlohmann::json::parse(eqaug::io::read_file(d / "p" / "manifest.json"));
  EXPECT_EQ(m["warnings"].size(), 2u);
  const auto b =
      cli("run rot --scale small --runs 1 --epochs 1 --set data.samples=30 --set train.metrics=[] "
          "--batch 100000 --save-weights --no-report --out " +
          (d / "b").string());
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_NE(b.output.find("train.batch = 100000 exceeds the 30 samples"), std::string::npos) << b.output;
  // An --init-weights folder with a file no layer reads.
  const auto init = d / "b" / "nom" / "run-000" / "init";
  eqaug::io::write_file_atomic(init / "A7.npy", eqaug::io::read_file(init / "A0.npy"));
  const auto w =
      cli("run rot --scale small --runs 1 --epochs 1 --set data.samples=30 --set train.metrics=[] "
          "--init-weights " +
          init.string() + " --no-report --out " + (d / "w").string());
  ASSERT_EQ(w.code, 0) << w.output;
  EXPECT_NE(w.output.find("A7.npy is not a layer of this model (A0, A1, A2, A3); not read"), std::string::npos)
      << w.output;
  const auto with_file = nlohmann::json::parse(eqaug::io::read_file(d / "w" / "manifest.json"));
  EXPECT_EQ(with_file["warnings"].size(), 1u);
  const auto plain = nlohmann::json::parse(eqaug::io::read_file(d / "b" / "manifest.json"));
  EXPECT_EQ(plain["warnings"].size(), 1u);  // the batch only
  fs::remove_all(d);
}

TEST(CliWorkflow, AFullDiskIsNamed) {
  // A 512 KiB tmpfs (needs the right to mount: root, as CI runs; skipped otherwise).
  const auto d = temp_dir("full-disk");
  const auto mnt = d / "mnt";
  fs::create_directories(mnt);
  if (std::system(("mount -t tmpfs -o size=512k tmpfs '" + mnt.string() + "' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (not root)";
  const auto out = mnt / "s";
  const auto r = cli("run perm --runs 1 --epochs 2 --aug-passes 2 --threads 1 --no-report --out " + out.string());
  // Fill what is left but 52 KiB: the report's CSV and the figure's data fit, its images
  // (made by gnuplot) do not.
  {
    std::ofstream fill(mnt / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    const auto space = fs::space(mnt);
    for (std::uintmax_t left = space.available; left > 52 * 1024 && fill; left -= block.size()) fill << block;
  }
  const auto rep = cli("report " + out.string());
  std::system(("umount '" + mnt.string() + "'").c_str());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(rep.code, 1) << rep.output;
  EXPECT_NE(rep.output.find("o space left on device"), std::string::npos) << rep.output;
  EXPECT_NE(rep.output.find("no space left on device for"), std::string::npos) << rep.output;  // gnuplot's file
  EXPECT_EQ(rep.output.find("but wrote no"), std::string::npos) << rep.output;
  fs::remove_all(d);
}

TEST(CliWorkflow, AStudyChecksEveryMembersDataBeforeItsFirstRun) {
  // The last member reads images from a folder that does not exist: refused before the
  // first member runs, and nothing is left behind.
  const auto d = temp_dir("study-data");
  std::string text = eqaug::io::read_file(EQAUG_SOURCE_CONFIG_DIR "/groups.toml");
  const std::string last = "{ name = \"transrot\", group = { kind = \"translation_rotation\" } }";
  ASSERT_NE(text.find(last), std::string::npos);
  text.replace(text.find(last), last.size(),
               "{ name = \"transrot\", group = { kind = \"translation_rotation\" }, data = { dir = \"" +
                   (d / "missing").string() + "\" } }");
  eqaug::io::write_file_atomic(d / "study.toml", text);
  const auto r =
      cli("run " + (d / "study.toml").string() +
          " --scale small --runs 1 --epochs 1 --set train.metrics=[] --no-report --out " + (d / "o").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("missing"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d / "o")) << r.output;
  fs::remove_all(d);
}

TEST(CliWorkflow, ARunSaysItsEstimatedTimeBeforeTheFirstStep) {
  const auto d = temp_dir("estimate");
  const auto r = cli("run perm --runs 2 --epochs 1 --aug-passes 2 --no-report --out " + (d / "p").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto at = r.output.find("estimate: at least ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_LT(at, r.output.find("run 1/2 done")) << r.output;  // before the first run ends
  // Perm: 526880 weights x 1000 graphs x 6 flops x (1 + 3 + 1 passes) x 2 steps = 31.6 GFLOP per run.
  EXPECT_NE(r.output.find("for the 2 run(s) to do (31.6 GFLOP of dense passes per run"), std::string::npos) << r.output;
  fs::remove_all(d);
}

}  // namespace
