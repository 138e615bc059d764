// Test helpers: a per-test temporary directory and raw HDF5 writers for the
// malformed inputs the library must reject.
#pragma once
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"

namespace pktest {

namespace fs = std::filesystem;

// A fresh directory under ::testing::TempDir(), removed with everything in it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("pk_datasets_") + info->test_suite_name() + "_" + info->name() + "_" +
                       std::to_string(::getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = fs::path(::testing::TempDir()) / name;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& f) const { return (dir_ / f).string(); }
  // Names of the files in the directory (to check that nothing was left behind).
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  fs::path dir_;
};

// Writes one dataset of the given type and shape into a new file (or appends).
inline void raw_dataset(const std::string& file, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                        const void* data, bool append = false, hsize_t chunk_rows = 0, bool deflate = false) {
  hid_t f = append ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                   : H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t sp = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk_rows) {
    std::vector<hsize_t> ch = dims;
    ch[0] = chunk_rows;
    H5Pset_chunk(dcpl, static_cast<int>(ch.size()), ch.data());
    if (deflate) H5Pset_deflate(dcpl, 1);
  }
  hid_t d = H5Dcreate2(f, name.c_str(), type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  hsize_t total = 1;
  for (auto x : dims) total *= x;
  if (total > 0 && data) {
    ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  }
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Fclose(f);
}

inline std::string slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Expects a personakit::Error whose message contains every fragment.
template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one containing '" << fragments.at(0) << "'";
  } catch (const personakit::Error& e) {
    std::string msg = e.what();
    if (std::getenv("PK_SHOW_ERRORS")) std::printf("  error: %s\n", msg.c_str());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "error is not one line: " << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

// Deterministic pseudo-random data (an LCG: values depend only on i).
inline std::vector<float> pattern(std::size_t n, std::size_t d, std::uint32_t salt = 1) {
  std::vector<float> x(n * d);
  std::uint64_t s = 0x1234567ULL * salt + 99;
  for (auto& v : x) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<float>(static_cast<double>(s >> 40) / 16777216.0 * 20.0 - 5.0);
  }
  return x;
}

// The rows and block boundaries of one streamed pass.
struct Pass {
  std::vector<float> x;
  std::vector<std::size_t> starts, sizes;
};

inline Pass run_pass(personakit::datasets::H5RowSource& src, std::size_t align) {
  Pass p;
  src.for_each_block(align, [&](const float* x, std::size_t r0, std::size_t nr) {
    p.starts.push_back(r0);
    p.sizes.push_back(nr);
    p.x.insert(p.x.end(), x, x + nr * src.cols());
  });
  return p;
}

}  // namespace pktest
