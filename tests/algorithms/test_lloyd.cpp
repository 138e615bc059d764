// Exact Lloyd and the fit() front end: reference agreement, invariants, determinism,
// known answers, errors, weights, streaming.
#include <gtest/gtest.h>
#include <omp.h>

#include <cfloat>
#include <cmath>
#include <map>
#include <set>

#include "lloyd_test_util.hpp"
#include "personakit/error.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;
using pktest::make_blobs;

namespace {

pk::KMeansParams given(const std::vector<float>& c, std::size_t k) {
  pk::KMeansParams p;
  p.k = k;
  p.init = pk::Init::given;
  p.init_centroids = c.data();
  return p;
}

// First k rows as initial centroids (distinct with probability 1 on blob data).
std::vector<float> head(const pktest::Blobs& b, std::size_t k) {
  return {b.x.begin(), b.x.begin() + static_cast<std::ptrdiff_t>(k * b.d)};
}

}  // namespace

// Iteration by iteration, the fused chunked pass equals a scalar Lloyd (ref::assign_nearest
// + the documented chunk-ordered fp64 update): labels and centroids bit for bit. n spans
// three chunks plus a tail, d = 7 is off every SIMD width.
TEST(Lloyd, MatchesScalarReferenceBitForBit) {
  const auto b = make_blobs(3 * pk::detail::kChunkRows + 123, 7, 6, 4.0, 11);
  const std::size_t k = 6;
  std::vector<float> c0 = head(b, k);
  std::vector<float> cref = c0;
  for (int it = 1; it <= 5; ++it) {
    auto p = given(c0, k);
    p.max_iter = it;
    p.tol = 0;
    std::vector<std::int32_t> seen;
    p.on_assignment = [&](int i, const std::int32_t* lab) {
      if (i == it) seen.assign(lab, lab + b.n);
    };
    const auto r = pk::fit(b.x.data(), b.n, b.d, p);
    const auto ref_lab = pktest::ref_lloyd_step(b.x, b.n, b.d, cref, k);
    if (r.iterations < it) break;  // converged earlier: nothing more to compare
    ASSERT_EQ(seen, ref_lab) << "labels differ at iteration " << it;
    ASSERT_TRUE(pktest::same_bytes(r.centroids, cref)) << "centroids differ after iteration " << it;
  }
}

// Lloyd never increases the objective. In exact arithmetic inertia_{t+1} <= inertia_t;
// here each distance is fp32 canonical (|error| <= ~(d+2) 2^-24 (|x|^2+|c|^2) per row), so
// a label may flip between two centroids whose distances differ by less than that: the
// objective can rise by at most n * (d+2) 2^-24 * max(|x|^2+|c|^2). With |x|^2+|c|^2 <~ 2*(16+5)^2*d
// for these blobs that is < 1e-3 of the inertia; we allow 1e-6 relative, far tighter,
// because flips at exact near-ties are rare — and require strict decrease on average.
TEST(Lloyd, InertiaNonIncreasing) {
  const auto b = make_blobs(20000, 5, 12, 3.0, 5);
  pk::KMeansParams p;
  p.k = 12;
  p.init = pk::Init::random;
  p.tol = 0;
  p.seed = 3;
  std::vector<double> hist;
  p.progress = [&](const pk::Progress& pr) { hist.push_back(pr.inertia); return true; };
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  ASSERT_GE(hist.size(), 3u);
  for (std::size_t i = 1; i < hist.size(); ++i) EXPECT_LE(hist[i], hist[i - 1] * (1 + 1e-6)) << "iteration " << i + 1;
  EXPECT_LT(hist.back(), hist.front());
  EXPECT_LE(r.inertia, hist.back() * (1 + 1e-6));
  EXPECT_TRUE(r.converged);
}

