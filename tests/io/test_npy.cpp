#include "eqaug/formats/npy.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using eqaug::io::NpyArray;
using eqaug::io::read_npy;
using eqaug::io::write_npy;

namespace {

// Little-endian bytes of each value, built explicitly so the expected files do not depend
// on the host's byte order.
template <typename T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out;
  for (const T v : values) {
    std::uint64_t bits = 0;
    if constexpr (sizeof(T) == 1) bits = std::bit_cast<std::uint8_t>(v);
    if constexpr (sizeof(T) == 2) bits = std::bit_cast<std::uint16_t>(v);
    if constexpr (sizeof(T) == 4) bits = std::bit_cast<std::uint32_t>(v);
    if constexpr (sizeof(T) == 8) bits = std::bit_cast<std::uint64_t>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  return out;
}

// A .npy file with the given header dict text, padded as numpy pads it.
std::string npy_bytes(int major, const std::string& dict, const std::string& data) {
  const std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < preamble - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

class Npy : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() /
           ("eqaug-npy-" + test + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path put(const std::string& name, const std::string& bytes) const {
    eqaug::io::write_file_atomic(dir_ / name, bytes);
    return dir_ / name;
  }

  // Reads `bytes` as a file and expects an eqaug::Error naming the file and saying `why`.
  void expect_rejected(const std::string& name, const std::string& bytes, const std::string& why) const {
    const fs::path path = put(name, bytes);
    try {
      read_npy(path);
      ADD_FAILURE() << name << ": expected eqaug::Error mentioning '" << why << "'";
    } catch (const eqaug::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find(why), std::string::npos) << msg;
    }
  }

  fs::path dir_;
};

template <typename T>
void check_round_trip(const fs::path& dir, const std::vector<std::size_t>& shape, const std::string& descr) {
  std::size_t count = 1;
  for (const std::size_t s : shape) count *= s;
  std::vector<T> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<T>(0.37 * static_cast<double>(i) - 1.5);
  const fs::path path = dir / ("rt" + descr.substr(1) + "-" + std::to_string(shape.size()) + "d.npy");
  write_npy(path, values.data(), shape);

  const NpyArray a = read_npy(path);
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.descr, descr);
  ASSERT_EQ(a.size(), count);
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(a.data[i], static_cast<double>(values[i])) << "at " << i;

  // numpy's layout: version 1.0, data on a 64-byte boundary, header closed by '\n'.
  const std::string bytes = eqaug::io::read_file(path);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes[6], '\x01');
  EXPECT_EQ(bytes[7], '\x00');
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_EQ(bytes.size(), 10 + header_len + count * sizeof(T));
}

}  // namespace

TEST_F(Npy, RoundTripsFloatAndDoubleFrom0dTo4d) {
  const std::vector<std::vector<std::size_t>> shapes = {{}, {5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}};
  for (const auto& shape : shapes) {
    SCOPED_TRACE(::testing::Message() << "rank " << shape.size());
    check_round_trip<float>(dir_, shape, "<f4");
    check_round_trip<double>(dir_, shape, "<f8");
  }
}

TEST_F(Npy, RoundTripsEmptyArray) { check_round_trip<double>(dir_, {0, 3}, "<f8"); }

TEST_F(Npy, WritesNumpysHeaderText) {
  const double values[] = {1, 2, 3, 4, 5, 6};
  write_npy(dir_ / "m.npy", values, {2, 3});
  const std::string bytes = eqaug::io::read_file(dir_ / "m.npy");
  std::string expected_header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  // 10 + 60 + 1 bytes round up to 128, as in the authors' files written by numpy.
  expected_header += std::string(128 - 10 - expected_header.size() - 1, ' ') + "\n";
  EXPECT_EQ(bytes.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(bytes.substr(10, 118), expected_header);
  EXPECT_EQ(bytes.substr(128), le_bytes(std::vector<double>{1, 2, 3, 4, 5, 6}));

  write_npy(dir_ / "v.npy", values, {6});
  EXPECT_NE(eqaug::io::read_file(dir_ / "v.npy").find("'shape': (6,), }"), std::string::npos);
}

TEST_F(Npy, WritesNpyArrayAsDouble) {
  const NpyArray in{{3}, {0.5, -2.0, 1e300}, "<f8"};
  write_npy(dir_ / "a.npy", in);
  const NpyArray out = read_npy(dir_ / "a.npy");
  EXPECT_EQ(out.shape, in.shape);
  EXPECT_EQ(out.data, in.data);
  EXPECT_EQ(out.descr, "<f8");
}

TEST_F(Npy, WriteRejectsDataNotMatchingShape) {
  const NpyArray bad{{2, 3}, {1, 2, 3, 4, 5}, "<f8"};
  try {
    write_npy(dir_ / "bad-shape.npy", bad);
    ADD_FAILURE() << "expected eqaug::Error";
  } catch (const eqaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad-shape.npy"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad-shape.npy"));
}

