// H5RowSource's direct readers (pread, mmap) against its HDF5 reader: the same
// bytes, block boundaries that keep align_rows, the same errors, fallback to HDF5
// for what cannot be read directly, and a file truncated under an open source.
#include <cmath>
#include <cstring>
#include <functional>

#include "h5test.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"

namespace pkd = personakit::datasets;
using pktest::expect_error;
using Reader = pkd::H5RowSource::Reader;

namespace {

class Direct : public pktest::TempDirTest {};

constexpr std::size_t kOver = pkd::H5RowSource::kOverheadBytes;

using pktest::Pass;
using pktest::run_pass;

// The RowSource contract: blocks in order, covering every row once, each but the
// last a multiple of align rows.
void expect_blocks(const Pass& p, std::size_t n, std::size_t align) {
  std::size_t next = 0;
  for (std::size_t b = 0; b < p.starts.size(); ++b) {
    EXPECT_EQ(p.starts[b], next);
    EXPECT_GT(p.sizes[b], 0u);
    if (b + 1 < p.starts.size()) {
      EXPECT_EQ(p.sizes[b] % align, 0u) << "block " << b;
    }
    next += p.sizes[b];
  }
  EXPECT_EQ(next, n);
}

std::string error_of(pkd::H5RowSource& src, std::size_t align) {
  try {
    run_pass(src, align);
  } catch (const personakit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A float32 dataset whose chunks are not adjacent in the file: each chunk of
// /features is written right after a chunk of /other, so the file interleaves them
// (chunks are allocated when first written).
void interleaved(const std::string& file, const std::vector<float>& x, std::size_t n, std::size_t d, hsize_t cr) {
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t dims[2] = {n, d}, chunk[2] = {cr, d};
  hid_t sp = H5Screate_simple(2, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  H5Pset_chunk_cache(dapl, 0, 0, 1.0);  // no chunk cache: each chunk is allocated as it is written
  hid_t a = H5Dcreate2(f, "/features", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, dapl);
  hid_t b = H5Dcreate2(f, "/other", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, dapl);
  for (hsize_t r0 = 0; r0 < n; r0 += cr) {
    hsize_t start[2] = {r0, 0}, count[2] = {std::min<hsize_t>(cr, n - r0), d};
    hid_t ms = H5Screate_simple(2, count, nullptr);
    for (hid_t ds : {b, a}) {
      hid_t fs = H5Dget_space(ds);
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr);
      ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, x.data() + r0 * d), 0);
      H5Sclose(fs);
    }
    H5Sclose(ms);
  }
  H5Dclose(a);
  H5Dclose(b);
  H5Pclose(dapl);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Fclose(f);
}

// Positive data (log1p needs x >= 0) in the layouts the direct readers handle.
struct Layout {
  std::string name;
  std::size_t n, d;
};

TEST_F(Direct, EveryReaderDeliversTheHdf5BytesInEveryLayout) {
  const std::size_t n = 5003, d = 6;  // n prime: the last block is partial
  auto x = pktest::pattern(n, d, 7);
  for (auto& v : x) v = std::fabs(v) * 100.f;
  const std::string contiguous = path("contiguous.h5"), own = path("own.h5"), inter = path("inter.h5"),
                    inter_odd = path("inter_odd.h5");
  pktest::raw_dataset(contiguous, "/features", H5T_IEEE_F32LE, {n, d}, x.data());
  pkd::write_matrix(own, x.data(), n, d);
  interleaved(inter, x, n, d, 512);   // chunk rows a multiple of the 64-row alignment below
  interleaved(inter_odd, x, n, d, 100);  // not a multiple of 64: straddling blocks are copied
  pkd::Transform t;
  t.log1p_cols = {1, 4};
  t.scale = pkd::Transform::Scale::standard;
  t.center = {1, 2, 3, 4, 5, 6};
  t.scale_by = {0.5, 2, 3, 4, 7, 9};
  for (const std::string& p : {contiguous, own, inter, inter_odd}) {
    for (const pkd::Transform* tp : {static_cast<const pkd::Transform*>(nullptr), static_cast<const pkd::Transform*>(&t)}) {
      for (std::size_t rows_per_block : {std::size_t(1000), std::size_t(1500), n}) {
        for (std::size_t align : {std::size_t(1), std::size_t(64), std::size_t(100)}) {
          SCOPED_TRACE(p + (tp ? " transform" : "") + ", block rows " + std::to_string(rows_per_block) + ", align " +
                       std::to_string(align));
          pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * rows_per_block, tp);
          EXPECT_EQ(src.direct_unavailable_reason(), "");
          EXPECT_EQ(src.reader(), Reader::pread);  // the automatic choice
          src.set_reader(Reader::hdf5);
          EXPECT_EQ(src.reader(), Reader::hdf5);
          const Pass ref = run_pass(src, align);
          expect_blocks(ref, n, align);
          const auto whole = pkd::read_matrix(p, "/features", tp);
          ASSERT_EQ(ref.x, whole.x);
          for (Reader r : {Reader::pread, Reader::mmap}) {
            src.set_reader(r);
            EXPECT_EQ(src.reader(), tp ? Reader::pread : r);  // a transform needs a writable copy
            const Pass got = run_pass(src, align);
            EXPECT_EQ(got.x, ref.x) << "reader " << static_cast<int>(r);
            expect_blocks(got, n, align);
            if (r == Reader::pread) {
              EXPECT_EQ(got.starts, ref.starts);  // same blocks as HDF5
            }
            if (r == Reader::mmap && !tp && p == inter && align == 64) {
              // Each 512-row chunk is its own stretch of the file: a block that
              // would straddle two ends where the stretch does (512 % 64 == 0).
              for (std::size_t s : got.sizes) EXPECT_LE(s, 512u);
            }
          }
        }
      }
    }
  }
}