TEST(Lloyd, OneAndTwoThreadsByteIdentical) {
  const auto b = make_blobs(5 * pk::detail::kChunkRows + 77, 9, 10, 2.0, 7);
  pk::KMeansParams p;
  p.k = 10;
  p.seed = 42;
  p.n_init = 2;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r1 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(2);
  const auto r2 = pk::fit(b.x.data(), b.n, b.d, p);
  omp_set_num_threads(saved);
  EXPECT_TRUE(pktest::same_bytes(r1.centroids, r2.centroids));
  EXPECT_EQ(r1.labels, r2.labels);
  EXPECT_EQ(std::memcmp(&r1.inertia, &r2.inertia, sizeof(double)), 0);
  EXPECT_EQ(r1.iterations, r2.iterations);
}

TEST(Lloyd, SameSeedSameResultDifferentSeedDifferentStart) {
  const auto b = make_blobs(6000, 4, 8, 2.0, 9);
  pk::KMeansParams p;
  p.k = 8;
  p.seed = 1;
  p.max_iter = 3;
  const auto a = pk::fit(b.x.data(), b.n, b.d, p);
  const auto a2 = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_TRUE(pktest::same_bytes(a.centroids, a2.centroids));
  p.seed = 2;
  const auto c = pk::fit(b.x.data(), b.n, b.d, p);
  EXPECT_FALSE(pktest::same_bytes(a.centroids, c.centroids));
}

// Blobs 20 standard deviations apart: the truth is recovered exactly up to a
// permutation (one-to-one label map that holds for every row).
TEST(Lloyd, KnownAnswerWellSeparatedBlobs) {
  auto b = make_blobs(8000, 6, 5, 1.0, 21);
  // Place the centres on a grid 20 apart, then regenerate points around them.
  for (std::size_t l = 0; l < 5; ++l)
    for (std::size_t j = 0; j < 6; ++j) b.centres[l * 6 + j] = (j == l % 6) ? 20.0f * static_cast<float>(l + 1) : 0.0f;
  for (std::size_t i = 0; i < b.n; ++i)
    for (std::size_t j = 0; j < 6; ++j)
      b.x[i * 6 + j] = static_cast<float>(b.centres[b.truth[i] * 6 + j] + pktest::normal(77, i * 6 + j));
  pk::KMeansParams p;
  p.k = 5;
  p.seed = 5;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  std::map<int, int> map;
  std::set<int> image;
  for (std::size_t i = 0; i < b.n; ++i) {
    auto [it, inserted] = map.emplace(r.labels[i], b.truth[i]);
    ASSERT_EQ(it->second, b.truth[i]) << "row " << i;
    if (inserted) image.insert(b.truth[i]);
  }
  EXPECT_EQ(map.size(), 5u);
  EXPECT_EQ(image.size(), 5u);
  EXPECT_TRUE(r.converged);
}

// update_centroids: an empty cluster takes the row farthest from its centroid; the
// row leaves its cluster (sums and label), as documented.
TEST(Lloyd, EmptyClusterReseededWithFarthestRow) {
  const std::size_t n = 10, d = 2, k = 3;
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) { x[i * d] = static_cast<float>(i); x[i * d + 1] = 0; }
  std::vector<float> c = {1, 0, 7, 0, 100, 100};  // centroid 2 attracts nobody
  std::vector<std::int32_t> lab(n);
  std::vector<float> dist(n);
  pk::ref::assign_nearest(x.data(), n, d, c.data(), k, lab.data(), dist.data());
  // Farthest from its own centroid: row 4, 3 from both (1,0) and (7,0) (tie: c0), dist 9.
  std::size_t far = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (dist[i] > dist[far]) far = i;
  std::vector<float> nc;
  std::vector<std::int64_t> sizes;
  double shift = 0;
  const auto re = pk::detail::update_centroids(x.data(), n, d, nullptr, lab.data(), dist.data(), k, c, nc, sizes, &shift);
  ASSERT_EQ(re.size(), 1u);
  EXPECT_EQ(re[0], 2u);
  EXPECT_EQ(nc[2 * d], x[far * d]);
  EXPECT_EQ(nc[2 * d + 1], x[far * d + 1]);
  EXPECT_EQ(lab[far], 2);
  EXPECT_EQ(sizes[2], 1);
  EXPECT_EQ(sizes[0] + sizes[1] + sizes[2], static_cast<std::int64_t>(n));
  // End to end: the fit ends with no empty cluster.
  auto p = given(c, k);
  const auto r = pk::fit(x.data(), n, d, p);
  for (auto s : r.sizes) EXPECT_GT(s, 0);
}

