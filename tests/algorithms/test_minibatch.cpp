// Mini-batch k-means: determinism, quality against Lloyd, exact final inertia,
// refine passes, streaming, stopping rules.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "lloyd_test_util.hpp"
#include "personakit/error.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;
using pktest::make_blobs;

namespace {

pk::KMeansParams mb(std::size_t k, const std::vector<float>& c0) {
  pk::KMeansParams p;
  p.k = k;
  p.algorithm = pk::Algorithm::minibatch;
  p.init = pk::Init::given;
  p.init_centroids = c0.data();
  p.batch_size = 512;
  p.max_epochs = 5;
  return p;
}

}  // namespace

TEST(MiniBatch, DeterministicAcrossThreadsAndRuns) {
  const auto b = make_blobs(30000, 5, 8, 3.0, 3);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 8, pk::Init::kmeanspp, 1);
  auto p = mb(8, c0);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r1 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(2);
  const auto r2 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(saved);
  EXPECT_TRUE(pktest::same_bytes(r1.centroids, r2.centroids));
  EXPECT_EQ(std::memcmp(&r1.inertia, &r2.inertia, sizeof(double)), 0);
  EXPECT_EQ(r1.iterations, r2.iterations);
  EXPECT_EQ(r1.algorithm, pk::Algorithm::minibatch);
}

// Quality: on blobs (gaps of several standard deviations), mini-batch from the same
// k-means++ start ends within 3 % of converged Lloyd's inertia. The final inertia is
// exact: it equals the scalar reference's inertia of the returned centroids up to the
// fp64 summation order (n * 2^-53 relative, < 1e-10 here).
TEST(MiniBatch, CloseToLloydAndExactFinalInertia) {
  const auto b = make_blobs(60000, 8, 10, 4.0, 5);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 10, pk::Init::kmeanspp, 2);
  auto p = mb(10, c0);
  p.batch_size = 1024;
  p.max_epochs = 10;
  const auto m = pk::fit(b.x.data(), b.n, b.d, p);
  pk::KMeansParams lp;
  lp.k = 10;
  lp.init = pk::Init::given;
  lp.init_centroids = c0.data();
  const auto l = pk::fit(b.x.data(), b.n, b.d, lp);
  EXPECT_LE(m.inertia, l.inertia * 1.03);
  const double ref = pktest::ref_inertia(b.x, b.n, b.d, m.centroids, 10);
  EXPECT_NEAR(m.inertia, ref, 1e-10 * ref);
  EXPECT_EQ(m.labels.size(), b.n);
  std::int64_t tot = 0;
  for (auto s : m.sizes) tot += s;
  EXPECT_EQ(tot, static_cast<std::int64_t>(b.n));
  // Work: far less than Lloyd's per pass over the run.
  EXPECT_GT(m.distance_evaluations, 0u);
}

// Exact Lloyd passes after mini-batch never increase the objective (fp32 slack 1e-6,
// see Lloyd.InertiaNonIncreasing).
TEST(MiniBatch, RefineNeverWorse) {
  const auto b = make_blobs(20000, 4, 12, 2.0, 7);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 12, pk::Init::random, 3);
  auto p = mb(12, c0);
  p.max_epochs = 1;
  const auto r0 = pk::fit(b.x.data(), b.n, b.d, p);
  p.refine = 5;
  const auto r5 = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_LE(r5.inertia, r0.inertia * (1 + 1e-6));
}

