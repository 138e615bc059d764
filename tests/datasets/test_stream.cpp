// H5RowSource: the streamed rows equal read_matrix's for every block size and
// alignment; sampled reads; memory-limit and mid-pass read errors.
#include <cmath>
#include <cstring>
#include <random>

#include "h5test.hpp"

namespace pkd = personakit::datasets;
using pktest::expect_error;

namespace {

class Stream : public pktest::TempDirTest {};

constexpr std::size_t kOver = pkd::H5RowSource::kOverheadBytes;

using pktest::Pass;
using pktest::run_pass;

TEST_F(Stream, SameRowsAsReadMatrixForEveryLimitAndAlignment) {
  const std::size_t n = 10007, d = 7;  // n prime: no block size divides it
  auto x = pktest::pattern(n, d);
  const std::string p = path("s.h5");
  pkd::write_matrix(p, x.data(), n, d);
  const auto whole = pkd::read_matrix(p);
  const std::size_t row_bytes = 2 * 4 * d;  // the documented formula
  for (std::size_t rows_per_block : {std::size_t(1), std::size_t(100), std::size_t(999), std::size_t(4096), n + 5}) {
    const std::size_t limit = kOver + row_bytes * rows_per_block;
    pkd::H5RowSource src(p, "/features", limit);
    EXPECT_EQ(src.block_rows(), std::min(rows_per_block, n));
    EXPECT_EQ(src.rows(), n);
    EXPECT_EQ(src.cols(), d);
    for (std::size_t align : {std::size_t(1), std::size_t(64), std::size_t(100), std::size_t(1000)}) {
      SCOPED_TRACE("block rows " + std::to_string(rows_per_block) + ", align " + std::to_string(align));
      if (align > rows_per_block && rows_per_block < n) {
        expect_error([&] { run_pass(src, align); }, {p, "too small for one block of " + std::to_string(align) + " rows"});
        continue;
      }
      Pass ps = run_pass(src, align);
      EXPECT_EQ(ps.x, whole.x);
      std::size_t next = 0;
      for (std::size_t b = 0; b < ps.starts.size(); ++b) {
        EXPECT_EQ(ps.starts[b], next);
        EXPECT_GT(ps.sizes[b], 0u);
        if (b + 1 < ps.starts.size()) {
          EXPECT_EQ(ps.sizes[b] % align, 0u) << "block " << b;
        }
        next += ps.sizes[b];
      }
      EXPECT_EQ(next, n);
    }
  }
}

TEST_F(Stream, Float64AndTransformMatchReadMatrix) {
  const std::size_t n = 3000, d = 5;
  std::vector<double> x(n * d);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::fabs(std::cos(0.37 * static_cast<double>(i))) * 1e4;
  const std::string p = path("f64.h5");
  pktest::raw_dataset(p, "/X", H5T_IEEE_F64LE, {n, d}, x.data(), false, 128);
  pkd::Transform t;
  t.log1p_cols = {0, 3};
  t.scale = pkd::Transform::Scale::standard;
  t.center = {1, 2, 3, 4, 5};
  t.scale_by = {0.5, 2, 3, 4, 7};
  const auto whole = pkd::read_matrix(p, "/X", &t);
  pkd::H5RowSource src(p, "/X", kOver + 2 * 4 * d * 250, &t);
  EXPECT_EQ(src.info().dtype, "float64");
  EXPECT_EQ(run_pass(src, 50).x, whole.x);  // same apply(), same fp64 -> fp32 rounding
}

TEST_F(Stream, ReadRowsReturnsTheIndexedRows) {
  const std::size_t n = 70001, d = 16;  // 1 MiB chunks of 16384 rows: 5 chunks, the last partial
  auto x = pktest::pattern(n, d);
  const std::string p = path("r.h5");
  pkd::write_matrix(p, x.data(), n, d);
  std::vector<std::uint64_t> idx = {0, 1, 2, 5, 5, 4095, 4096, 30000, 69999, 70000};
  std::mt19937_64 rng(5);
  for (int i = 0; i < 500; ++i) idx.push_back(rng() % n);
  std::sort(idx.begin(), idx.end());
  for (std::size_t rows_per_block : {std::size_t(1), std::size_t(37), std::size_t(100000)}) {
    pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * rows_per_block);
    std::vector<float> out(idx.size() * d, -1.f);
    src.read_rows(idx.data(), idx.size(), out.data());
    for (std::size_t q = 0; q < idx.size(); ++q)
      for (std::size_t j = 0; j < d; ++j) ASSERT_EQ(out[q * d + j], x[idx[q] * d + j]) << "row " << idx[q];
  }
  pkd::H5RowSource src(p, "/features", 64 << 20);
  std::uint64_t bad = n;
  std::vector<float> out(d);
  expect_error([&] { src.read_rows(&bad, 1, out.data()); }, {p, "out of range"});
}