TEST_F(Npy, ReadsVersion1IntegerAndBoolDtypes) {
  {
    const NpyArray a =
        read_npy(put("i1.npy", npy_bytes(1, dict("|i1", "(4,)"), le_bytes<std::int8_t>({-128, -1, 0, 127}))));
    EXPECT_EQ(a.shape, (std::vector<std::size_t>{4}));
    EXPECT_EQ(a.data, (std::vector<double>{-128, -1, 0, 127}));
    EXPECT_EQ(a.descr, "|i1");
  }
  {
    const NpyArray a = read_npy(put("u1.npy", npy_bytes(1, dict("|u1", "(3,)"), le_bytes<std::uint8_t>({0, 255, 7}))));
    EXPECT_EQ(a.data, (std::vector<double>{0, 255, 7}));
  }
  {
    const std::vector<std::int64_t> v = {-(std::int64_t{1} << 40), 3, std::int64_t{1} << 53};
    const NpyArray a = read_npy(put("i8.npy", npy_bytes(1, dict("<i8", "(3,)"), le_bytes(v))));
    EXPECT_EQ(a.data, (std::vector<double>{-1099511627776.0, 3.0, 9007199254740992.0}));
  }
  {
    const NpyArray a =
        read_npy(put("b1.npy", npy_bytes(1, dict("|b1", "(2, 2)"), le_bytes<std::uint8_t>({1, 0, 0, 1}))));
    EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 2}));
    EXPECT_EQ(a.data, (std::vector<double>{1, 0, 0, 1}));
  }
  {
    const NpyArray a =
        read_npy(put("f4.npy", npy_bytes(1, dict("<f4", "(3,)"), le_bytes<float>({1.5f, -0.25f, 3e38f}))));
    EXPECT_EQ(a.data, (std::vector<double>{1.5, -0.25, static_cast<double>(3e38f)}));
  }
  {
    const NpyArray a = read_npy(put("i2.npy", npy_bytes(1, dict("<i2", "(2,)"), le_bytes<std::int16_t>({-300, 300}))));
    EXPECT_EQ(a.data, (std::vector<double>{-300, 300}));
  }
  {
    const NpyArray a =
        read_npy(put("i4.npy", npy_bytes(1, dict("<i4", "(2,)"), le_bytes<std::int32_t>({-70000, 70000}))));
    EXPECT_EQ(a.data, (std::vector<double>{-70000, 70000}));
  }
  {
    const NpyArray a = read_npy(put("u2.npy", npy_bytes(1, dict("<u2", "(1,)"), le_bytes<std::uint16_t>({65535}))));
    EXPECT_EQ(a.data, (std::vector<double>{65535}));
  }
  {
    const NpyArray a =
        read_npy(put("u4.npy", npy_bytes(1, dict("<u4", "(1,)"), le_bytes<std::uint32_t>({4000000000u}))));
    EXPECT_EQ(a.data, (std::vector<double>{4000000000.0}));
  }
  {
    const NpyArray a =
        read_npy(put("u8.npy", npy_bytes(1, dict("<u8", "(1,)"), le_bytes<std::uint64_t>({1ull << 63}))));
    EXPECT_EQ(a.data, (std::vector<double>{9223372036854775808.0}));
  }
}

TEST_F(Npy, ReadsVersion2HeaderWithOtherKeyOrderAndQuoting) {
  const std::string header = R"({"shape":(3,),"fortran_order":False,"descr":"<f8"})";
  const NpyArray a = read_npy(put("v2.npy", npy_bytes(2, header, le_bytes<double>({1, 2, 3}))));
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{3}));
  EXPECT_EQ(a.data, (std::vector<double>{1, 2, 3}));
}

TEST_F(Npy, ReadsVersion3Header) {
  const NpyArray a = read_npy(put("v3.npy", npy_bytes(3, dict("<i4", "(2,)"), le_bytes<std::int32_t>({5, -6}))));
  EXPECT_EQ(a.data, (std::vector<double>{5, -6}));
}

