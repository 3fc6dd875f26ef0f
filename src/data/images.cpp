#include "eqaug/data/images.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <numbers>
#include <sstream>

#include "eqaug/core/error.hpp"
#include "eqaug/formats/npy.hpp"

namespace eqaug {
namespace {

namespace fs = std::filesystem;
using Point = std::array<double, 2>;

std::string format_shape(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string format_value(double v, int digits = 17) {
  std::ostringstream os;
  os.precision(digits);
  os << v;
  return os.str();
}

// ---------------------------------------------------------------------------- IDX

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzClose>;

[[noreturn]] void idx_fail(const fs::path& path, const std::string& what) {
  throw Error("cannot read '" + path.string() + "' as an IDX file: " + what);
}

// Reads up to n bytes; fewer only at the end of the data. A damaged gzip stream is an
// error rather than a short read, so that it is not reported as mere truncation.
std::size_t gz_read(gzFile f, void* buf, std::size_t n, const fs::path& path) {
  std::size_t got = 0;
  auto* out = static_cast<unsigned char*>(buf);
  while (got < n) {
    const auto want = static_cast<unsigned>(std::min<std::size_t>(n - got, std::size_t{1} << 24));
    const int r = gzread(f, out + got, want);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      idx_fail(path, std::string("damaged gzip data (") + (msg ? msg : "unknown zlib error") + ")");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return nullptr;
  }
}

std::string hex_bytes(const unsigned char* b, std::size_t n) {
  std::string s = "0x";
  char buf[3];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02X", b[i]);
    s += buf;
  }
  return s;
}

// ---------------------------------------------------------------------------- resampling

// One axis of area resampling, from `in` to `out` pixels. Positions are counted in
// units of 1/out of an input pixel, so that footprint boundaries (i·in) and pixel
// boundaries (j·out) are integers and the overlap weights are exact fractions.
struct AreaTaps {
  std::vector<std::size_t> first, offset;  // per output pixel: first input pixel, start in weights
  std::vector<double> weights;

  AreaTaps(std::size_t in, std::size_t out) {
    offset.push_back(0);
    for (std::size_t i = 0; i < out; ++i) {
      const std::size_t lo = i * in, hi = (i + 1) * in;
      first.push_back(lo / out);
      for (std::size_t j = lo / out; j * out < hi; ++j) {
        const std::size_t overlap = std::min(hi, (j + 1) * out) - std::max(lo, j * out);
        weights.push_back(static_cast<double>(overlap) / static_cast<double>(in));
      }
      offset.push_back(weights.size());
    }
  }
};

// Separable: columns first (rows of the input stay contiguous), then rows.
class AreaResampler {
 public:
  AreaResampler(std::size_t height, std::size_t width, std::size_t side)
      : width_(width), side_(side), rows_(height, side), cols_(width, side), tmp_(side * width) {}

  void apply(const double* src, double* dst) {
    for (std::size_t o = 0; o < side_; ++o) {
      double* t = tmp_.data() + o * width_;
      std::fill(t, t + width_, 0.0);
      for (std::size_t k = rows_.offset[o]; k < rows_.offset[o + 1]; ++k) {
        const double w = rows_.weights[k];
        const double* s = src + (rows_.first[o] + k - rows_.offset[o]) * width_;
        for (std::size_t c = 0; c < width_; ++c) t[c] += w * s[c];
      }
    }
    for (std::size_t r = 0; r < side_; ++r) {
      const double* t = tmp_.data() + r * width_;
      for (std::size_t o = 0; o < side_; ++o) {
        double acc = 0.0;
        const double* s = t + cols_.first[o] - cols_.offset[o];
        for (std::size_t k = cols_.offset[o]; k < cols_.offset[o + 1]; ++k) acc += cols_.weights[k] * s[k];
        dst[r * side_ + o] = acc;
      }
    }
  }

