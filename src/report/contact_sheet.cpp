// Contact sheets of data sets: a grid of grayscale images (and their masks), drawn by gnuplot.
//
// Layout, in data units of one image pixel: a tile is the image and its masks side by side
// (`inner` units apart); tiles sit `gap` units apart in a grid of `columns` (8 without masks,
// fewer with them, so that a row holds about 12 squares at most); every tile has its caption
// in a band under it. The plot area is placed with exact screen margins, so pixels are
// squares; gnuplot's cairo terminal draws `with image` unsmoothed, each pixel a sharp square
// (`with image pixels` would show hairline seams between the pixels).
#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <unistd.h>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;
using namespace detail;

std::string sheet_name(const ContactSheet& sheet) {
  return sheet.title.empty() ? std::string("contact sheet") : "contact sheet '" + sheet.title + "'";
}

void check_square(const ContactSheet& sheet, const std::vector<double>& values, const std::string& what) {
  const std::size_t n = sheet.side * sheet.side;
  if (values.size() != n)
    throw Error(sheet_name(sheet) + ": " + what + " has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(sheet.side) + "x" + std::to_string(sheet.side) + " = " + std::to_string(n));
  for (std::size_t k = 0; k < n; ++k)
    if (!std::isfinite(values[k]))
      throw Error(sheet_name(sheet) + ": " + what + " has a non-finite value at pixel (" +
                  std::to_string(k / sheet.side) + ", " + std::to_string(k % sheet.side) + ")");
}

// The number of masks drawn beside each image (the most any image has).
std::size_t validate(const ContactSheet& sheet, const FigureOptions& options) {
  if (sheet.images.empty()) throw Error(sheet_name(sheet) + ": no images to draw");
  if (sheet.side == 0) throw Error(sheet_name(sheet) + ": image side is 0, expected N >= 1 for N x N images");
  if (sheet.side > 4096)
    throw Error(sheet_name(sheet) + ": image side " + std::to_string(sheet.side) + " is too large (at most 4096)");
  if (options.width <= 0)
    throw Error(sheet_name(sheet) + ": width " + std::to_string(options.width) + ", expected > 0");
  for (std::size_t i = 0; i < sheet.images.size(); ++i)
    check_square(sheet, sheet.images[i], "image " + std::to_string(i));
  if (!sheet.masks.empty() && sheet.masks.size() != sheet.images.size())
    throw Error(sheet_name(sheet) + ": masks for " + std::to_string(sheet.masks.size()) + " images, expected none or " +
                std::to_string(sheet.images.size()) + " (one entry per image)");
  std::size_t most = 0;
  for (std::size_t i = 0; i < sheet.masks.size(); ++i) {
    most = std::max(most, sheet.masks[i].size());
    for (std::size_t j = 0; j < sheet.masks[i].size(); ++j)
      check_square(sheet, sheet.masks[i][j], "mask " + std::to_string(j) + " of image " + std::to_string(i));
  }
  if (!sheet.mask_names.empty() && sheet.mask_names.size() != most)
    throw Error(sheet_name(sheet) + ": " + std::to_string(sheet.mask_names.size()) + " mask names for " +
                std::to_string(most) + " masks per image");
  if (!sheet.labels.empty() && sheet.labels.size() != sheet.images.size())
    throw Error(sheet_name(sheet) + ": " + std::to_string(sheet.labels.size()) + " labels for " +
                std::to_string(sheet.images.size()) + " images, expected none or one per image");
  return most;
}

std::string pixel(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.4g", std::clamp(v, 0.0, 1.0));
  return buf;
}

// A gnuplot datablock holding the square as a matrix, first line = row 0 (the top).
void datablock(std::ostringstream& os, const std::string& name, const std::vector<double>& values, std::size_t side) {
  os << name << " << EOD\n";
  for (std::size_t r = 0; r < side; ++r) {
    for (std::size_t c = 0; c < side; ++c) os << (c ? " " : "") << pixel(values[r * side + c]);
    os << '\n';
  }
  os << "EOD\n";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

fs::path write_contact_sheet(const ContactSheet& sheet, const fs::path& png, const FigureOptions& options) {
  const std::size_t masks = validate(sheet, options);
  const std::size_t n = sheet.images.size();
  const double side = static_cast<double>(sheet.side);

  const double inner = std::max(1.0, std::round(side / 8));
  const double gap = std::max(2.0, std::round(side / 2));
  const double tile = static_cast<double>(1 + masks) * side + static_cast<double>(masks) * inner;
  const std::size_t columns = std::min(n, std::max<std::size_t>(1, (masks == 0 ? 8 : 12 / (1 + masks))));
  const std::size_t rows = (n + columns - 1) / columns;
  const double units_w = static_cast<double>(columns) * tile + static_cast<double>(columns - 1) * gap;

  // Screen pixels per image pixel: fill the width, but no larger than 16 (a few big images
  // would otherwise become a poster), then narrow the PNG to fit.
  const double margin = 20, title_px = 56, caption_px = 22;
  double scale = std::min(16.0, (options.width - 2 * margin) / units_w);
  if (scale <= 0) throw Error(sheet_name(sheet) + ": width " + std::to_string(options.width) + " is too small");
  const int width = std::max(options.width < 480 ? options.width : 480,
                             std::min(options.width, static_cast<int>(std::ceil(units_w * scale + 2 * margin))));
  const double caption = caption_px / scale;
  const double row_h = side + caption + gap / 2;
  const double units_h = static_cast<double>(rows) * row_h - gap / 2;
  const int height = static_cast<int>(std::ceil(title_px + units_h * scale + margin / 2));

  // Plot area in screen fractions, centred horizontally; exact, so that pixels are squares.
  const double plot_w = units_w * scale, plot_h = units_h * scale;
  const double left = (width - plot_w) / 2 / width, right = left + plot_w / width;
  const double top = 1 - title_px / height, bottom = top - plot_h / height;

  std::string legend;
  if (masks > 0) {
    legend = "each tile: image";
    for (std::size_t j = 0; j < masks; ++j)
      legend += " | " + (sheet.mask_names.empty() ? "mask " + std::to_string(j + 1) : sheet.mask_names[j]);
  }

  std::ostringstream os;
  os << "# Contact sheet written by eqaug (" << n << " images, " << sheet.side << "x" << sheet.side << ")\n"
     << "if (!exists(\"png_out\")) png_out = " << gp_string(png.string()) << "\n"
     << "set encoding utf8\n"
     << "set terminal pngcairo size " << width << "," << height << " font 'sans,10' background '#ffffff'\n"
     << "set output png_out\n"
     << "set lmargin at screen " << num(left) << "\n"
     << "set rmargin at screen " << num(right) << "\n"
     << "set tmargin at screen " << num(top) << "\n"
     << "set bmargin at screen " << num(bottom) << "\n"
     << "set xrange [0:" << num(units_w) << "]\n"
     << "set yrange [0:" << num(units_h) << "]\n"
     << "unset xtics\nunset ytics\nunset border\nunset key\nunset colorbox\n"
     << "set palette gray\n"
     << "set cbrange [0:1]\n";
  const std::string title = sheet.title.empty() ? std::string("contact sheet") : sheet.title;
  os << "set title " << gp_string(title);
  if (!legend.empty()) os << ".\"\\n\"." << gp_string(legend);
  os << " noenhanced font ',12'\n";

  std::string plot;
  for (std::size_t i = 0; i < n; ++i) {
    const double x0 = static_cast<double>(i % columns) * (tile + gap);
    const double y_top = units_h - static_cast<double>(i / columns) * row_h;
    const double y0 = y_top - side;
    const std::size_t squares = 1 + (sheet.masks.empty() ? 0 : sheet.masks[i].size());
    for (std::size_t q = 0; q < squares; ++q) {
      const std::string name = "$i" + std::to_string(i) + "_" + std::to_string(q);
      datablock(os, name, q == 0 ? sheet.images[i] : sheet.masks[i][q - 1], sheet.side);
      const double x = x0 + static_cast<double>(q) * (side + inner);
      if (!plot.empty()) plot += ", \\\n     ";
      // Matrix column $1 → x, row $2 (0 = first line = top) → y; pixel centres at +0.5.
      plot += name + " matrix using ($1+" + num(x + 0.5) + "):(" + num(y0 + side - 0.5) + "-$2):3 with image";
      os << "set object rect from " << num(x) << "," << num(y0) << " to " << num(x + side) << "," << num(y_top)
         << " fs empty border lc rgb '#8c8c8c' lw 1 front\n";
    }
    if (!sheet.labels.empty() && !sheet.labels[i].empty())
      os << "set label " << gp_string(sheet.labels[i]) << " at " << num(x0 + tile / 2) << "," << num(y0 - caption * 0.5)
         << " center front noenhanced font ',9'\n";
  }
  os << "plot " << plot << "\n"
     << "set output\n";

  const fs::path target = fs::absolute(png).lexically_normal();
  std::error_code ec;
  if (!target.parent_path().empty()) fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error("cannot create directory " + in_quotes(target.parent_path()) + ": " + ec.message());
  // The script is a temporary too: the sheet's data are in it, and the PNG is what is kept.
  const fs::path script =
      target.parent_path() / ("." + target.filename().string() + ".gp.tmp-" + std::to_string(::getpid()));
  io::write_file_atomic(script, os.str());
  try {
    run_gnuplot(options, script, {{"png_out", target}});
  } catch (...) {
    fs::remove(script, ec);
    throw;
  }
  fs::remove(script, ec);
  return png;
}

}  // namespace eqaug::report
