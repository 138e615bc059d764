// Assignment kernels: every ISA path against the scalar reference, bit for bit.
// The SIMD kernels accumulate each (row, centroid) dot over j in the canonical
// order (assign.hpp), so labels AND distances must be exactly equal on any
// real-valued data — no tolerance anywhere in this file.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_table.hpp"
#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"

namespace pk = personakit;

namespace {

std::vector<float> random_matrix(std::size_t rows, std::size_t d, std::uint32_t seed, float scale = 1.0f,
                                 float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> m(rows * d);
  for (auto& v : m) v = offset + scale * g(rng);
  return m;
}

std::uint32_t bits(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}

// Restores the ISA active before the test.
class AssignIsa : public ::testing::TestWithParam<pk::Isa> {
 protected:
  void SetUp() override {
    saved_ = pk::active_isa();
    pk::force_isa(GetParam());
  }
  void TearDown() override { pk::force_isa(saved_); }
  pk::Isa saved_{};
};

std::string isa_param_name(const ::testing::TestParamInfo<pk::Isa>& info) { return pk::isa_name(info.param); }

TEST_P(AssignIsa, ForcedIsaIsTheOneRunning) {
  EXPECT_EQ(pk::active_isa(), GetParam());
  EXPECT_EQ(pk::detail::kernel_table().isa, GetParam());
}

// Exact agreement with ref:: over d in the list, k and n just off every block size.
TEST_P(AssignIsa, NearestExactOnRealData) {
  const std::size_t ds[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 128, 129, 300};
  const std::size_t ks[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 47, 63, 64, 65, 129};
  const std::size_t n = 37;  // not a multiple of any row block (8, 6, 4, 3)
  std::uint32_t seed = 1;
  for (std::size_t d : ds) {
    for (std::size_t k : ks) {
      const auto x = random_matrix(n, d, seed++, 3.0f, 1.0f);
      const auto c = random_matrix(k, d, seed++, 3.0f, 1.0f);
      std::vector<std::int32_t> lr(n), lk(n);
      std::vector<float> dr(n), dk(n);
      pk::ref::assign_nearest(x.data(), n, d, c.data(), k, lr.data(), dr.data());
      pk::PackedCentroids pc(c.data(), k, d);
      pk::assign_nearest(x.data(), n, d, nullptr, pc, lk.data(), dk.data());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(lk[i], lr[i]) << "d=" << d << " k=" << k << " row " << i;
        ASSERT_EQ(bits(dk[i]), bits(dr[i])) << "d=" << d << " k=" << k << " row " << i;
      }
    }
  }
}

// Many rows (crosses the 1024-row parallel block and the 256-row norm block),
// precomputed norms, misaligned x (offset by one float), dist == nullptr.
TEST_P(AssignIsa, NearestLargeMisalignedWithNorms) {
  for (std::size_t d : {5ul, 16ul, 33ul}) {
    for (std::size_t k : {8ul, 64ul, 100ul}) {
      const std::size_t n = 2 * 1024 + 77;
      auto buf = random_matrix(n * d + 1, 1, 7u + unsigned(d * k));
      const float* x = buf.data() + 1;
      const auto c = random_matrix(k, d, 99u + unsigned(k));
      std::vector<float> xn(n);
      pk::row_norms(x, n, d, xn.data());
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(bits(xn[i]), bits(pk::sqnorm_canonical(x + i * d, d)));
      std::vector<std::int32_t> lr(n), lk(n), lk2(n);
      std::vector<float> dr(n), dk(n);
      pk::ref::assign_nearest(x, n, d, c.data(), k, lr.data(), dr.data());
      pk::PackedCentroids pc(c.data(), k, d);
      pk::assign_nearest(x, n, d, xn.data(), pc, lk.data(), dk.data());
      pk::assign_nearest(x, n, d, nullptr, pc, lk2.data(), nullptr);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(lk[i], lr[i]) << "d=" << d << " k=" << k << " row " << i;
        ASSERT_EQ(lk2[i], lr[i]);
        ASSERT_EQ(bits(dk[i]), bits(dr[i]));
      }
    }
  }
}

// Duplicate centroids: centroid j = base[j % 3], so every distance value appears
// many times; the lowest index (< 3) must win in every path. With 3 coprime to the
// vector widths (8, 16), duplicates fall both in the same SIMD lane (j and j + 48
// share a lane for W = 8 and 16) and in different lanes, so both the per-lane
// update and the final horizontal argmin are exercised.
TEST_P(AssignIsa, TiesGoToLowestIndex) {
  const std::size_t d = 9, k = 70, n = 50;
  const auto base = random_matrix(3, d, 3);
  std::vector<float> c(k * d);
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < d; ++f) c[j * d + f] = base[(j % 3) * d + f];
  const auto x = random_matrix(n, d, 4);
  pk::PackedCentroids pc(c.data(), k, d);
  std::vector<std::int32_t> l(n), l1(n), l2(n);
  std::vector<float> dd(n), d1(n), d2(n);
  pk::assign_nearest(x.data(), n, d, nullptr, pc, l.data(), dd.data());
  pk::assign_nearest2(x.data(), n, d, nullptr, pc, l1.data(), d1.data(), l2.data(), d2.data());
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_LT(l[i], 3);
    ASSERT_EQ(l1[i], l[i]);
    // The second nearest is the same centroid's first duplicate: index l + 3, same distance.
    ASSERT_EQ(l2[i], l[i] + 3);
    ASSERT_EQ(bits(d2[i]), bits(d1[i]));
  }
}