// K = 1: one iteration gives the mean (fp64 sums rounded once: exactly the fp32 rounding
// of the fp64 mean), and the second changes no label.
TEST(Lloyd, SingleCluster) {
  const auto b = make_blobs(9000, 3, 2, 5.0, 3);
  pk::KMeansParams p;
  p.k = 1;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  for (std::size_t j = 0; j < 3; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < b.n; ++i) s += b.x[i * 3 + j];
    // Chunked vs plain fp64 summation differ by < n * 2^-53 * max|x| << half an fp32 ulp
    // of the mean unless the mean sits on a rounding boundary: allow one fp32 ulp.
    EXPECT_NEAR(r.centroids[j], s / b.n, std::abs(s / b.n) * FLT_EPSILON + 1e-30);
  }
  EXPECT_LE(r.iterations, 2);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.sizes[0], static_cast<std::int64_t>(b.n));
}

TEST(Lloyd, BadInputErrors) {
  const auto b = make_blobs(100, 3, 2, 5.0, 3);
  pk::KMeansParams p;
  p.k = 0;
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  p.k = 101;
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  p.k = 3;
  auto y = b.x;
  y[57 * 3 + 2] = std::nanf("");
  y[80 * 3] = INFINITY;
  try {
    pk::fit(y.data(), b.n, b.d, p);
    ADD_FAILURE() << "NaN accepted";
  } catch (const pk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 NaN/Inf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 57, column 2"), std::string::npos) << e.what();
  }
  p.init = pk::Init::given;  // no centroids
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  p.init = pk::Init::kmeanspp;
  std::vector<float> w(b.n, 1.0f);
  w[3] = -1;
  p.weights = w.data();
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  std::fill(w.begin(), w.end(), 0.0f);
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  p.weights = nullptr;
  // 4 distinct rows repeated: k = 5 > distinct rows.
  std::vector<float> rep(40 * 2);
  for (std::size_t i = 0; i < 40; ++i) { rep[i * 2] = static_cast<float>(i % 4); rep[i * 2 + 1] = 1; }
  p.k = 5;
  try {
    pk::fit(rep.data(), 40, 2, p);
    ADD_FAILURE() << "k > distinct rows accepted";
  } catch (const pk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("distinct"), std::string::npos) << e.what();
  }
  p.k = 4;
  EXPECT_NO_THROW(pk::fit(rep.data(), 40, 2, p));
  // Memory limit too small for the algorithm's state.
  p.k = 3;
  p.memory_limit = 1000;
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
}

// n_init keeps the lowest inertia; run r's seed is splitmix64(seed + r), so a single run
// with seed + r reproduces run r exactly.
TEST(Lloyd, NInitKeepsBestRun) {
  const auto b = make_blobs(4000, 4, 9, 1.5, 13);
  pk::KMeansParams p;
  p.k = 9;
  p.init = pk::Init::random;
  p.seed = 100;
  p.n_init = 4;
  const auto best = pk::fit(b.x.data(), b.n, b.d, p);
  double lo = INFINITY;
  int arg = -1;
  p.n_init = 1;
  std::uint64_t evals = 0;
  for (int r = 0; r < 4; ++r) {
    p.seed = 100 + static_cast<std::uint64_t>(r);
    const auto one = pk::fit(b.x.data(), b.n, b.d, p);
    evals += one.distance_evaluations;
    if (one.inertia < lo) { lo = one.inertia; arg = r; }
  }
  EXPECT_EQ(best.inertia, lo);
  EXPECT_EQ(best.best_run, arg);
  EXPECT_EQ(best.best_seed, pk::detail::splitmix64(100 + static_cast<std::uint64_t>(arg)));
  EXPECT_EQ(best.distance_evaluations, evals);
}