TEST_F(Direct, OtherLayoutsAndTypesFallBackToHdf5) {
  const std::size_t n = 700, d = 5;
  auto x = pktest::pattern(n, d, 3);
  std::vector<double> x64(x.begin(), x.end());
  struct Case {
    std::string file, why;
    std::function<void(const std::string&)> make;
  };
  const std::vector<Case> cases = {
      {"f64.h5", "float64",
       [&](const std::string& p) { pktest::raw_dataset(p, "/features", H5T_IEEE_F64LE, {n, d}, x64.data(), false, 128); }},
      {"deflate.h5", "filtered",
       [&](const std::string& p) { pktest::raw_dataset(p, "/features", H5T_IEEE_F32LE, {n, d}, x.data(), false, 128, true); }},
      {"bigendian.h5", "little-endian",
       [&](const std::string& p) {
         // Written from native floats: HDF5 converts them to big-endian in the file.
         hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
         hsize_t dims[2] = {n, d};
         hid_t sp = H5Screate_simple(2, dims, nullptr);
         hid_t ds = H5Dcreate2(f, "/features", H5T_IEEE_F32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
         H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data());
         H5Dclose(ds);
         H5Sclose(sp);
         H5Fclose(f);
       }},
      {"partial_width.h5", "every column",
       [&](const std::string& p) {
         hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
         hsize_t dims[2] = {n, d}, chunk[2] = {64, 2};
         hid_t sp = H5Screate_simple(2, dims, nullptr);
         hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
         H5Pset_chunk(dcpl, 2, chunk);
         hid_t ds = H5Dcreate2(f, "/features", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
         H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data());
         H5Dclose(ds);
         H5Pclose(dcpl);
         H5Sclose(sp);
         H5Fclose(f);
       }},
      {"unwritten.h5", "not allocated",
       [&](const std::string& p) { pktest::raw_dataset(p, "/features", H5T_IEEE_F32LE, {n, d}, nullptr); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string p = path(c.file);
    c.make(p);
    pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 200);
    EXPECT_EQ(src.reader(), Reader::hdf5);
    EXPECT_NE(src.direct_unavailable_reason().find(c.why), std::string::npos) << src.direct_unavailable_reason();
    const Pass got = run_pass(src, 64);
    expect_blocks(got, n, 64);
    EXPECT_EQ(got.x, pkd::read_matrix(p).x);
    expect_error([&] { src.set_reader(Reader::pread); }, {p, "cannot read directly", c.why});
    expect_error([&] { src.set_reader(Reader::mmap); }, {p, "cannot read directly"});
  }
}

TEST_F(Direct, NonFiniteAndTransformErrorsMatchTheHdf5Reader) {
  // 1 MiB pieces of 16 columns are 16384 rows: the block of 40000 rows holds three.
  const std::size_t n = 100000, d = 16;
  auto x = pktest::pattern(n, d, 9);
  for (auto& v : x) v = std::fabs(v);
  x[45000 * d + 3] = -1.f;        // log1p of a negative value: a transform error in piece 1 of block 1...
  x[70000 * d + 5] = NAN;         // ...but the block's NaN (piece 2) is reported first, as by HDF5
  x[79000 * d + 0] = INFINITY;
  x[90000 * d + 2] = NAN;         // next block
  const std::string p = path("nan.h5");
  pkd::write_matrix(p, x.data(), n, d);
  pkd::Transform t;
  t.log1p_cols = {3};
  for (const pkd::Transform* tp : {static_cast<const pkd::Transform*>(nullptr), static_cast<const pkd::Transform*>(&t)}) {
    pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 40000, tp);
    src.set_reader(Reader::hdf5);
    const std::string ref = error_of(src, 1);
    EXPECT_NE(ref.find("has 2 non-finite values (NaN/Inf) in rows 40000..79999; first at row 70000, column 5"),
              std::string::npos)
        << ref;
    for (Reader r : {Reader::pread, Reader::mmap}) {
      src.set_reader(r);
      EXPECT_EQ(error_of(src, 1), ref);
    }
  }
  // Without the NaNs the transform error is the same whichever reader met it.
  x[70000 * d + 5] = x[79000 * d + 0] = x[90000 * d + 2] = 1.f;
  pkd::write_matrix(p, x.data(), n, d);
  pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 40000, &t);
  src.set_reader(Reader::hdf5);
  const std::string ref = error_of(src, 1);
  EXPECT_NE(ref.find("negative value"), std::string::npos) << ref;
  EXPECT_NE(ref.find("row 45000"), std::string::npos) << ref;
  src.set_reader(Reader::pread);
  EXPECT_EQ(error_of(src, 1), ref);
}

