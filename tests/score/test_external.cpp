// External scores vs plain references (pair counting, direct sums, log-gamma EMI) and
// their properties.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace pk = personakit;
using Labels = std::vector<std::int32_t>;

namespace {

Labels random_labels(std::size_t n, int k, std::uint64_t seed, int offset = 0) {
  std::mt19937_64 g(seed);
  Labels l(n);
  for (auto& v : l) v = offset + static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(k));
  return l;
}

// Reference scores from a std::map contingency table, all in long double.
struct Ref {
  long double n = 0, ari = 0, mi = 0, emi = 0, ha = 0, hb = 0;
  std::map<std::int32_t, long double> a, b;
  std::map<std::pair<std::int32_t, std::int32_t>, long double> cells;
};

long double lfact(long double v) { return std::lgamma(v + 1); }

Ref reference(const Labels& x, const Labels& y) {
  Ref r;
  r.n = x.size();
  for (std::size_t i = 0; i < x.size(); ++i) { r.a[x[i]] += 1; r.b[y[i]] += 1; r.cells[{x[i], y[i]}] += 1; }
  // ARI by counting unordered pairs directly, O(n²): Hubert & Arabie's form.
  long double both = 0, same_a = 0, same_b = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = i + 1; j < x.size(); ++j) {
      both += (x[i] == x[j] && y[i] == y[j]);
      same_a += x[i] == x[j];
      same_b += y[i] == y[j];
    }
  const long double pairs = r.n * (r.n - 1) / 2;
  const long double expected = pairs > 0 ? same_a * same_b / pairs : 0;
  const long double mx = (same_a + same_b) / 2;
  r.ari = mx == expected ? 1.0L : (both - expected) / (mx - expected);
  for (const auto& [k, c] : r.cells) r.mi += c / r.n * std::log(r.n * c / (r.a[k.first] * r.b[k.second]));
  for (const auto& [k, c] : r.a) r.ha -= c / r.n * std::log(c / r.n);
  for (const auto& [k, c] : r.b) r.hb -= c / r.n * std::log(c / r.n);
  // Expected MI (Vinh, Epps & Bailey 2010), every term through log-gamma.
  for (const auto& [ka, A] : r.a)
    for (const auto& [kb, B] : r.b)
      for (long double nij = std::max<long double>(1, A + B - r.n); nij <= std::min(A, B); nij += 1) {
        const long double lp = lfact(A) + lfact(B) + lfact(r.n - A) + lfact(r.n - B) - lfact(r.n) - lfact(nij) -
                               lfact(A - nij) - lfact(B - nij) - lfact(r.n - A - B + nij);
        r.emi += nij / r.n * std::log(r.n * nij / (A * B)) * std::exp(lp);
      }
  return r;
}

}  // namespace

TEST(External, MatchesBruteForceReferences) {
  for (auto [n, ka, kb, seed] : {std::tuple{50, 3, 4, 1}, {200, 7, 5, 2}, {301, 2, 9, 3}, {120, 12, 12, 4}}) {
    Labels a = random_labels(n, ka, seed, -3), b = random_labels(n, kb, seed + 100, 10);
    // Make them related, so the scores are not all near 0.
    for (int i = 0; i < n; i += 3) b[i] = 10 + (a[i] + 3) % kb;
    const Ref r = reference(a, b);
    const auto s = pk::external_scores(a.data(), b.data(), n);
    // Every quantity is a sum of <= n² terms each exact to a few ulps: 1e-12 is loose.
    EXPECT_NEAR(s.ari, double(r.ari), 1e-12);
    EXPECT_NEAR(s.mutual_info, double(r.mi), 1e-12);
    // EMI via log-gamma in long double: lgamma(n) ~ 1e3 here, so exp(lp) carries
    // ~1e3·1e-19 relative error: 1e-12 absolute is far above both.
    EXPECT_NEAR(s.expected_mutual_info, double(r.emi), 1e-12);
    const double nmi = double(r.mi / ((r.ha + r.hb) / 2));
    const double ami = double((r.mi - r.emi) / ((r.ha + r.hb) / 2 - r.emi));
    EXPECT_NEAR(s.nmi, nmi, 1e-12);
    EXPECT_NEAR(s.ami, ami, 1e-11);
    EXPECT_NEAR(s.hc.homogeneity, double(r.mi / r.ha), 1e-12);
    EXPECT_NEAR(s.hc.completeness, double(r.mi / r.hb), 1e-12);
    EXPECT_NEAR(s.hc.v_measure, double(2 * r.mi / (r.ha + r.hb)), 1e-12);
    // The one-score entry points agree with the combined one exactly.
    EXPECT_EQ(pk::adjusted_rand(a.data(), b.data(), n), s.ari);
    EXPECT_EQ(pk::normalized_mutual_info(a.data(), b.data(), n), s.nmi);
    EXPECT_EQ(pk::adjusted_mutual_info(a.data(), b.data(), n), s.ami);
    EXPECT_EQ(pk::homogeneity_completeness(a.data(), b.data(), n).v_measure, s.hc.v_measure);
  }
}