// Integer weights equal duplicated rows. Labels agree (blob gaps dwarf rounding), and the
// centroids differ only by the order of fp64 additions (w*x once vs x added w times):
// both sums are within ~n 2^-53 relative of the exact sum, so after the single rounding to
// fp32 they differ by at most 1 ulp per iteration; 4 ulps covers a few iterations.
TEST(Lloyd, IntegerWeightsEqualDuplicatedRows) {
  const auto b = make_blobs(3000, 5, 4, 6.0, 17);
  std::vector<float> w(b.n), dup;
  for (std::size_t i = 0; i < b.n; ++i) {
    w[i] = static_cast<float>(pk::detail::splitmix64(i) % 4);  // 0..3, zeros included
    for (int t = 0; t < static_cast<int>(w[i]); ++t) dup.insert(dup.end(), b.x.begin() + i * 5, b.x.begin() + (i + 1) * 5);
  }
  std::vector<float> c0;
  for (std::size_t i = 0; c0.size() < 4 * 5; ++i)
    if (w[i] > 0) c0.insert(c0.end(), b.x.begin() + i * 5, b.x.begin() + (i + 1) * 5);
  auto p = given(c0, 4);
  p.weights = w.data();
  const auto rw = pk::fit(b.x.data(), b.n, b.d, p);
  p.weights = nullptr;
  const auto rd = pk::fit(dup.data(), dup.size() / 5, 5, p);
  EXPECT_EQ(rw.iterations, rd.iterations);
  for (std::size_t e = 0; e < rw.centroids.size(); ++e)
    EXPECT_NEAR(rw.centroids[e], rd.centroids[e], 4 * FLT_EPSILON * std::max(1.0f, std::abs(rd.centroids[e])));
  // Same distances up to the centroid ulps above: relative 1e-5 on the sum.
  EXPECT_NEAR(rw.inertia, rd.inertia, 1e-5 * rd.inertia);
}

// Streamed Lloyd (small blocks, no data pointer) equals the in-memory fit bit for bit:
// centroids, inertia, iterations, and labels when kept.
TEST(Lloyd, StreamedEqualsInMemoryBitForBit) {
  const auto b = make_blobs(7 * pk::detail::kChunkRows + 999, 6, 7, 2.0, 31);
  pk::KMeansParams p;
  p.k = 7;
  p.seed = 8;
  const auto mem = pk::fit(b.x.data(), b.n, b.d, p);
  pktest::SmallBlockSource src(b.x, b.n, b.d, 2);
  const auto str = pk::fit(src, p);
  EXPECT_TRUE(pktest::same_bytes(mem.centroids, str.centroids));
  EXPECT_EQ(std::memcmp(&mem.inertia, &str.inertia, sizeof(double)), 0);
  EXPECT_EQ(mem.iterations, str.iterations);
  EXPECT_EQ(mem.labels, str.labels);
  EXPECT_EQ(mem.sizes, str.sizes);
  EXPECT_GE(src.passes, mem.iterations);
}

// Streamed with label hashes (labels not kept: n*4 bytes exceed a quarter of the memory
// limit) and an empty cluster to re-seed, which takes the streamed re-seed pass.
TEST(Lloyd, StreamedHashesAndReseedEqualInMemory) {
  const std::size_t n = 140000, d = 3, k = 6;  // 4n bytes > limit / 4 below: labels not kept
  const auto b = make_blobs(n, d, k, 3.0, 41);
  std::vector<float> c0 = head(b, k);
  for (std::size_t j = 0; j < d; ++j) c0[5 * d + j] = 1e4f;  // attracts nobody
  auto p = given(c0, k);
  p.max_iter = 20;
  const auto mem = pk::fit(b.x.data(), n, d, p);
  p.memory_limit = 2u << 20;
  pktest::SmallBlockSource src(b.x, n, d, 5);
  const auto str = pk::fit(src, p);
  EXPECT_TRUE(str.labels.empty());
  EXPECT_TRUE(pktest::same_bytes(mem.centroids, str.centroids));
  EXPECT_EQ(std::memcmp(&mem.inertia, &str.inertia, sizeof(double)), 0);
  EXPECT_EQ(mem.iterations, str.iterations);
  EXPECT_EQ(mem.converged, str.converged);
  EXPECT_EQ(mem.sizes, str.sizes);
  for (auto s : mem.sizes) EXPECT_GT(s, 0);
}