// x = c + tiny perturbation with large coordinates: ||x||² + ||c||² - 2x·c cancels
// catastrophically and the raw fp32 value is often negative; it must clamp to 0,
// identically in every path. The test checks that it really exercised negatives.
TEST_P(AssignIsa, CancellationClampsToZero) {
  const std::size_t d = 24, k = 20, n = 200;
  auto c = random_matrix(k, d, 11, 100.0f, 1000.0f);
  std::vector<float> x(n * d);
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> u(-1e-3f, 1e-3f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) x[i * d + f] = c[(i % k) * d + f] + u(rng);
  std::size_t negatives = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x.data() + i * d;
    const float* ci = c.data() + (i % k) * d;
    const float raw = std::fma(-2.0f, pk::dot_canonical(xi, ci, d),
                               pk::sqnorm_canonical(xi, d) + pk::sqnorm_canonical(ci, d));
    negatives += raw < 0.0f;
  }
  ASSERT_GT(negatives, 0u) << "data did not exercise the clamp";
  pk::PackedCentroids pc(c.data(), k, d);
  std::vector<std::int32_t> l(n), lr(n);
  std::vector<float> dd(n), dr(n);
  pk::assign_nearest(x.data(), n, d, nullptr, pc, l.data(), dd.data());
  pk::ref::assign_nearest(x.data(), n, d, c.data(), k, lr.data(), dr.data());
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_GE(dd[i], 0.0f);
    ASSERT_EQ(l[i], lr[i]);
    ASSERT_EQ(bits(dd[i]), bits(dr[i]));
  }
}

TEST_P(AssignIsa, Nearest2ExactOnRealData) {
  std::uint32_t seed = 500;
  for (std::size_t d : {1ul, 3ul, 8ul, 16ul, 17ul, 32ul, 65ul}) {
    for (std::size_t k : {1ul, 2ul, 8ul, 9ul, 17ul, 31ul, 64ul, 65ul, 130ul}) {
      const std::size_t n = 29;
      const auto x = random_matrix(n, d, seed++);
      const auto c = random_matrix(k, d, seed++);
      std::vector<std::int32_t> a1(n), a2(n), r1(n), r2(n);
      std::vector<float> b1(n), b2(n), s1(n), s2(n);
      pk::ref::assign_nearest2(x.data(), n, d, c.data(), k, r1.data(), s1.data(), r2.data(), s2.data());
      pk::PackedCentroids pc(c.data(), k, d);
      pk::assign_nearest2(x.data(), n, d, nullptr, pc, a1.data(), b1.data(), a2.data(), b2.data());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(a1[i], r1[i]) << "d=" << d << " k=" << k << " row " << i;
        ASSERT_EQ(a2[i], r2[i]) << "d=" << d << " k=" << k << " row " << i;
        ASSERT_EQ(bits(b1[i]), bits(s1[i]));
        ASSERT_EQ(bits(b2[i]), bits(s2[i]));
      }
      if (k == 1) {
        EXPECT_EQ(a2[0], -1);
        EXPECT_TRUE(std::isinf(b2[0]));
      }
    }
  }
}

TEST_P(AssignIsa, SqdistRowsExact) {
  for (std::size_t d : {1ul, 7ul, 16ul, 33ul}) {
    for (std::size_t k : {1ul, 9ul, 64ul, 70ul}) {
      const std::size_t n = 13, ldo = k + 3;
      const auto x = random_matrix(n, d, 70u + unsigned(d));
      const auto c = random_matrix(k, d, 80u + unsigned(k));
      pk::PackedCentroids pc(c.data(), k, d);
      const float sentinel = -12345.0f;
      std::vector<float> out(n * ldo, sentinel);
      pk::sqdist_rows(x.data(), n, d, nullptr, pc, out.data(), ldo);
      for (std::size_t i = 0; i < n; ++i) {
        const float xn = pk::sqnorm_canonical(x.data() + i * d, d);
        for (std::size_t t = 0; t < k; ++t) {
          const float want = pk::sqdist_canonical(x.data() + i * d, xn, c.data() + t * d,
                                                  pk::sqnorm_canonical(c.data() + t * d, d), d);
          ASSERT_EQ(bits(out[i * ldo + t]), bits(want)) << "d=" << d << " k=" << k;
        }
        for (std::size_t t = k; t < ldo; ++t) ASSERT_EQ(out[i * ldo + t], sentinel) << "wrote past k";
      }
    }
  }
}

