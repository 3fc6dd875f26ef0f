#pragma once
// Image data of the Trans and Rot experiments (docs/reference.md): IDX files (MNIST,
// Fashion-MNIST), area down-sampling, image folders in .npy, the generated triangle /
// pentagon shapes and the authors' `simpshape` files. Images are row-major with row 0
// at the top; pixel (row, col) is base point row·N + col of the group.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug {

/// An IDX array of unsigned bytes (the only element type MNIST uses), C order.
struct IdxArray {
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> data;
};

/// Reads an IDX file, gzip-compressed or plain (decided from its contents, not its
/// name). Throws eqaug::Error naming the file for a missing or unreadable file, a bad
/// magic number, an element type other than unsigned byte, too few data bytes, or
/// bytes after the data. The file's length is checked against the header before any data
/// are read (a plain file's size; a gzip file's trailer, which records the length of what
/// it inflates to, so a truncated, extended or trailer-less gzip file is refused at once).
/// Only the first `max_items` items (entries along the first axis) are kept in `data`;
/// `shape` is the file's. The rest is still read (not kept) to check a gzip file's CRC,
/// unless it inflates to more than 256 MiB.
IdxArray read_idx(const std::filesystem::path& path, std::size_t max_items = std::numeric_limits<std::size_t>::max());

/// Box-filter (area) resampling of one height×width image to side×side: each output
/// pixel is the mean of the input over its footprint, partly covered input pixels
/// weighted by the covered fraction (OpenCV's INTER_AREA; for integer ratios the block
/// mean). Exact for any ratio, up- or down-sampling; preserves the image mean.
std::vector<double> area_resize(const double* src, std::size_t height, std::size_t width, std::size_t side);

/// Labelled grey-scale images.
struct ImageSet {
  std::size_t count = 0, height = 0, width = 0;
  std::vector<double> pixels;  // count × height × width, in [0, 1]
  std::vector<std::int64_t> labels;
  std::string source;              // where the images came from, for messages and records
  std::vector<std::string> notes;  // what a user should know about them
};

/// The first `samples` images (bytes / 255) and labels of an IDX pair (n×H×W images,
/// n labels). Throws eqaug::Error if the counts disagree or fewer than `samples` exist.
ImageSet load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels, std::size_t samples);

/// The MNIST layout: `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` for split
/// "test", `train-…` for "train", each with or without `.gz` (also the dotted spelling
/// `t10k-images.idx3-ubyte`).
ImageSet load_mnist_dir(const std::filesystem::path& dir, const std::string& split, std::size_t samples);

/// Where Debian's dataset-fashion-mnist package puts Fashion-MNIST (gzip IDX files).
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// DIR/images.npy of shape (n, H, W), float32/64 in [0, 1], and DIR/labels.npy of
/// shape (n,), integers ≥ 0 (an integer dtype, or floats with integral values).
ImageSet load_images_npy(const std::filesystem::path& dir);

/// Classification data: every image area-resized to side×side as 1 channel on pixels
/// (the group must act on side² points), targets one-hot over `classes` on the trivial
/// site. Pixels stay in [0, 1]; the engine applies the −0.5 input shift.
Dataset classification_dataset(const ImageSet& images, std::size_t side, std::size_t classes, const FiniteGroup& group,
                               const std::string& name);

/// Fraction of the rectangle [x0, x1] × [y0, y1] covered by a convex polygon (vertices
/// in either orientation): the polygon clipped to the rectangle (Sutherland–Hodgman),
/// its area by the shoelace formula, divided by the rectangle's area.
double polygon_pixel_coverage(const std::vector<std::array<double, 2>>& polygon, double x0, double x1, double y0,
                              double y1);

/// Exact coverage fraction of every pixel of an N×N image of the canvas [−1, 1]² (row 0
/// at the top: pixel (row, col) covers x ∈ [−1 + 2col/N, −1 + 2(col+1)/N],
/// y ∈ [1 − 2(row+1)/N, 1 − 2row/N]); row-major, N² values in [0, 1].
std::vector<double> rasterize_polygon(const std::vector<std::array<double, 2>>& polygon, std::size_t side);

/// The regular n-gon of the Rot data: vertices at angles π/2 + 2πj/n on the circle of
/// radius r about (cx, cy), counter-clockwise.
std::vector<std::array<double, 2>> regular_polygon(std::size_t n, double r, double cx, double cy);

/// The generated shapes of the Rot experiment (docs/reference.md).
struct ShapesOptions {
  std::size_t samples = 3000, side = 14;
  double r_min = 0.7, r_max = 0.8;  // circumradius ~ U[r_min, r_max]
  double shift = 0.5;               // centre ~ U[−shift, shift]²
};

/// Per sample, a filled equilateral triangle or regular pentagon (probability ½ each),
/// same orientation for all; input: its exact pixel coverage (background 0), 1 channel
/// on pixels; target: 2 channels on pixels, triangle mask then pentagon mask, 1 where the
/// shape covers at least half the pixel — the absent shape's mask is all 0 (the authors'
/// all-ones masks are a defect, docs/reference.md). Deterministic given `rng`.
Dataset make_shapes(const ShapesOptions& opts, const FiniteGroup& group, Rng& rng);

/// The authors' layout: DIR/shpsimg{i}.npy (N×N image in [0, 1]; theirs is a dark shape
/// on background 1), DIR/shpstrig{i}.npy and DIR/shpspent{i}.npy (N×N masks of 0/1),
/// i = 0 … samples−1, with N² = group.degree(). Values are used as given; the notes say
/// how many samples have an all-ones mask for the absent shape and what the background is.
Dataset load_shapes_npy(const std::filesystem::path& dir, std::size_t samples, const FiniteGroup& group);

}  // namespace eqaug
