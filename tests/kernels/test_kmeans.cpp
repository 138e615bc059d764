// k-means bound kernels (kernel_table.hpp, KmeansKernelTable), every ISA, against the
// scalar table and against sqdist_canonical: bit-identical by construction (each lane
// runs the canonical fma chain), so every comparison is exact, on any data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_table.hpp"
#include "kmeans/screen.hpp"
#include "personakit/assign.hpp"
#include "personakit/isa.hpp"

namespace pk = personakit;

namespace {

class KmeansIsa : public ::testing::TestWithParam<pk::Isa> {};

std::string isa_param_name(const ::testing::TestParamInfo<pk::Isa>& info) { return pk::isa_name(info.param); }

std::uint32_t bits(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// nsp sub-panels of 16 lanes from k centroids (lane l of sub-panel s = centroid
// (s·16 + l) when < k, else padding), laid out [j][lane] as GroupPanels does.
struct Panels {
  std::vector<float> data, norms;
  std::size_t nsp;
  Panels(const std::vector<float>& c, std::size_t k, std::size_t d) {
    const std::size_t L = pk::detail::kGroupLanes;
    nsp = (k + L - 1) / L;
    data.assign(nsp * d * L + 1, 0.0f);  // +1: shifted start below (misaligned panels)
    norms.assign(nsp * L, INFINITY);
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t s = j / L, l = j % L;
      for (std::size_t f = 0; f < d; ++f) data[1 + s * d * L + f * L + l] = c[j * d + f];
      norms[s * L + l] = pk::sqnorm_canonical(c.data() + j * d, d);
    }
  }
  const float* panels() const { return data.data() + 1; }
};

TEST_P(KmeansIsa, Panel16SqdistMatchesCanonical) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  EXPECT_EQ(kt.isa, GetParam());
  const auto& ks = pk::detail::kmeans_kernel_table(pk::Isa::scalar);
  const std::size_t L = pk::detail::kGroupLanes;
  std::mt19937 rng(7);
  for (const std::size_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65}) {
    for (const bool integer : {false, true}) {
      const std::size_t k = 150;  // 10 sub-panels, the last one partly padding
      std::normal_distribution<float> g(0.0f, 3.0f);
      std::uniform_int_distribution<int> gi(-3, 3);
      std::vector<float> c(k * d), x(d + 1);
      for (auto& v : c) v = integer ? float(gi(rng)) : 1000.0f + g(rng);
      for (auto& v : x) v = integer ? float(gi(rng)) : 1000.0f + g(rng);
      // Make centroid 5 equal to the row: a zero distance through cancellation (-0/0 rule).
      for (std::size_t f = 0; f < d; ++f) c[5 * d + f] = x[1 + f];
      const Panels P(c, k, d);
      const float* xr = x.data() + 1;  // misaligned row
      const float xn = pk::sqnorm_canonical(xr, d);
      for (const std::size_t m : {1, 2, 3, 4, 5, 7, 8, 9, 10}) {
        std::vector<std::int32_t> which(m);
        std::vector<std::uint16_t> masks(m);
        for (std::size_t t = 0; t < m; ++t) {
          which[t] = static_cast<std::int32_t>((t * 7 + d) % P.nsp);
          std::uint16_t mk = static_cast<std::uint16_t>(rng());
          if (t == 0) mk = 0xFFFF;
          // Never ask for a padding lane.
          for (std::size_t l = 0; l < L; ++l)
            if (static_cast<std::size_t>(which[t]) * L + l >= k) mk = static_cast<std::uint16_t>(mk & ~(1u << l));
          masks[t] = mk;
        }
        std::vector<float> out(m * L, -1.0f), ref(m * L, -2.0f);
        kt.panel16_sqdist(xr, xn, d, P.panels(), P.norms.data(), which.data(), masks.data(), m, out.data());
        ks.panel16_sqdist(xr, xn, d, P.panels(), P.norms.data(), which.data(), masks.data(), m, ref.data());
        for (std::size_t t = 0; t < m; ++t)
          for (std::size_t l = 0; l < L; ++l) {
            if (!((masks[t] >> l) & 1u)) continue;
            const std::size_t j = static_cast<std::size_t>(which[t]) * L + l;
            const float want = pk::sqdist_canonical(xr, xn, c.data() + j * d, P.norms[j], d);
            EXPECT_EQ(bits(out[t * L + l]), bits(want)) << "d=" << d << " m=" << m << " t=" << t << " l=" << l;
            EXPECT_EQ(bits(ref[t * L + l]), bits(want)) << "scalar d=" << d << " t=" << t << " l=" << l;
          }
      }
    }
  }
}