// accumulate_sums: fp64 row-order sums, bit-identical to the plain loop.
TEST_P(AssignIsa, AccumulateSumsExact) {
  for (std::size_t d : {1ul, 3ul, 8ul, 13ul, 16ul, 33ul}) {
    const std::size_t n = 501, k = 7;
    const auto x = random_matrix(n, d, 40u + unsigned(d), 10.0f, 3.0f);
    std::vector<std::int32_t> lab(n);
    std::vector<float> w(n);
    std::mt19937 rng(5);
    for (std::size_t i = 0; i < n; ++i) {
      lab[i] = std::int32_t(rng() % k);
      w[i] = 0.1f + float(rng() % 1000) / 7.0f;
    }
    for (bool weighted : {false, true}) {
      std::vector<double> s(k * d, 0.25), cnt(k, 0.5), sr(k * d, 0.25), cr(k, 0.5);
      pk::accumulate_sums(x.data(), n, d, lab.data(), weighted ? w.data() : nullptr, s.data(), cnt.data());
      for (std::size_t i = 0; i < n; ++i) {
        const double wi = weighted ? double(w[i]) : 1.0;
        for (std::size_t j = 0; j < d; ++j) sr[lab[i] * d + j] += wi * double(x[i * d + j]);
        cr[lab[i]] += wi;
      }
      ASSERT_EQ(std::memcmp(s.data(), sr.data(), s.size() * 8), 0) << "d=" << d << " weighted=" << weighted;
      ASSERT_EQ(std::memcmp(cnt.data(), cr.data(), cnt.size() * 8), 0);
    }
  }
}

// 1 thread vs 2 threads, and called from inside an OpenMP region on chunks:
// identical labels and distances.
TEST_P(AssignIsa, ThreadsAndNestedCallsIdentical) {
  const std::size_t n = 5000, d = 16, k = 40;
  const auto x = random_matrix(n, d, 21);
  const auto c = random_matrix(k, d, 22);
  pk::PackedCentroids pc(c.data(), k, d);
  std::vector<std::int32_t> l1(n), l2(n), l3(n);
  std::vector<float> d1(n), d2(n), d3(n);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  pk::assign_nearest(x.data(), n, d, nullptr, pc, l1.data(), d1.data());
  omp_set_num_threads(2);
  pk::assign_nearest(x.data(), n, d, nullptr, pc, l2.data(), d2.data());
  const std::size_t chunk = 1000;
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(n / chunk); ++b)
    pk::assign_nearest(x.data() + b * chunk * d, chunk, d, nullptr, pc, l3.data() + b * chunk, d3.data() + b * chunk);
  omp_set_num_threads(saved);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(l1, l3);
  EXPECT_EQ(std::memcmp(d1.data(), d2.data(), n * 4), 0);
  EXPECT_EQ(std::memcmp(d1.data(), d3.data(), n * 4), 0);
}

TEST_P(AssignIsa, DimensionMismatchThrows) {
  const auto c = random_matrix(3, 4, 1);
  pk::PackedCentroids pc(c.data(), 3, 4);
  std::vector<float> x(10);
  std::vector<std::int32_t> l(2);
  EXPECT_THROW(pk::assign_nearest(x.data(), 2, 5, nullptr, pc, l.data(), nullptr), pk::Error);
  EXPECT_THROW(pk::PackedCentroids(c.data(), 0, 4), pk::Error);
}

INSTANTIATE_TEST_SUITE_P(Isa, AssignIsa, ::testing::ValuesIn(pk::available_isas()), isa_param_name);

// Every ISA gives the same labels on the same data (exercised all at once, so a
// table mix-up between ISAs would show here too).
TEST(AssignAllIsas, SameLabelsEverywhere) {
  const std::size_t n = 300, d = 20, k = 77;
  const auto x = random_matrix(n, d, 31);
  const auto c = random_matrix(k, d, 32);
  pk::PackedCentroids pc(c.data(), k, d);
  std::vector<std::int32_t> first;
  std::vector<float> firstd;
  for (pk::Isa isa : pk::available_isas()) {
    std::vector<std::int32_t> l(n);
    std::vector<float> dd(n);
    pk::detail::kernel_table(isa).nearest(x.data(), n, d, nullptr, pc, l.data(), dd.data());
    if (first.empty()) { first = l; firstd = dd; continue; }
    EXPECT_EQ(l, first) << pk::isa_name(isa);
    EXPECT_EQ(std::memcmp(dd.data(), firstd.data(), n * 4), 0) << pk::isa_name(isa);
  }
}

}  // namespace
