// The score kernels of ScoreKernelTable (kernel_table.hpp) at every available ISA
// against plain fp64 loops: the exact silhouette's fused tile (silhouette_tile) on panel
// layouts just off the register blocks: rows 1..9 (4-row blocks), panels 1..9 (4-panel
// blocks, AVX-512), tails of 1..16 lanes, d from 1 to 33, with and without column sums;
// and the streamed scores' pass-1 kernel (moments_given).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernel_table.hpp"
#include "personakit/assign.hpp"
#include "personakit/isa.hpp"
#include "score/silhouette_kernel.hpp"

namespace pk = personakit;
using pk::score_detail::kSilPanel;

namespace {

class SilhouetteTileIsa : public ::testing::TestWithParam<pk::Isa> {};

// 64-byte aligned float storage.
struct Aligned {
  std::vector<float> store;
  float* p = nullptr;
  explicit Aligned(std::size_t n) : store(n + 16, 0.0f) {
    const auto a = reinterpret_cast<std::uintptr_t>(store.data());
    p = store.data() + ((64 - a % 64) % 64) / sizeof(float);
  }
};

}  // namespace

TEST_P(SilhouetteTileIsa, MatchesPlainLoop) {
  const auto& kt = pk::detail::score_kernel_table(GetParam());
  ASSERT_EQ(kt.isa, GetParam());  // the table asked for is the one running
  std::mt19937_64 g(7);
  for (std::size_t d : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 33u})
    for (std::size_t nr : {1u, 2u, 3u, 4u, 5u, 9u})
      for (std::size_t np : {1u, 3u, 4u, 5u, 9u})
        for (unsigned valid : {1u, 7u, 8u, 9u, 16u}) {
          // Integer-valued coordinates in [-8, 8]: dots and norms are exact in fp32
          // (|values| < 2^24), so every canonical squared distance is exact and each
          // e = sqrt is the correctly rounded fp32 root of the exact value (within
          // 2^-24 relative of the true distance). The SIMD paths add e in fp32 partials
          // of at most 16 terms per lane before widening (16·2^-24 relative, the terms
          // being >= 0), the reference in fp64: |sum - ref| <= 17·2^-24·ref = 1.02e-6·ref.
          std::vector<float> xr(nr * d), xn(nr);
          Aligned panels(np * d * kSilPanel), cn(np * kSilPanel), scratch(np * kSilPanel);
          std::vector<float> cols(np * kSilPanel * d, 0.0f);
          for (auto& v : xr) v = float(int(g() % 17) - 8);
          const std::size_t ncols = (np - 1) * kSilPanel + valid;
          for (std::size_t c = 0; c < ncols; ++c)
            for (std::size_t j = 0; j < d; ++j) cols[c * d + j] = float(int(g() % 17) - 8);
          for (std::size_t c = 0; c < ncols; ++c) {
            const std::size_t p = c / kSilPanel, lane = c % kSilPanel;
            for (std::size_t j = 0; j < d; ++j) panels.p[(p * d + j) * kSilPanel + lane] = cols[c * d + j];
            cn.p[c] = pk::sqnorm_canonical(&cols[c * d], d);
          }
          // Padding lanes hold garbage-like values: the kernel must ignore them.
          for (std::size_t lane = valid; lane < kSilPanel; ++lane) {
            cn.p[(np - 1) * kSilPanel + lane] = 1e6f;
            for (std::size_t j = 0; j < d; ++j) panels.p[((np - 1) * d + j) * kSilPanel + lane] = 100.0f;
          }
          for (std::size_t r = 0; r < nr; ++r) xn[r] = pk::sqnorm_canonical(&xr[r * d], d);
          std::vector<double> ref_row(nr, 0.0), ref_col(np * kSilPanel, 0.0);
          for (std::size_t r = 0; r < nr; ++r)
            for (std::size_t c = 0; c < ncols; ++c) {
              double e2 = 0;
              for (std::size_t j = 0; j < d; ++j) { const double t = double(xr[r * d + j]) - cols[c * d + j]; e2 += t * t; }
              ref_row[r] += std::sqrt(e2);
              ref_col[c] += std::sqrt(e2);
            }
          for (bool with_cols : {false, true}) {
            std::vector<double> row(nr, 1.0), col(np * kSilPanel, 2.0);  // the kernel adds to these
            kt.silhouette_tile(xr.data(), xn.data(), nr, d, panels.p, cn.p, np, valid, row.data(),
                               with_cols ? col.data() : nullptr, scratch.p);
            const std::string where = "d " + std::to_string(d) + " nr " + std::to_string(nr) + " np " +
                                      std::to_string(np) + " valid " + std::to_string(valid);
            for (std::size_t r = 0; r < nr; ++r)
              ASSERT_NEAR(row[r] - 1.0, ref_row[r], 1.02e-6 * ref_row[r] + 1e-12) << where << " row " << r;
            for (std::size_t c = 0; c < np * kSilPanel; ++c) {
              if (!with_cols) { ASSERT_EQ(col[c], 2.0); continue; }
              const double want = c < ncols ? ref_col[c] : 0.0;  // padding lanes: nothing added
              ASSERT_NEAR(col[c] - 2.0, want, 1.02e-6 * want + 1e-12) << where << " col " << c;
            }
          }
        }
}