TEST(External, ContingencyMatchesMap) {
  const Labels a = random_labels(500, 6, 7, -2), b = random_labels(500, 4, 8, 1000);
  const auto c = pk::contingency(a.data(), b.data(), a.size());
  std::map<std::pair<int, int>, std::int64_t> m;
  for (std::size_t i = 0; i < a.size(); ++i) ++m[{a[i], b[i]}];
  ASSERT_EQ(c.row_labels, (Labels{-2, -1, 0, 1, 2, 3}));
  ASSERT_EQ(c.col_labels, (Labels{1000, 1001, 1002, 1003}));
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t q = 0; q < 4; ++q) EXPECT_EQ(c.counts[r * 4 + q], (m[{c.row_labels[r], c.col_labels[q]}]));
  // Sparse label values far apart take the sorting path; same table.
  Labels a2 = a, b2 = b;
  for (auto& v : a2) v = v * 100000000;
  const auto c2 = pk::contingency(a2.data(), b2.data(), a2.size());
  EXPECT_EQ(c2.counts, c.counts);
}

TEST(External, Properties) {
  const Labels a = random_labels(3000, 8, 11), b = random_labels(3000, 5, 12);
  const auto s = pk::external_scores(a.data(), a.data(), a.size());
  EXPECT_EQ(s.ari, 1.0);
  EXPECT_NEAR(s.nmi, 1.0, 1e-14);
  EXPECT_NEAR(s.ami, 1.0, 1e-12);
  EXPECT_NEAR(s.hc.v_measure, 1.0, 1e-14);
  // Renaming clusters (a permutation of values, arbitrary int32s) changes nothing.
  const std::int32_t names[8] = {-7, 1 << 30, 3, 0, -1000000, 42, 5, 99};
  Labels ar(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) ar[i] = names[a[i]];
  const auto s1 = pk::external_scores(a.data(), b.data(), a.size());
  const auto s2 = pk::external_scores(ar.data(), b.data(), a.size());
  EXPECT_EQ(s1.ari, s2.ari);
  EXPECT_NEAR(s1.nmi, s2.nmi, 1e-15);
  EXPECT_NEAR(s1.ami, s2.ami, 1e-13);
  // Symmetry of ARI, NMI, AMI; homogeneity and completeness swap.
  const auto s3 = pk::external_scores(b.data(), a.data(), a.size());
  EXPECT_NEAR(s1.ari, s3.ari, 1e-15);
  EXPECT_NEAR(s1.nmi, s3.nmi, 1e-15);
  EXPECT_NEAR(s1.ami, s3.ami, 1e-13);
  EXPECT_NEAR(s1.hc.homogeneity, s3.hc.completeness, 1e-15);
}

TEST(External, AmiNearZeroForIndependentLabellings) {
  // For independent labellings 2N·MI ~ chi² with (Ka-1)(Kb-1) = 81 dof, so MI has
  // sd sqrt(2·81)/(2N) = 6.4e-4 at N = 1e4 and AMI = (MI - EMI)/(H - EMI) with
  // H ~ ln 10 has sd ~ 2.8e-4. One value within 6 sd: |AMI| < 1.7e-3; the mean of 20
  // within 6 sd/sqrt(20) = 3.8e-4. ARI has sd ~ 1/N·O(1): the same bounds are loose.
  double mean = 0;
  for (int t = 0; t < 20; ++t) {
    const Labels a = random_labels(10000, 10, 1000 + t), b = random_labels(10000, 10, 2000 + t);
    const auto s = pk::external_scores(a.data(), b.data(), a.size());
    EXPECT_LT(std::fabs(s.ami), 1.7e-3);
    EXPECT_LT(std::fabs(s.ari), 1.7e-3);
    mean += s.ami / 20;
  }
  EXPECT_LT(std::fabs(mean), 3.8e-4);
}