TEST_F(Npy, ParsesLooseShapeSpelling) {
  const std::string header = "{ 'fortran_order' :False , 'descr':'<u1',\t'shape' : ( 2 , 3 , ) }";
  const NpyArray a = read_npy(put("loose.npy", npy_bytes(1, header, std::string(6, '\x01'))));
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));

  // Python 2 numpy wrote long integers with an L suffix.
  const NpyArray b = read_npy(put("py2.npy", npy_bytes(1, dict("<u1", "(2L, 3L)"), std::string(6, '\x01'))));
  EXPECT_EQ(b.shape, (std::vector<std::size_t>{2, 3}));
}

TEST_F(Npy, NativeByteOrderMeansLittleEndian) {
  const NpyArray a = read_npy(put("native.npy", npy_bytes(1, dict("=f8", "(2,)"), le_bytes<double>({0.5, 4}))));
  EXPECT_EQ(a.data, (std::vector<double>{0.5, 4}));
  const NpyArray b = read_npy(put("native-i.npy", npy_bytes(1, dict("=i2", "(1,)"), le_bytes<std::int16_t>({-2}))));
  EXPECT_EQ(b.data, (std::vector<double>{-2}));
}

TEST_F(Npy, ReadsZeroDimensionalArray) {
  const NpyArray a = read_npy(put("scalar.npy", npy_bytes(1, dict("<i8", "()"), le_bytes<std::int64_t>({42}))));
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.data, (std::vector<double>{42}));
}

TEST_F(Npy, FortranOrderIsConvertedToCOrder) {
  // The matrix [[0, 1, 2], [3, 4, 5]] stored column by column.
  const NpyArray m =
      read_npy(put("fortran.npy", npy_bytes(1, dict("<f8", "(2, 3)", true), le_bytes<double>({0, 3, 1, 4, 2, 5}))));
  EXPECT_EQ(m.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(m.data, (std::vector<double>{0, 1, 2, 3, 4, 5}));

  // A 2x3x4 array with a[i][j][k] = 100i + 10j + k: the first index varies fastest on disk.
  std::vector<std::int16_t> column_major;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) column_major.push_back(static_cast<std::int16_t>(100 * i + 10 * j + k));
  const NpyArray t =
      read_npy(put("fortran3.npy", npy_bytes(1, dict("<i2", "(2, 3, 4)", true), le_bytes(column_major))));
  ASSERT_EQ(t.size(), 24u);
  std::size_t n = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(t.data[n++], 100 * i + 10 * j + k);
}

TEST_F(Npy, RejectsMissingFile) {
  try {
    read_npy(dir_ / "never-written.npy");
    ADD_FAILURE() << "expected eqaug::Error";
  } catch (const eqaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("never-written.npy"), std::string::npos) << e.what();
  }
}

TEST_F(Npy, RejectsBadMagic) {
  std::string zip = npy_bytes(1, dict("<f8", "(1,)"), le_bytes<double>({1}));
  zip.replace(0, 4, "PK\x03\x04");
  expect_rejected("zip.npy", zip, "magic");
  expect_rejected("text.npy", "hello", "magic");
}

TEST_F(Npy, RejectsTruncatedHeader) {
  expect_rejected("tiny.npy", std::string("\x93NUMPY\x01", 7), "truncated header");
  const std::string full = npy_bytes(1, dict("<f8", "(1,)"), "");
  expect_rejected("cut.npy", full.substr(0, 40), "truncated header");
  expect_rejected("cut-v2.npy", npy_bytes(2, dict("<f8", "(1,)"), "").substr(0, 11), "truncated header");
}

TEST_F(Npy, RejectsUnsupportedVersion) {
  std::string bytes = npy_bytes(1, dict("<f8", "(1,)"), le_bytes<double>({1}));
  bytes[6] = '\x04';
  expect_rejected("v4.npy", bytes, "version 4.0");
}