TEST_F(Direct, NonFiniteCountIsExactOnEveryIsa) {
  // d = 7: blocks of n x 7 values are not a multiple of the 8- or 16-wide loops, so
  // the tails are counted too; NaN, +-Inf, the largest finite float and -0 mixed.
  const std::size_t n = 1001, d = 7;
  auto x = pktest::pattern(n, d, 5);
  const std::vector<std::size_t> bad = {3, 16, 17, 31, 500, 4096, n * d - 9, n * d - 1};
  for (std::size_t k = 0; k < bad.size(); ++k) x[bad[k]] = (k % 3 == 0) ? NAN : (k % 3 == 1) ? INFINITY : -INFINITY;
  x[18] = 3.4028235e38f;
  x[19] = -0.f;
  const std::string p = path("isa.h5");
  pkd::write_matrix(p, x.data(), n, d);
  const personakit::Isa before = personakit::active_isa();
  for (personakit::Isa isa : personakit::available_isas()) {
    SCOPED_TRACE(personakit::isa_name(isa));
    personakit::force_isa(isa);
    pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * n);
    src.set_reader(Reader::hdf5);
    const std::string ref = error_of(src, 1);
    EXPECT_NE(ref.find("has 8 non-finite values (NaN/Inf) in rows 0..1000; first at row 0, column 3"), std::string::npos)
        << ref;
    for (Reader r : {Reader::pread, Reader::mmap}) {
      src.set_reader(r);
      EXPECT_EQ(error_of(src, 1), ref);
    }
  }
  personakit::force_isa(before);
}

