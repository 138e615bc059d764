// AVX-512 k-means bound kernels (built with the avx512 flags; see kernel_table.hpp,
// KmeansKernelTable). Reference: ref/kmeans_ref.cpp (same bits).
//
// panel16_sqdist: one row against m sub-panels of 16 group-packed centroids. Lanes are
// centroids, so each lane runs dot_canonical's fma chain over j = 0..d-1 exactly; x[j]
// is broadcast once per j for all sub-panels. Up to 8 sub-panels are interleaved: 8
// independent chains = FMA latency 4 × 2 pipes, 1 panel load per FMA (the panels stay
// in L1/L2: 4·16·d bytes each). Lanes outside the mask are not evaluated (zero-masked
// FMAs) and not stored.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernel_table.hpp"

namespace personakit::avx512 {
namespace {

constexpr std::size_t kL = detail::kGroupLanes;

// acc[p] = the masked lanes' dot_canonical chains of x with sub-panel pan[p], j = 0..d-1
// (x[j] broadcast once for all P sub-panels: P independent fma chains; unmasked lanes 0).
template <int P>
inline __attribute__((always_inline)) void masked_dots(const float* x, std::size_t d, const float* const (&pan)[P],
                                                      const __mmask16 (&mk)[P], __m512 (&acc)[P]) {
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_ps();
  for (std::size_t j = 0; j < d; ++j) {
    const __m512 xb = _mm512_set1_ps(x[j]);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) acc[p] = _mm512_maskz_fmadd_ps(mk[p], xb, _mm512_loadu_ps(pan[p] + j * kL), acc[p]);
  }
}

template <int P>
inline void panels_p(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                     const std::int32_t* which, const std::uint16_t* masks, float* out) {
  const float* pan[P];
  __mmask16 mk[P];
  __m512 acc[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    pan[p] = panels + static_cast<std::size_t>(which[p]) * d * kL;
    mk[p] = static_cast<__mmask16>(masks[p]);
  }
  masked_dots<P>(x, d, pan, mk, acc);
  const __m512 xv = _mm512_set1_ps(xn), m2 = _mm512_set1_ps(-2.0f), z = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    const __m512 cn = _mm512_loadu_ps(norms + static_cast<std::size_t>(which[p]) * kL);
    // MAXPS returns its second operand on NaN and on ±0 ties: the reference's v < 0 ? 0 : v.
    const __m512 v = _mm512_max_ps(z, _mm512_fmadd_ps(m2, acc[p], _mm512_add_ps(xv, cn)));
    _mm512_mask_storeu_ps(out + static_cast<std::size_t>(p) * kL, mk[p], v);
  }
}

