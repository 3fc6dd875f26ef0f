#include "eqaug/formats/npy.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

namespace eqaug::io {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr std::size_t kPreambleV1 = 10;  // magic, major, minor, uint16 header length
constexpr std::size_t kPreambleV2 = 12;  // magic, major, minor, uint32 header length
constexpr std::size_t kDataAlignment = 64;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw Error("cannot read '" + path.string() + "' as .npy: " + what);
}

std::string format_shape(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";  // Python spells a 1-tuple "(5,)"
  return s + ")";
}

// Printable rendering of raw bytes for error messages; headers may hold anything.
std::string escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += ch;
    } else {
      s += "\\x";
      s += kHex[c >> 4];
      s += kHex[c & 0xf];
    }
  }
  return s;
}

std::optional<std::size_t> checked_product(const std::vector<std::size_t>& factors, std::size_t start = 1) {
  std::size_t p = start;
  for (const std::size_t f : factors) {
    if (f != 0 && p > std::numeric_limits<std::size_t>::max() / f) return std::nullopt;
    p *= f;
  }
  return p;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

// The header is the repr() of a Python dict of literals. A small recursive-descent
// parser accepts whatever spacing, key order and quoting numpy versions have produced.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const fs::path& path) : text_(text), path_(path) {}

  Header parse() {
    Header h;
    bool has_descr = false, has_order = false, has_shape = false;
    skip_space();
    expect('{', "'{' opening the header dict");
    skip_space();
    while (!consume('}')) {
      const std::string key = parse_string("a quoted key");
      skip_space();
      expect(':', "':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        mark_seen(has_descr, key);
        if (peek() == '[') fail("structured dtypes (descr given as a list) are not supported");
        h.descr = parse_string("a quoted dtype string for 'descr'");
      } else if (key == "fortran_order") {
        mark_seen(has_order, key);
        h.fortran_order = parse_bool(key);
      } else if (key == "shape") {
        mark_seen(has_shape, key);
        h.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (consume(',')) {
        skip_space();
      } else if (peek() != '}') {
        fail_found("',' or '}' after the value of '" + key + "'");
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail_found("only padding after the header dict");
    if (!has_descr) fail("key 'descr' is missing");
    if (!has_order) fail("key 'fortran_order' is missing");
    if (!has_shape) fail("key 'shape' is missing");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { ::eqaug::io::fail(path_, "malformed header: " + what); }

  [[noreturn]] void fail_found(const std::string& expected) const {
    const std::string found =
        pos_ >= text_.size() ? "the end of the header" : "'" + escape(text_.substr(pos_, 20)) + "'";
    fail("expected " + expected + " at offset " + std::to_string(pos_) + ", found " + found);
  }

  void mark_seen(bool& seen, const std::string& key) const {
    if (seen) fail("key '" + key + "' appears twice");
    seen = true;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  bool consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  void expect(char c, const std::string& expected) {
    if (!consume(c)) fail_found(expected);
  }

  void skip_space() {
    while (pos_ < text_.size() && std::string_view(" \t\n\r\f\v").find(text_[pos_]) != std::string_view::npos) ++pos_;
  }

  std::string parse_string(const std::string& expected) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail_found(expected);
    ++pos_;
    std::string s;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      s += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail("unterminated string starting with '" + escape(s.substr(0, 20)) + "'");
    ++pos_;
    return s;
  }

  bool parse_bool(const std::string& key) {
    const std::string_view rest = text_.substr(pos_);
    if (rest.starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (rest.starts_with("False")) {
      pos_ += 5;
      return false;
    }
    fail_found("True or False for '" + key + "'");
  }

  std::vector<std::size_t> parse_shape() {
    expect('(', "a tuple for 'shape'");
    std::vector<std::size_t> shape;
    skip_space();
    while (!consume(')')) {
      shape.push_back(parse_dimension());
      skip_space();
      if (consume(',')) {
        skip_space();
      } else if (peek() != ')') {
        fail_found("',' or ')' in 'shape'");
      }
    }
    return shape;
  }

  std::size_t parse_dimension() {
    const std::size_t start = pos_;
    std::size_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::size_t>(text_[pos_] - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("dimension in 'shape' is too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail_found("a non-negative integer in 'shape'");
    // Files written under Python 2 spell long integers with a suffix, e.g. (10L, 10L).
    if (peek() == 'L' || peek() == 'l') ++pos_;
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  const fs::path& path_;
};

enum class Kind { Float, Signed, Unsigned, Bool };

struct Dtype {
  Kind kind;
  std::size_t itemsize;
  bool swap;  // file byte order differs from the host's
};

Dtype parse_dtype(const std::string& descr, const fs::path& path) {
  std::string_view rest = descr;
  char order = '=';
  if (!rest.empty() && std::string_view("<>|=").find(rest.front()) != std::string_view::npos) {
    order = rest.front();
    rest.remove_prefix(1);
  }
  const char kind_char = rest.empty() ? '\0' : rest.front();
  if (kind_char == 'O') fail(path, "object arrays (dtype '" + descr + "') are not supported");
  const std::string_view size_text = rest.empty() ? rest : rest.substr(1);
  std::size_t size = 0;
  const bool size_ok = !size_text.empty() && size_text.size() <= 2 &&
                       std::all_of(size_text.begin(), size_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (size_ok)
    for (const char c : size_text) size = size * 10 + static_cast<std::size_t>(c - '0');

  const auto one_of = [size](std::initializer_list<std::size_t> sizes) {
    return std::find(sizes.begin(), sizes.end(), size) != sizes.end();
  };
  std::optional<Kind> kind;
  if (size_ok) {
    if (kind_char == 'f' && one_of({4, 8})) kind = Kind::Float;
    if (kind_char == 'i' && one_of({1, 2, 4, 8})) kind = Kind::Signed;
    if (kind_char == 'u' && one_of({1, 2, 4, 8})) kind = Kind::Unsigned;
    if (kind_char == 'b' && size == 1) kind = Kind::Bool;
  }
  if (!kind)
    fail(path,
         "unsupported dtype '" + escape(descr) + "' (expected one of <f4 <f8 <i1 <i2 <i4 <i8 <u1 <u2 <u4 <u8 |b1)");

  // Byte order is meaningless for single bytes, and numpy writes them with '|'.
  bool little = true;
  if (size > 1) {
    const bool native_little = std::endian::native == std::endian::little;
    little = order == '<' || (order != '>' && native_little);
  }
  if (!little)
    fail(path, "big-endian dtype '" + descr + "' is not supported (expected little-endian '<' or native '=')");
  return Dtype{*kind, size, std::endian::native != std::endian::little};
}

template <typename T>
void decode(const unsigned char* src, std::size_t count, bool swap, double* dst) {
  unsigned char buf[sizeof(T)];
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(buf, src + i * sizeof(T), sizeof(T));
    if (swap) std::reverse(buf, buf + sizeof(T));
    T value;
    std::memcpy(&value, buf, sizeof(T));
    dst[i] = static_cast<double>(value);
  }
}

void decode(const Dtype& dt, const unsigned char* src, std::size_t count, double* dst) {
  switch (dt.kind) {
    case Kind::Float:
      if (dt.itemsize == 4) return decode<float>(src, count, dt.swap, dst);
      return decode<double>(src, count, dt.swap, dst);
    case Kind::Signed:
      if (dt.itemsize == 1) return decode<std::int8_t>(src, count, dt.swap, dst);
      if (dt.itemsize == 2) return decode<std::int16_t>(src, count, dt.swap, dst);
      if (dt.itemsize == 4) return decode<std::int32_t>(src, count, dt.swap, dst);
      return decode<std::int64_t>(src, count, dt.swap, dst);
    case Kind::Unsigned:
      if (dt.itemsize == 1) return decode<std::uint8_t>(src, count, dt.swap, dst);
      if (dt.itemsize == 2) return decode<std::uint16_t>(src, count, dt.swap, dst);
      if (dt.itemsize == 4) return decode<std::uint32_t>(src, count, dt.swap, dst);
      return decode<std::uint64_t>(src, count, dt.swap, dst);
    case Kind::Bool:
      // numpy stores 0/1, but any non-zero byte is True to numpy as well.
      for (std::size_t i = 0; i < count; ++i) dst[i] = src[i] != 0 ? 1.0 : 0.0;
      return;
  }
}

std::vector<double> fortran_to_c_order(const std::vector<double>& f, const std::vector<std::size_t>& shape) {
  const std::size_t n = shape.size();
  if (n < 2 || f.empty()) return f;
  std::vector<std::size_t> stride(n, 1);
  for (std::size_t k = 1; k < n; ++k) stride[k] = stride[k - 1] * shape[k - 1];
  std::vector<std::size_t> index(n, 0);
  std::vector<double> c(f.size());
  std::size_t offset = 0;
  for (double& value : c) {
    value = f[offset];
    for (std::size_t k = n; k-- > 0;) {
      if (++index[k] < shape[k]) {
        offset += stride[k];
        break;
      }
      offset -= (shape[k] - 1) * stride[k];
      index[k] = 0;
    }
  }
  return c;
}

std::size_t read_le(std::string_view bytes) {
  std::size_t v = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

void append_le(std::string& out, std::size_t value, std::size_t nbytes) {
  for (std::size_t i = 0; i < nbytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

std::string make_header(std::string_view descr, const std::vector<std::size_t>& shape) {
  const std::string dict =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + format_shape(shape) + ", }";
  const auto padded_total = [&](std::size_t preamble) {
    const std::size_t unpadded = preamble + dict.size() + 1;  // + the closing '\n'
    return (unpadded + kDataAlignment - 1) / kDataAlignment * kDataAlignment;
  };
  // Version 1.0 whenever the header fits its 16-bit length, as numpy does; 2.0 otherwise.
  const bool v1 = padded_total(kPreambleV1) - kPreambleV1 <= 0xffff;
  const std::size_t preamble = v1 ? kPreambleV1 : kPreambleV2;
  const std::size_t total = padded_total(preamble);
  const std::size_t header_len = total - preamble;

  std::string out(kMagic);
  out += static_cast<char>(v1 ? 1 : 2);
  out += static_cast<char>(0);
  append_le(out, header_len, v1 ? 2 : 4);
  out += dict;
  out.append(total - out.size() - 1, ' ');
  out += '\n';
  return out;
}

template <typename T>
constexpr std::string_view descr_of();
template <>
constexpr std::string_view descr_of<float>() {
  return "<f4";
}
template <>
constexpr std::string_view descr_of<double>() {
  return "<f8";
}

}  // namespace

NpyArray read_npy(const fs::path& path) {
  const std::string bytes = read_file(path);
  const std::string_view view = bytes;

  const std::size_t magic_seen = std::min(view.size(), kMagic.size());
  if (view.substr(0, magic_seen) != kMagic.substr(0, magic_seen))
    fail(path, "bad magic: expected the file to start with \\x93NUMPY, found '" + escape(view.substr(0, 6)) + "'");
  if (view.size() < kPreambleV1)
    fail(path, "truncated header: the file has only " + std::to_string(view.size()) + " bytes");

  const auto major = static_cast<unsigned char>(view[6]);
  const auto minor = static_cast<unsigned char>(view[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(path, "unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (expected 1.0, 2.0 or 3.0)");
  const std::size_t preamble = major == 1 ? kPreambleV1 : kPreambleV2;
  if (view.size() < preamble)
    fail(path, "truncated header: the file has only " + std::to_string(view.size()) + " bytes");
  const std::size_t header_len = read_le(view.substr(8, preamble - 8));
  if (header_len > view.size() - preamble)
    fail(path, "truncated header: expected " + std::to_string(header_len) + " header bytes, found " +
                   std::to_string(view.size() - preamble));

  // Version 3.0 only changes the header's encoding to UTF-8; every legal key and value
  // is ASCII, so one parser serves all versions.
  const Header header = HeaderParser(view.substr(preamble, header_len), path).parse();
  const Dtype dtype = parse_dtype(header.descr, path);

  const auto count = checked_product(header.shape);
  const auto needed = count ? checked_product(header.shape, dtype.itemsize) : std::nullopt;
  if (!needed) fail(path, "shape " + format_shape(header.shape) + " is too large");
  const std::size_t data_start = preamble + header_len;
  const std::size_t found = view.size() - data_start;
  if (found != *needed)
    fail(path, std::string(found < *needed ? "data is truncated" : "unexpected trailing bytes after the data") +
                   ": shape " + format_shape(header.shape) + " of '" + header.descr + "' needs " +
                   std::to_string(*needed) + " bytes, found " + std::to_string(found));

  NpyArray array;
  array.shape = header.shape;
  array.descr = header.descr;
  array.data.resize(*count);
  decode(dtype, reinterpret_cast<const unsigned char*>(view.data() + data_start), *count, array.data.data());
  if (header.fortran_order) array.data = fortran_to_c_order(array.data, array.shape);
  return array;
}

template <typename T>
void write_npy(const fs::path& path, const T* data, const std::vector<std::size_t>& shape) {
  const auto count = checked_product(shape);
  const auto nbytes = count ? checked_product(shape, sizeof(T)) : std::nullopt;
  if (!nbytes) throw Error("cannot write '" + path.string() + "': shape " + format_shape(shape) + " is too large");
  EQAUG_CHECK(data != nullptr || *count == 0, "write_npy given no data for a non-empty shape");

  std::string contents = make_header(descr_of<T>(), shape);
  const std::size_t data_start = contents.size();
  contents.resize(data_start + *nbytes);
  if (*nbytes > 0) std::memcpy(contents.data() + data_start, data, *nbytes);
  if constexpr (std::endian::native != std::endian::little) {
    for (std::size_t i = 0; i < *count; ++i) {
      char* item = contents.data() + data_start + i * sizeof(T);
      std::reverse(item, item + sizeof(T));
    }
  }
  write_file_atomic(path, contents);
}

template void write_npy<float>(const fs::path&, const float*, const std::vector<std::size_t>&);
template void write_npy<double>(const fs::path&, const double*, const std::vector<std::size_t>&);

void write_npy(const fs::path& path, const NpyArray& array) {
  const auto count = checked_product(array.shape);
  if (!count || *count != array.data.size())
    throw Error("cannot write '" + path.string() + "': shape " + format_shape(array.shape) + " needs " +
                (count ? std::to_string(*count) : std::string("too many")) + " values, found " +
                std::to_string(array.data.size()));
  write_npy<double>(path, array.data.data(), array.shape);
}

}  // namespace eqaug::io
