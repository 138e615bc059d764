// Pairwise distances (fp32, fp64, every metric) and k nearest rows, every ISA,
// against the reference (ref::pairwise: one pair at a time, fp64 sums) and a
// brute-force sort. Tolerances are derived beside each check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "personakit/assign.hpp"
#include "personakit/distance.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"

namespace pk = personakit;

namespace {

template <class T>
std::vector<T> random_matrix(std::size_t rows, std::size_t d, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.5, 2.0);
  std::vector<T> m(rows * d);
  for (auto& v : m) v = T(g(rng));
  return m;
}

class DistanceIsa : public ::testing::TestWithParam<pk::Isa> {
 protected:
  void SetUp() override {
    saved_ = pk::active_isa();
    pk::force_isa(GetParam());
  }
  void TearDown() override { pk::force_isa(saved_); }
  pk::Isa saved_{};
};

std::string isa_param_name(const ::testing::TestParamInfo<pk::Isa>& info) { return pk::isa_name(info.param); }

const pk::Metric kMetrics[] = {pk::Metric::sqeuclidean, pk::Metric::euclidean, pk::Metric::cosine,
                               pk::Metric::inner_product, pk::Metric::manhattan};

// Error bound of metric m between our value and the reference's, for rows a, b.
// u = unit roundoff of the working precision of the fast path (2^-24 fp32, 2^-53 fp64);
// S = sum |a_j b_j|, and gamma_d = d·u/(1 - d·u) ≈ d·u bounds a d-term sum's error
// relative to the sum of the absolute terms (Higham, Accuracy and Stability, 3.1).
template <class T>
double tolerance(pk::Metric m, const T* a, const T* b, std::size_t d, double u) {
  double S = 0, na = 0, nb = 0;
  for (std::size_t j = 0; j < d; ++j) {
    S += std::fabs(double(a[j]) * double(b[j]));
    na += double(a[j]) * a[j];
    nb += double(b[j]) * b[j];
  }
  const double g = (d + 2) * u;  // gamma_d plus one rounding of the result, with slack
  switch (m) {
    case pk::Metric::inner_product:
      // fast dot: |err| <= gamma_d S; the reference is exact-ish (fp64) then rounded: u|dot| <= u S.
      return 1.1 * (g * S + u * S);
    case pk::Metric::cosine:
      // dot/(|a||b|) with dot, |a|², |b|² each off by <= gamma_d relative to S or itself;
      // S <= |a||b| (Cauchy-Schwarz) so the cosine is off by <= 2·gamma_d, plus output rounding.
      return 1.1 * (2 * g + 2 * u);
    case pk::Metric::sqeuclidean:
      // |a|² + |b|² - 2a·b: each of the three sums off by <= gamma_d of its magnitude,
      // then two more roundings (the adds, <= u(|a|²+|b|²) and u·result) and the
      // reference's own rounding: (d + 4)·u·(|a|² + |b|² + 2S) covers them all.
      return 1.1 * (d + 4) * u * (na + nb + 2 * S);
    case pk::Metric::euclidean:
      // |sqrt(p) - sqrt(q)| <= sqrt(|p - q|).
      return std::sqrt(1.1 * (d + 4) * u * (na + nb + 2 * S));
    case pk::Metric::manhattan:
      return 0.0;  // same loop as the reference
  }
  return 0.0;
}

TEST_P(DistanceIsa, Fp32AllMetricsAgainstRef) {
  for (std::size_t d : {1ul, 3ul, 8ul, 17ul, 33ul, 65ul}) {
    const std::size_t n = 19, my = 71, ldo = my + 5;
    const auto x = random_matrix<float>(n, d, 1u + unsigned(d));
    const auto y = random_matrix<float>(my, d, 100u + unsigned(d));
    for (pk::Metric m : kMetrics) {
      std::vector<float> got(n * ldo, -7.0f), want(n * ldo, -7.0f);
      pk::pairwise(m, x.data(), n, y.data(), my, d, got.data(), ldo);
      pk::ref::pairwise(m, x.data(), n, y.data(), my, d, want.data(), ldo);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < my; ++j) {
          const float g = got[i * ldo + j], w = want[i * ldo + j];
          if (m == pk::Metric::sqeuclidean || m == pk::Metric::euclidean || m == pk::Metric::manhattan) {
            // Canonical fp32 form (sqrt is correctly rounded) / same loop: bit-identical.
            ASSERT_EQ(g, w) << pk::metric_name(m) << " d=" << d << " (" << i << "," << j << ")";
          } else {
            const double tol = tolerance(m, x.data() + i * d, y.data() + j * d, d, 0x1p-24);
            ASSERT_LE(std::fabs(double(g) - double(w)), tol) << pk::metric_name(m) << " d=" << d;
          }
        }
        for (std::size_t j = my; j < ldo; ++j) ASSERT_EQ(got[i * ldo + j], -7.0f) << "wrote past m";
      }
    }
  }
}

