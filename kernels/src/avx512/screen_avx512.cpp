// AVX-512 BF16 screen for exact Lloyd (kmeans/screen.hpp; reference: ref/screen_ref.cpp).
// Built with -mavx512bf16 on top of the avx512 flags (kernels/CMakeLists.txt) and only
// called when the CPU reports AVX512_BF16 (screen_kernel).
//
// Micro-kernel: R rows × NV panels of 16 centroids; one VDPBF16PS per (row, panel, pair of
// features) adds two bf16 products into each fp32 lane, so a lane accumulates one
// (row, centroid) score S at twice the fp32 FMA rate. The accumulators start at the
// panel's init; the row's feature pair is broadcast as one 32-bit word; the last pair
// (a, b)·(e, f) adds the bound term P. Epilogue per (row, panel), 4 ops: the panel
// index goes into S's low 8 mantissa bits (one VPTERNLOGD), then per lane the two
// largest such values (max, min, max): the largest's index comes with it, and the
// state (2 vectors a row) stays in registers for R = 4.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "kmeans/screen.hpp"

namespace personakit::avx512 {
namespace {

constexpr std::size_t kL = detail::kScreenLanes;
constexpr int kR = 6;   // rows per block: 6×4 accumulators + 4 panel vectors (the state lives in memory)

constexpr unsigned kCodeMask = (1u << detail::kScreenCodeBits) - 1;

// out = bf16(fl(x - mu)) (VCVTNE2PS2BF16: round to nearest even, denormals to zero)
// zero padded to dp, then the bound pair ab: dq = dp + 2 values.
inline void convert(const float* x, std::size_t d, const float* mu, std::uint32_t ab, std::uint16_t* out) {
  const std::size_t dp = (d + 1) / 2 * 2;
  std::size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m512 lo = _mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(mu + j));
    const __m512 hi = _mm512_sub_ps(_mm512_loadu_ps(x + j + 16), _mm512_loadu_ps(mu + j + 16));
    _mm512_storeu_si512(static_cast<void*>(out + j), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  if (j < d) {
    const std::size_t r = d - j;
    const __mmask16 m0 = static_cast<__mmask16>(r >= 16 ? 0xFFFFu : (1u << r) - 1);
    const __mmask16 m1 = static_cast<__mmask16>(r <= 16 ? 0u : (1u << (r - 16)) - 1);
    const __m512 lo = _mm512_maskz_sub_ps(m0, _mm512_maskz_loadu_ps(m0, x + j), _mm512_maskz_loadu_ps(m0, mu + j));
    const __m512 hi =
        _mm512_maskz_sub_ps(m1, _mm512_maskz_loadu_ps(m1, x + j + 16), _mm512_maskz_loadu_ps(m1, mu + j + 16));
    const __mmask32 mo = static_cast<__mmask32>((dp - j) >= 32 ? 0xFFFFFFFFu : (1u << (dp - j)) - 1);
    _mm512_mask_storeu_epi16(static_cast<void*>(out + j), mo, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  std::memcpy(out + dp, &ab, 4);
}

struct RowState {
  __m512 m1, m2;
};

template <int R, int NV>
inline __attribute__((always_inline)) void group(const std::uint16_t* xb, std::size_t dq, const std::uint16_t* pan,
                                                 std::size_t pstride, const float* init, unsigned v0,
                                                 RowState (&st)[R]) {
  __m512 acc[R][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512 a0 = _mm512_loadu_ps(init + v * kL);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][v] = a0;
  }
  const std::size_t nq = dq / 2;
  for (std::size_t p = 0; p < nq; ++p) {
    __m512bh c[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      c[v] = (__m512bh)_mm512_loadu_si512(static_cast<const void*>(pan + v * pstride + p * 2 * kL));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      std::int32_t w;
      std::memcpy(&w, xb + r * dq + 2 * p, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(w);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], c[v], xv);
    }
  }
  const __m512i keep = _mm512_set1_epi32(static_cast<int>(~kCodeMask));
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512i code = _mm512_set1_epi32(static_cast<int>(v0 + unsigned(v)));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      // (S & ~mask) | code, then the lane's two largest.
      const __m512 s = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(acc[r][v]), keep, code, 0xEA));
      st[r].m2 = _mm512_max_ps(st[r].m2, _mm512_min_ps(st[r].m1, s));
      st[r].m1 = _mm512_max_ps(st[r].m1, s);
    }
  }
}