TEST_P(KmeansIsa, OwnSqdistMatchesCanonical) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  std::mt19937 rng(11);
  for (const std::size_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65}) {
    const std::size_t n = 40, k = 13;
    std::normal_distribution<float> g(0.0f, 3.0f);
    std::vector<float> x(n * d), c(k * d), xn(n), cn(k);
    for (auto& v : x) v = 500.0f + g(rng);
    for (auto& v : c) v = 500.0f + g(rng);
    for (std::size_t f = 0; f < d; ++f) c[2 * d + f] = x[3 * d + f];  // a zero distance by cancellation
    for (std::size_t i = 0; i < n; ++i) xn[i] = pk::sqnorm_canonical(x.data() + i * d, d);
    for (std::size_t j = 0; j < k; ++j) cn[j] = pk::sqnorm_canonical(c.data() + j * d, d);
    for (const std::size_t m : {1, 7, 8, 9, 17, 40}) {
      std::vector<std::uint32_t> rows(m);
      std::vector<std::int32_t> cent(m);
      for (std::size_t t = 0; t < m; ++t) {
        rows[t] = static_cast<std::uint32_t>((t * 13 + 3) % n);
        cent[t] = static_cast<std::int32_t>(t == 0 ? 2 : rng() % k);
      }
      if (m > 1) rows[0] = 3;
      std::vector<float> out(m, -1.0f);
      kt.own_sqdist(x.data(), d, rows.data(), m, xn.data(), c.data(), cn.data(), cent.data(), out.data());
      for (std::size_t t = 0; t < m; ++t) {
        const std::size_t j = static_cast<std::size_t>(cent[t]);
        const float want = pk::sqdist_canonical(x.data() + rows[t] * d, xn[rows[t]], c.data() + j * d, cn[j], d);
        EXPECT_EQ(bits(out[t]), bits(want)) << "d=" << d << " m=" << m << " t=" << t;
      }
    }
  }
}

