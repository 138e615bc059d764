// Exact and sampled silhouette vs an O(N²) fp64 reference, on every ISA available.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/score.hpp"

namespace pk = personakit;
using Labels = std::vector<std::int32_t>;

namespace {

// Integer-valued data (|v| <= 40): every canonical fp32 squared distance is then exact
// (integers below 2^24), so the library's distance differs from the exact one only by
// the sqrt's rounding, 2^-24 relative.
struct Data { std::vector<float> x; Labels y; std::size_t n, d; };
Data make(std::size_t n, std::size_t d, int k, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  Data r{std::vector<float>(n * d), Labels(n), n, d};
  std::vector<int> centers(k * d);
  for (auto& c : centers) c = static_cast<int>(g() % 61) - 30;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(g() % k);
    r.y[i] = c;
    for (std::size_t j = 0; j < d; ++j) r.x[i * d + j] = float(centers[c * d + j] + static_cast<int>(g() % 21) - 10);
  }
  return r;
}

// Plain O(N²) silhouette in fp64, straight from the definition.
std::vector<double> reference(const std::vector<float>& x, const Labels& y, std::size_t d) {
  const std::size_t n = y.size();
  std::map<int, double> cnt;
  for (int l : y) cnt[l] += 1;
  std::vector<double> s(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    std::map<int, double> sum;
    for (auto& [l, c] : cnt) sum[l] = 0;
    for (std::size_t j = 0; j < n; ++j) {
      double e = 0;
      for (std::size_t f = 0; f < d; ++f) { const double t = double(x[i * d + f]) - x[j * d + f]; e += t * t; }
      sum[y[j]] += std::sqrt(e);
    }
    if (cnt[y[i]] == 1) continue;
    const double a = sum[y[i]] / (cnt[y[i]] - 1);
    double b = INFINITY;
    for (auto& [l, c] : cnt) if (l != y[i]) b = std::min(b, sum[l] / c);
    s[i] = std::max(a, b) > 0 ? (b - a) / std::max(a, b) : 0.0;
  }
  return s;
}

// Per-row sums carry the sqrt's 2^-24 relative rounding, and on the AVX-512 path fp32
// partial sums of <= 16 terms (<= 16·2^-24 more); a and b are each within
// 17·2^-24 = 1.01e-6 relative, so s = 1 - a/b (or b/a - 1) within 2·1.01e-6·|a/b| <= 2.1e-6.
constexpr double kTolS = 2.1e-6;

class SilhouetteIsa : public ::testing::TestWithParam<pk::Isa> {
 protected:
  void SetUp() override { pk::force_isa(GetParam()); }
};

}  // namespace

TEST_P(SilhouetteIsa, MatchesBruteForce) {
  // d and cluster sizes just off the 16-wide panels and the 4-row block.
  // 2100 × 40: three column chunks of 768 (chunks cross clusters in the tiled engine);
  // 700 rows in 300 clusters: the symmetric engine hands over to the tiled one.
  for (auto [n, d, k] : {std::tuple{37u, 1u, 2}, {203u, 3u, 5}, {517u, 16u, 8}, {261u, 17u, 3}, {150u, 33u, 4},
                         {2100u, 40u, 6}, {700u, 4u, 300}}) {
    Data t = make(n, d, k, 100 + n);
    t.y[5] = k;  // a singleton cluster: s = 0 there
    const auto ref = reference(t.x, t.y, d);
    const auto r = pk::silhouette(t.x.data(), n, d, t.y.data(), true);
    ASSERT_EQ(r.per_sample.size(), n);
    double mean = 0;
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(r.per_sample[i], ref[i], kTolS + 6e-8) << "row " << i;  // + float storage rounding
      mean += ref[i];
    }
    EXPECT_EQ(r.per_sample[5], 0.0f);
    EXPECT_NEAR(r.mean, mean / n, kTolS);
    Labels present(t.y);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    ASSERT_EQ(r.cluster_labels, present);  // ascending values actually present
    ASSERT_EQ(r.per_cluster.size(), present.size());
    for (std::size_t q = 0; q < present.size(); ++q) {
      double m = 0, cnt = 0;
      for (std::size_t i = 0; i < n; ++i) if (t.y[i] == present[q]) { m += ref[i]; cnt += 1; }
      EXPECT_NEAR(r.per_cluster[q], m / cnt, kTolS);
    }
    // Each unordered pair at least once, each ordered pair at most once.
    EXPECT_GE(r.distance_evaluations, std::uint64_t(n) * (n + 1) / 2);
    EXPECT_LE(r.distance_evaluations, std::uint64_t(n) * n);
  }
}

TEST_P(SilhouetteIsa, DeterministicAcrossThreadCounts) {
  const Data t = make(2000, 16, 6, 7);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto r1 = pk::silhouette(t.x.data(), t.n, t.d, t.y.data(), true);
  omp_set_num_threads(2);
  const auto r2 = pk::silhouette(t.x.data(), t.n, t.d, t.y.data(), true);
  omp_set_num_threads(saved);
  EXPECT_EQ(std::memcmp(&r1.mean, &r2.mean, sizeof(double)), 0);
  EXPECT_EQ(r1.per_sample, r2.per_sample);
}

INSTANTIATE_TEST_SUITE_P(Isa, SilhouetteIsa, ::testing::ValuesIn(pk::available_isas()),
                         [](const auto& info) { return std::string(pk::isa_name(info.param)); });