 private:
  std::size_t width_, side_;
  AreaTaps rows_, cols_;
  std::vector<double> tmp_;
};

// ---------------------------------------------------------------------------- npy helpers

// The dtype's kind letter ('f', 'i', 'u', 'b'), after the optional byte-order mark.
char npy_kind(const std::string& descr) {
  std::string_view d = descr;
  if (!d.empty() && std::string_view("<>|=").find(d.front()) != std::string_view::npos) d.remove_prefix(1);
  return d.empty() ? '\0' : d.front();
}

void check_unit_interval(const io::NpyArray& a, const fs::path& path, const std::string& what) {
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const double v = a.data[i];
    if (!(v >= 0.0 && v <= 1.0))  // also rejects NaN
      throw Error(path.string() + ": " + what + " must be finite values in [0, 1], found " + format_value(v) +
                  " at flat index " + std::to_string(i));
  }
}

// ---------------------------------------------------------------------------- polygons

void clip_half_plane(const std::vector<Point>& in, std::vector<Point>& out, std::size_t axis, double bound,
                     bool keep_above) {
  out.clear();
  const std::size_t n = in.size();
  if (n == 0) return;
  auto inside = [&](const Point& p) { return keep_above ? p[axis] >= bound : p[axis] <= bound; };
  auto crossing = [&](const Point& a, const Point& b) {
    const double t = (bound - a[axis]) / (b[axis] - a[axis]);
    Point p;
    p[axis] = bound;  // exactly on the boundary, so later clips see it as inside
    p[1 - axis] = a[1 - axis] + t * (b[1 - axis] - a[1 - axis]);
    return p;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const Point& prev = in[(i + n - 1) % n];
    const Point& cur = in[i];
    if (inside(cur)) {
      if (!inside(prev)) out.push_back(crossing(prev, cur));
      out.push_back(cur);
    } else if (inside(prev)) {
      out.push_back(crossing(prev, cur));
    }
  }
}

double shoelace_area(const std::vector<Point>& p) {
  double twice = 0.0;
  for (std::size_t i = 0, n = p.size(); i < n; ++i) {
    const Point& a = p[i];
    const Point& b = p[(i + 1) % n];
    twice += a[0] * b[1] - b[0] * a[1];
  }
  return std::abs(twice) / 2.0;
}

}  // namespace

// ---------------------------------------------------------------------------- IDX