// Streamed mini-batch (blocks read through read_rows, passes through small blocks)
// equals the in-memory run bit for bit.
TEST(MiniBatch, StreamedEqualsInMemory) {
  const auto b = make_blobs(3 * pk::detail::kChunkRows + 11, 4, 6, 3.0, 9);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 6, pk::Init::kmeanspp, 4);
  auto p = mb(6, c0);
  p.refine = 2;
  const auto a = pk::fit(b.x.data(), b.n, b.d, p);
  pktest::SmallBlockSource src(b.x, b.n, b.d, 1);
  const auto s = pk::fit(src, p);
  EXPECT_TRUE(pktest::same_bytes(a.centroids, s.centroids));
  EXPECT_EQ(std::memcmp(&a.inertia, &s.inertia, sizeof(double)), 0);
  EXPECT_EQ(a.labels, s.labels);
  {
    auto p0 = p;
    p0.refine = 0;
    const auto a0 = pk::fit(b.x.data(), b.n, b.d, p0);
    const auto s0 = pk::fit(src, p0);
    EXPECT_TRUE(pktest::same_bytes(a0.centroids, s0.centroids));
    EXPECT_EQ(std::memcmp(&a0.inertia, &s0.inertia, sizeof(double)), 0);
    EXPECT_EQ(a0.labels, s0.labels);
    EXPECT_EQ(a0.sizes, s0.sizes);
  }
  // With k-means++ on the init sample (3 × batch_size rows, seeded): the same sample
  // is drawn in memory and streamed, so the results still agree bit for bit.
  pk::KMeansParams q = p;
  q.init = pk::Init::kmeanspp;
  q.init_centroids = nullptr;
  q.batch_size = 256;
  const auto a2 = pk::fit(b.x.data(), b.n, b.d, q);
  const auto s2 = pk::fit(src, q);
  EXPECT_TRUE(pktest::same_bytes(a2.centroids, s2.centroids));
  EXPECT_EQ(std::memcmp(&a2.inertia, &s2.inertia, sizeof(double)), 0);
  // 768-row init sample: k-means++ costs (1 + (k-1)(trials+1)) × 768 distances, far
  // below a pass over all rows per step.
  const std::uint64_t trials = 2 + static_cast<std::uint64_t>(std::log(6.0));
  const std::uint64_t init_ev = (1 + 5 * (trials + 1)) * 768;
  EXPECT_GE(a2.distance_evaluations, init_ev);
}

// max_steps bounds the steps when no other rule stops earlier; each step assigns one
// batch (batch_size rows, blocks of batch_size/16 rows), so the work is steps*B*k plus
// the final exact pass n*k.
TEST(MiniBatch, MaxStepsAndWork) {
  const auto b = make_blobs(10240, 3, 4, 2.0, 3);  // a whole number of 32-row blocks
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 4, pk::Init::kmeanspp, 4);
  auto p = mb(4, c0);
  p.max_steps = 7;
  p.max_no_improvement = 0;
  p.tol = 0;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_EQ(r.iterations, 7);
  EXPECT_EQ(r.distance_evaluations, 7u * 512 * 4 + 10240u * 4);
}

// Early stopping on the smoothed batch inertia stops well before max_epochs on data
// that converge quickly, and reports converged.
TEST(MiniBatch, EarlyStopping) {
  const auto b = make_blobs(50000, 3, 3, 10.0, 3);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 3, pk::Init::kmeanspp, 4);
  auto p = mb(3, c0);
  p.max_epochs = 50;
  p.tol = 0;
  p.max_no_improvement = 10;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  const int steps_per_epoch = static_cast<int>((50000 + 511) / 512);
  EXPECT_TRUE(r.converged);
  EXPECT_LT(r.iterations, 50 * steps_per_epoch);
}

// A centroid that no batch row ever reaches is reassigned to batch rows
// (reassignment_ratio), so the fit ends with no empty cluster even without refine.
TEST(MiniBatch, StarvingCentroidReassigned) {
  const auto b = make_blobs(20000, 2, 4, 5.0, 3);
  auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 5, pk::Init::kmeanspp, 4);
  c0[8] = 1e5f;
  c0[9] = 1e5f;  // centroid 4 far away
  auto p = mb(5, c0);
  p.max_epochs = 2;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_LT(std::abs(r.centroids[8]), 1e3f);
  for (auto s : r.sizes) EXPECT_GT(s, 0);
}