TEST(External, EdgeCasesFollowScikitLearn) {
  const Labels empty;
  auto s = pk::external_scores(empty.data(), empty.data(), 0);
  EXPECT_EQ(s.ari, 1.0); EXPECT_EQ(s.nmi, 1.0); EXPECT_EQ(s.ami, 1.0);
  EXPECT_EQ(s.hc.homogeneity, 1.0); EXPECT_EQ(s.hc.v_measure, 1.0);
  const Labels one(10, 4), split = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, two = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
  s = pk::external_scores(one.data(), one.data(), 10);  // both a single cluster
  EXPECT_EQ(s.ari, 1.0); EXPECT_EQ(s.nmi, 1.0); EXPECT_EQ(s.ami, 1.0);
  s = pk::external_scores(one.data(), split.data(), 10);  // one vs all singletons
  EXPECT_EQ(s.ari, 0.0); EXPECT_EQ(s.nmi, 0.0); EXPECT_EQ(s.ami, 0.0);
  EXPECT_EQ(s.hc.homogeneity, 1.0); EXPECT_EQ(s.hc.completeness, 0.0);
  s = pk::external_scores(two.data(), one.data(), 10);
  EXPECT_EQ(s.hc.homogeneity, 0.0); EXPECT_EQ(s.hc.completeness, 1.0); EXPECT_EQ(s.nmi, 0.0);
  s = pk::external_scores(split.data(), split.data(), 10);
  EXPECT_EQ(s.ari, 1.0); EXPECT_NEAR(s.ami, 1.0, 1e-12);
  const Labels single = {3};
  s = pk::external_scores(single.data(), single.data(), 1);
  EXPECT_EQ(s.ari, 1.0); EXPECT_EQ(s.nmi, 1.0);
}

TEST(External, NoiseExclusionEqualsFilteredInput) {
  Labels a = random_labels(2000, 5, 21), b = random_labels(2000, 6, 22);
  for (std::size_t i = 0; i < a.size(); i += 2) b[i] = a[i];
  for (std::size_t i = 0; i < a.size(); i += 7) a[i] = -1;
  for (std::size_t i = 3; i < a.size(); i += 11) b[i] = -1;
  Labels fa, fb;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0 && b[i] >= 0) { fa.push_back(a[i]); fb.push_back(b[i]); }
  const auto s = pk::external_scores(a.data(), b.data(), a.size(), true);
  const auto f = pk::external_scores(fa.data(), fb.data(), fa.size());
  EXPECT_EQ(s.n, fa.size());
  EXPECT_EQ(s.ari, f.ari); EXPECT_EQ(s.nmi, f.nmi); EXPECT_EQ(s.ami, f.ami);
  // Without exclusion -1 is an ordinary cluster name.
  const auto k = pk::external_scores(a.data(), b.data(), a.size(), false);
  EXPECT_EQ(k.truth_clusters, 6u);
  EXPECT_NE(k.ari, f.ari);
}

TEST(External, LargeNManyClustersStaysFinite) {
  // 1e6 labels, 2000 × 3000 clusters: the EMI terms need the stable evaluation;
  // independent labellings give |AMI| within the chi² bound: dof ~ 6e6, sd of MI ~
  // sqrt(2·6e6)/(2e6) = 1.7e-3, H ~ 7.6 and EMI ~ 3 so sd(AMI) ~ 4e-4; 6 sd = 2.4e-3.
  const Labels a = random_labels(1000000, 2000, 31), b = random_labels(1000000, 3000, 32);
  const auto t0 = std::chrono::steady_clock::now();
  const auto s = pk::external_scores(a.data(), b.data(), a.size());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(std::isfinite(s.ami));
  EXPECT_LT(std::fabs(s.ami), 2.4e-3);
  EXPECT_GT(s.expected_mutual_info, 0.0);
  EXPECT_LT(secs, 10.0);
  RecordProperty("seconds", std::to_string(secs));
}

TEST(External, CountingPathsAgree) {
  // 4.5e6 labels in 2900 × 2900 clusters: 8.41e6 cells, just above the 2^23 cells
  // (32 MiB) where raw-value counting switches to partition-then-count. Spreading the
  // values (×1000003) forces the dense-id path instead. Same counts, so ARI is
  // bit-identical; MI differs only in the order of its fp64 sum (<= 1e-12).
  const std::size_t n = 4500000;
  const Labels a = random_labels(n, 2900, 41), b = random_labels(n, 2900, 42);
  Labels as(n);
  for (std::size_t i = 0; i < n; ++i) as[i] = a[i] * 1000003;
  const auto s1 = pk::external_scores(a.data(), b.data(), n);
  const auto s2 = pk::external_scores(as.data(), b.data(), n);
  EXPECT_EQ(s1.ari, s2.ari);
  EXPECT_NEAR(s1.mutual_info, s2.mutual_info, 1e-12);
  EXPECT_NEAR(s1.ami, s2.ami, 1e-12);
  EXPECT_EQ(s1.truth_clusters, 2900u);
}