// panel16_scan: same masks, pmax, m1, l1, m2 as the scalar table (values compared with
// ==, so +0 and -0 minima are equal, as they are for every use of them), and m1/m2/l1
// equal to the masked min / lowest lane / runner-up of sqdist_canonical.
TEST_P(KmeansIsa, Panel16ScanMatchesReference) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  const auto& ks = pk::detail::kmeans_kernel_table(pk::Isa::scalar);
  const std::size_t L = pk::detail::kGroupLanes;
  std::mt19937 rng(5);
  for (const std::size_t d : {1, 3, 8, 16, 17, 33, 64, 65}) {
    for (const bool integer : {false, true}) {
      const std::size_t k = 150;
      std::normal_distribution<float> g(0.0f, 3.0f);
      std::uniform_int_distribution<int> gi(-2, 2);
      std::vector<float> c(k * d), x(d);
      for (auto& v : c) v = integer ? float(gi(rng)) : 10.0f + g(rng);
      for (auto& v : x) v = integer ? float(gi(rng)) : 10.0f + g(rng);
      const Panels P(c, k, d);
      std::vector<float> shifts(P.nsp * L);
      for (auto& v : shifts) v = float(rng() % 8) * 0.25f;  // ties with T on purpose
      const float xn = pk::sqnorm_canonical(x.data(), d);
      for (const std::size_t m : {1, 3, 4, 8, 9, 10}) {
        std::vector<pk::detail::Panel16Job> jobs(m);
        for (std::size_t t = 0; t < m; ++t) {
          jobs[t].sp = static_cast<std::int32_t>((t * 3 + d) % P.nsp);
          std::uint32_t allow = t % 3 == 0 ? 0xFFFFu : (rng() & 0xFFFFu);
          for (std::size_t l = 0; l < L; ++l)
            if (static_cast<std::size_t>(jobs[t].sp) * L + l >= k) allow &= ~(1u << l);
          jobs[t].allow = allow;
          jobs[t].T = t % 4 == 0 ? -INFINITY : float(rng() % 9) * 0.25f;
        }
        std::vector<pk::detail::Panel16Res> a(m), b(m);
        kt.panel16_scan(x.data(), xn, d, P.panels(), P.norms.data(), shifts.data(), jobs.data(), m, a.data());
        ks.panel16_scan(x.data(), xn, d, P.panels(), P.norms.data(), shifts.data(), jobs.data(), m, b.data());
        for (std::size_t t = 0; t < m; ++t) {
          EXPECT_EQ(a[t].mask, b[t].mask) << "d=" << d << " t=" << t;
          EXPECT_EQ(a[t].pmax, b[t].pmax) << "d=" << d << " t=" << t;
          EXPECT_EQ(a[t].l1, b[t].l1) << "d=" << d << " t=" << t;
          EXPECT_EQ(a[t].m1, b[t].m1) << "d=" << d << " t=" << t;
          EXPECT_EQ(a[t].m2, b[t].m2) << "d=" << d << " t=" << t;
          // The reference against the canonical distances.
          float m1 = INFINITY, m2 = INFINITY;
          std::int32_t l1 = -1;
          std::uint32_t mask = 0;
          for (std::size_t l = 0; l < L; ++l) {
            if (!((jobs[t].allow >> l) & 1u)) continue;
            const std::size_t j = static_cast<std::size_t>(jobs[t].sp) * L + l;
            if (shifts[j] < jobs[t].T) continue;
            mask |= 1u << l;
            const float D = pk::sqdist_canonical(x.data(), xn, c.data() + j * d, P.norms[j], d);
            if (D < m1) { m2 = m1; m1 = D; l1 = static_cast<std::int32_t>(l); }
            else if (D < m2) m2 = D;
          }
          EXPECT_EQ(b[t].mask, mask);
          EXPECT_EQ(b[t].l1, l1);
          EXPECT_EQ(b[t].m1, m1);
          EXPECT_EQ(b[t].m2, m2);
        }
      }
    }
  }
}