TEST_F(Direct, FileTruncatedUnderAnOpenSourceIsAnErrorNotACrash) {
  const std::size_t n = 50000, d = 8;
  auto x = pktest::pattern(n, d);
  const std::string p = path("t.h5");
  pkd::write_matrix(p, x.data(), n, d);
  const auto size = std::filesystem::file_size(p);
  for (Reader r : {Reader::pread, Reader::mmap}) {
    SCOPED_TRACE(static_cast<int>(r));
    pkd::write_matrix(p, x.data(), n, d);  // a fresh, whole file (written aside and renamed)
    pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 4096);
    src.set_reader(r);
    EXPECT_EQ(run_pass(src, 1).x, x);
    std::filesystem::resize_file(p, size * 3 / 4);
    // Checked before the pass, and before each window is mapped: touching a mapped
    // page past the end of the file would be SIGBUS.
    expect_error([&] { run_pass(src, 1); }, {p + ":/features: the file is", "truncated"});
    // Cut while a pass runs: the block being read or mapped next is refused.
    pkd::write_matrix(p, x.data(), n, d);
    pkd::H5RowSource src2(p, "/features", kOver + 2 * 4 * d * 4096);
    src2.set_reader(r);
    std::size_t delivered = 0;
    expect_error(
        [&] {
          src2.for_each_block(1, [&](const float* b, std::size_t r0, std::size_t nr) {
            EXPECT_EQ(0, std::memcmp(b, x.data() + r0 * d, nr * d * 4));
            if (r0 == 0) std::filesystem::resize_file(p, size / 2);
            delivered = r0 + nr;
          });
        },
        {p + ":/features", "truncated"});
    EXPECT_LT(delivered, n);
  }
  // Truncated before opening: HDF5 refuses the file itself.
  std::filesystem::resize_file(p, size * 3 / 4);
  expect_error([&] { pkd::H5RowSource(p, "/features", 64 << 20); }, {p, "truncated"});
}

TEST_F(Direct, ReadRowsIsUnchangedByTheReader) {
  const std::size_t n = 20000, d = 4;
  auto x = pktest::pattern(n, d);
  const std::string p = path("r.h5");
  pkd::write_matrix(p, x.data(), n, d);
  std::vector<std::uint64_t> idx = {0, 7, 8, 4095, 4096, 19999};
  pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 1000);
  for (Reader r : {Reader::hdf5, Reader::pread, Reader::mmap}) {
    src.set_reader(r);
    std::vector<float> out(idx.size() * d);
    src.read_rows(idx.data(), idx.size(), out.data());
    for (std::size_t q = 0; q < idx.size(); ++q)
      for (std::size_t j = 0; j < d; ++j) ASSERT_EQ(out[q * d + j], x[idx[q] * d + j]);
  }
}

}  // namespace

// The streamed Lloyd pass reads each fixed chunk on its own thread when the source
// offers parallel range reads (the pread reader), and takes the reader thread's
// blocks otherwise: every way gives the in-memory fit's bits.
TEST_F(Direct, StreamedLloydGivesTheInMemoryBitsWithParallelAndBlockReads) {
  const std::size_t n = 45000, d = 16;  // 11 chunks of 4096 rows, the last partial
  auto x = pktest::pattern(n, d);
  const std::string p = path("lloyd.h5");
  pkd::write_matrix(p, x.data(), n, d);
  std::vector<float> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = static_cast<float>(1 + (i * 7) % 5) * 0.5f;
  for (const bool weighted : {false, true}) {
    personakit::KMeansParams kp;
    kp.k = 7;
    kp.init = personakit::Init::random;
    kp.seed = 5;
    kp.max_iter = 6;
    kp.tol = 0;
    kp.weights = weighted ? weights.data() : nullptr;
    const auto mem = personakit::fit(x.data(), n, d, kp);
    kp.memory_limit = std::size_t(1) << 20;  // 5 chunks in flight: 3 spans per streamed pass
    struct Way {
      Reader r;
      bool parallel;
    };
    for (const Way w : {Way{Reader::pread, true}, Way{Reader::pread, false}, Way{Reader::hdf5, true},
                        Way{Reader::mmap, true}}) {
      SCOPED_TRACE(static_cast<int>(w.r) * 10 + w.parallel + (weighted ? 100 : 0));
      pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 4096);
      src.set_reader(w.r);
      src.set_parallel_reads(w.parallel);
      EXPECT_EQ(src.parallel_reads(), w.r == Reader::pread && w.parallel);
      const auto st = personakit::fit(src, kp);
      EXPECT_EQ(st.iterations, mem.iterations);
      EXPECT_EQ(st.inertia, mem.inertia);
      EXPECT_EQ(st.sizes, mem.sizes);
      ASSERT_EQ(st.centroids.size(), mem.centroids.size());
      EXPECT_EQ(0, std::memcmp(st.centroids.data(), mem.centroids.data(), mem.centroids.size() * 4));
    }
  }
}

