// AVX2 fused tile of the exact silhouette (ScoreKernelTable::silhouette_tile, contract in
// kernel_table.hpp): the AVX-512 kernel's scheme on 8-wide vectors. Built with the avx2
// flags (-mavx2 -mfma); everything but the table has internal linkage.
//
// Register block kR = 4 rows × one panel of 16 points (2 ymm): per feature, 2 loads +
// 4 broadcasts for 8 FMAs into 8 accumulators; 8 independent chains cover the FMA
// latency (4) × 2 pipes, and 8 + 4 + 2 = 14 of the 16 ymm registers stay live (a wider
// block, 4 × 2 panels, would need 16 accumulators alone and spill). The epilogue (add,
// FMA, max, sqrt, and-mask, 2 adds per vector) is ~1/3 of the work at d = 16.
// fp32 partial sums: at most 16 terms per lane (rows: 8 panels × 2 vectors; columns:
// 4 row groups × 4 rows) before they are widened to fp64, as in the AVX-512 kernel.
#include <immintrin.h>

#include <cstdint>

#include "kernel_table.hpp"
#include "score/silhouette_kernel.hpp"

namespace personakit::avx2 {
namespace {

using score_detail::kSilPanel;
constexpr int kR = 4;

// Adds e = sqrt(dist) of rows 0..R-1 against the 2 vectors of one panel to acc[r] and,
// if COL, the per-lane sum over the R rows to colf (the panel's 16 column partials).
// mask: 2 vectors of lane masks (all ones = valid; padding lanes give 0).
template <int R, bool COL>
inline void block(const float* const* xr, const __m256* xnv, const float* P, const float* cn, std::size_t d,
                  const __m256* mask, __m256* acc, float* colf) {
  __m256 s[R][2];
  for (int r = 0; r < R; ++r) { s[r][0] = _mm256_setzero_ps(); s[r][1] = _mm256_setzero_ps(); }
  for (std::size_t j = 0; j < d; ++j) {
    const __m256 c0 = _mm256_load_ps(P + j * kSilPanel), c1 = _mm256_load_ps(P + j * kSilPanel + 8);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(xr[r] + j);
      s[r][0] = _mm256_fmadd_ps(xv, c0, s[r][0]);  // canonical: j ascending, from 0
      s[r][1] = _mm256_fmadd_ps(xv, c1, s[r][1]);
    }
  }
  const __m256 m2 = _mm256_set1_ps(-2.0f), zero = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int v = 0; v < 2; ++v) {
    const __m256 cq = _mm256_load_ps(cn + v * 8);
    __m256 cs = zero;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 t = _mm256_add_ps(xnv[r], cq);
      const __m256 dist = _mm256_max_ps(_mm256_fmadd_ps(m2, s[r][v], t), zero);
      const __m256 e = _mm256_and_ps(_mm256_sqrt_ps(dist), mask[v]);
      acc[r] = _mm256_add_ps(acc[r], e);
      if constexpr (COL) cs = r == 0 ? e : _mm256_add_ps(cs, e);
    }
    if constexpr (COL) _mm256_store_ps(colf + v * 8, _mm256_add_ps(_mm256_load_ps(colf + v * 8), cs));
  }
}

// out[0..8) += v widened to fp64.
inline void widen_add(__m256 v, double* out) {
  _mm256_storeu_pd(out, _mm256_add_pd(_mm256_loadu_pd(out), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
  _mm256_storeu_pd(out + 4, _mm256_add_pd(_mm256_loadu_pd(out + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

// R rows against all np panels.
template <int R, bool COL>
void rows(const float* xr, const float* xn, std::size_t d, const float* panels, const float* cn, std::size_t np,
          const __m256* tail, double* rowsum, float* colf) {
  const float* rp[R];
  __m256 xnv[R], acc[R];
  alignas(32) double dacc[R][8] = {};
  for (int r = 0; r < R; ++r) { rp[r] = xr + r * d; xnv[r] = _mm256_set1_ps(xn[r]); acc[r] = _mm256_setzero_ps(); }
  const __m256 ones = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  const __m256 full[2] = {ones, ones};
  const std::size_t pstride = d * kSilPanel;
  int terms = 0;  // per lane of acc: 2 per panel; widened at 16
  for (std::size_t p = 0; p < np; ++p) {
    block<R, COL>(rp, xnv, panels + p * pstride, cn + p * kSilPanel, d, p + 1 == np ? tail : full, acc,
                  colf + p * kSilPanel);
    if ((terms += 2) == 16) {
      for (int r = 0; r < R; ++r) { widen_add(acc[r], dacc[r]); acc[r] = _mm256_setzero_ps(); }
      terms = 0;
    }
  }
  for (int r = 0; r < R; ++r) {
    widen_add(acc[r], dacc[r]);
    const __m256d h = _mm256_add_pd(_mm256_load_pd(dacc[r]), _mm256_load_pd(dacc[r] + 4));
    alignas(32) double t[4];
    _mm256_store_pd(t, h);
    rowsum[r] += (t[0] + t[1]) + (t[2] + t[3]);
  }
}

template <bool COL>
void tile(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels, const float* cn,
          std::size_t np, const __m256* tail, double* rowsum, double* colsum, float* colf) {
  if constexpr (COL)
    for (std::size_t q = 0; q < np * kSilPanel; q += 8) _mm256_store_ps(colf + q, _mm256_setzero_ps());
  // Column partials get <= kR terms per lane per row group: widen every 4 groups (16 terms).
  int groups = 0;
  for (std::size_t r0 = 0; r0 < nr; r0 += kR) {
    const float* x = xr + r0 * d;
    switch (nr - r0 >= kR ? kR : nr - r0) {
      case 4: rows<4, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      case 3: rows<3, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      case 2: rows<2, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      default: rows<1, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
    }
    if constexpr (COL) {
      if (++groups == 16 / kR || r0 + kR >= nr) {
        for (std::size_t q = 0; q < np * kSilPanel; q += 8) {
          widen_add(_mm256_load_ps(colf + q), colsum + q);
          _mm256_store_ps(colf + q, _mm256_setzero_ps());
        }
        groups = 0;
      }
    }
  }
}

void silhouette_tile_k(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels,
                       const float* cn, std::size_t np, unsigned last_valid, double* rowsum, double* colsum,
                       float* scratch) {
  if (np == 0 || nr == 0) return;
  const int valid = static_cast<int>(last_valid >= 16 ? 16 : last_valid);
  const __m256i lanes0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lanes1 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
  const __m256i vv = _mm256_set1_epi32(valid);
  const __m256 tail[2] = {_mm256_castsi256_ps(_mm256_cmpgt_epi32(vv, lanes0)),
                          _mm256_castsi256_ps(_mm256_cmpgt_epi32(vv, lanes1))};
  if (colsum) tile<true>(xr, xn, nr, d, panels, cn, np, tail, rowsum, colsum, scratch);
  else tile<false>(xr, xn, nr, d, panels, cn, np, tail, rowsum, nullptr, scratch);
}

}  // namespace

const detail::ScoreKernelTable kScoreTable = {Isa::avx2, &silhouette_tile_k, &moments_given};

}  // namespace personakit::avx2