TEST(Lloyd, ProgressCancels) {
  const auto b = make_blobs(2000, 3, 4, 2.0, 3);
  pk::KMeansParams p;
  p.k = 4;
  p.tol = 0;
  int calls = 0;
  p.progress = [&](const pk::Progress& pr) { ++calls; return pr.iteration < 2; };
  EXPECT_THROW(pk::fit(b.x.data(), b.n, b.d, p), pk::Error);
  EXPECT_EQ(calls, 2);
}

// Counters: Lloyd computes n*k distances per iteration plus the final E-step when it
// stopped on tol/max_iter; lloyd_equivalent is n*k*iterations.
TEST(Lloyd, WorkCounters) {
  const auto b = make_blobs(5000, 4, 5, 2.0, 3);
  const auto c0 = head(b, 5);
  auto p = given(c0, 5);
  p.max_iter = 3;
  p.tol = 0;
  const auto r = pk::fit(b.x.data(), b.n, b.d, p);
  ASSERT_EQ(r.iterations, 3);
  EXPECT_EQ(r.lloyd_equivalent, 5000u * 5 * 3);
  EXPECT_EQ(r.distance_evaluations, 5000u * 5 * 4);
  EXPECT_EQ(r.algorithm, pk::Algorithm::lloyd);
  EXPECT_GT(r.state_bytes, 0u);
}

// A source that breaks the block alignment contract, or delivers fewer rows than it
// announces, is a clear error, not a silently different result.
namespace {
class BadSource final : public pk::RowSource {
 public:
  BadSource(const std::vector<float>& x, std::size_t n, std::size_t d, bool misalign) : x_(x), n_(n), d_(d), mis_(misalign) {}
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }
  void for_each_block(std::size_t align, const BlockFn& fn) override {
    const std::size_t step = mis_ ? align + 1 : align;
    const std::size_t end = mis_ ? n_ : n_ - 1;  // truncated: last row missing
    for (std::size_t r = 0; r < end; r += step) fn(x_.data() + r * d_, r, std::min(step, end - r));
  }
  void read_rows(const std::uint64_t*, std::size_t, float*) override {}

 private:
  const std::vector<float>& x_;
  std::size_t n_, d_;
  bool mis_;
};
}  // namespace

TEST(Lloyd, StreamedBadSourceErrors) {
  const auto b = make_blobs(3 * pk::detail::kChunkRows, 3, 3, 2.0, 3);
  pk::KMeansParams p;
  p.k = 3;
  BadSource mis(b.x, b.n, b.d, true), trunc(b.x, b.n, b.d, false);
  EXPECT_THROW(pk::fit(mis, p), pk::Error);
  EXPECT_THROW(pk::fit(trunc, p), pk::Error);
}

TEST(Lloyd, NamesRoundTrip) {
  for (auto a : {pk::Algorithm::automatic, pk::Algorithm::lloyd, pk::Algorithm::elkan, pk::Algorithm::hamerly,
                 pk::Algorithm::yinyang, pk::Algorithm::exponion, pk::Algorithm::minibatch})
    EXPECT_EQ(pk::parse_algorithm(pk::algorithm_name(a)), a);
  for (auto i : {pk::Init::random, pk::Init::kmeanspp, pk::Init::kmeans_parallel})
    EXPECT_EQ(pk::parse_init(pk::init_name(i)), i);
  EXPECT_THROW(pk::parse_algorithm("fast"), pk::Error);
  EXPECT_THROW(pk::parse_init("file"), pk::Error);
}
