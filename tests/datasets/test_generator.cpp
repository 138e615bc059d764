// The generator: determinism across threads and chunk sizes, persona sizes,
// realistic value ranges, blobs separation, validation.
#include <omp.h>

#include <cmath>
#include <map>
#include <set>

#include "h5test.hpp"

namespace pkd = personakit::datasets;
using pktest::expect_error;

namespace {

class Generator : public pktest::TempDirTest {};

nlohmann::json root_attrs(const std::string& file) {
  // Attributes through read_model's reader would need /centroids; read the ones
  // the tests need directly.
  nlohmann::json j;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t a = H5Aopen(f, "segment_sizes", H5P_DEFAULT);
  hid_t sp = H5Aget_space(a);
  std::vector<std::int64_t> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(sp)));
  H5Aread(a, H5T_NATIVE_INT64, v.data());
  j["segment_sizes"] = v;
  H5Sclose(sp);
  H5Aclose(a);
  H5Fclose(f);
  return j;
}

TEST_F(Generator, SameBytesWhateverThreadsOrChunkRows) {
  pkd::GeneratorParams p;
  p.rows = 20000;
  p.features = 20;  // 16 customer features + 4 noise columns; HDF5 chunks of 13107 rows
  p.segments = 7;
  p.seed = 1234;
  const int saved = omp_get_max_threads();
  std::vector<std::string> contents;
  int run = 0;
  // (threads, chunk_rows): one chunk for everything, and chunks that cut HDF5
  // chunks at different places, on 1 and 2 threads.
  for (auto [threads, chunk] : {std::pair<int, std::size_t>{1, 65536}, {2, 1000}, {2, 777}, {1, 1000}, {2, 65536}}) {
    omp_set_num_threads(threads);
    p.chunk_rows = chunk;
    const std::string out = path("g" + std::to_string(run++) + ".h5");
    pkd::generate(p, out);
    contents.push_back(pktest::slurp(out));
  }
  omp_set_num_threads(saved);
  ASSERT_GT(contents[0].size(), 20000u * 20 * 4);
  for (std::size_t i = 1; i < contents.size(); ++i) EXPECT_TRUE(contents[i] == contents[0]) << "run " << i << " differs";
  // A different seed gives different data.
  p.seed = 1235;
  pkd::generate(p, path("other.h5"));
  EXPECT_NE(pkd::read_matrix(path("other.h5")).x, pkd::read_matrix(path("g0.h5")).x);
}