TEST_P(DistanceIsa, Fp64AllMetricsAgainstRef) {
  for (std::size_t d : {1ul, 4ul, 9ul, 32ul, 77ul}) {
    const std::size_t n = 300, my = 23, ldo = my + 1;  // n > one 256-row block
    const auto x = random_matrix<double>(n, d, 7u + unsigned(d));
    const auto y = random_matrix<double>(my, d, 70u + unsigned(d));
    for (pk::Metric m : kMetrics) {
      std::vector<double> got(n * ldo, -7.0), want(n * ldo, -7.0);
      pk::pairwise(m, x.data(), n, y.data(), my, d, got.data(), ldo);
      pk::ref::pairwise(m, x.data(), n, y.data(), my, d, want.data(), ldo);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < my; ++j) {
          const double tol = tolerance(m, x.data() + i * d, y.data() + j * d, d, 0x1p-53);
          ASSERT_LE(std::fabs(got[i * ldo + j] - want[i * ldo + j]), tol) << pk::metric_name(m) << " d=" << d;
        }
        ASSERT_EQ(got[i * ldo + my], -7.0) << "wrote past m";
      }
    }
  }
}

TEST_P(DistanceIsa, CosineOfZeroRowIsZero) {
  const std::size_t d = 5;
  std::vector<float> x(2 * d, 0.0f), y = random_matrix<float>(3, d, 9);
  for (std::size_t j = 0; j < d; ++j) x[d + j] = y[j];  // row 1 equals y_0
  std::vector<float> out(6);
  pk::pairwise(pk::Metric::cosine, x.data(), 2, y.data(), 3, d, out.data(), 3);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(out[j], 0.0f);
  // Identical rows: cosine distance is 0 up to the 2·gamma_d bound above.
  EXPECT_LE(std::fabs(out[3]), 1.1 * (2 * (d + 2) + 2) * 0x1p-24);
}

// knn against a full sort of the canonical distances by (distance, index), with
// duplicated y rows so that ties must go to the lowest index.
TEST_P(DistanceIsa, KnnMatchesBruteForce) {
  for (std::size_t d : {2ul, 16ul, 33ul}) {
    const std::size_t n = 70, base = 600, my = base + 150;
    auto y = random_matrix<float>(my, d, 50u + unsigned(d));
    for (std::size_t j = base; j < my; ++j)  // y_j duplicates an earlier row
      std::copy_n(y.begin() + ((j * 7) % base) * d, d, y.begin() + j * d);
    const auto x = random_matrix<float>(n, d, 60u + unsigned(d));
    std::vector<float> all(n * my);
    pk::ref::pairwise(pk::Metric::sqeuclidean, x.data(), n, y.data(), my, d, all.data(), my);
    for (std::size_t kk : {1ul, 6ul, 130ul, my}) {
      std::vector<std::int64_t> idx(n * kk);
      std::vector<float> dist(n * kk);
      pk::knn_rows(x.data(), n, y.data(), my, d, kk, idx.data(), dist.data());
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<std::int64_t> order(my);
        std::iota(order.begin(), order.end(), 0);
        const float* row = all.data() + i * my;
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return row[a] < row[b]; });
        for (std::size_t t = 0; t < kk; ++t) {
          ASSERT_EQ(idx[i * kk + t], order[t]) << "d=" << d << " kk=" << kk << " row " << i << " rank " << t;
          ASSERT_EQ(dist[i * kk + t], row[order[t]]);
        }
      }
    }
  }
}

TEST_P(DistanceIsa, BadArgumentsThrow) {
  std::vector<float> x(8), y(8), out(16);
  EXPECT_THROW(pk::pairwise(pk::Metric::sqeuclidean, x.data(), 2, y.data(), 4, 2, out.data(), 3), pk::Error);
  std::vector<std::int64_t> idx(8);
  EXPECT_THROW(pk::knn_rows(x.data(), 2, y.data(), 4, 2, 5, idx.data(), out.data()), pk::Error);
  EXPECT_THROW(pk::knn_rows(x.data(), 2, y.data(), 4, 2, 0, idx.data(), out.data()), pk::Error);
}

INSTANTIATE_TEST_SUITE_P(Isa, DistanceIsa, ::testing::ValuesIn(pk::available_isas()), isa_param_name);

}  // namespace