// panel16_rows (Yinyang's survivors, one sub-panel for many rows): every job's result
// equals panel16_scan's for that row and job, on the table under test and on the scalar
// table (exact comparisons: both are built from the canonical chains and comparisons),
// for job counts just off the 8-row block, repeated rows, misaligned row starts, empty
// and full masks and thresholds tied with the shifts.
TEST_P(KmeansIsa, Panel16RowsMatchesScan) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  const auto& ks = pk::detail::kmeans_kernel_table(pk::Isa::scalar);
  const std::size_t L = pk::detail::kGroupLanes;
  std::mt19937 rng(11);
  for (const std::size_t d : {1, 3, 8, 16, 17, 33, 64, 65}) {
    for (const bool integer : {false, true}) {
      const std::size_t k = 40, nrows = 37;
      std::normal_distribution<float> g(0.0f, 3.0f);
      std::uniform_int_distribution<int> gi(-2, 2);
      std::vector<float> c(k * d), x(nrows * d + 1), xn(nrows);
      for (auto& v : c) v = integer ? float(gi(rng)) : 10.0f + g(rng);
      for (auto& v : x) v = integer ? float(gi(rng)) : 10.0f + g(rng);
      const float* xs = x.data() + 1;  // rows not 64-byte aligned
      for (std::size_t r = 0; r < nrows; ++r) xn[r] = pk::sqnorm_canonical(xs + r * d, d);
      const Panels P(c, k, d);
      std::vector<float> shifts(P.nsp * L);
      for (auto& v : shifts) v = float(rng() % 8) * 0.25f;
      for (std::size_t sp = 0; sp < P.nsp; ++sp) {
        const float* panel = P.panels() + sp * d * L;
        for (const std::size_t m : {1u, 7u, 8u, 9u, 16u, 17u, 40u}) {
          std::vector<pk::detail::Panel16RowJob> jobs(m);
          for (std::size_t t = 0; t < m; ++t) {
            std::uint32_t allow = t % 5 == 0 ? 0xFFFFu : t % 7 == 3 ? 0u : (rng() & 0xFFFFu);
            for (std::size_t l = 0; l < L; ++l)
              if (sp * L + l >= k) allow &= ~(1u << l);
            jobs[t] = {static_cast<std::uint32_t>(t % 3 == 2 ? jobs[t - 1].row : rng() % nrows), allow,
                       t % 4 == 0 ? -INFINITY : float(rng() % 9) * 0.25f};
          }
          std::vector<pk::detail::Panel16Res> a(m), b(m);
          kt.panel16_rows(xs, d, xn.data(), panel, P.norms.data() + sp * L, shifts.data() + sp * L, jobs.data(), m,
                          a.data());
          ks.panel16_rows(xs, d, xn.data(), panel, P.norms.data() + sp * L, shifts.data() + sp * L, jobs.data(), m,
                          b.data());
          for (std::size_t t = 0; t < m; ++t) {
            const pk::detail::Panel16Job one{static_cast<std::int32_t>(sp), jobs[t].allow, jobs[t].T};
            pk::detail::Panel16Res want;
            const std::size_t r = jobs[t].row;
            ks.panel16_scan(xs + r * d, xn[r], d, P.panels(), P.norms.data(), shifts.data(), &one, 1, &want);
            for (const auto* got : {&a[t], &b[t]}) {
              const std::string where = "d=" + std::to_string(d) + " sp=" + std::to_string(sp) +
                                        " m=" + std::to_string(m) + " t=" + std::to_string(t);
              EXPECT_EQ(got->mask, want.mask) << where;
              EXPECT_EQ(got->pmax, want.pmax) << where;
              EXPECT_EQ(got->l1, want.l1) << where;
              EXPECT_EQ(got->m1, want.m1) << where;
              EXPECT_EQ(got->m2, want.m2) << where;
            }
          }
        }
      }
    }
  }
}

// Elkan's and Exponion's survivors: one row against a list of centroids (repeats,
// any order, a zero distance by cancellation), every list length around the 8-lane
// gather threshold and the 16-lane blocks.
TEST_P(KmeansIsa, ListSqdistMatchesCanonical) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  std::mt19937 rng(13);
  for (const std::size_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65}) {
    const std::size_t k = 45;
    std::normal_distribution<float> g(0.0f, 3.0f);
    std::vector<float> x(d), c(k * d), cn(k);
    for (auto& v : x) v = 500.0f + g(rng);
    for (auto& v : c) v = 500.0f + g(rng);
    for (std::size_t f = 0; f < d; ++f) c[5 * d + f] = x[f];
    const float xn = pk::sqnorm_canonical(x.data(), d);
    for (std::size_t j = 0; j < k; ++j) cn[j] = pk::sqnorm_canonical(c.data() + j * d, d);
    for (const std::size_t m : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 45, 60}) {
      std::vector<std::int32_t> idx(m);
      for (std::size_t t = 0; t < m; ++t) idx[t] = static_cast<std::int32_t>(t == m / 2 ? 5 : rng() % k);
      std::vector<float> out(m, -1.0f);
      kt.list_sqdist(x.data(), xn, d, c.data(), cn.data(), idx.data(), m, out.data());
      for (std::size_t t = 0; t < m; ++t) {
        const std::size_t j = static_cast<std::size_t>(idx[t]);
        const float want = pk::sqdist_canonical(x.data(), xn, c.data() + j * d, cn[j], d);
        EXPECT_EQ(bits(out[t]), bits(want)) << "d=" << d << " m=" << m << " t=" << t;
      }
    }
  }
}