TEST_F(Npy, RejectsUnsupportedDtypeNamingIt) {
  expect_rejected("complex.npy", npy_bytes(1, dict("<c16", "(1,)"), std::string(16, '\0')), "<c16");
  expect_rejected("half.npy", npy_bytes(1, dict("<f2", "(1,)"), std::string(2, '\0')), "<f2");
  expect_rejected("string.npy", npy_bytes(1, dict("|S3", "(1,)"), "abc"), "|S3");
  expect_rejected(
      "structured.npy",
      npy_bytes(1, "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
      "structured");
}

TEST_F(Npy, RejectsBigEndian) {
  expect_rejected("big.npy", npy_bytes(1, dict(">f8", "(1,)"), std::string(8, '\0')), "big-endian");
  expect_rejected("big-int.npy", npy_bytes(1, dict(">i4", "(1,)"), std::string(4, '\0')), "big-endian");
}

TEST_F(Npy, RejectsObjectArrays) {
  expect_rejected("object.npy", npy_bytes(1, dict("|O", "(1,)"), std::string(8, '\0')), "object");
}

TEST_F(Npy, RejectsShortData) {
  expect_rejected("short.npy", npy_bytes(1, dict("<f8", "(2, 3)"), std::string(40, '\0')), "truncated");
  expect_rejected("short-0d.npy", npy_bytes(1, dict("<f8", "()"), ""), "truncated");
}

TEST_F(Npy, RejectsTrailingBytes) {
  expect_rejected("long.npy", npy_bytes(1, dict("<f8", "(2,)"), std::string(17, '\0')), "trailing");
}

TEST_F(Npy, RejectsMalformedHeaderDict) {
  expect_rejected("no-shape.npy", npy_bytes(1, "{'descr': '<f8', 'fortran_order': False}", ""), "'shape' is missing");
  expect_rejected("extra-key.npy", npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}", ""),
                  "unexpected key 'x'");
  expect_rejected("negative.npy", npy_bytes(1, dict("<f8", "(-1,)"), ""), "non-negative integer");
  expect_rejected("not-dict.npy", npy_bytes(1, "['<f8']", ""), "'{'");
  expect_rejected("bad-bool.npy", npy_bytes(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (), }", ""),
                  "True or False");
  expect_rejected("twice.npy",
                  npy_bytes(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}", ""),
                  "appears twice");
  expect_rejected("unterminated.npy", npy_bytes(1, "{'descr: <f8, 'fortran_order': False, 'shape': ()}", ""),
                  "expected ':'");
}

TEST_F(Npy, ReadsAuthorsStochasticBlockModelGraph) {
  const fs::path root = fs::path(EQAUG_REFERENCE_DATA) / "stoch_block";
  if (!fs::is_directory(root)) GTEST_SKIP() << "reference data not found at " << root;

  const NpyArray graph = read_npy(root / "graphmat0.npy");
  ASSERT_EQ(graph.shape, (std::vector<std::size_t>{10, 10}));
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(graph.data[i * 10 + i], 0.0) << "diagonal at " << i;
    for (std::size_t j = 0; j < 10; ++j) {
      const double v = graph.data[i * 10 + j];
      EXPECT_TRUE(v == 0.0 || v == 1.0) << "entry (" << i << ", " << j << ") = " << v;
      EXPECT_EQ(v, graph.data[j * 10 + i]) << "asymmetric at (" << i << ", " << j << ")";
    }
  }

  // numpy wrote this file, so our writer must reproduce it byte for byte.
  write_npy(dir_ / "graphmat0.npy", graph);
  EXPECT_EQ(eqaug::io::read_file(dir_ / "graphmat0.npy"), eqaug::io::read_file(root / "graphmat0.npy"));

  const NpyArray label = read_npy(root / "graphlabel0.npy");
  EXPECT_TRUE(label.shape.empty());
  ASSERT_EQ(label.size(), 1u);
  EXPECT_TRUE(label.data[0] == 0.0 || label.data[0] == 1.0) << label.data[0];
}

// Issue 16, item 18: a named pipe given as a .npy used to block forever in open(), and a
// link to /dev/zero was read until memory ran out. Only regular files are read.
TEST_F(Npy, RefusesNamedPipesAndDevicesBeforeOpeningThem) {
  const fs::path fifo = dir_ / "images.npy";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string what;
  try {
    eqaug::io::read_npy(fifo);
  } catch (const eqaug::Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("named pipe"), std::string::npos) << what;
  EXPECT_NE(what.find("images.npy"), std::string::npos) << what;
  const fs::path zero = dir_ / "A0.npy";
  fs::create_symlink("/dev/zero", zero);
  what.clear();
  try {
    eqaug::io::read_npy(zero);
  } catch (const eqaug::Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("a device"), std::string::npos) << what;
}