IdxArray read_idx(const fs::path& path, std::size_t max_items) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) idx_fail(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
  const std::uintmax_t file_size = fs::file_size(path, ec);
  if (ec) idx_fail(path, "cannot read its size (" + ec.message() + ")");
  // gzip or plain, from the first two bytes; a gzip file's last four record the length of
  // what it inflates to (ISIZE, modulo 2^32).
  bool gzip = false;
  std::uint32_t isize = 0;
  {
    std::ifstream raw(path, std::ios::binary);
    unsigned char head[2] = {0, 0};
    raw.read(reinterpret_cast<char*>(head), 2);
    gzip = raw.gcount() == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (gzip && file_size >= 18) {  // the smallest gzip member
      unsigned char tail[4] = {0, 0, 0, 0};
      raw.seekg(-4, std::ios::end);
      raw.read(reinterpret_cast<char*>(tail), 4);
      isize = std::uint32_t{tail[0]} | (std::uint32_t{tail[1]} << 8) | (std::uint32_t{tail[2]} << 16) |
              (std::uint32_t{tail[3]} << 24);
    }
  }
  GzHandle file(gzopen(path.c_str(), "rb"));
  if (!file) idx_fail(path, "cannot open it");

  unsigned char magic[4];
  if (gz_read(file.get(), magic, 4, path) < 4) idx_fail(path, "shorter than the 4-byte magic number");
  const char* type = idx_type_name(magic[2]);
  if (magic[0] != 0 || magic[1] != 0 || type == nullptr || magic[3] == 0)
    idx_fail(path, "bad magic number " + hex_bytes(magic, 4) +
                       " (expected 0x000008DD with DD the number of dimensions, e.g. 0x00000803 for images "
                       "or 0x00000801 for labels)");
  if (magic[2] != 0x08)
    idx_fail(path, std::string("element type ") + hex_bytes(magic + 2, 1) + " (" + type +
                       ") is not supported (expected 0x08, unsigned byte, as in MNIST)");

  IdxArray a;
  std::size_t total = 1;
  for (unsigned d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    if (gz_read(file.get(), b, 4, path) < 4)
      idx_fail(path, "truncated header: " + std::to_string(magic[3]) + " dimensions announced, " + std::to_string(d) +
                         " found");
    const std::size_t dim = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) | (std::size_t{b[2]} << 8) | b[3];
    if (dim != 0 && total > std::numeric_limits<std::size_t>::max() / dim) idx_fail(path, "dimensions overflow");
    total *= dim;
    a.shape.push_back(dim);
  }
  // The whole file's length against the header's promise, before reading any data.
  const std::size_t header = 4 + 4 * std::size_t{magic[3]};
  if (total > std::numeric_limits<std::size_t>::max() - header) idx_fail(path, "dimensions overflow");
  const std::size_t expected = header + total;
  if (!gzip && file_size < expected)
    idx_fail(path, "truncated data: shape " + format_shape(a.shape) + " needs " + std::to_string(total) +
                       " bytes, the file has " +
                       std::to_string(file_size - std::min<std::uintmax_t>(file_size, header)));
  if (!gzip && file_size > expected)
    idx_fail(path, std::to_string(file_size - expected) + " unexpected byte(s) after the " + std::to_string(total) +
                       " data bytes of shape " + format_shape(a.shape));
  if (gzip && isize != static_cast<std::uint32_t>(expected)) {
    // What the trailer says, in the plain file's words where it can be read so.
    const std::string trailer =
        " (by its gzip trailer, which records " + std::to_string(isize) +
        " inflated bytes; or the file has bytes after its gzip stream, lacks its trailer, or holds several members)";
    if (expected <= std::numeric_limits<std::uint32_t>::max() && isize >= header && isize < expected)
      idx_fail(path, "truncated data: shape " + format_shape(a.shape) + " needs " + std::to_string(total) +
                         " bytes, the file has " + std::to_string(isize - header) + trailer);
    if (expected <= std::numeric_limits<std::uint32_t>::max() && isize > expected)
      idx_fail(path, std::to_string(isize - expected) + " unexpected byte(s) after the " + std::to_string(total) +
                         " data bytes of shape " + format_shape(a.shape) + trailer);
    idx_fail(path, "the gzip trailer records " + std::to_string(isize) +
                       " inflated bytes (modulo 2^32), but the header promises " + std::to_string(expected) +
                       " for shape " + format_shape(a.shape) +
                       ": the file is truncated, has bytes after its gzip stream, lacks its trailer, or holds "
                       "several gzip members");
  }

  // Only the items asked for; grown as it is read.
  const bool whole = a.shape.empty() || max_items >= a.shape[0];
  const std::size_t want_total = whole ? total : max_items * (total / a.shape[0]);
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  while (a.data.size() < want_total) {
    const std::size_t old = a.data.size(), want = std::min(kChunk, want_total - old);
    a.data.resize(old + want);
    const std::size_t got = gz_read(file.get(), a.data.data() + old, want, path);
    if (got < want) {
      a.data.resize(old + got);
      idx_fail(path, "truncated data: shape " + format_shape(a.shape) + " needs " + std::to_string(total) +
                         " bytes, the file has " + std::to_string(a.data.size()));
    }
  }
  // The rest is read to the end without being kept, where it is of a sensible size (MNIST's
  // largest file inflates to 47 MB): a damaged gzip stream shows only there (its CRC).
  if (!whole) {
    constexpr std::size_t kVerifyUpTo = std::size_t{256} << 20;
    if (total - want_total > kVerifyUpTo) return a;
    std::vector<std::uint8_t> skip(std::min(kChunk, total - want_total));
    for (std::size_t left = total - want_total; left > 0;) {
      const std::size_t want = std::min(left, skip.size());
      if (gz_read(file.get(), skip.data(), want, path) < want)
        idx_fail(path, "truncated data: shape " + format_shape(a.shape) + " needs " + std::to_string(total) +
                           " bytes, the file has fewer");
      left -= want;
    }
  }
  // Read to the end: a damaged or truncated gzip stream shows there (its CRC, its trailer).
  unsigned char extra[256];
  std::size_t trailing = 0;
  for (std::size_t got; (got = gz_read(file.get(), extra, sizeof extra, path)) > 0;) trailing += got;
  if (trailing)
    idx_fail(path, std::to_string(trailing) + " unexpected byte(s) after the " + std::to_string(total) +
                       " data bytes of shape " + format_shape(a.shape));
  int code = Z_OK;
  gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) idx_fail(path, "damaged gzip data (it ends before its trailer)");
  return a;
}

// ---------------------------------------------------------------------------- resampling

std::vector<double> area_resize(const double* src, std::size_t height, std::size_t width, std::size_t side) {
  if (height == 0 || width == 0 || side == 0)
    throw Error("area_resize: cannot resize a " + std::to_string(height) + "x" + std::to_string(width) + " image to " +
                std::to_string(side) + "x" + std::to_string(side));
  std::vector<double> out(side * side);
  AreaResampler(height, width, side).apply(src, out.data());
  return out;
}

