#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the authors' reference data and
// our own array dumps, so that results can be compared with numpy directly.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace eqaug::io {

// An array read from disk, in C (row-major) order whatever the file's order. A 0-d
// array has an empty shape and one element.
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> data;
  std::string descr;  // the dtype as the file spelled it, e.g. "<f4" or "|b1"

  std::size_t size() const { return data.size(); }
};

// Reads little-endian (or native, '=') float32/64, int8..64, uint8..64 and bool arrays,
// converting every value to double (int64/uint64 beyond 2^53 lose precision). Throws
// eqaug::Error naming the file for a missing file, a malformed header, an unsupported or
// big-endian dtype, or data whose length differs from what the shape needs.
NpyArray read_npy(const std::filesystem::path& path);

// Writes a C-order array ('<f4' for float, '<f8' for double) atomically, with a version
// 1.0 header padded so that the data starts on a 64-byte boundary, as numpy does.
// `data` holds the product of `shape` elements (one for an empty shape).
template <typename T>
void write_npy(const std::filesystem::path& path, const T* data, const std::vector<std::size_t>& shape);

extern template void write_npy<float>(const std::filesystem::path&, const float*, const std::vector<std::size_t>&);
extern template void write_npy<double>(const std::filesystem::path&, const double*, const std::vector<std::size_t>&);

// Writes `array.data` as '<f8'; throws eqaug::Error if its length does not match the shape.
void write_npy(const std::filesystem::path& path, const NpyArray& array);

}  // namespace eqaug::io
