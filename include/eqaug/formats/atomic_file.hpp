#pragma once
// Whole-file reads and crash-safe whole-file writes: a reader of `path` sees either the
// old contents or the new ones, never a half-written file, even if the process dies.
#include <filesystem>
#include <string>
#include <string_view>

namespace eqaug::io {

// Writes `contents` to a fresh temporary file next to `path`, fsyncs it and renames it
// over `path`. The parent directory must already exist. Throws eqaug::Error (naming the
// path and the system's reason) and leaves no temporary file behind on failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// The whole file as bytes. Throws eqaug::Error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// Creates `dir` and its parents where missing; a failure is an Error that names the
/// option it came from (`what`, e.g. "--out"), the path and why, in words.
void create_output_dir(const std::filesystem::path& dir, const std::string& what);

}  // namespace eqaug::io