// Batches of >= 2048 rows are assigned by both threads (assign_nearest splits them; a
// batch of 1024 stays on one thread, as in DeterministicAcrossThreadsAndRuns): the same
// bits at 1 and 2 threads, and in memory and streamed.
TEST(MiniBatch, LargeBatchSameBitsThreadsAndStreamed) {
  const auto b = make_blobs(3 * pk::detail::kChunkRows + 11, 6, 9, 3.0, 21);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 9, pk::Init::kmeanspp, 5);
  auto p = mb(9, c0);
  p.batch_size = 4096;
  p.max_epochs = 0;
  p.max_steps = 12;
  p.max_no_improvement = 0;
  p.tol = 0;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r1 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(2);
  const auto r2 = pk::fit(b.x.data(), b.n, b.d, p);
  pktest::SmallBlockSource src(b.x, b.n, b.d, 1);
  const auto s2 = pk::fit(src, p);
  omp_set_num_threads(saved);
  EXPECT_EQ(r1.iterations, 12);
  EXPECT_TRUE(pktest::same_bytes(r1.centroids, r2.centroids));
  EXPECT_EQ(std::memcmp(&r1.inertia, &r2.inertia, sizeof(double)), 0);
  EXPECT_TRUE(pktest::same_bytes(r2.centroids, s2.centroids));
  EXPECT_EQ(std::memcmp(&r2.inertia, &s2.inertia, sizeof(double)), 0);
  EXPECT_EQ(r1.labels, r2.labels);
}

// ---- coreset mode (p.coreset > 0): importance-weighted sample, Lloyd steps on it ----
namespace {
pk::KMeansParams coreset_params(std::size_t k, const std::vector<float>& c0, std::size_t m) {
  auto p = mb(k, c0);
  p.coreset = m;
  p.max_steps = 20;
  p.tol = 0;
  return p;
}
}  // namespace

// Same bits at 1 and 2 threads, in memory and streamed (the pool and the sample read
// through read_rows, the finishing pass through small blocks).
TEST(MiniBatchCoreset, SameBitsThreadsAndStreamed) {
  const auto b = make_blobs(3 * pk::detail::kChunkRows + 11, 5, 7, 3.0, 31);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 7, pk::Init::kmeanspp, 6);
  auto p = coreset_params(7, c0, 600);
  p.refine = 1;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r1 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(2);
  const auto r2 = pk::fit(b.x.data(), b.n, b.d, p);
  pktest::SmallBlockSource src(b.x, b.n, b.d, 1);
  const auto s2 = pk::fit(src, p);
  omp_set_num_threads(saved);
  EXPECT_GE(r1.iterations, 1);
  EXPECT_TRUE(pktest::same_bytes(r1.centroids, r2.centroids));
  EXPECT_EQ(std::memcmp(&r1.inertia, &r2.inertia, sizeof(double)), 0);
  EXPECT_TRUE(pktest::same_bytes(r2.centroids, s2.centroids));
  EXPECT_EQ(std::memcmp(&r2.inertia, &s2.inertia, sizeof(double)), 0);
  EXPECT_EQ(r1.labels, r2.labels);
  // Without refine passes (in memory: the exact pass alone, no update sums).
  p.refine = 0;
  const auto m0 = pk::fit(b.x.data(), b.n, b.d, p);
  const auto s0 = pk::fit(src, p);
  EXPECT_TRUE(pktest::same_bytes(m0.centroids, s0.centroids));
  EXPECT_EQ(std::memcmp(&m0.inertia, &s0.inertia, sizeof(double)), 0);
  EXPECT_EQ(m0.labels, s0.labels);
  EXPECT_EQ(m0.sizes, s0.sizes);
  // The reported inertia is exact over all rows.
  const double ref = pktest::ref_inertia(b.x, b.n, b.d, r2.centroids, 7);
  EXPECT_NEAR(r2.inertia, ref, 1e-10 * ref);
  // Work: the pool (8 × 600 rows rounded up to whole 256-row blocks) and the final pass
  // over all rows, plus the steps on at most 600 distinct rows.
  const std::uint64_t pool = 19 * 256, n = b.n;
  EXPECT_GE(r2.distance_evaluations, (pool + 2 * n) * 7);
  EXPECT_LE(r2.distance_evaluations, (pool + 2 * n + 21 * 600) * 7);
}