// Row t of a call: x + rows[t]·d, ab[rows[t]], bx[rows[t]] (rows == nullptr: t itself).
inline std::size_t row_of(const std::uint32_t* rows, std::size_t t) { return rows ? rows[t] : t; }

template <int R>
std::size_t rows(const float* x, std::size_t d, const std::uint32_t* ri, std::size_t t0, const float* mu,
                 const std::uint32_t* ab, const float* bx, const std::uint16_t* panels, const float* init,
                 const float* ge, const float* gf, const float* bc, std::size_t nvec, std::int32_t* lab, float* thr,
                 float* s12) {
  const std::size_t dq = (d + 1) / 2 * 2 + 2;
  alignas(64) std::uint16_t xb[R * (detail::kScreenMaxD + 2)];
  float bxr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const std::size_t i = row_of(ri, t0 + std::size_t(r));
    convert(x + i * d, d, mu, ab[i], xb + r * dq);
    bxr[r] = bx[i];
  }
  RowState st[R];
  const __m512 lo = _mm512_set1_ps(-FLT_MAX);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) st[r].m1 = st[r].m2 = lo;
  const std::size_t pstride = dq * kL;
  for (std::size_t v0 = 0; v0 < nvec;) {
    const std::size_t left = nvec - v0;
    const std::uint16_t* pan = panels + v0 * pstride;
    const float* in = init + v0 * kL;
    const auto u0 = static_cast<unsigned>(v0);
    if (left >= 4) {
      group<R, 4>(xb, dq, pan, pstride, in, u0, st);
      v0 += 4;
    } else if (left == 3) {
      group<R, 3>(xb, dq, pan, pstride, in, u0, st);
      v0 += 3;
    } else if (left == 2) {
      group<R, 2>(xb, dq, pan, pstride, in, u0, st);
      v0 += 2;
    } else {
      group<R, 1>(xb, dq, pan, pstride, in, u0, st);
      v0 += 1;
    }
  }
  std::size_t open = 0;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const std::size_t t = t0 + std::size_t(r);
    const float smax = _mm512_reduce_max_ps(st[r].m1);
    const __mmask16 eq = _mm512_cmp_ps_mask(st[r].m1, _mm512_set1_ps(smax), _CMP_EQ_OQ);
    const unsigned lane = unsigned(__builtin_ctz(eq));
    std::uint32_t bits;
    std::memcpy(&bits, &smax, 4);
    const auto j1 = static_cast<std::int32_t>((bits & kCodeMask) * kL + lane);
    // The largest S over j != j1: the other lanes' largest and j1's lane's second.
    const __mmask16 others = static_cast<__mmask16>(~(1u << lane));
    const float s2o = _mm512_mask_reduce_max_ps(others, st[r].m1);
    const float s2l = _mm512_mask_reduce_max_ps(static_cast<__mmask16>(1u << lane), st[r].m2);
    s12[2 * t] = smax;
    s12[2 * t + 1] = s2o > s2l ? s2o : s2l;
    const float th = detail::screen_threshold(
        smax, detail::from_bf16(xb[r * dq + dq - 2]) * ge[j1] + detail::from_bf16(xb[r * dq + dq - 1]) * gf[j1], bc[j1],
        bxr[r]);
    const __m512 tv = _mm512_set1_ps(th);
    const __mmask16 c1 = _mm512_cmp_ps_mask(st[r].m1, tv, _CMP_GE_OQ);
    const __mmask16 c2 = _mm512_cmp_ps_mask(st[r].m2, tv, _CMP_GE_OQ);
    thr[t] = th;
    if (__builtin_popcount(c1) == 1 && c2 == 0) {
      lab[t] = j1;
    } else {
      lab[t] = -1;
      ++open;
    }
  }
  return open;
}