TEST(Silhouette, IsasAgree) {
  // Every ISA's fused tile (scalar reference, AVX2, AVX-512) sees the same canonical
  // distances bit for bit; only the summation order differs, and kTolS bounds each
  // against exact sums, so any two agree within 2·kTolS. Real-valued data here
  // (the brute-force tests use integer data).
  const auto isas = pk::available_isas();
  std::vector<float> x(4099 * 9);
  Labels y(4099);
  std::mt19937_64 g(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (std::size_t i = 0; i < y.size(); ++i) {
    y[i] = static_cast<std::int32_t>(g() % 7);
    for (std::size_t j = 0; j < 9; ++j) x[i * 9 + j] = 2.0f * float(y[i] % 3) + nd(g);
  }
  pk::force_isa(pk::Isa::scalar);
  const auto ref = pk::silhouette(x.data(), y.size(), 9, y.data(), true);
  for (pk::Isa isa : isas) {
    pk::force_isa(isa);
    const auto r = pk::silhouette(x.data(), y.size(), 9, y.data(), true);
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(r.per_sample[i], ref.per_sample[i], 2 * kTolS) << pk::isa_name(isa);
    EXPECT_NEAR(r.mean, ref.mean, 2 * kTolS) << pk::isa_name(isa);
    EXPECT_EQ(r.distance_evaluations, ref.distance_evaluations);  // the same (symmetric) engine
  }
  pk::force_isa(isas.back());
}

TEST(Silhouette, LabelsAnyValuesAndNoise) {
  Data t = make(600, 5, 4, 3);
  Labels renamed(t.n), noisy = t.y;
  const std::int32_t names[4] = {90, 3, 1 << 20, 17};
  for (std::size_t i = 0; i < t.n; ++i) renamed[i] = names[t.y[i]];
  const auto r0 = pk::silhouette(t.x.data(), t.n, t.d, t.y.data(), true);
  const auto r1 = pk::silhouette(t.x.data(), t.n, t.d, renamed.data(), true);
  // Renaming reorders the clusters and so the summation: both within kTolS of exact.
  EXPECT_NEAR(r1.mean, r0.mean, 2 * kTolS);
  EXPECT_EQ(r1.cluster_labels, (Labels{3, 17, 90, 1 << 20}));
  EXPECT_NEAR(r1.per_cluster[0], r0.per_cluster[1], 2 * kTolS);  // value 3 was cluster 1
  std::vector<float> fx;
  Labels fy;
  for (std::size_t i = 0; i < t.n; ++i) {
    if (i % 6 == 1) { noisy[i] = -1; continue; }
    fx.insert(fx.end(), t.x.begin() + i * t.d, t.x.begin() + i * t.d + t.d);
    fy.push_back(t.y[i]);
  }
  EXPECT_THROW(pk::silhouette(t.x.data(), t.n, t.d, noisy.data()), pk::Error);
  const auto rn = pk::silhouette(t.x.data(), t.n, t.d, noisy.data(), true, true);
  const auto rf = pk::silhouette(fx.data(), fy.size(), t.d, fy.data());
  EXPECT_NEAR(rn.mean, rf.mean, 2 * kTolS);
  EXPECT_EQ(rn.per_sample[1], 0.0f);
}

TEST(Silhouette, EdgeCases) {
  const std::vector<float> same(5 * 3, 2.5f);
  const Labels one(5, 1), two = {0, 1, 0, 1, 1}, all = {0, 1, 2, 3, 4}, mostly = {0, 0, 1, 2, 3};
  EXPECT_THROW(pk::silhouette(same.data(), 5, 3, one.data()), pk::Error);   // single cluster
  EXPECT_THROW(pk::silhouette(same.data(), 5, 3, all.data()), pk::Error);   // K = n
  EXPECT_EQ(pk::silhouette(same.data(), 5, 3, two.data()).mean, 0.0);      // all identical: 0/0 -> 0
  // Singletons score 0; the pair (rows 0, 1) scores (b - a)/max = (b - 0)/b = 1 when b > 0.
  const std::vector<float> line = {0, 0, 10, 20, 30};
  const auto r = pk::silhouette(line.data(), 5, 1, mostly.data(), true);
  EXPECT_EQ(r.per_sample, (std::vector<float>{1, 1, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(r.mean, 0.4);
}

TEST(Silhouette, SampledIsTheExactScoreOfTheSample) {
  const Data t = make(5000, 8, 5, 11);
  const std::size_t m = 700;
  const auto idx = pk::silhouette_sample_indices(t.n, m, 42);
  ASSERT_EQ(idx.size(), m);
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_EQ(std::adjacent_find(idx.begin(), idx.end()), idx.end());  // without replacement
  std::vector<float> sx;
  Labels sy;
  for (auto i : idx) { sx.insert(sx.end(), t.x.begin() + i * t.d, t.x.begin() + i * t.d + t.d); sy.push_back(t.y[i]); }
  const double exact_of_sample = pk::silhouette(sx.data(), m, t.d, sy.data()).mean;
  EXPECT_EQ(pk::silhouette_sampled(t.x.data(), t.n, t.d, t.y.data(), m, 42), exact_of_sample);
  EXPECT_EQ(pk::silhouette_sampled(t.x.data(), t.n, t.d, t.y.data(), m, 42), exact_of_sample);  // same seed
  EXPECT_NE(pk::silhouette_sample_indices(t.n, m, 43), idx);
  EXPECT_EQ(pk::silhouette_sampled(t.x.data(), t.n, t.d, t.y.data(), t.n + 5, 1),
            pk::silhouette(t.x.data(), t.n, t.d, t.y.data()).mean);
  // The sample mean estimates the full mean: s in [-1, 1] has sd <= 1, so 6 sd of a
  // 700-row mean (finite population, ignored: it only shrinks the spread) is 0.23.
  EXPECT_NEAR(exact_of_sample, pk::silhouette(t.x.data(), t.n, t.d, t.y.data()).mean, 0.23);
}