// A segment of 0.1 % of the rows, far from everything: the importance draw (D^2 to the
// initial centroids) brings it into a sample of 2.5 % of the rows, where the initial
// centroid nearest to it moves onto it, and the fit ends within 3 % of Lloyd's.
TEST(MiniBatchCoreset, FindsASmallFarSegment) {
  const std::size_t n = 40000, d = 2, k = 4;
  std::vector<float> x(n * d);
  std::uint64_t s = 99;
  auto gauss = [&s]() {
    double u = 0;
    for (int i = 0; i < 12; ++i) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      u += static_cast<double>(s >> 11) * 0x1.0p-53;
    }
    return u - 6;
  };
  const float cx[4] = {0, 10, 0, 300}, cy[4] = {0, 0, 10, 300};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t g = i % 1000 == 7 ? 3 : i % 3;
    x[i * d] = cx[g] + static_cast<float>(gauss());
    x[i * d + 1] = cy[g] + static_cast<float>(gauss());
  }
  const std::vector<float> c0 = {0, 0, 10, 0, 0, 10, 5, 5};
  auto p = coreset_params(k, c0, 1000);
  const auto r = pk::fit(x.data(), n, d, p);
  pk::KMeansParams lp;
  lp.k = k;
  lp.init = pk::Init::given;
  lp.init_centroids = c0.data();
  const auto l = pk::fit(x.data(), n, d, lp);
  EXPECT_LE(r.inertia, l.inertia * 1.03);  // missing the far segment would cost > 80x
  bool found = false;
  for (std::size_t j = 0; j < k; ++j)
    found = found || std::hypot(r.centroids[j * d] - 300.0, r.centroids[j * d + 1] - 300.0) < 1.0;
  EXPECT_TRUE(found);
}

// Weights: doubling every weight (exact in binary) doubles the sample weights and the
// inertia and leaves the centroids' bits unchanged; rows of weight 0 are never drawn.
TEST(MiniBatchCoreset, WeightsHonoured) {
  const auto b = make_blobs(20000, 4, 6, 3.0, 41);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 6, pk::Init::kmeanspp, 7);
  auto p = coreset_params(6, c0, 800);
  std::vector<float> w1(b.n, 1.0f), w2(b.n, 2.0f);
  p.weights = w1.data();
  const auto r1 = pk::fit(b.x.data(), b.n, b.d, p);
  p.weights = w2.data();
  const auto r2 = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_TRUE(pktest::same_bytes(r1.centroids, r2.centroids));
  EXPECT_EQ(r2.inertia, 2 * r1.inertia);
  // Half the rows with weight 0 and a huge shift: were any drawn, a centroid would move
  // towards them.
  auto xs = b.x;
  std::vector<float> wz(b.n, 1.0f);
  for (std::size_t i = 0; i < b.n; i += 2) {
    wz[i] = 0.0f;
    for (std::size_t j = 0; j < b.d; ++j) xs[i * b.d + j] += 1e4f;
  }
  p.weights = wz.data();
  p.refine = 0;
  const auto rz = pk::fit(xs.data(), b.n, b.d, p);
  for (const float v : rz.centroids) EXPECT_LT(std::fabs(v), 1e3f);
}

TEST(MiniBatchCoreset, ClearErrors) {
  const auto b = make_blobs(5000, 3, 5, 3.0, 43);
  const auto c0 = pk::init_centroids(b.x.data(), b.n, b.d, 5, pk::Init::kmeanspp, 8);
  auto p = coreset_params(5, c0, 4);
  try {
    (void)pk::fit(b.x.data(), b.n, b.d, p);
    FAIL() << "a coreset smaller than k was accepted";
  } catch (const pk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than k = 5"), std::string::npos) << e.what();
  }
  p.coreset = 16 * b.n + 1;
  try {
    (void)pk::fit(b.x.data(), b.n, b.d, p);
    FAIL() << "a coreset of more than 16 draws per row was accepted";
  } catch (const pk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("too large for 5000 rows"), std::string::npos) << e.what();
  }
  p.coreset = 60000;
  p.memory_limit = 1 << 20;
  pktest::SmallBlockSource src(b.x, b.n, b.d, 1);
  try {
    (void)pk::fit(src, p);
    FAIL() << "a coreset above the memory limit was accepted";
  } catch (const pk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the memory limit"), std::string::npos) << e.what();
  }
}