// Zero distances (a point against itself) give exactly 0, never a NaN from the clamp.
TEST_P(SilhouetteTileIsa, SelfDistanceIsZero) {
  const auto& kt = pk::detail::score_kernel_table(GetParam());
  const std::size_t d = 5;
  Aligned panels(d * kSilPanel), cn(kSilPanel), scratch(kSilPanel);
  std::vector<float> x = {0.1f, -3.7f, 2.2f, 1e-3f, 7.5f};
  for (std::size_t j = 0; j < d; ++j) panels.p[j * kSilPanel] = x[j];
  const float xn = pk::sqnorm_canonical(x.data(), d);
  cn.p[0] = xn;
  double row = 0, col[16] = {};
  kt.silhouette_tile(x.data(), &xn, 1, d, panels.p, cn.p, 1, 1, &row, col, scratch.p);
  EXPECT_EQ(row, 0.0);
  EXPECT_EQ(col[0], 0.0);
}

INSTANTIATE_TEST_SUITE_P(Isa, SilhouetteTileIsa, ::testing::ValuesIn(pk::available_isas()),
                         [](const auto& info) { return std::string(pk::isa_name(info.param)); });

// ScoreKernelTable::moments_given (pass 1 of the streamed scores with centroids) at
// every ISA against a plain fp64 loop: counts exact; sums, squared distances and
// distances in a different order (4 streams, SIMD reductions). Each is a sum of at most
// m = 203 non-negative terms (the sums of x: mixed signs, but |Σ| is compared against
// Σ|x|), so any order is within m·2^-53·Σ|terms| ≈ 2.3e-14 relative: allow 1e-13.
TEST_P(SilhouetteTileIsa, MomentsGivenMatchesPlainLoop) {
  const auto& kt = pk::detail::score_kernel_table(GetParam());
  std::mt19937_64 g(3);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (std::size_t d : {1u, 3u, 4u, 5u, 7u, 8u, 9u, 15u, 16u, 17u, 33u}) {
    const std::size_t m = 203, k = 3;
    std::vector<float> x(m * d);
    std::vector<double> cent(k * d);
    std::vector<std::int32_t> sl(m);
    for (auto& v : x) v = float(5.0 * nd(g));
    for (auto& v : cent) v = nd(g);
    for (std::size_t i = 0; i < m; ++i) sl[i] = i % 7 == 3 ? -1 : static_cast<std::int32_t>(g() % k);
    std::vector<double> cnt(k, 1.0), sum(k * d, 1.0), sqg(k, 1.0), dist(k, 1.0), scratch(4 * k * (d + 3), 7.0);
    kt.moments_given(x.data(), m, d, sl.data(), cent.data(), k, cnt.data(), sum.data(), sqg.data(), dist.data(),
                     scratch.data());
    std::vector<double> rc(k, 0), rs(k * d, 0), ra(k * d, 0), rq(k, 0), rd(k, 0);
    for (std::size_t i = 0; i < m; ++i) {
      if (sl[i] < 0) continue;
      const auto s = static_cast<std::size_t>(sl[i]);
      rc[s] += 1;
      double e = 0;
      for (std::size_t j = 0; j < d; ++j) {
        rs[s * d + j] += x[i * d + j];
        ra[s * d + j] += std::fabs(x[i * d + j]);
        const double t = double(x[i * d + j]) - cent[s * d + j];
        e += t * t;
      }
      rq[s] += e;
      rd[s] += std::sqrt(e);
    }
    for (std::size_t s = 0; s < k; ++s) {
      EXPECT_EQ(cnt[s] - 1.0, rc[s]) << "d " << d;  // the kernel adds to what is there
      EXPECT_NEAR(sqg[s] - 1.0, rq[s], 1e-13 * rq[s]) << "d " << d;
      EXPECT_NEAR(dist[s] - 1.0, rd[s], 1e-13 * rd[s]) << "d " << d;
      for (std::size_t j = 0; j < d; ++j)
        EXPECT_NEAR(sum[s * d + j] - 1.0, rs[s * d + j], 1e-13 * ra[s * d + j] + 1e-15) << "d " << d;
    }
  }
}
