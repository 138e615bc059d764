// Davies–Bouldin, Calinski–Harabasz, inertia, simplified silhouette and the streamed
// accumulator vs direct fp64 formulas written out plainly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace pk = personakit;
using Labels = std::vector<std::int32_t>;

namespace {

struct Blobs { std::vector<float> x; Labels y; std::size_t n, d; };

// k Gaussian blobs, labels = generating blob (a few swapped so clusters overlap).
Blobs blobs(std::size_t n, std::size_t d, int k, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> centers(k * d);
  for (auto& c : centers) c = 6.f * nd(g);
  Blobs b{std::vector<float>(n * d), Labels(n), n, d};
  for (std::size_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(g() % k);
    b.y[i] = (i % 17 == 0) ? static_cast<int>((c + 1) % k) : c;
    for (std::size_t j = 0; j < d; ++j) b.x[i * d + j] = centers[c * d + j] + nd(g);
  }
  return b;
}

double dist(const double* a, const double* b, std::size_t d) {
  double s = 0;
  for (std::size_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return std::sqrt(s);
}

struct Direct { double db, ch, inertia_means; std::vector<double> means; std::map<int, int> index; };

// Direct two-pass formulas in fp64 (the definitions, as scikit-learn writes them).
Direct direct(const Blobs& b) {
  Direct r;
  for (int l : b.y) r.index.emplace(l, 0);
  int k = 0;
  for (auto& [l, i] : r.index) i = k++;
  const std::size_t d = b.d;
  std::vector<double> cnt(k, 0), mean(k * d, 0), all(d, 0);
  for (std::size_t i = 0; i < b.n; ++i) {
    const int c = r.index[b.y[i]];
    cnt[c] += 1;
    for (std::size_t j = 0; j < d; ++j) { mean[c * d + j] += b.x[i * d + j]; all[j] += b.x[i * d + j]; }
  }
  for (int c = 0; c < k; ++c) for (std::size_t j = 0; j < d; ++j) mean[c * d + j] /= cnt[c];
  for (auto& v : all) v /= double(b.n);
  double extra = 0, intra = 0;
  std::vector<double> s(k, 0);
  for (std::size_t i = 0; i < b.n; ++i) {
    const int c = r.index[b.y[i]];
    std::vector<double> xi(b.x.begin() + i * d, b.x.begin() + i * d + d);
    const double e = dist(xi.data(), &mean[c * d], d);
    intra += e * e;
    s[c] += e;
  }
  for (int c = 0; c < k; ++c) { const double e = dist(&mean[c * d], all.data(), d); extra += cnt[c] * e * e; s[c] /= cnt[c]; }
  r.ch = extra * double(b.n - k) / (intra * double(k - 1));
  r.inertia_means = intra;
  double db = 0;
  for (int a = 0; a < k; ++a) {
    double worst = 0;
    for (int c = 0; c < k; ++c)
      if (c != a) worst = std::max(worst, (s[a] + s[c]) / dist(&mean[a * d], &mean[c * d], d));
    db += worst;
  }
  r.db = db / k;
  r.means = mean;
  return r;
}

}  // namespace

// All computations are fp64 sums over <= 1e5 terms of values ~1e2: relative rounding
// <= 1e5·2^-53 ~ 1e-11 in the worst case; 1e-10 relative covers the different orders.
TEST(Internal, DaviesBouldinCalinskiHarabaszMatchDirect) {
  for (auto [n, d, k] : {std::tuple{1000u, 3u, 4}, {5003u, 16u, 8}, {20000u, 7u, 3}}) {
    const Blobs b = blobs(n, d, k, n);
    const Direct r = direct(b);
    EXPECT_NEAR(pk::davies_bouldin(b.x.data(), n, d, b.y.data()), r.db, 1e-10 * r.db);
    EXPECT_NEAR(pk::calinski_harabasz(b.x.data(), n, d, b.y.data()), r.ch, 1e-10 * r.ch);
  }
}

TEST(Internal, InertiaAndStreamedAccumulator) {
  const Blobs b = blobs(30011, 5, 6, 3);
  const Direct r = direct(b);
  std::vector<float> cf(r.means.begin(), r.means.end());
  // inertia with given centroids = the direct sum; with weights w, the weighted sum.
  double direct_in = 0, direct_w = 0;
  std::vector<float> w(b.n);
  for (std::size_t i = 0; i < b.n; ++i) {
    w[i] = 0.5f + float(i % 4);
    double s = 0;
    for (std::size_t j = 0; j < b.d; ++j) { const double t = double(b.x[i * b.d + j]) - double(cf[b.y[i] * b.d + j]); s += t * t; }
    direct_in += s; direct_w += w[i] * s;
  }
  EXPECT_NEAR(pk::inertia(b.x.data(), b.n, b.d, b.y.data(), cf.data(), 6), direct_in, 1e-10 * direct_in);
  EXPECT_NEAR(pk::inertia(b.x.data(), b.n, b.d, b.y.data(), cf.data(), 6, w.data()), direct_w, 1e-10 * direct_w);
  // Streamed in uneven blocks: the same scores as the in-memory functions.
  const double db = pk::davies_bouldin(b.x.data(), b.n, b.d, b.y.data());
  const double ch = pk::calinski_harabasz(b.x.data(), b.n, b.d, b.y.data());
  pk::ScoreAccumulator acc(b.d);
  const std::size_t cuts[] = {0, 1, 777, 10000, 10001, 30011};
  for (int pass = 0; pass < 2; ++pass) {
    for (int q = 0; q + 1 < 6; ++q)
      acc.add_block(b.x.data() + cuts[q] * b.d, b.y.data() + cuts[q], cuts[q + 1] - cuts[q]);
    if (pass == 0) {
      const auto s1 = acc.finish();
      EXPECT_FALSE(s1.davies_bouldin.has_value());
      acc.second_pass();
    }
  }
  const auto s = acc.finish();
  EXPECT_EQ(s.n, b.n);
  EXPECT_NEAR(*s.calinski_harabasz, ch, 1e-10 * ch);
  EXPECT_NEAR(*s.davies_bouldin, db, 1e-10 * db);
  EXPECT_NEAR(s.inertia, r.inertia_means, 1e-10 * r.inertia_means);
  // Given centroids = the means (as fp32): one pass gives DB and inertia about them.
  pk::ScoreAccumulator g(b.d);
  g.set_centroids(cf.data(), 6);
  g.add_block(b.x.data(), b.y.data(), b.n);
  const auto sg = g.finish();
  EXPECT_NEAR(sg.inertia, direct_in, 1e-10 * direct_in);
  // fp32 rounding of the centroids moves each distance by <= |c|·2^-24 ~ 1e-6: DB by ~1e-6 relative.
  EXPECT_NEAR(*sg.davies_bouldin, db, 1e-5 * db);
}

TEST(Internal, LabelsAnyValuesAndNoise) {
  const Blobs b = blobs(4000, 4, 3, 9);
  Labels renamed(b.n), noisy = b.y;
  const std::int32_t names[3] = {1000000, 7, 42};
  for (std::size_t i = 0; i < b.n; ++i) renamed[i] = names[b.y[i]];
  // Renaming reorders the clusters, so only the order of fp64 sums changes: 1e-12 relative.
  const double ch = pk::calinski_harabasz(b.x.data(), b.n, b.d, b.y.data());
  const double db = pk::davies_bouldin(b.x.data(), b.n, b.d, b.y.data());
  EXPECT_NEAR(pk::calinski_harabasz(b.x.data(), b.n, b.d, renamed.data()), ch, 1e-12 * ch);
  EXPECT_NEAR(pk::davies_bouldin(b.x.data(), b.n, b.d, renamed.data()), db, 1e-12 * db);
  std::vector<float> fx;
  Labels fy;
  for (std::size_t i = 0; i < b.n; ++i) {
    if (i % 5 == 0) { noisy[i] = -1; continue; }
    fx.insert(fx.end(), b.x.begin() + i * b.d, b.x.begin() + i * b.d + b.d);
    fy.push_back(b.y[i]);
  }
  EXPECT_THROW(pk::calinski_harabasz(b.x.data(), b.n, b.d, noisy.data()), pk::Error);
  const double fch = pk::calinski_harabasz(fx.data(), fy.size(), b.d, fy.data());
  const double fdb = pk::davies_bouldin(fx.data(), fy.size(), b.d, fy.data());
  EXPECT_NEAR(pk::calinski_harabasz(b.x.data(), b.n, b.d, noisy.data(), true), fch, 1e-12 * fch);
  EXPECT_NEAR(pk::davies_bouldin(b.x.data(), b.n, b.d, noisy.data(), true), fdb, 1e-12 * fdb);
}

TEST(Internal, EdgeCases) {
  const std::vector<float> x = {1, 2, 1, 2, 1, 2, 1, 2};  // 4 identical points, d = 2
  const Labels one = {5, 5, 5, 5}, two = {0, 1, 0, 1}, all = {0, 1, 2, 3};
  EXPECT_THROW(pk::calinski_harabasz(x.data(), 4, 2, one.data()), pk::Error);   // K = 1
  EXPECT_THROW(pk::davies_bouldin(x.data(), 4, 2, all.data()), pk::Error);      // K = n
  EXPECT_EQ(pk::calinski_harabasz(x.data(), 4, 2, two.data()), 1.0);            // no dispersion
  EXPECT_EQ(pk::davies_bouldin(x.data(), 4, 2, two.data()), 0.0);              // all distances 0
  const std::vector<float> c = {1, 2, 1, 2};
  EXPECT_EQ(pk::silhouette_simplified(x.data(), 4, 2, two.data(), c.data(), 2), 0.0);
  const Labels bad = {0, 1, 2, 0};
  EXPECT_THROW(pk::inertia(x.data(), 4, 2, bad.data(), c.data(), 2), pk::Error);
}

TEST(Internal, SimplifiedSilhouetteMatchesDirect) {
  const Blobs b = blobs(3001, 6, 5, 17);
  const Direct r = direct(b);
  std::vector<float> cf(r.means.begin(), r.means.end());
  Labels y = b.y;
  y[10] = 4; y[11] = 4;  // make sure cluster sizes vary
  std::vector<int> cnt(5, 0);
  for (int l : y) ++cnt[l];
  double ref = 0;
  for (std::size_t i = 0; i < b.n; ++i) {
    std::vector<double> xi(b.x.begin() + i * b.d, b.x.begin() + i * b.d + b.d), cd(b.d);
    double a = 0, bb = INFINITY;
    for (int c = 0; c < 5; ++c) {
      for (std::size_t j = 0; j < b.d; ++j) cd[j] = cf[c * b.d + j];
      const double e = dist(xi.data(), cd.data(), b.d);
      if (c == y[i]) a = e; else bb = std::min(bb, e);
    }
    ref += cnt[y[i]] > 1 ? (bb - a) / std::max(a, bb) : 0.0;
  }
  ref /= double(b.n);
  // The library takes sqrt of the canonical fp32 squared distance: |x|²,|c|² ~ 1e3 so
  // the fp32 expansion errs by ~1e3·2^-24·few = 2e-4 absolute on squared distances
  // ~10..1e3, i.e. <= 2e-5 relative on a distance, <= 4e-5 on each s and on the mean.
  EXPECT_NEAR(pk::silhouette_simplified(b.x.data(), b.n, b.d, y.data(), cf.data(), 5), ref, 4e-5);
}

// The accumulator fed in blocks that are multiples of chunk_rows() gives the same bits
// as one block (the in-memory functions): chunks are cut at the same rows and merged in
// the same order, whatever the block boundaries and the thread count. Labels are
// registered first so K (hence chunk_rows) is fixed from the first block.
TEST(Internal, StreamedBlocksBitIdenticalToOneBlock) {
  const Blobs b = blobs(70001, 7, 5, 21);
  Labels y = b.y;
  for (std::size_t i = 3; i < b.n; i += 11) y[i] = -1;  // noise, dropped
  auto run = [&](std::size_t block, const float* cent, bool sil) {
    pk::ScoreAccumulator acc(b.d, true);
    if (cent) acc.set_centroids(cent, 5);
    else acc.register_labels(y.data(), b.n);
    if (sil) acc.want_silhouette_simplified();
    const std::size_t step = (block + acc.chunk_rows() - 1) / acc.chunk_rows() * acc.chunk_rows();
    for (int pass = 1; pass <= (cent ? 1 : 2); ++pass) {
      if (pass == 2) acc.second_pass();
      for (std::size_t r = 0; r < b.n; r += step)
        acc.add_block(b.x.data() + r * b.d, y.data() + r, std::min(step, b.n - r));
    }
    return acc.finish();
  };
  auto same = [](double a, double c) { return std::memcmp(&a, &c, sizeof a) == 0; };
  const auto one = run(b.n, nullptr, true);
  ASSERT_EQ(one.cluster_labels.size(), 5u);
  std::vector<float> cf(one.means.begin(), one.means.end());
  const auto one_g = run(b.n, cf.data(), true);
  for (std::size_t block : {8192u, 16384u, 40000u}) {
    const auto s = run(block, nullptr, true);
    EXPECT_TRUE(same(s.inertia, one.inertia)) << block;
    EXPECT_TRUE(same(*s.calinski_harabasz, *one.calinski_harabasz)) << block;
    EXPECT_TRUE(same(*s.davies_bouldin, *one.davies_bouldin)) << block;
    EXPECT_TRUE(same(*s.silhouette_simplified, *one.silhouette_simplified)) << block;
    const auto g = run(block, cf.data(), true);
    EXPECT_TRUE(same(g.inertia, one_g.inertia)) << block;
    EXPECT_TRUE(same(*g.davies_bouldin, *one_g.davies_bouldin)) << block;
    EXPECT_TRUE(same(*g.silhouette_simplified, *one_g.silhouette_simplified)) << block;
  }
  // The in-memory functions are this accumulator fed one block.
  EXPECT_TRUE(same(pk::davies_bouldin(b.x.data(), b.n, b.d, y.data(), true), *one.davies_bouldin));
  EXPECT_TRUE(same(pk::calinski_harabasz(b.x.data(), b.n, b.d, y.data(), true), *one.calinski_harabasz));
  // Pass 2's simplified silhouette is about the pass-1 means rounded to fp32, i.e. the
  // same as silhouette_simplified with those centroids (labels 0..4 index them).
  EXPECT_TRUE(same(pk::silhouette_simplified(b.x.data(), b.n, b.d, y.data(), cf.data(), 5, true),
                   *one.silhouette_simplified));
  EXPECT_TRUE(same(*one_g.silhouette_simplified, *one.silhouette_simplified));
  // Inertia about given centroids vs inertia(): the same terms summed in another order.
  // Each is a sum of <= 70001 non-negative fp64 terms in chunks of 8192 then chunk
  // partials: error <= (8192 + 9 + 5)·2^-53 relative ~ 9.1e-13 each; allow 2e-12.
  const double direct = pk::inertia(b.x.data(), b.n, b.d, y.data(), cf.data(), 5, nullptr, true);
  EXPECT_NEAR(one_g.inertia, direct, 2e-12 * direct);
  // And about the means (pass 1, Chan's merge), vs the same sum about fp32 means: the
  // fp32 rounding of a mean moves the sum by n_c·|μ - fp32(μ)|² ~ n·d·(|μ|·2^-24)²,
  // here < 1e-9 of a sum ~ n·d (unit-variance blobs with |μ| ~ 6).
  EXPECT_NEAR(one.inertia, direct, 1e-9 * direct);
}

TEST(Internal, AccumulatorMisuse) {
  const std::vector<float> x = {0, 1, 2, 3};
  const Labels y = {0, 1};
  pk::ScoreAccumulator acc(2);
  acc.add_block(x.data(), y.data(), 2);
  EXPECT_THROW(acc.set_centroids(x.data(), 2), pk::Error);         // after a block
  EXPECT_THROW(acc.want_silhouette_simplified(), pk::Error);       // after a block
  pk::ScoreAccumulator g(2);
  g.set_centroids(x.data(), 2);
  const Labels out_of_range = {0, 2};
  EXPECT_THROW(g.add_block(x.data(), out_of_range.data(), 2), pk::Error);
  EXPECT_EQ(pk::ScoreAccumulator::chunk_rows_for(8), 8192u);
  EXPECT_EQ(pk::ScoreAccumulator::chunk_rows_for(2000), 16000u);
}