// Elkan's filter against the scalar table: the decremented bounds bit for bit and the
// same survivors, with and without the decrement, bounds and gaps on the thresholds.
TEST_P(KmeansIsa, ElkanFilterMatchesScalar) {
  const auto& kt = pk::detail::kmeans_kernel_table(GetParam());
  const auto& ks = pk::detail::kmeans_kernel_table(pk::Isa::scalar);
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.0f, 10.0f);
  for (const std::size_t k : {1, 2, 15, 16, 17, 31, 33, 64, 100}) {
    for (const bool shift : {false, true}) {
      std::vector<float> L(k), pf(k), gap(k);
      for (std::size_t j = 0; j < k; ++j) {
        L[j] = u(rng);
        pf[j] = u(rng) * 0.1f;
        gap[j] = u(rng);
      }
      const float thr = 5.0f, T2 = 6.0f;
      if (k > 3) {
        L[1] = thr;    // not > thr: kept by this test
        gap[2] = T2;   // not > T2: kept by this test
        L[3] = std::nanf("");  // NaN compares false: kept (as the scalar rule)
      }
      std::vector<float> L1 = L, L2 = L;
      std::vector<std::int32_t> c1(k + 16, -7), c2(k + 16, -7);
      const std::size_t m1 = kt.elkan_filter(L1.data(), pf.data(), gap.data(), k, thr, T2, shift, c1.data());
      const std::size_t m2 = ks.elkan_filter(L2.data(), pf.data(), gap.data(), k, thr, T2, shift, c2.data());
      ASSERT_EQ(m1, m2) << "k=" << k << " shift=" << shift;
      for (std::size_t t = 0; t < m1; ++t) EXPECT_EQ(c1[t], c2[t]) << "k=" << k << " t=" << t;
      for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(bits(L1[j]), bits(L2[j])) << "k=" << k << " j=" << j;
      // The survivors are the rule applied to the decremented bounds, and the decrement
      // only lowers a bound (by at least its 2^-24-relative rounding).
      std::size_t want = 0;
      for (std::size_t j = 0; j < k; ++j) {
        if (shift && !std::isnan(L[j])) EXPECT_LT(L2[j], L[j] - pf[j] * 0.999f) << "j=" << j;
        if (!shift) EXPECT_EQ(bits(L2[j]), bits(L[j]));
        if (!(L2[j] > thr) && !(gap[j] > T2)) {
          ASSERT_LT(want, m2);
          EXPECT_EQ(c2[want++], static_cast<std::int32_t>(j));
        }
      }
      EXPECT_EQ(want, m2);
    }
  }
}

