#include "eqaug/formats/atomic_file.hpp"

#include "eqaug/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using eqaug::io::read_file;
using eqaug::io::write_file_atomic;

namespace {

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() /
           ("eqaug-atomic-" + test + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    return names;
  }

  fs::path dir_;
};

template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const eqaug::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected eqaug::Error";
  return {};
}

}  // namespace

TEST_F(AtomicFile, WritesNewFileAndLeavesNoTemporary) {
  const fs::path target = dir_ / "out.txt";
  write_file_atomic(target, "hello\n");
  EXPECT_EQ(read_file(target), "hello\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFile, ReplacesOldContent) {
  const fs::path target = dir_ / "out.txt";
  write_file_atomic(target, "a much longer first version of the file");
  write_file_atomic(target, "short");
  EXPECT_EQ(read_file(target), "short");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFile, RoundTripsBinaryAndEmptyContent) {
  const std::string binary("\0\x01\xff\n\r\0end", 9);
  write_file_atomic(dir_ / "bin", binary);
  EXPECT_EQ(read_file(dir_ / "bin"), binary);
  write_file_atomic(dir_ / "empty", "");
  EXPECT_EQ(read_file(dir_ / "empty"), "");
  EXPECT_EQ(fs::file_size(dir_ / "empty"), 0u);
}

TEST_F(AtomicFile, MissingDirectoryThrowsNamingIt) {
  const fs::path missing = dir_ / "no-such-dir";
  const std::string msg = error_message([&] { write_file_atomic(missing / "out.txt", "x"); });
  EXPECT_NE(msg.find("no-such-dir"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out.txt"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(AtomicFile, TargetThatIsADirectoryThrowsAndCleansUp) {
  fs::create_directory(dir_ / "occupied");
  fs::create_directory(dir_ / "occupied" / "child");  // a non-empty directory cannot be renamed over
  const std::string msg = error_message([&] { write_file_atomic(dir_ / "occupied", "x"); });
  EXPECT_NE(msg.find("occupied"), std::string::npos) << msg;
  EXPECT_EQ(entries(), std::vector<std::string>{"occupied"});
}

TEST_F(AtomicFile, ConcurrentWritersLeaveOneCompleteVersion) {
  const fs::path target = dir_ / "shared.txt";
  constexpr int kWriters = 8;
  std::vector<std::string> versions;
  for (int i = 0; i < kWriters; ++i) versions.push_back(std::string(10000, static_cast<char>('a' + i)));
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i)
    threads.emplace_back([&, i] {
      for (int rep = 0; rep < 20; ++rep) write_file_atomic(target, versions[i]);
    });
  for (auto& t : threads) t.join();
  const std::string final_content = read_file(target);
  EXPECT_NE(std::find(versions.begin(), versions.end(), final_content), versions.end());
  EXPECT_EQ(entries(), std::vector<std::string>{"shared.txt"});
}

TEST_F(AtomicFile, WritesRelativeToCurrentDirectory) {
  struct RestoreCwd {
    fs::path saved = fs::current_path();
    ~RestoreCwd() { fs::current_path(saved); }
  } restore;
  fs::current_path(dir_);
  write_file_atomic("plain-name.txt", "relative");
  EXPECT_EQ(read_file(dir_ / "plain-name.txt"), "relative");
}

TEST_F(AtomicFile, ReadMissingFileThrowsNamingIt) {
  const std::string msg = error_message([&] { read_file(dir_ / "absent.bin"); });
  EXPECT_NE(msg.find("absent.bin"), std::string::npos) << msg;
}

TEST_F(AtomicFile, ReadDirectoryThrowsNamingIt) {
  const std::string msg = error_message([&] { read_file(dir_); });
  EXPECT_NE(msg.find(dir_.filename().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}