void panel16_sqdist_k(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                      const std::int32_t* which, const std::uint16_t* masks, std::size_t m, float* out) {
  std::size_t t = 0;
  for (; t + 8 <= m; t += 8) panels_p<8>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL);
  switch (m - t) {
    case 7: panels_p<7>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 6: panels_p<6>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 5: panels_p<5>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 4: panels_p<4>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 3: panels_p<3>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 2: panels_p<2>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
    case 1: panels_p<1>(x, xn, d, panels, norms, which + t, masks + t, out + t * kL); break;
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

// Yinyang's local filter of one job: lanes of allow whose shift is below T are filtered;
// the rest are to be evaluated (r.mask); pmax = the largest filtered shift, or -1.
inline void local_filter(__m512 sh, std::uint32_t allow_bits, float T, detail::Panel16Res& r) {
  const __mmask16 allow = static_cast<__mmask16>(allow_bits);
  const __mmask16 filt = _mm512_mask_cmp_ps_mask(allow, sh, _mm512_set1_ps(T), _CMP_LT_OQ);
  r.mask = static_cast<std::uint32_t>(allow & ~filt);
  r.pmax = filt ? _mm512_mask_reduce_max_ps(filt, sh) : -1.0f;
  if (r.pmax < -1.0f) r.pmax = -1.0f;
  r.m1 = r.m2 = __builtin_inff();
  r.l1 = -1;
}

// The masked lanes' D = max(0, fma(-2, acc, xn + cn)), then their min, its lowest lane
// and the runner-up (reductions of exact comparisons: the reference's values).
inline void scan_result(__m512 acc, __m512 xv, __m512 cn, __mmask16 mk, detail::Panel16Res& r) {
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  const __m512 v = _mm512_max_ps(_mm512_setzero_ps(), _mm512_fmadd_ps(_mm512_set1_ps(-2.0f), acc, _mm512_add_ps(xv, cn)));
  const __m512 vm = _mm512_mask_blend_ps(mk, inf, v);
  const float m1 = _mm512_reduce_min_ps(vm);
  const unsigned eq = _mm512_mask_cmp_ps_mask(mk, vm, _mm512_set1_ps(m1), _CMP_EQ_OQ);
  const unsigned l1 = static_cast<unsigned>(__builtin_ctz(eq));
  r.m1 = m1;
  r.l1 = static_cast<std::int32_t>(l1);
  r.m2 = _mm512_reduce_min_ps(_mm512_mask_blend_ps(static_cast<__mmask16>(1u << l1), vm, inf));
}

// panel16_scan: the local filter per sub-panel (one masked compare of 16 shifts with
// T), then the surviving sub-panels' canonical distances as in panel16_sqdist, up to 8
// interleaved, then per sub-panel the masked min, its lowest lane and the runner-up
// (reductions of exact comparisons: the reference's values).
template <int P>
inline void scan_p(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                   const detail::Panel16Job* jobs, detail::Panel16Res* res, const int* ids) {
  const float* pan[P];
  __mmask16 mk[P];
  __m512 acc[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    pan[p] = panels + static_cast<std::size_t>(jobs[ids[p]].sp) * d * kL;
    mk[p] = static_cast<__mmask16>(res[ids[p]].mask);
  }
  masked_dots<P>(x, d, pan, mk, acc);
  const __m512 xv = _mm512_set1_ps(xn);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
    scan_result(acc[p], xv, _mm512_loadu_ps(norms + static_cast<std::size_t>(jobs[ids[p]].sp) * kL), mk[p],
                res[ids[p]]);
}

void panel16_scan_k(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                    const float* shifts, const detail::Panel16Job* jobs, std::size_t m, detail::Panel16Res* res) {
  for (std::size_t t0 = 0; t0 < m; t0 += 8) {
    const std::size_t nb = m - t0 < 8 ? m - t0 : 8;
    int ids[8];
    int na = 0;
    for (std::size_t t = t0; t < t0 + nb; ++t) {
      const detail::Panel16Job& jb = jobs[t];
      local_filter(_mm512_loadu_ps(shifts + static_cast<std::size_t>(jb.sp) * kL), jb.allow, jb.T, res[t]);
      if (res[t].mask) ids[na++] = static_cast<int>(t);
    }
    switch (na) {
      case 8: scan_p<8>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 7: scan_p<7>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 6: scan_p<6>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 5: scan_p<5>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 4: scan_p<4>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 3: scan_p<3>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 2: scan_p<2>(x, xn, d, panels, norms, jobs, res, ids); break;
      case 1: scan_p<1>(x, xn, d, panels, norms, jobs, res, ids); break;
      default: break;
    }
  }
}

// list_sqdist: 8 or more listed centroids go 16 at a time, one lane per centroid, its
// coordinates gathered from the row-major copy (lane = dot_canonical's chain); the
// rest as up to 4 independent scalar fma chains. Gather offsets are int32: the
// gather path needs idx·d + d < 2^31 (checked per call, else all chains).
inline void list16(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                   const std::int32_t* idx, std::size_t m, float* out) {
  const __mmask16 mask = static_cast<__mmask16>(m >= 16 ? 0xFFFFu : ((1u << m) - 1u));
  const __m512i vi = _mm512_maskz_loadu_epi32(mask, idx);
  __m512i off = _mm512_mullo_epi32(vi, _mm512_set1_epi32(static_cast<int>(d)));
  const __m512i one = _mm512_set1_epi32(1);
  __m512 acc = _mm512_setzero_ps();
  for (std::size_t f = 0; f < d; ++f) {
    const __m512 cv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, off, c, 4);
    acc = _mm512_fmadd_ps(_mm512_set1_ps(x[f]), cv, acc);
    off = _mm512_add_epi32(off, one);
  }
  const __m512 nrm = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, vi, cnorm, 4);
  const __m512 s = _mm512_add_ps(_mm512_set1_ps(xn), nrm);
  const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(-2.0f), acc, s);
  const __m512 z = _mm512_setzero_ps();
  _mm512_mask_storeu_ps(out, mask, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, z, _CMP_LT_OQ), v, z));
}

inline void chains4(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                    const std::int32_t* idx, std::size_t w, float* out) {
  const float* c0 = c + static_cast<std::size_t>(idx[0]) * d;
  const float* c1 = c + static_cast<std::size_t>(idx[w > 1 ? 1 : 0]) * d;
  const float* c2 = c + static_cast<std::size_t>(idx[w > 2 ? 2 : 0]) * d;
  const float* c3 = c + static_cast<std::size_t>(idx[w > 3 ? 3 : 0]) * d;
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
    const float v = __builtin_fmaf(-2.0f, acc[u], xn + cnorm[idx[u]]);
    out[u] = v < 0.0f ? 0.0f : v;
  }
}

