#include "eqaug/formats/csv.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace eqaug::io {

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string csv_number(double x) {
  if (std::isnan(x)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.12g", x);
  return buf;
}

std::string run_name(std::size_t k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "run-%03zu", k);
  return buf;
}

/// FNV-1a over the bytes of doubles: identifies the inputs a sweep was computed from.
std::string fingerprint(std::initializer_list<const std::vector<double>*> parts) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto* v : parts)
    for (double x : *v) {
      unsigned char b[sizeof x];
      std::memcpy(b, &x, sizeof x);
      for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ULL;
    }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  for (std::size_t at = 0;;) {
    const std::size_t comma = line.find(',', at);
    cells.push_back(line.substr(at, comma - at));
    if (comma == std::string::npos) return cells;
    at = comma + 1;
  }
}

std::string current_column_name(const std::string& column) {
  for (const std::string old : {"dist_init.", "dist_E."})
    if (column.size() > old.size() && column.compare(0, old.size(), old) == 0)
      return old.substr(0, old.size() - 1) + "_" + column.substr(old.size());
  return column;
}

}  // namespace eqaug::io
