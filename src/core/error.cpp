#include "eqaug/core/error.hpp"

#include <sstream>

namespace eqaug {

void invariant_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << "internal error (" << file << ":" << line << "): " << expr << " failed: " << msg;
  throw std::logic_error(os.str());
}

}  // namespace eqaug