void list_sqdist_k(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                   const std::int32_t* idx, std::size_t m, float* out) {
  std::size_t t = 0;
  if (m >= 8) {
    std::int32_t top = 0;
    for (std::size_t u = 0; u < m; ++u) top = idx[u] > top ? idx[u] : top;
    if ((static_cast<std::uint64_t>(top) + 1) * d < (std::uint64_t{1} << 31))
      for (; m - t >= 8; t += (m - t < 16 ? m - t : 16)) list16(x, xn, d, c, cnorm, idx + t, m - t, out + t);
  }
  for (; t < m; t += 4) chains4(x, xn, d, c, cnorm, idx + t, m - t < 4 ? m - t : 4, out + t);
}

// elkan_filter: 16 bounds per step; the decrement as two fp32 subtractions and one
// multiply (the scalar rule's roundings); survivors by register compress plus a full
// store (cand has 16 spare slots): the memory form of vpcompressd is microcoded and
// slow on Zen 4/5.
std::size_t elkan_filter_k(float* L, const float* pf, const float* gap, std::size_t k, float thr, float T2,
                           bool shift, std::int32_t* cand) {
  const __m512 vthr = _mm512_set1_ps(thr), vT2 = _mm512_set1_ps(T2), sl = _mm512_set1_ps(0x1p-22f);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  std::size_t m = 0;
  for (std::size_t j = 0; j < k; j += 16) {
    const __mmask16 live = static_cast<__mmask16>(k - j >= 16 ? 0xFFFFu : ((1u << (k - j)) - 1u));
    __m512 l = _mm512_maskz_loadu_ps(live, L + j);
    if (shift) {
      const __m512 p = _mm512_maskz_loadu_ps(live, pf + j);
      const __m512 mag = _mm512_add_ps(_mm512_abs_ps(l), p);
      l = _mm512_sub_ps(_mm512_sub_ps(l, p), _mm512_mul_ps(sl, mag));
      _mm512_mask_storeu_ps(L + j, live, l);
    }
    const __m512 g = _mm512_maskz_loadu_ps(live, gap + j);
    const __mmask16 drop = _mm512_cmp_ps_mask(l, vthr, _CMP_GT_OQ) | _mm512_cmp_ps_mask(g, vT2, _CMP_GT_OQ);
    const __mmask16 keep = static_cast<__mmask16>(live & ~drop);
    const __m512i ix = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(j)));
    _mm512_storeu_si512(cand + m, _mm512_maskz_compress_epi32(keep, ix));
    m += static_cast<std::size_t>(__builtin_popcount(keep));
  }
  return m;
}

// panel16_rows: one sub-panel against up to 8 rows at a time. The sub-panel's row j is
// loaded once and multiplies every row's x[j] (an embedded broadcast per FMA): 8
// independent chains cover FMA latency 4 × 2 pipes with 1/8 load per FMA besides the
// broadcast, so the survivors run at the dense kernel's rate whatever their scatter.
// The local filter, the masked min / lowest lane / runner-up as in scan_p.
template <int P>
inline void rows_p(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                   const detail::Panel16RowJob* jobs, detail::Panel16Res* res, const int* ids) {
  const float* xr[P];
  __mmask16 mk[P];
  __m512 acc[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    xr[p] = x + static_cast<std::size_t>(jobs[ids[p]].row) * d;
    mk[p] = static_cast<__mmask16>(res[ids[p]].mask);
    acc[p] = _mm512_setzero_ps();
  }
  for (std::size_t j = 0; j < d; ++j) {
    const __m512 pv = _mm512_loadu_ps(panel + j * kL);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) acc[p] = _mm512_maskz_fmadd_ps(mk[p], _mm512_set1_ps(xr[p][j]), pv, acc[p]);
  }
  const __m512 cn = _mm512_loadu_ps(pnorm);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
    scan_result(acc[p], _mm512_set1_ps(xnorm[jobs[ids[p]].row]), cn, mk[p], res[ids[p]]);
}

void panel16_rows_k(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                    const float* shifts, const detail::Panel16RowJob* jobs, std::size_t m, detail::Panel16Res* res) {
  const __m512 sh = _mm512_loadu_ps(shifts);
  int ids[8];
  int na = 0;
  auto run = [&]() {
    switch (na) {
      case 8: rows_p<8>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 7: rows_p<7>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 6: rows_p<6>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 5: rows_p<5>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 4: rows_p<4>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 3: rows_p<3>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 2: rows_p<2>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      case 1: rows_p<1>(x, d, xnorm, panel, pnorm, jobs, res, ids); break;
      default: break;
    }
    na = 0;
  };
  for (std::size_t t = 0; t < m; ++t) {
    detail::Panel16Res& r = res[t];
    local_filter(sh, jobs[t].allow, jobs[t].T, r);
    if (r.mask) {
      ids[na++] = static_cast<int>(t);
      if (na == 8) run();
    }
  }
  run();
}

}  // namespace

const detail::KmeansKernelTable kKmeansTable = {Isa::avx512,    &panel16_sqdist_k, &own_sqdist_k,
                                                 &panel16_scan_k, &list_sqdist_k,    &elkan_filter_k,
                                                 &panel16_rows_k};

}  // namespace personakit::avx512
