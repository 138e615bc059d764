// AVX2 k-means bound kernels (built with -mavx2 -mfma; see kernel_table.hpp,
// KmeansKernelTable). Reference: ref/kmeans_ref.cpp (same bits).
//
// panel16_sqdist: one row against m sub-panels of 16 group-packed centroids, two ymm
// of 8 centroid lanes per sub-panel; each lane runs dot_canonical's fma chain over
// j = 0..d-1. Up to 4 sub-panels (8 accumulators = FMA latency 4 × 2 pipes) are
// interleaved. AVX2 has no masked FMA: every lane is computed, the unmasked ones are
// simply not used (the contract leaves them unspecified).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernel_table.hpp"

namespace personakit::avx2 {
namespace {

constexpr std::size_t kL = detail::kGroupLanes;

template <int P>
inline void panels_p(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                     const std::int32_t* which, float* out) {
  const float* pan[P];
  __m256 a0[P], a1[P];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    pan[p] = panels + static_cast<std::size_t>(which[p]) * d * kL;
    a0[p] = _mm256_setzero_ps();
    a1[p] = _mm256_setzero_ps();
  }
  for (std::size_t j = 0; j < d; ++j) {
    const __m256 xb = _mm256_set1_ps(x[j]);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      a0[p] = _mm256_fmadd_ps(xb, _mm256_loadu_ps(pan[p] + j * kL), a0[p]);
      a1[p] = _mm256_fmadd_ps(xb, _mm256_loadu_ps(pan[p] + j * kL + 8), a1[p]);
    }
  }
  const __m256 xv = _mm256_set1_ps(xn), m2 = _mm256_set1_ps(-2.0f), z = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    const float* cn = norms + static_cast<std::size_t>(which[p]) * kL;
    // MAXPS returns its second operand on NaN and on ±0 ties: the reference's v < 0 ? 0 : v.
    _mm256_storeu_ps(out + p * kL, _mm256_max_ps(z, _mm256_fmadd_ps(m2, a0[p], _mm256_add_ps(xv, _mm256_loadu_ps(cn)))));
    _mm256_storeu_ps(out + p * kL + 8,
                     _mm256_max_ps(z, _mm256_fmadd_ps(m2, a1[p], _mm256_add_ps(xv, _mm256_loadu_ps(cn + 8)))));
  }
}

void panel16_sqdist_k(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                      const std::int32_t* which, const std::uint16_t* /*masks*/, std::size_t m, float* out) {
  std::size_t t = 0;
  for (; t + 4 <= m; t += 4) panels_p<4>(x, xn, d, panels, norms, which + t, out + t * kL);
  switch (m - t) {
    case 3: panels_p<3>(x, xn, d, panels, norms, which + t, out + t * kL); break;
    case 2: panels_p<2>(x, xn, d, panels, norms, which + t, out + t * kL); break;
    case 1: panels_p<1>(x, xn, d, panels, norms, which + t, out + t * kL); break;
    default: break;
  }
}

// own_sqdist: R rows, each against its own centroid, as R independent scalar fma
// chains (dot_canonical's order); R = 8 covers latency 4 × 2 pipes.
template <int R>
inline void own_r(const float* x, std::size_t d, const std::uint32_t* rows, const float* xnorm, const float* c,
                  const float* cnorm, const std::int32_t* cent, float* out) {
  const float* xr[R];
  const float* cr[R];
  float a[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    xr[r] = x + std::size_t(rows[r]) * d;
    cr[r] = c + std::size_t(cent[r]) * d;
    a[r] = 0.0f;
  }
  for (std::size_t j = 0; j < d; ++j)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) a[r] = __builtin_fmaf(xr[r][j], cr[r][j], a[r]);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const float v = __builtin_fmaf(-2.0f, a[r], xnorm[rows[r]] + cnorm[cent[r]]);
    out[r] = v < 0.0f ? 0.0f : v;
  }
}

void own_sqdist_k(const float* x, std::size_t d, const std::uint32_t* rows, std::size_t m, const float* xnorm,
                  const float* c, const float* cnorm, const std::int32_t* cent, float* out) {
  std::size_t t = 0;
  for (; t + 8 <= m; t += 8) own_r<8>(x, d, rows + t, xnorm, c, cnorm, cent + t, out + t);
  for (; t < m; ++t) own_r<1>(x, d, rows + t, xnorm, c, cnorm, cent + t, out + t);
}

// One job's local filter and scan over its 16 computed lanes D, in scalar code exactly as
// the reference (shifts: the sub-panel's 16).
inline void scan_lanes(const float* shifts, std::uint32_t allow, float T, const float* D, detail::Panel16Res& r) {
  r.mask = 0;
  r.pmax = -1.0f;
  r.m1 = r.m2 = __builtin_inff();
  r.l1 = -1;
  for (std::size_t l = 0; l < kL; ++l) {
    if (!((allow >> l) & 1u)) continue;
    const float sh = shifts[l];
    if (sh < T) {
      r.pmax = sh > r.pmax ? sh : r.pmax;
      continue;
    }
    r.mask |= 1u << l;
    const float v = D[l];
    if (v < r.m1) {
      r.m2 = r.m1;
      r.m1 = v;
      r.l1 = static_cast<std::int32_t>(l);
    } else if (v < r.m2) {
      r.m2 = v;
    }
  }
}