// ---------------------------------------------------------------------------- image sets

ImageSet load_idx_pair(const fs::path& images, const fs::path& labels, std::size_t samples) {
  // Only the samples used are read (each file's length is checked first, as a whole).
  const IdxArray img = read_idx(images, samples);
  if (img.shape.size() != 3 || img.shape[1] == 0 || img.shape[2] == 0)
    throw Error(images.string() + ": expected images of shape (n, height, width), found " + format_shape(img.shape));
  const IdxArray lab = read_idx(labels, samples);
  if (lab.shape.size() != 1)
    throw Error(labels.string() + ": expected labels of shape (n,), found " + format_shape(lab.shape));
  if (img.shape[0] != lab.shape[0])
    throw Error(images.string() + " has " + std::to_string(img.shape[0]) + " images but " + labels.string() + " has " +
                std::to_string(lab.shape[0]) + " labels");
  if (samples == 0) throw Error(images.string() + ": the number of samples must be positive");
  if (samples > img.shape[0])
    throw Error(images.string() + ": " + std::to_string(samples) + " samples requested, the file has only " +
                std::to_string(img.shape[0]));

  ImageSet s;
  s.count = samples;
  s.height = img.shape[1];
  s.width = img.shape[2];
  s.source = images.string();
  const std::size_t n = samples * s.height * s.width;
  s.pixels.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.pixels[i] = img.data[i] / 255.0;
  s.labels.assign(lab.data.begin(), lab.data.begin() + static_cast<std::ptrdiff_t>(samples));
  return s;
}

ImageSet load_mnist_dir(const fs::path& dir, const std::string& split, std::size_t samples) {
  if (split != "test" && split != "train")
    throw Error("unknown MNIST split '" + split + "' (expected 'test' or 'train')");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("MNIST data: '" + dir.string() + "' is not a directory");
  const std::string prefix = split == "test" ? "t10k" : "train";
  auto find = [&](const std::string& kind, const std::string& idx) {
    const std::vector<std::string> names = {
        prefix + "-" + kind + "-" + idx + "-ubyte", prefix + "-" + kind + "-" + idx + "-ubyte.gz",
        prefix + "-" + kind + "." + idx + "-ubyte", prefix + "-" + kind + "." + idx + "-ubyte.gz"};
    for (const auto& name : names)
      if (fs::is_regular_file(dir / name, ec)) return dir / name;
    std::string looked;
    for (const auto& name : names) looked += (looked.empty() ? "" : ", ") + name;
    throw Error("no " + split + "-split " + kind + " in '" + dir.string() + "' (looked for " + looked + ")");
  };
  const fs::path images = find("images", "idx3"), labels = find("labels", "idx1");
  ImageSet s = load_idx_pair(images, labels, samples);
  s.source = dir.string() + " (" + split + " split)";
  return s;
}

ImageSet load_images_npy(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("image data: '" + dir.string() + "' is not a directory");
  const fs::path images_path = dir / "images.npy", labels_path = dir / "labels.npy";
  const io::NpyArray img = io::read_npy(images_path);
  if (npy_kind(img.descr) != 'f')
    throw Error(images_path.string() + ": expected float32 or float64 pixels, found dtype '" + img.descr + "'");
  if (img.shape.size() != 3 || img.shape[0] == 0 || img.shape[1] == 0 || img.shape[2] == 0)
    throw Error(images_path.string() + ": expected a non-empty array of shape (n, height, width), found " +
                format_shape(img.shape));
  check_unit_interval(img, images_path, "pixels");
  const io::NpyArray lab = io::read_npy(labels_path);
  if (lab.shape != std::vector<std::size_t>{img.shape[0]})
    throw Error(labels_path.string() + ": expected labels of shape " + format_shape({img.shape[0]}) +
                " (one per image), found " + format_shape(lab.shape));
  const char kind = npy_kind(lab.descr);
  if (kind != 'i' && kind != 'u' && kind != 'f')
    throw Error(labels_path.string() + ": expected integer labels, found dtype '" + lab.descr + "'");

  ImageSet s;
  s.count = img.shape[0];
  s.height = img.shape[1];
  s.width = img.shape[2];
  s.source = dir.string();
  s.pixels = img.data;
  s.labels.resize(s.count);
  for (std::size_t i = 0; i < s.count; ++i) {
    const double v = lab.data[i];
    // 2^53: beyond it doubles no longer tell integers apart.
    if (!(v >= 0.0 && v <= 0x1.0p53 && v == std::floor(v)))
      throw Error(labels_path.string() + ": labels must be integers >= 0, found " + format_value(v) + " for image " +
                  std::to_string(i));
    s.labels[i] = static_cast<std::int64_t>(v);
  }
  return s;
}