TEST_F(Generator, CustomersHaveRealisticFeaturesAndUnequalPersonas) {
  pkd::GeneratorParams p;
  p.rows = 30000;
  p.features = 16;
  p.segments = 6;
  p.seed = 9;
  p.chunk_rows = 4096;
  std::vector<std::uint64_t> progress;
  pkd::generate(p, path("c.h5"), [&](std::uint64_t done) { progress.push_back(done); });
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), p.rows);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  auto m = pkd::read_matrix(path("c.h5"));
  ASSERT_EQ(m.n, p.rows);
  ASSERT_EQ(m.d, 16u);
  EXPECT_EQ(m.feature_names, pkd::customer_feature_names());
  ASSERT_EQ(m.truth.size(), m.n);
  ASSERT_EQ(m.ids.size(), m.n);
  EXPECT_EQ(m.ids.front(), 1);
  EXPECT_EQ(m.ids.back(), static_cast<std::int64_t>(p.rows));

  // Truth: 6 personas, exactly the recorded sizes, unequal (weights 0.10, 0.22,
  // 0.25, 0.15, 0.12, 0.06 -> largest / smallest = 0.25 / 0.06 > 4).
  std::vector<std::int64_t> count(6, 0);
  for (auto t : m.truth) {
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 6);
    ++count[static_cast<std::size_t>(t)];
  }
  EXPECT_EQ(root_attrs(path("c.h5"))["segment_sizes"], nlohmann::json(count));
  auto [mn, mx] = std::minmax_element(count.begin(), count.end());
  EXPECT_GT(static_cast<double>(*mx) / static_cast<double>(*mn), 3.0);
  // Personas are shuffled through the file, not in runs: the first 1000 rows hold
  // every persona.
  std::set<std::int32_t> head(m.truth.begin(), m.truth.begin() + 1000);
  EXPECT_EQ(head.size(), 6u);

  // Channel shares: each is float(s_i) with s_i summing to 1 in fp64 up to ~3 ulp
  // (2^-52 each); float rounding adds at most 2^-24 * s_i per share, so
  // |sum - 1| <= 2^-24 * sum(s_i) + 3 * 2^-52 < 2^-24 + 1e-15. Summed here in fp64.
  const double tol = std::ldexp(1.0, -24) + 1e-15;
  for (std::size_t i = 0; i < m.n; ++i) {
    const float* r = m.x.data() + i * m.d;
    double s = static_cast<double>(r[5]) + r[6] + r[7];
    ASSERT_NEAR(s, 1.0, tol) << "row " << i;
    ASSERT_GE(r[0], 0.f);                     // recency days
    ASSERT_LE(r[0], 730.f);
    ASSERT_GE(r[1], 1.f);                     // at least one order a year
    ASSERT_EQ(r[1], std::round(r[1]));        // whole orders
    ASSERT_GT(r[2], 0.f);                     // monetary
    ASSERT_GT(r[3], 0.f);                     // basket
    for (int j : {5, 6, 7, 8, 9, 11}) {       // shares and rates in [0, 1]
      ASSERT_GE(r[j], 0.f);
      ASSERT_LE(r[j], 1.f);
    }
    ASSERT_GE(r[10], 0.f);                    // support contacts
    ASSERT_GE(r[12], 18.f);                   // age
    ASSERT_LE(r[12], 95.f);
    ASSERT_GE(r[14], 1.f);                    // review score
    ASSERT_LE(r[14], 5.f);
  }
  // Monetary is heavy-tailed: the mean exceeds the median by a wide margin.
  std::vector<float> money;
  for (std::size_t i = 0; i < m.n; ++i) money.push_back(m.x[i * m.d + 2]);
  double mean = 0;
  for (float v : money) mean += v;
  mean /= static_cast<double>(money.size());
  std::nth_element(money.begin(), money.begin() + money.size() / 2, money.end());
  EXPECT_GT(mean, 1.3 * money[money.size() / 2]);
  // Personas differ: lapsed customers (persona 3, log-mean recency ln 320) were
  // last seen long after loyal ones (persona 0, ln 12).
  double rec[6] = {0};
  for (std::size_t i = 0; i < m.n; ++i) rec[m.truth[i]] += m.x[i * m.d + 0];
  EXPECT_GT(rec[3] / count[3], 8 * rec[0] / count[0]);
}

TEST_F(Generator, FewerFeaturesArePrefixesMoreAreNoise) {
  pkd::GeneratorParams p;
  p.rows = 2000;
  p.segments = 3;
  p.features = 16;
  pkd::generate(p, path("f16.h5"));
  p.features = 5;
  pkd::generate(p, path("f5.h5"));
  p.features = 19;
  pkd::generate(p, path("f19.h5"));
  auto a = pkd::read_matrix(path("f16.h5")), b = pkd::read_matrix(path("f5.h5")), c = pkd::read_matrix(path("f19.h5"));
  EXPECT_EQ(b.feature_names, std::vector<std::string>(a.feature_names.begin(), a.feature_names.begin() + 5));
  EXPECT_EQ(c.feature_names[16], "noise_0");
  EXPECT_EQ(c.feature_names[18], "noise_2");
  for (std::size_t i = 0; i < p.rows; ++i) {
    for (std::size_t j = 0; j < 5; ++j) ASSERT_EQ(b.x[i * 5 + j], a.x[i * 16 + j]);
    for (std::size_t j = 0; j < 16; ++j) ASSERT_EQ(c.x[i * 19 + j], a.x[i * 16 + j]);
  }
  EXPECT_EQ(a.truth, b.truth);
}

