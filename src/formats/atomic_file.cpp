#include "eqaug/formats/atomic_file.hpp"

#include "eqaug/core/error.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace eqaug::io {
namespace {

namespace fs = std::filesystem;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// Writing is the environment's business (a full disk, no permission); reading names a
// file the user gave, so a missing one is bad input.
[[noreturn]] void throw_errno(const std::string& what, const fs::path& path, int err) {
  throw RuntimeFailure(what + " " + quoted(path) + ": " + std::strerror(err));
}
[[noreturn]] void throw_read_errno(const std::string& what, const fs::path& path, int err) {
  throw Error(what + " " + quoted(path) + ": " + std::strerror(err));
}

// Closes on scope exit unless released, so every early throw below still frees the fd.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // close() can report a deferred write error (e.g. NFS), so the writer must see it.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

void write_all(int fd, std::string_view bytes, const fs::path& tmp) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write temporary file", tmp, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Creates the temporary file with O_EXCL so that two writers (threads or processes) never
// share one; the counter separates threads of one process, the pid separates processes.
std::pair<int, fs::path> create_temporary(const fs::path& dir, const fs::path& name) {
  static std::atomic<unsigned long> counter{0};
  for (int attempt = 0;; ++attempt) {
    const fs::path tmp =
        dir / ("." + name.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return {fd, tmp};
    // A stale file left by an earlier process that had the same pid: try the next name.
    if (errno == EEXIST && attempt < 1000) continue;
    throw_errno("cannot create temporary file", tmp, errno);
  }
}

// Makes the rename itself durable. Best effort: the new contents are already in place,
// and some file systems refuse fsync on directories.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view contents) {
  if (path.filename().empty()) throw Error("cannot write " + quoted(path) + ": expected a file name, found none");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error("cannot write " + quoted(path) + ": directory " + quoted(dir) + " does not exist");

  auto [raw_fd, tmp] = create_temporary(dir, path.filename());
  FileDescriptor fd(raw_fd);
  try {
    write_all(fd.get(), contents, tmp);
    if (::fsync(fd.get()) != 0) throw_errno("cannot flush temporary file", tmp, errno);
    if (fd.close() != 0) throw_errno("cannot close temporary file", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw RuntimeFailure("cannot replace " + quoted(path) + " with " + quoted(tmp) + ": " + std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory(dir);
}

std::string read_file(const fs::path& path) {
  // Before opening: open() blocks on a named pipe until a writer comes, and a device such as
  // /dev/zero (or a link to it) never ends. Only regular files are read.
  struct stat before {};
  if (::stat(path.c_str(), &before) == 0 && !S_ISREG(before.st_mode) && !S_ISDIR(before.st_mode)) {
    const char* kind = S_ISFIFO(before.st_mode)                             ? "a named pipe"
                       : S_ISCHR(before.st_mode) || S_ISBLK(before.st_mode) ? "a device"
                       : S_ISSOCK(before.st_mode)                           ? "a socket"
                                                                            : "not a regular file";
    throw Error("cannot read " + quoted(path) + ": expected a regular file, found " + kind);
  }
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_read_errno("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_read_errno("cannot stat", path, errno);
  // open() succeeds on a directory; read() would then fail with a less helpful EISDIR.
  if (S_ISDIR(st.st_mode)) throw Error("cannot read " + quoted(path) + ": expected a file, found a directory");

  std::string contents;
  if (st.st_size > 0) contents.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_read_errno("cannot read", path, errno);
    }
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  return contents;
}

void create_output_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec && fs::is_directory(dir)) return;
  // The nearest existing ancestor says what is in the way.
  fs::path at = dir;
  std::error_code probe;
  while (!at.empty() && !fs::exists(at, probe) && at.has_parent_path() && at.parent_path() != at) at = at.parent_path();
  std::string why = ec ? ec.message() : "not a directory";
  if (fs::exists(at, probe) && !fs::is_directory(at, probe))
    why = "'" + at.string() + "' is a file, not a directory";
  else if (ec == std::errc::no_space_on_device)
    why = "no space left on device";
  throw Error(what + ": cannot create the directory '" + dir.string() + "': " + why);
}

}  // namespace eqaug::io