Dataset classification_dataset(const ImageSet& images, std::size_t side, std::size_t classes, const FiniteGroup& group,
                               const std::string& name) {
  if (images.count == 0) throw Error("'" + images.source + "': no images");
  EQAUG_CHECK(
      images.pixels.size() == images.count * images.height * images.width && images.labels.size() == images.count,
      "ImageSet sizes disagree with its count");
  if (side == 0) throw Error("data set '" + name + "': the image side must be positive");
  if (classes == 0) throw Error("data set '" + name + "': the number of classes must be positive");
  const std::size_t pixels = side * side;
  if (group.degree() != pixels)
    throw Error("data set '" + name + "': the group " + group.name() + " acts on " + std::to_string(group.degree()) +
                " points but the images have " + std::to_string(side) + "x" + std::to_string(side) + " = " +
                std::to_string(pixels) + " pixels");
  std::vector<std::size_t> histogram(classes, 0);
  for (std::size_t k = 0; k < images.count; ++k) {
    const std::int64_t l = images.labels[k];
    if (l < 0 || static_cast<std::uint64_t>(l) >= classes)
      throw Error("'" + images.source + "': sample " + std::to_string(k) + " has label " + std::to_string(l) +
                  ", outside the " + std::to_string(classes) + " classes 0.." + std::to_string(classes - 1));
    ++histogram[static_cast<std::size_t>(l)];
  }

  Dataset d;
  d.name = name;
  d.input = make_space(group, 1, 1);
  d.target = make_space(group, classes, 0);
  d.size = images.count;
  d.x.resize(d.size * pixels);
  d.y.assign(d.size * classes, 0.0);
  AreaResampler resample(images.height, images.width, side);
  const std::size_t in_pixels = images.height * images.width;
  for (std::size_t k = 0; k < d.size; ++k) {
    resample.apply(images.pixels.data() + k * in_pixels, d.x.data() + k * pixels);
    d.y[k * classes + static_cast<std::size_t>(images.labels[k])] = 1.0;
  }
  d.notes = images.notes;
  // Resampling that changes the picture is said, not done silently.
  if (images.height != images.width)
    d.notes.push_back("the " + std::to_string(images.height) + "x" + std::to_string(images.width) +
                      " images are not square: each is stretched to " + std::to_string(side) + "x" +
                      std::to_string(side) + " (area averaging per axis)");
  if (side > std::max(images.height, images.width))
    d.notes.push_back("the images are up-sampled from " + std::to_string(images.height) + "x" +
                      std::to_string(images.width) + " to " + std::to_string(side) + "x" + std::to_string(side) +
                      " (group.side): no pixel carries more detail than the originals");
  const auto [lo, hi] = std::minmax_element(histogram.begin(), histogram.end());
  if (*hi > 3 * *lo) {
    std::string counts;
    for (std::size_t c = 0; c < classes; ++c) counts += (c ? ", " : "") + std::to_string(histogram[c]);
    d.notes.push_back("the classes are unbalanced (samples per class: " + counts + ")");
  }
  return d;
}

// ---------------------------------------------------------------------------- shapes

double polygon_pixel_coverage(const std::vector<Point>& polygon, double x0, double x1, double y0, double y1) {
  std::vector<Point> a = polygon, b;
  b.reserve(a.size() + 4);
  clip_half_plane(a, b, 0, x0, true);
  clip_half_plane(b, a, 0, x1, false);
  clip_half_plane(a, b, 1, y0, true);
  clip_half_plane(b, a, 1, y1, false);
  if (a.size() < 3) return 0.0;
  return std::clamp(shoelace_area(a) / ((x1 - x0) * (y1 - y0)), 0.0, 1.0);
}