// The accelerated variants stream too (labels and bounds in memory, one pass per
// iteration): through every reader, the fit (init included: n is below the init's
// sampling threshold) gives the in-memory bits, labels and all.
TEST_F(Direct, StreamedAcceleratedGivesTheInMemoryBits) {
  const std::size_t n = 45000, d = 16;  // 11 chunks of 4096 rows, the last partial
  auto x = pktest::pattern(n, d, 3);
  const std::string p = path("accel.h5");
  pkd::write_matrix(p, x.data(), n, d);
  std::vector<float> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = static_cast<float>((i * 7) % 5) * 0.5f;  // 1 in 5 zero
  for (const auto a : {personakit::Algorithm::hamerly, personakit::Algorithm::elkan, personakit::Algorithm::yinyang,
                       personakit::Algorithm::exponion}) {
    for (const bool weighted : {false, true}) {
      personakit::KMeansParams kp;
      kp.k = 20;
      kp.algorithm = a;
      kp.init = personakit::Init::kmeanspp;
      kp.seed = 11;
      kp.max_iter = 5;
      kp.tol = 0;
      kp.weights = weighted ? weights.data() : nullptr;
      const auto mem = personakit::fit(x.data(), n, d, kp);
      kp.memory_limit = std::size_t(8) << 20;  // Elkan's bounds: 4nk + 8n = 3.9 MiB
      struct Way {
        Reader r;
        bool parallel;
      };
      for (const Way w : {Way{Reader::pread, true}, Way{Reader::pread, false}, Way{Reader::hdf5, true}}) {
        SCOPED_TRACE(std::string(personakit::algorithm_name(a)) + " reader " + std::to_string(static_cast<int>(w.r)) +
                     (w.parallel ? " parallel" : "") + (weighted ? " weighted" : ""));
        pkd::H5RowSource src(p, "/features", kOver + 2 * 4 * d * 4096);
        src.set_reader(w.r);
        src.set_parallel_reads(w.parallel);
        const auto st = personakit::fit(src, kp);
        EXPECT_EQ(st.algorithm, a);
        EXPECT_EQ(st.iterations, mem.iterations);
        EXPECT_EQ(st.converged, mem.converged);
        EXPECT_EQ(st.inertia, mem.inertia);
        EXPECT_EQ(st.sizes, mem.sizes);
        EXPECT_EQ(st.labels, mem.labels);
        EXPECT_LE(st.state_bytes, kp.memory_limit);
        ASSERT_EQ(st.centroids.size(), mem.centroids.size());
        EXPECT_EQ(0, std::memcmp(st.centroids.data(), mem.centroids.data(), mem.centroids.size() * 4));
      }
    }
  }
}

// Range reads: the rows asked for, checked like the blocks (non-finite values and a
// file cut under the source are errors naming the file), refused without pread.
TEST_F(Direct, ReadRangeDeliversCheckedRowsAndRefusesOtherReaders) {
  const std::size_t n = 10000, d = 5;
  auto x = pktest::pattern(n, d);
  const std::string p = path("range.h5");
  pkd::write_matrix(p, x.data(), n, d);
  {
    pkd::H5RowSource src(p, "/features", 64 << 20);
    ASSERT_TRUE(src.parallel_reads());
    std::vector<float> out(777 * d);
    src.read_range(4001, 777, out.data());
    EXPECT_EQ(0, std::memcmp(out.data(), x.data() + 4001 * d, out.size() * 4));
    expect_error([&] { src.read_range(n - 3, 4, out.data()); }, {p, "past the end"});
    src.set_reader(Reader::hdf5);
    EXPECT_FALSE(src.parallel_reads());
    expect_error([&] { src.read_range(0, 1, out.data()); }, {p, "pread"});
  }
  x[6000 * d + 2] = std::nanf("");
  pkd::write_matrix(p, x.data(), n, d);
  {
    pkd::H5RowSource src(p, "/features", 64 << 20);
    std::vector<float> out(4096 * d);
    src.read_range(0, 4096, out.data());  // clean rows
    expect_error([&] { src.read_range(4096, 4096, out.data()); }, {p, "non-finite", "row 6000"});
    const auto size = std::filesystem::file_size(p);
    std::filesystem::resize_file(p, size / 2);
    expect_error([&] { src.begin_pass(); }, {p, "truncated"});
    expect_error([&] { src.read_range(n - 4096, 4096, out.data()); }, {p, "truncated"});
  }
}