std::size_t screen_k(const float* x, std::size_t d, const std::uint32_t* ri, std::size_t m, const float* mu,
                     const std::uint32_t* ab, const float* bx, const std::uint16_t* panels, const float* init,
                     const float* ge, const float* gf, const float* bc, std::size_t nvec, std::int32_t* lab, float* thr,
                     float* s12, const void* pf, std::size_t pf_bytes) {
  std::size_t open = 0, t = 0;
  // The caller's region, prefetched into L2 a slice per block (spread over the screen's
  // compute; prefetching it in one loop stalled on the memory system).
  const char* pfc = static_cast<const char*>(pf);
  const std::size_t nblk = m / kR + 1, per = ((pf ? pf_bytes : 0) / nblk + 64) & ~std::size_t{63};
  std::size_t pdone = 0;
  // The rows two blocks ahead are prefetched while a block is screened: a block takes
  // ~1.6k cycles of VDPBF16PS at d = 64, K = 256, enough to hide a DRAM miss; without it
  // the conversion's loads stalled for 16 % of the kernel's time.
  const std::size_t bytes = d * sizeof(float);
  for (; t + kR <= m; t += kR) {
    for (std::size_t r = t + 2 * kR; r < t + 3 * kR && r < m; ++r) {
      const char* pr = reinterpret_cast<const char*>(x + row_of(ri, r) * d);
      for (std::size_t o = 0; o < bytes; o += 64) _mm_prefetch(pr + o, _MM_HINT_T0);
    }
    if (pf)
      for (const std::size_t e = std::min(pf_bytes, pdone + per); pdone < e; pdone += 64)
        _mm_prefetch(pfc + pdone, _MM_HINT_T1);
    open += rows<kR>(x, d, ri, t, mu, ab, bx, panels, init, ge, gf, bc, nvec, lab, thr, s12);
  }
  for (; t < m; ++t) open += rows<1>(x, d, ri, t, mu, ab, bx, panels, init, ge, gf, bc, nvec, lab, thr, s12);
  return open;
}

// One row, P panels at a time (P independent accumulation chains), unmodified S.
template <int P>
inline void list_p(const std::uint16_t* xrow, std::size_t nq, const std::uint16_t* pan, std::size_t pstride,
                   const float* init, __m512 (&acc)[P]) {
#pragma GCC unroll 8
  for (int v = 0; v < P; ++v) acc[v] = _mm512_loadu_ps(init + v * kL);
  for (std::size_t p = 0; p < nq; ++p) {
    std::int32_t w;
    std::memcpy(&w, xrow + 2 * p, 4);
    const __m512bh xv = (__m512bh)_mm512_set1_epi32(w);
#pragma GCC unroll 8
    for (int v = 0; v < P; ++v)
      acc[v] = _mm512_dpbf16_ps(acc[v], (__m512bh)_mm512_loadu_si512(static_cast<const void*>(pan + v * pstride + p * 2 * kL)), xv);
  }
}

std::size_t list_k(const float* x, std::size_t d, const float* mu, std::uint32_t ab, const std::uint16_t* panels,
                   const float* init, std::size_t nvec, std::size_t k, float thr, std::int32_t* idx) {
  const std::size_t dq = (d + 1) / 2 * 2 + 2;
  alignas(64) std::uint16_t xrow[detail::kScreenMaxD + 2];
  convert(x, d, mu, ab, xrow);
  const std::size_t pstride = dq * kL, nq = dq / 2;
  const __m512 tv = _mm512_set1_ps(thr);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  std::size_t c = 0;
  auto emit = [&](__m512 s, std::size_t v) {
    const std::size_t base = v * kL;
    __mmask16 mk = _mm512_cmp_ps_mask(s, tv, _CMP_GE_OQ);
    if (base + kL > k) mk &= static_cast<__mmask16>((1u << (k - base)) - 1);
    _mm512_mask_compressstoreu_epi32(idx + c, mk, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(base))));
    c += static_cast<std::size_t>(__builtin_popcount(mk));
  };
  std::size_t v = 0;
  for (; v + 8 <= nvec; v += 8) {
    __m512 acc[8];
    list_p<8>(xrow, nq, panels + v * pstride, pstride, init + v * kL, acc);
    for (int t = 0; t < 8; ++t) emit(acc[t], v + std::size_t(t));
  }
  for (; v < nvec; ++v) {
    __m512 acc[1];
    list_p<1>(xrow, nq, panels + v * pstride, pstride, init + v * kL, acc);
    emit(acc[0], v);
  }
  return c;
}

}  // namespace

const detail::ScreenKernels kScreenKernels = {&screen_k, &list_k};

}  // namespace personakit::avx512