std::vector<double> rasterize_polygon(const std::vector<Point>& polygon, std::size_t side) {
  std::vector<double> img(side * side, 0.0);
  if (polygon.empty() || side == 0) return img;
  double xmin = polygon[0][0], xmax = xmin, ymin = polygon[0][1], ymax = ymin;
  for (const Point& p : polygon) {
    xmin = std::min(xmin, p[0]), xmax = std::max(xmax, p[0]);
    ymin = std::min(ymin, p[1]), ymax = std::max(ymax, p[1]);
  }
  const double h = 2.0 / static_cast<double>(side);
  for (std::size_t row = 0; row < side; ++row) {
    const double y1 = 1.0 - h * static_cast<double>(row), y0 = 1.0 - h * static_cast<double>(row + 1);
    if (y0 >= ymax || y1 <= ymin) continue;
    for (std::size_t col = 0; col < side; ++col) {
      const double x0 = -1.0 + h * static_cast<double>(col), x1 = -1.0 + h * static_cast<double>(col + 1);
      if (x0 >= xmax || x1 <= xmin) continue;
      img[row * side + col] = polygon_pixel_coverage(polygon, x0, x1, y0, y1);
    }
  }
  return img;
}

std::vector<Point> regular_polygon(std::size_t n, double r, double cx, double cy) {
  std::vector<Point> p(n);
  for (std::size_t j = 0; j < n; ++j) {
    const double a = std::numbers::pi / 2 + 2 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(n);
    p[j] = {cx + r * std::cos(a), cy + r * std::sin(a)};
  }
  return p;
}

Dataset make_shapes(const ShapesOptions& opts, const FiniteGroup& group, Rng& rng) {
  if (opts.samples == 0) throw Error("shapes: samples must be positive");
  if (opts.side == 0) throw Error("shapes: the image side must be positive");
  const std::size_t pixels = opts.side * opts.side;
  if (group.degree() != pixels)
    throw Error("shapes: the group " + group.name() + " acts on " + std::to_string(group.degree()) +
                " points but the images have " + std::to_string(opts.side) + "x" + std::to_string(opts.side) + " = " +
                std::to_string(pixels) + " pixels");
  if (!(opts.r_min > 0 && opts.r_min <= opts.r_max && std::isfinite(opts.r_max)))
    throw Error("shapes: the radius range must satisfy 0 < r_min <= r_max (got " + format_value(opts.r_min) + ", " +
                format_value(opts.r_max) + ")");
  if (!(opts.shift >= 0 && std::isfinite(opts.shift)))
    throw Error("shapes: the shift must be finite and >= 0 (got " + format_value(opts.shift) + ")");

  Dataset d;
  d.name = "shapes";
  d.input = make_space(group, 1, 1);
  d.target = make_space(group, 2, 1);
  d.size = opts.samples;
  d.x.resize(d.size * pixels);
  d.y.assign(d.size * 2 * pixels, 0.0);
  for (std::size_t k = 0; k < d.size; ++k) {
    const bool triangle = rng.bernoulli(0.5);
    const double r = opts.r_min + (opts.r_max - opts.r_min) * rng.uniform();
    const double cx = opts.shift * (2 * rng.uniform() - 1);
    const double cy = opts.shift * (2 * rng.uniform() - 1);
    const auto img = rasterize_polygon(regular_polygon(triangle ? 3 : 5, r, cx, cy), opts.side);
    std::copy(img.begin(), img.end(), d.x.begin() + static_cast<std::ptrdiff_t>(k * pixels));
    double* mask = d.y.data() + (k * 2 + (triangle ? 0 : 1)) * pixels;
    for (std::size_t p = 0; p < pixels; ++p) mask[p] = img[p] >= 0.5 ? 1.0 : 0.0;
  }
  return d;
}

