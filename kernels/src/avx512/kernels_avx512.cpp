// AVX-512 kernels (built with -mavx512f,bw,dq,vl). The bodies live in
// ../simd_kernels.inl; this file gives the 16-lane vector traits and the register
// blocks, chosen by measurement (docs/kernels/assign.md).
// assign_nearest, d <= 64: rows in lanes, 2 tiles of 16 rows × 8 broadcast centroids
//   = 16 accumulators; per j 2 loads + 8 broadcasts for 16 FMAs; no horizontal argmin.
// Otherwise (d > 64, nearest2, distances, dots): centroids in lanes,
//   k <= 16 centroids (1 vector):  8 rows × 1 zmm   (8 accumulators = 4-cycle FMA latency × 2 pipes)
//   k <= 32 (2 vectors):           6 rows × 2 zmm   (12 accumulators)
//   k  > 32:                       4 rows × 4 zmm   (16 accumulators, a 64-centroid panel per pass)
// Per j the 4×4 block issues 4 aligned panel loads + 4 embedded broadcasts for
// 16 FMAs (0.5 loads per FMA, 8 B of L1 traffic per 32 flops).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kernel_table.hpp"

namespace personakit::avx512 {
namespace {

struct S {
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr int WD = 8;
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_load_ps(p); }
  static F loadu(const float* p) { return _mm512_loadu_ps(p); }
  static F loadu_n(const float* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p);
  }
  static void storeiu(std::int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  // In-register 16×16 transpose: r[i] = row i in, r[j] = column j out. 64 shuffles.
  static void transpose(F (&r)[16]) {
    F a[16], b[16];
    for (int i = 0; i < 8; ++i) {
      a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
      const __m512d a0 = _mm512_castps_pd(a[4 * i]), a1 = _mm512_castps_pd(a[4 * i + 1]);
      const __m512d a2 = _mm512_castps_pd(a[4 * i + 2]), a3 = _mm512_castps_pd(a[4 * i + 3]);
      b[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
      b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
      b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
      b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    // b[4i+c], 128-bit lane L = rows 4i..4i+3 of column 4L+c.
    for (int c = 0; c < 4; ++c) {
      const F e0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x88), e1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xdd);
      const F f0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x88), f1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xdd);
      r[c] = _mm512_shuffle_f32x4(e0, f0, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(e0, f0, 0xdd);
      r[4 + c] = _mm512_shuffle_f32x4(e1, f1, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(e1, f1, 0xdd);
    }
  }
  static void store(float* p, F v) { _mm512_store_ps(p, v); }
  static void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store_partial(float* p, F v, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
  }
  static void storei(std::int32_t* p, I v) { _mm512_store_si512(p, v); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  // MAXPS returns its second operand when either is NaN: max(0, NaN) = NaN and
  // max(0, -0) = -0, exactly the reference's `v < 0 ? 0 : v`.
  static F max0(F a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static bool any_negative(F a) { return _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_LT_OQ) != 0; }
  static F sel(M m, F t, F f) { return _mm512_mask_blend_ps(m, f, t); }
  static I seli(M m, I t, I f) { return _mm512_mask_blend_epi32(m, f, t); }
  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static I set1i(int v) { return _mm512_set1_epi32(v); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  // Minimum value, then the lowest index among the lanes that hold it.
  static void argmin(F b, I idx, float* v, std::int32_t* l) {
    const float m = _mm512_reduce_min_ps(b);
    const M eq = _mm512_cmp_ps_mask(b, _mm512_set1_ps(m), _CMP_EQ_OQ);
    *v = m;
    *l = eq ? _mm512_mask_reduce_min_epi32(eq, idx) : 0;
  }
  // Lanes holding exactly (v, a).
  static M same(F b, I idx, float v, std::int32_t a) {
    return _mm512_cmp_ps_mask(b, _mm512_set1_ps(v), _CMP_EQ_OQ) &
           _mm512_cmpeq_epi32_mask(idx, _mm512_set1_epi32(a));
  }
  // fp64 (accumulate_sums)
  using D = __m512d;
  static D set1d(double v) { return _mm512_set1_pd(v); }
  static D loadd(const double* p) { return _mm512_loadu_pd(p); }
  static void stored(double* p, D v) { _mm512_storeu_pd(p, v); }
  static D addd(D a, D b) { return _mm512_add_pd(a, b); }
  static D muld(D a, D b) { return _mm512_mul_pd(a, b); }
  static D cvt(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
};

constexpr int kRows1 = 8;
constexpr int kRows2 = 6;
constexpr int kRowsN = 4;
constexpr int kVecN = 4;
constexpr int kRows2nd = 4;
constexpr int kRowsSt = 4;
constexpr int kTTiles = 2;    // rows-in-lanes: 2 × 16 rows ...
constexpr int kTCents = 8;    // ... × 8 centroids = 16 accumulators
constexpr std::size_t kTMaxK = std::size_t(1) << 40;  // rows-in-lanes for any k ...
constexpr std::size_t kTAutoMaxD = 64;               // ... while d <= 64 (measured; docs/kernels/assign.md)
constexpr Isa kIsa = Isa::avx512;

#include "simd_kernels.inl"

}  // namespace

const detail::KernelTable kTable = {
    kIsa,          &row_norms_k,  &nearest_k,  &nearest2_k, &sqdist_panels_k,
    &dot_panels_k, &accumulate_k, &fma_spin_k, &read_sum_k,
};

}  // namespace personakit::avx512