// The bf16 screen (kmeans/screen.hpp) on every ISA that has one, against brute force
// with the canonical distance: a decided row's label IS the canonical nearest centroid
// (lowest index on ties), and every row's candidate list holds every centroid at the
// canonical minimum. Data built to break a loose bound: rows exactly on bisectors and
// at centroids (ties), a large common offset (cancellation in the canonical
// arithmetic), tiny magnitudes (denormals in fp32 and bf16), a feature of huge scale
// next to small ones, integer grids; d odd and even, k with partial last panels.
TEST_P(KmeansIsa, ScreenKeepsTheCanonicalNearest) {
  namespace dt = pk::detail;
  const dt::ScreenKernels* sk = dt::screen_kernels(GetParam());
  if (!sk) GTEST_SKIP() << "no bf16 screen on " << pk::isa_name(GetParam());
  std::mt19937 rng(11);
  std::size_t decided = 0, total = 0;
  for (const std::size_t d : {1, 2, 3, 16, 33, 64}) {
    for (const std::size_t k : {1, 5, 17, 64, 130}) {
      for (int kind = 0; kind < 7; ++kind) {
        const std::size_t n = 97;
        std::normal_distribution<float> g(0.0f, 1.0f);
        std::vector<float> c(k * d), x(n * d);
        const float off = kind == 2 ? 3.0e4f : 0.0f, scale = kind == 3 ? 1e-39f : kind == 6 ? 1e-20f : 1.0f;
        for (auto& v : c) v = kind == 4 ? std::round(g(rng) * 2) : off + scale * 4 * g(rng);
        if (kind == 5)
          for (std::size_t j = 0; j < k; ++j) c[j * d] *= 1e4f;  // one feature of huge scale
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t a = rng() % k, b = rng() % k;
          for (std::size_t f = 0; f < d; ++f) {
            float v;
            if (kind == 1 && i % 3 == 0) v = 0.5f * (c[a * d + f] + c[b * d + f]);      // bisector
            else if (kind == 1 && i % 3 == 1) v = c[a * d + f];                          // on a centroid
            else if (kind == 4) v = std::round(g(rng) * 2);                              // grid: ties
            else v = c[a * d + f] + (kind == 5 && f == 0 ? 1e4f : 1.0f) * scale * 0.7f * g(rng);
            x[i * d + f] = v;
          }
        }
        dt::ScreenRows rows;
        rows.prepare(x.data(), n, d);
        ASSERT_TRUE(rows.ok);
        dt::ScreenCentroids cs;
        cs.prepare(c.data(), k, rows);
        ASSERT_TRUE(cs.ok);
        std::vector<std::int32_t> lab(n, -9), idx(k + 16);
        std::vector<float> thr(n), s12(2 * n);
        sk->screen(x.data(), d, nullptr, n, rows.mu.data(), rows.ab.data(), rows.bx.data(), cs.panels.data(),
                   cs.init.data(), cs.ge.data(), cs.gf.data(), cs.bc.data(), cs.nvec, lab.data(), thr.data(), s12.data(),
                   x.data(), x.size() * sizeof(float));
        for (std::size_t i = 0; i < n; ++i) {
          const float* xi = x.data() + i * d;
          const float xn = pk::sqnorm_canonical(xi, d);
          float best = INFINITY;
          std::int32_t arg = -1;
          std::vector<float> D(k);
          for (std::size_t j = 0; j < k; ++j) {
            D[j] = pk::sqdist_canonical(xi, xn, c.data() + j * d, pk::sqnorm_canonical(c.data() + j * d, d), d);
            if (D[j] < best) {
              best = D[j];
              arg = static_cast<std::int32_t>(j);
            }
          }
          const std::string what = "d=" + std::to_string(d) + " k=" + std::to_string(k) + " kind=" +
                                   std::to_string(kind) + " row=" + std::to_string(i);
          ++total;
          if (lab[i] >= 0) {
            ++decided;
            EXPECT_EQ(lab[i], arg) << what;
          }
          const std::size_t m = sk->list(xi, d, rows.mu.data(), rows.ab[i], cs.panels.data(), cs.init.data(), cs.nvec, k,
                                         thr[i], idx.data());
          std::vector<bool> in(k, false);
          for (std::size_t t = 0; t < m; ++t) {
            ASSERT_LT(static_cast<std::size_t>(idx[t]), k) << what;
            if (t) EXPECT_LT(idx[t - 1], idx[t]) << what << ": ascending";
            in[static_cast<std::size_t>(idx[t])] = true;
          }
          for (std::size_t j = 0; j < k; ++j)
            if (D[j] == best) EXPECT_TRUE(in[j]) << what << ": centroid " << j << " at the minimum not listed";
          if (lab[i] >= 0) EXPECT_TRUE(in[static_cast<std::size_t>(lab[i])]) << what;
        }
      }
    }
  }
  // Not a property of exactness, but the screen must do its job on most of these rows.
  EXPECT_GT(decided * 2, total) << decided << " of " << total << " rows decided";
}

INSTANTIATE_TEST_SUITE_P(Isa, KmeansIsa, ::testing::ValuesIn(pk::available_isas()), isa_param_name);

}  // namespace