// panel16_scan: every sub-panel's 16 lanes computed as in panel16_sqdist (AVX2 has no
// masked FMA), then the local filter, the masked min, its lowest lane and the runner-up
// in scalar code, exactly as the reference.
void panel16_scan_k(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                    const float* shifts, const detail::Panel16Job* jobs, std::size_t m, detail::Panel16Res* res) {
  for (std::size_t t0 = 0; t0 < m; t0 += 4) {
    const std::size_t nb = m - t0 < 4 ? m - t0 : 4;
    std::int32_t which[4];
    for (std::size_t t = 0; t < nb; ++t) which[t] = jobs[t0 + t].sp;
    float D[4 * kL];
    panel16_sqdist_k(x, xn, d, panels, norms, which, nullptr, nb, D);
    for (std::size_t t = 0; t < nb; ++t) {
      const detail::Panel16Job& jb = jobs[t0 + t];
      detail::Panel16Res& r = res[t0 + t];
      scan_lanes(shifts + static_cast<std::size_t>(jb.sp) * kL, jb.allow, jb.T, D + t * kL, r);
    }
  }
}

// list_sqdist: up to 4 listed centroids as independent scalar fma chains
// (dot_canonical's order per chain; out-of-order overlap covers the FMA latency).
void list_sqdist_k(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                   const std::int32_t* idx, std::size_t m, float* out) {
  for (std::size_t t = 0; t < m; t += 4) {
    const std::size_t w = m - t < 4 ? m - t : 4;
    const float* c0 = c + static_cast<std::size_t>(idx[t]) * d;
    const float* c1 = c + static_cast<std::size_t>(idx[t + (w > 1 ? 1 : 0)]) * d;
    const float* c2 = c + static_cast<std::size_t>(idx[t + (w > 2 ? 2 : 0)]) * d;
    const float* c3 = c + static_cast<std::size_t>(idx[t + (w > 3 ? 3 : 0)]) * d;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (std::size_t f = 0; f < d; ++f) {
      const float xf = x[f];
      a0 = __builtin_fmaf(xf, c0[f], a0);
      a1 = __builtin_fmaf(xf, c1[f], a1);
      a2 = __builtin_fmaf(xf, c2[f], a2);
      a3 = __builtin_fmaf(xf, c3[f], a3);
    }
    const float acc[4] = {a0, a1, a2, a3};
    for (std::size_t u = 0; u < w; ++u) {
      const float v = __builtin_fmaf(-2.0f, acc[u], xn + cnorm[idx[t + u]]);
      out[t + u] = v < 0.0f ? 0.0f : v;
    }
  }
}

// panel16_rows: the sub-panel's two ymm per feature loaded once for 4 rows (8
// accumulators = FMA latency 4 × 2 pipes), each row's x[j] broadcast; all 16 lanes are
// computed (no masked FMA), then the local filter and the reductions in scalar code as
// panel16_scan.
template <int P>
inline void rows4(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                  const std::uint32_t* rows, float* out) {
  const float* xr[P];
  __m256 a0[P], a1[P];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    xr[p] = x + static_cast<std::size_t>(rows[p]) * d;
    a0[p] = _mm256_setzero_ps();
    a1[p] = _mm256_setzero_ps();
  }
  for (std::size_t j = 0; j < d; ++j) {
    const __m256 p0 = _mm256_loadu_ps(panel + j * kL), p1 = _mm256_loadu_ps(panel + j * kL + 8);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const __m256 xb = _mm256_set1_ps(xr[p][j]);
      a0[p] = _mm256_fmadd_ps(xb, p0, a0[p]);
      a1[p] = _mm256_fmadd_ps(xb, p1, a1[p]);
    }
  }
  const __m256 m2 = _mm256_set1_ps(-2.0f), z = _mm256_setzero_ps();
  const __m256 c0 = _mm256_loadu_ps(pnorm), c1 = _mm256_loadu_ps(pnorm + 8);
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    const __m256 xv = _mm256_set1_ps(xnorm[rows[p]]);
    _mm256_storeu_ps(out + p * kL, _mm256_max_ps(z, _mm256_fmadd_ps(m2, a0[p], _mm256_add_ps(xv, c0))));
    _mm256_storeu_ps(out + p * kL + 8, _mm256_max_ps(z, _mm256_fmadd_ps(m2, a1[p], _mm256_add_ps(xv, c1))));
  }
}

void panel16_rows_k(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                    const float* shifts, const detail::Panel16RowJob* jobs, std::size_t m, detail::Panel16Res* res) {
  for (std::size_t t0 = 0; t0 < m; t0 += 4) {
    const std::size_t nb = m - t0 < 4 ? m - t0 : 4;
    std::uint32_t rows[4];
    for (std::size_t t = 0; t < nb; ++t) rows[t] = jobs[t0 + t].row;
    float D[4 * kL];
    switch (nb) {
      case 4: rows4<4>(x, d, xnorm, panel, pnorm, rows, D); break;
      case 3: rows4<3>(x, d, xnorm, panel, pnorm, rows, D); break;
      case 2: rows4<2>(x, d, xnorm, panel, pnorm, rows, D); break;
      default: rows4<1>(x, d, xnorm, panel, pnorm, rows, D); break;
    }
    for (std::size_t t = 0; t < nb; ++t) {
      const detail::Panel16RowJob& jb = jobs[t0 + t];
      detail::Panel16Res& r = res[t0 + t];
      scan_lanes(shifts, jb.allow, jb.T, D + t * kL, r);
    }
  }
}

}  // namespace

const detail::KmeansKernelTable kKmeansTable = {Isa::avx2,      &panel16_sqdist_k, &own_sqdist_k,
                                                 &panel16_scan_k, &list_sqdist_k,    &scalar::elkan_filter,
                                                 &panel16_rows_k};

}  // namespace personakit::avx2