TEST_F(Stream, MemoryLimitTooSmallIsAnError) {
  auto x = pktest::pattern(10, 16);
  pkd::write_matrix(path("m.h5"), x.data(), 10, 16);
  // One row needs 2 MiB + 2 buffers x 4 bytes x 16 columns = 2 MiB + 128 bytes.
  expect_error([&] { pkd::H5RowSource(path("m.h5"), "/features", kOver + 127); },
               {path("m.h5"), "too small", "needs at least " + std::to_string(kOver + 128)});
  pkd::H5RowSource ok(path("m.h5"), "/features", kOver + 128);
  EXPECT_EQ(ok.block_rows(), 1u);
  expect_error([&] { pkd::H5RowSource::block_rows_for(1000, 10, 16); }, {"too small"});
  // Capped at 32 MiB of fp32 per block: 32 MiB / (4 x 16) = 524288 rows.
  EXPECT_EQ(pkd::H5RowSource::block_rows_for(std::size_t(1) << 30, 1u << 30, 16), 524288u);
  EXPECT_EQ(pkd::H5RowSource::block_rows_for(std::size_t(1) << 30, 1000, 16), 1000u);
  EXPECT_EQ(pkd::H5RowSource::block_rows_for(std::size_t(1) << 30, 10, 1u << 24), 1u);
}

TEST_F(Stream, CallbackExceptionsPropagateAndTheSourceStaysUsable) {
  const std::size_t n = 1000, d = 2;
  auto x = pktest::pattern(n, d);
  pkd::write_matrix(path("c.h5"), x.data(), n, d);
  pkd::H5RowSource src(path("c.h5"), "/features", kOver + 2 * 4 * d * 64);
  std::size_t seen = 0;
  EXPECT_THROW(src.for_each_block(1,
                                  [&](const float*, std::size_t r0, std::size_t nr) {
                                    seen = r0 + nr;
                                    if (r0 >= 192) throw std::runtime_error("stop");
                                  }),
               std::runtime_error);
  EXPECT_EQ(seen, 256u);  // the fourth 64-row block threw
  EXPECT_EQ(run_pass(src, 1).x, x);
}

TEST_F(Stream, CorruptDataMidPassIsAnErrorNamingFileAndRows) {
  // A deflate-compressed file with 100-row chunks; chunk 5 (rows 500..599) is
  // overwritten with zeros, which is not a valid zlib stream: HDF5 fails on it
  // in the middle of the pass, after rows 0..383 have been delivered.
  const std::size_t n = 1000, d = 4;
  auto x = pktest::pattern(n, d);
  const std::string p = path("bad.h5");
  pktest::raw_dataset(p, "/features", H5T_IEEE_F32LE, {n, d}, x.data(), false, 100, true);
  haddr_t addr = 0;
  hsize_t size = 0;
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/features", H5P_DEFAULT);
    hsize_t off[2];
    unsigned mask;
    hid_t fs = H5Dget_space(ds);
    ASSERT_GE(H5Dget_chunk_info(ds, fs, 5, off, &mask, &addr, &size), 0);
    H5Sclose(fs);
    EXPECT_EQ(off[0], 500u);
    H5Dclose(ds);
    H5Fclose(f);
  }
  {
    std::fstream io(p, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(addr));
    std::vector<char> zeros(size, 0);
    io.write(zeros.data(), static_cast<std::streamsize>(size));
  }
  pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 128);
  std::size_t delivered = 0;
  expect_error(
      [&] {
        src.for_each_block(1, [&](const float* b, std::size_t r0, std::size_t nr) {
          EXPECT_EQ(0, std::memcmp(b, x.data() + r0 * d, nr * d * 4));
          delivered = r0 + nr;
        });
      },
      {p + ":/features: cannot read rows 384..511"});
  EXPECT_EQ(delivered, 384u);
  expect_error([&] { pkd::read_matrix(p); }, {p, "cannot read rows"});
}

TEST_F(Stream, TruncatedFileCannotBeStreamed) {
  const std::size_t n = 50000, d = 8;
  auto x = pktest::pattern(n, d);
  const std::string p = path("t.h5");
  pkd::write_matrix(p, x.data(), n, d);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) * 3 / 4);
  expect_error([&] { pkd::H5RowSource(p, "/features", 64 << 20); }, {p, "truncated"});
}

}  // namespace
