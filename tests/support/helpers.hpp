#pragma once
// Small helpers the test files share: a temporary directory that cleans up after itself,
// the message of an eqaug::Error, and running the eqaug binary as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "eqaug/core/error.hpp"

namespace eqaug::testing {

/// Whether a `gnuplot` executable is on PATH (figure tests skip without one).
inline bool gnuplot_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  for (std::size_t at = 0; at <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', at), dirs.size());
    const std::string d = dirs.substr(at, end - at);
    if (!d.empty() && ::access((std::filesystem::path(d) / "gnuplot").c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

/// A fresh folder under the system's temporary directory, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "eqaug_test") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (tag + "_" + std::to_string(::getpid()) + "_" + (info ? info->name() : "none") + "_" +
             std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The message of the eqaug::Error that f throws, or "(no error)".
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct CliResult {
  int code;
  std::string output;  // stdout and stderr together
};

/// Runs `eqaug ARGS` (the binary this build made, or $EQAUG_BINARY where the build was
/// moved: the GPU machine runs binaries built elsewhere) through the shell.
inline CliResult run_cli(const std::string& args) {
  const char* moved = std::getenv("EQAUG_BINARY");
  const std::string cmd = std::string(moved && *moved ? moved : EQAUG_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace eqaug::testing
