// Scalar k-means bound kernels (Isa::scalar): the definition of what the SIMD
// versions (avx2/kmeans_avx2.cpp, avx512/kmeans_avx512.cpp) must return bit for bit.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernel_table.hpp"

namespace personakit::scalar {
namespace {

constexpr std::size_t kL = detail::kGroupLanes;

// Per wanted lane: the canonical dot (fp32 fma chain over j from 0), then
// fma(-2, dot, xn + cn) clamped at 0 with `v < 0 ? 0 : v` (sqdist_canonical).
void panel16_sqdist_s(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                      const std::int32_t* which, const std::uint16_t* masks, std::size_t m, float* out) {
  for (std::size_t t = 0; t < m; ++t) {
    const std::size_t s = static_cast<std::size_t>(which[t]);
    const float* pan = panels + s * d * kL;
    for (std::size_t l = 0; l < kL; ++l) {
      if (!((masks[t] >> l) & 1u)) continue;
      float acc = 0.0f;
      for (std::size_t j = 0; j < d; ++j) acc = std::fma(x[j], pan[j * kL + l], acc);
      const float v = std::fma(-2.0f, acc, xn + norms[s * kL + l]);
      out[t * kL + l] = v < 0.0f ? 0.0f : v;
    }
  }
}

void own_sqdist_s(const float* x, std::size_t d, const std::uint32_t* rows, std::size_t m, const float* xnorm,
                  const float* c, const float* cnorm, const std::int32_t* cent, float* out) {
  for (std::size_t t = 0; t < m; ++t) {
    const std::size_t j = static_cast<std::size_t>(cent[t]);
    out[t] = sqdist_canonical(x + std::size_t(rows[t]) * d, xnorm[rows[t]], c + j * d, cnorm[j], d);
  }
}

void panel16_scan_s(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                    const float* shifts, const detail::Panel16Job* jobs, std::size_t m, detail::Panel16Res* res) {
  for (std::size_t t = 0; t < m; ++t) {
    const detail::Panel16Job& jb = jobs[t];
    detail::Panel16Res& r = res[t];
    const std::size_t s = static_cast<std::size_t>(jb.sp);
    r.mask = 0;
    r.pmax = -1.0f;
    r.m1 = r.m2 = INFINITY;
    r.l1 = -1;
    for (std::size_t l = 0; l < kL; ++l) {
      if (!((jb.allow >> l) & 1u)) continue;
      const float sh = shifts[s * kL + l];
      if (sh < jb.T) {
        r.pmax = sh > r.pmax ? sh : r.pmax;
        continue;
      }
      r.mask |= 1u << l;
    }
    std::uint16_t mk = static_cast<std::uint16_t>(r.mask);
    float D[kL];
    panel16_sqdist_s(x, xn, d, panels, norms, &jb.sp, &mk, 1, D);
    for (std::size_t l = 0; l < kL; ++l) {
      if (!((r.mask >> l) & 1u)) continue;
      if (D[l] < r.m1) {
        r.m2 = r.m1;
        r.m1 = D[l];
        r.l1 = static_cast<std::int32_t>(l);
      } else if (D[l] < r.m2) {
        r.m2 = D[l];
      }
    }
  }
}

// One row against listed centroids: sqdist_canonical's sequence per centroid.
void list_sqdist_s(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                   const std::int32_t* idx, std::size_t m, float* out) {
  for (std::size_t t = 0; t < m; ++t) {
    const float* cj = c + static_cast<std::size_t>(idx[t]) * d;
    float acc = 0.0f;
    for (std::size_t j = 0; j < d; ++j) acc = std::fma(x[j], cj[j], acc);
    const float v = std::fma(-2.0f, acc, xn + cnorm[idx[t]]);
    out[t] = v < 0.0f ? 0.0f : v;
  }
}

// The scan of one sub-panel for listed rows: panel16_scan per job.
void panel16_rows_s(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                    const float* shifts, const detail::Panel16RowJob* jobs, std::size_t m, detail::Panel16Res* res) {
  for (std::size_t t = 0; t < m; ++t) {
    const detail::Panel16Job jb{0, jobs[t].allow, jobs[t].T};
    const std::size_t r = jobs[t].row;
    panel16_scan_s(x + r * d, xnorm[r], d, panel, pnorm, shifts, &jb, 1, res + t);
  }
}

}  // namespace

// Elkan's filter: the decrement rounded down by 2^-22 relative (fp32), then both tests.
// Also the AVX2 table's entry (branch-free already; nothing for wider vectors to add).
std::size_t elkan_filter(float* L, const float* pf, const float* gap, std::size_t k, float thr, float T2,
                         bool shift, std::int32_t* cand) {
  std::size_t m = 0;
  for (std::size_t j = 0; j < k; ++j) {
    float l = L[j];
    if (shift) {
      const float mag = std::fabs(l) + pf[j];
      l = (l - pf[j]) - 0x1p-22f * mag;
      L[j] = l;
    }
    cand[m] = static_cast<std::int32_t>(j);
    m += !(l > thr) & !(gap[j] > T2);
  }
  return m;
}

const detail::KmeansKernelTable kKmeansTable = {Isa::scalar,    &panel16_sqdist_s, &own_sqdist_s,
                                                 &panel16_scan_s, &list_sqdist_s,    &elkan_filter,
                                                 &panel16_rows_s};

}  // namespace personakit::scalar