TEST_F(Generator, BlobsAreSeparatedAsAsked) {
  pkd::GeneratorParams p;
  p.kind = "blobs";
  p.rows = 12000;
  p.features = 5;
  p.segments = 4;
  p.separation = 6.0;
  pkd::generate(p, path("b.h5"));
  auto m = pkd::read_matrix(path("b.h5"));
  EXPECT_EQ(m.feature_names[0], "x0");
  // Equal sizes: 3000 each.
  std::vector<double> mean(4 * 5, 0.0), sq(4 * 5, 0.0);
  std::vector<std::size_t> cnt(4, 0);
  for (std::size_t i = 0; i < m.n; ++i) {
    auto t = static_cast<std::size_t>(m.truth[i]);
    ++cnt[t];
    for (std::size_t j = 0; j < 5; ++j) mean[t * 5 + j] += m.x[i * 5 + j];
  }
  for (auto c : cnt) EXPECT_EQ(c, 3000u);
  for (std::size_t t = 0; t < 4; ++t)
    for (std::size_t j = 0; j < 5; ++j) mean[t * 5 + j] /= 3000.0;
  for (std::size_t i = 0; i < m.n; ++i) {
    auto t = static_cast<std::size_t>(m.truth[i]);
    for (std::size_t j = 0; j < 5; ++j) sq[t * 5 + j] += std::pow(m.x[i * 5 + j] - mean[t * 5 + j], 2);
  }
  // Each empirical centre is off by N(0, 1/3000) per coordinate: the distance between
  // two of them moves by at most ~ sqrt(2 * 5 / 3000) = 0.058 per sigma; 0.35 is
  // six sigma. The closest pair of true centres is exactly 6 apart.
  double dmin = INFINITY;
  for (std::size_t a = 0; a < 4; ++a)
    for (std::size_t b = a + 1; b < 4; ++b) {
      double s = 0;
      for (std::size_t j = 0; j < 5; ++j) s += std::pow(mean[a * 5 + j] - mean[b * 5 + j], 2);
      dmin = std::min(dmin, std::sqrt(s));
    }
  EXPECT_NEAR(dmin, 6.0, 0.35);
  // Unit variance per blob and coordinate: the sample variance of 3000 normals has
  // sd sqrt(2/2999) = 0.026; 0.15 is near six sigma.
  for (std::size_t q = 0; q < 20; ++q) EXPECT_NEAR(sq[q] / 2999.0, 1.0, 0.15);
}

TEST_F(Generator, ManyPersonasAndTinyFiles) {
  pkd::GeneratorParams p;
  p.rows = 11;
  p.segments = 11;  // one row each; personas 8..10 are perturbed archetypes
  p.features = 3;
  p.chunk_rows = 4;
  pkd::generate(p, path("t.h5"));
  auto m = pkd::read_matrix(path("t.h5"));
  std::vector<std::int32_t> t = m.truth;
  std::sort(t.begin(), t.end());
  for (std::int32_t i = 0; i < 11; ++i) EXPECT_EQ(t[static_cast<std::size_t>(i)], i);
  p.rows = 1;
  p.segments = 1;
  pkd::generate(p, path("one.h5"));
  EXPECT_EQ(pkd::probe(path("one.h5")).rows, 1u);
}

TEST_F(Generator, InvalidParametersAreRefusedAndNothingIsWritten) {
  pkd::GeneratorParams p;
  p.rows = 10;
  auto bad = [&](auto edit, const std::string& what) {
    pkd::GeneratorParams q = p;
    edit(q);
    expect_error([&] { pkd::generate(q, path("x.h5")); }, {what});
  };
  bad([](auto& q) { q.rows = 0; }, "rows must be at least 1");
  bad([](auto& q) { q.features = 0; }, "features must be at least 1");
  bad([](auto& q) { q.segments = 0; }, "segments must be at least 1");
  bad([](auto& q) { q.segments = 11; }, "segments (11) must not exceed rows (10)");
  bad([](auto& q) { q.kind = "gaussians"; }, "unknown kind 'gaussians'");
  bad([](auto& q) { q.chunk_rows = 0; }, "chunk_rows");
  bad([](auto& q) { q.kind = "blobs"; q.separation = -1; }, "separation");
  EXPECT_TRUE(files().empty());
  expect_error([&] { pkd::generate(p, path("no/such/dir/x.h5")); }, {path("no/such/dir/x.h5"), "cannot write"});
  // The progress callback can cancel by throwing: the partial file is removed.
  p.rows = 5000;
  p.chunk_rows = 1000;
  EXPECT_THROW(pkd::generate(p, path("x.h5"),
                             [](std::uint64_t done) {
                               if (done >= 2000) throw personakit::Error("cancelled");
                             }),
               personakit::Error);
  EXPECT_TRUE(files().empty());
}

}  // namespace