Dataset load_shapes_npy(const fs::path& dir, std::size_t samples, const FiniteGroup& group) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("shape data: '" + dir.string() + "' is not a directory");
  if (samples == 0) throw Error("shape data: samples must be positive");
  const std::size_t pixels = group.degree();
  auto side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(pixels))));
  if (side * side != pixels)
    throw Error("shape data: the group " + group.name() + " acts on " + std::to_string(pixels) +
                " points, not on the pixels of a square image");
  const std::vector<std::size_t> shape = {side, side};

  Dataset d;
  d.name = "npy:" + dir.string();
  d.input = make_space(group, 1, 1);
  d.target = make_space(group, 2, 1);
  d.size = samples;
  d.x.resize(samples * pixels);
  d.y.resize(samples * 2 * pixels);
  auto load = [&](const fs::path& path, const char* what) {
    io::NpyArray a = io::read_npy(path);
    if (a.shape != shape)
      throw Error(path.string() + ": expected " + what + " of shape " + format_shape(shape) + ", found " +
                  format_shape(a.shape));
    return a;
  };
  std::size_t all_ones[2] = {0, 0}, blank = 0;
  // Where the triangles point: a triangle's mass lies away from its apex, so the mean
  // offset of the mask's centroid from its bounding-box centre gives the direction.
  double lean_row = 0.0, lean_col = 0.0;
  std::size_t triangles = 0;
  auto add_lean = [&](const std::vector<double>& mask) {
    double rows = 0, cols = 0, count = 0;
    std::size_t r0 = side, r1 = 0, c0 = side, c1 = 0;
    for (std::size_t p = 0; p < pixels; ++p)
      if (mask[p] == 1.0) {
        const std::size_t r = p / side, c = p % side;
        rows += static_cast<double>(r), cols += static_cast<double>(c), count += 1;
        r0 = std::min(r0, r), r1 = std::max(r1, r), c0 = std::min(c0, c), c1 = std::max(c1, c);
      }
    lean_row += rows / count - static_cast<double>(r0 + r1) / 2;
    lean_col += cols / count - static_cast<double>(c0 + c1) / 2;
    ++triangles;
  };
  for (std::size_t i = 0; i < samples; ++i) {
    const std::string idx = std::to_string(i);
    const fs::path img_path = dir / ("shpsimg" + idx + ".npy");
    const io::NpyArray img = load(img_path, "an image");
    check_unit_interval(img, img_path, "pixels");
    std::copy(img.data.begin(), img.data.end(), d.x.begin() + static_cast<std::ptrdiff_t>(i * pixels));
    bool any = false;
    for (std::size_t c = 0; c < 2; ++c) {
      const fs::path mask_path = dir / ((c == 0 ? "shpstrig" : "shpspent") + idx + ".npy");
      const io::NpyArray mask = load(mask_path, "a mask");
      std::size_t ones = 0;
      for (std::size_t p = 0; p < pixels; ++p) {
        const double v = mask.data[p];
        if (v != 0.0 && v != 1.0)
          throw Error(mask_path.string() + ": expected a mask of 0 and 1, found " + format_value(v) + " at pixel " +
                      std::to_string(p));
        ones += v == 1.0;
      }
      all_ones[c] += ones == pixels;
      if (c == 0 && ones > 0 && ones < pixels) add_lean(mask.data);
      any = any || ones > 0;
      std::copy(mask.data.begin(), mask.data.end(), d.y.begin() + static_cast<std::ptrdiff_t>((i * 2 + c) * pixels));
    }
    blank += !any;
  }
  if (all_ones[0] + all_ones[1])
    d.notes.push_back(std::to_string(all_ones[0] + all_ones[1]) + " of " + std::to_string(samples) +
                      " samples have an all-ones mask for a shape that is absent (" + std::to_string(all_ones[0]) +
                      " triangle masks, " + std::to_string(all_ones[1]) +
                      " pentagon masks); the paper's setting gives 0 — the masks are used as given");
  if (blank)
    d.notes.push_back(std::to_string(blank) + " of " + std::to_string(samples) + " samples have two empty masks");
  if (triangles) {
    const double row = lean_row / static_cast<double>(triangles), col = lean_col / static_cast<double>(triangles);
    const char* apex = std::abs(row) >= std::abs(col) ? (row > 0 ? "up" : "down") : (col > 0 ? "left" : "right");
    if (std::max(std::abs(row), std::abs(col)) > 0.1 && std::string(apex) != "up")
      d.notes.push_back(std::string("the triangles point ") + apex +
                        " (row 0 at the top), generated ones (make_shapes) point up: the shapes are rotated "
                        "relative to generated data");
  }
  // The authors drew a dark polygon on white; say so, since generated data are the reverse.
  std::vector<double> values = d.x;
  auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  if (*mid > 0.5)
    d.notes.push_back("the images are dark shapes on a light background (median pixel " + format_value(*mid, 3) +
                      ", darkest " + format_value(*std::min_element(d.x.begin(), d.x.end()), 3) +
                      "), the reverse of generated shape data (background 0, shape 1); the values are used as given");
  return d;
}

}  // namespace eqaug
