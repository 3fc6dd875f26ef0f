#pragma once
// Errors at the edges (files, configs, command line) are eqaug::Error with a message
// naming what was wrong and what was expected; broken internal invariants are
// EQAUG_CHECK failures (a bug in eqaug, never the user's fault).
#include <stdexcept>
#include <string>

namespace eqaug {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure of the environment rather than of the user's input: a file that cannot be
/// written, a tool (gnuplot) that fails. The command line exits 1 for these, 2 for Error.
class RuntimeFailure : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void invariant_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace eqaug

#define EQAUG_CHECK(cond, msg)                                                \
  do {                                                                        \
    if (!(cond)) ::eqaug::invariant_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
