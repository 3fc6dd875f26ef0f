#pragma once
// The small formatting rules of the result files, shared by the writers (experiment/) and
// the readers (report/).
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace eqaug::io {

/// FNV-1a over the bytes of doubles: identifies the inputs a sweep was computed from.
std::string fingerprint(std::initializer_list<const std::vector<double>*> parts);
/// %.12g, "nan" for NaN: the number format of the CSVs.
std::string csv_number(double x);
/// "run-007".
std::string run_name(std::size_t k);
/// The cells of one line of eqaug's CSVs (split at every comma: eqaug's cells hold none,
/// but a quoted group name, which is read as it is).
std::vector<std::string> split_csv_line(const std::string& line);
/// A per-run CSV's column under steps.csv's name: the earlier layout's dist_init.<layer> and
/// dist_E.<layer> become dist_init_<layer> and dist_E_<layer>; other names are unchanged.
std::string current_column_name(const std::string& column);
/// The time now, "2026-12-03T09:00:00Z".
std::string utc_now_iso();

}  // namespace eqaug::io
