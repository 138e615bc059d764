// AVX-512 fused tile of the exact silhouette (ScoreKernelTable::silhouette_tile, contract
// in kernel_table.hpp): canonical squared distances of R <= 4 rows against 4 panels of
// 16 points (16 zmm accumulators), clamp, sqrt, then the row sums and (for the
// symmetric pass) the column sums. Built with the avx512 flags; everything but the
// table has internal linkage, so no AVX-512 code can be merged into another ISA's.
//
// Register block 4 rows × 4 vectors of 16 points: per feature, 4 loads + 4 broadcasts
// for 16 FMAs, 16 independent chains to cover the FMA latency (4) × 2 pipes. The
// epilogue (add, FMA, max, sqrt, 2 adds) costs ~1/4 of the dot products at d = 16; the
// square root runs on the divider, beside the FMA pipes.
#include <immintrin.h>

#include <cstdint>

#include "kernel_table.hpp"
#include "score/silhouette_kernel.hpp"

namespace personakit::avx512 {
namespace {

using score_detail::kSilPanel;

// Adds e = sqrt(dist) of rows 0..R-1 against C panels to acc[r] (row sums) and, if
// COL, the per-lane sum over the R rows to colf (column sums). Masked lanes give 0.
template <int R, int C, bool COL>
inline void block(const float* const* xr, const __m512* xnv, const float* P, const float* cn, std::size_t d,
                  __mmask16 last_mask, __m512* acc, float* colf) {
  __m512 s[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < C; ++q) s[r][q] = _mm512_setzero_ps();
  for (std::size_t j = 0; j < d; ++j) {
    __m512 c[C];
#pragma GCC unroll 4
    for (int q = 0; q < C; ++q) c[q] = _mm512_load_ps(P + (q * d + j) * kSilPanel);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(xr[r][j]);
#pragma GCC unroll 4
      for (int q = 0; q < C; ++q) s[r][q] = _mm512_fmadd_ps(xv, c[q], s[r][q]);  // canonical: j ascending
    }
  }
  const __m512 m2 = _mm512_set1_ps(-2.0f), zero = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int q = 0; q < C; ++q) {
    const __m512 cq = _mm512_load_ps(cn + q * kSilPanel);
    const __mmask16 m = q == C - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
    __m512 cs = zero;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 t = _mm512_add_ps(xnv[r], cq);
      const __m512 dist = _mm512_max_ps(_mm512_fmadd_ps(m2, s[r][q], t), zero);
      const __m512 e = _mm512_maskz_sqrt_ps(m, dist);
      acc[r] = _mm512_add_ps(acc[r], e);
      if constexpr (COL) cs = r == 0 ? e : _mm512_add_ps(cs, e);
    }
    if constexpr (COL) _mm512_store_ps(colf + q * kSilPanel, _mm512_add_ps(_mm512_load_ps(colf + q * kSilPanel), cs));
  }
}

inline void widen_add(__m512 v, double* out) {
  _mm512_storeu_pd(out, _mm512_add_pd(_mm512_loadu_pd(out), _mm512_cvtps_pd(_mm512_castps512_ps256(v))));
  _mm512_storeu_pd(out + 8, _mm512_add_pd(_mm512_loadu_pd(out + 8), _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1))));
}

// R rows against all np panels.
template <int R, bool COL>
void rows(const float* xr, const float* xn, std::size_t d, const float* panels, const float* cn, std::size_t np,
          __mmask16 tail, double* rowsum, float* colf) {
  const float* rp[R];
  __m512 xnv[R], acc[R];
  alignas(64) double dacc[R][16] = {};
  for (int r = 0; r < R; ++r) { rp[r] = xr + r * d; xnv[r] = _mm512_set1_ps(xn[r]); acc[r] = _mm512_setzero_ps(); }
  const std::size_t pstride = d * kSilPanel;
  const __mmask16 full = 0xFFFF;
  // fp32 row partials hold at most 16 terms per lane (4 groups of 4 panels, or 16
  // single panels) before they are widened: relative rounding <= 16·2^-24.
  int terms = 0;
  std::size_t p = 0;
  for (; p + 4 <= np; p += 4) {
    block<R, 4, COL>(rp, xnv, panels + p * pstride, cn + p * kSilPanel, d, p + 4 == np ? tail : full, acc,
                     colf + p * kSilPanel);
    if ((terms += 4) == 16) { for (int r = 0; r < R; ++r) { widen_add(acc[r], dacc[r]); acc[r] = _mm512_setzero_ps(); } terms = 0; }
  }
  for (; p < np; ++p) {
    block<R, 1, COL>(rp, xnv, panels + p * pstride, cn + p * kSilPanel, d, p + 1 == np ? tail : full, acc,
                     colf + p * kSilPanel);
    if (++terms == 16) { for (int r = 0; r < R; ++r) { widen_add(acc[r], dacc[r]); acc[r] = _mm512_setzero_ps(); } terms = 0; }
  }
  for (int r = 0; r < R; ++r) {
    widen_add(acc[r], dacc[r]);
    rowsum[r] += _mm512_reduce_add_pd(_mm512_add_pd(_mm512_load_pd(dacc[r]), _mm512_load_pd(dacc[r] + 8)));
  }
}

template <bool COL>
void tile(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels, const float* cn,
          std::size_t np, __mmask16 tail, double* rowsum, double* colsum, float* colf) {
  if constexpr (COL)
    for (std::size_t p = 0; p < np; ++p) _mm512_store_ps(colf + p * kSilPanel, _mm512_setzero_ps());
  // Column partials get <= 4 terms per lane per quad: widen every 4 quads (16 terms).
  int quads = 0;
  for (std::size_t r0 = 0; r0 < nr; r0 += 4) {
    const float* x = xr + r0 * d;
    switch (nr - r0 >= 4 ? 4 : nr - r0) {
      case 4: rows<4, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      case 3: rows<3, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      case 2: rows<2, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
      default: rows<1, COL>(x, xn + r0, d, panels, cn, np, tail, rowsum + r0, colf); break;
    }
    if constexpr (COL) {
      if (++quads == 4 || r0 + 4 >= nr) {
        for (std::size_t p = 0; p < np; ++p) {
          widen_add(_mm512_load_ps(colf + p * kSilPanel), colsum + p * kSilPanel);
          _mm512_store_ps(colf + p * kSilPanel, _mm512_setzero_ps());
        }
        quads = 0;
      }
    }
  }
}

void silhouette_tile_k(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels,
                       const float* cn, std::size_t np, unsigned last_valid, double* rowsum, double* colsum,
                       float* scratch) {
  if (np == 0 || nr == 0) return;
  const __mmask16 tail = static_cast<__mmask16>(last_valid >= 16 ? 0xFFFFu : ((1u << last_valid) - 1u));
  if (colsum) tile<true>(xr, xn, nr, d, panels, cn, np, tail, rowsum, colsum, scratch);
  else tile<false>(xr, xn, nr, d, panels, cn, np, tail, rowsum, nullptr, scratch);
}

}  // namespace

const detail::ScoreKernelTable kScoreTable = {Isa::avx512, &silhouette_tile_k, &moments_given};

}  // namespace personakit::avx512
