// AVX2 + FMA kernels (built with -mavx2 -mfma). The bodies live in
// ../simd_kernels.inl; this file gives the 8-lane vector traits and the register
// blocks (16 ymm registers, so blocks are smaller than AVX-512's):
//   k <= 8 centroids (1 vector):  6 rows × 1 ymm
//   k <= 16 (2 vectors):          4 rows × 2 ymm   (8 accumulators = FMA latency 4 × 2 pipes)
//   k  > 16:                      3 rows × 4 ymm   (12 accumulators + 4 centroid vectors)
#include <immintrin.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kernel_table.hpp"

namespace personakit::avx2 {
namespace {

struct S {
  using F = __m256;
  using I = __m256i;
  using M = __m256;  // all-ones lanes where true
  static constexpr int W = 8;
  static constexpr int WD = 4;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_load_ps(p); }
  static F loadu(const float* p) { return _mm256_loadu_ps(p); }
  static F loadu_n(const float* p, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
  }
  static void storeiu(std::int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // In-register 8×8 transpose: r[i] = row i in, r[j] = column j out. 24 shuffles.
  static void transpose(F (&r)[8]) {
    F a[8], b[8];
    for (int i = 0; i < 4; ++i) {
      a[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      a[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      const __m256d a0 = _mm256_castps_pd(a[4 * i]), a1 = _mm256_castps_pd(a[4 * i + 1]);
      const __m256d a2 = _mm256_castps_pd(a[4 * i + 2]), a3 = _mm256_castps_pd(a[4 * i + 3]);
      b[4 * i + 0] = _mm256_castpd_ps(_mm256_unpacklo_pd(a0, a2));
      b[4 * i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a0, a2));
      b[4 * i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(a1, a3));
      b[4 * i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(a1, a3));
    }
    // b[4i+c], 128-bit lane L = rows 4i..4i+3 of column 4L+c.
    for (int c = 0; c < 4; ++c) {
      r[c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x20);
      r[4 + c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x31);
    }
  }
  static void store(float* p, F v) { _mm256_store_ps(p, v); }
  static void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, F v, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), v);
  }
  static void storei(std::int32_t* p, I v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  // MAXPS returns its second operand when either is NaN: max(0, NaN) = NaN and
  // max(0, -0) = -0, exactly the reference's `v < 0 ? 0 : v`.
  static F max0(F a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static bool any_negative(F a) { return _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_LT_OQ)) != 0; }
  static F sel(M m, F t, F f) { return _mm256_blendv_ps(f, t, m); }
  static I seli(M m, I t, I f) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(f), _mm256_castsi256_ps(t), m));
  }
  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I set1i(int v) { return _mm256_set1_epi32(v); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  // Minimum value, then the lowest index among the lanes that hold it.
  static void argmin(F b, I idx, float* v, std::int32_t* l) {
    F t = _mm256_min_ps(b, _mm256_permute2f128_ps(b, b, 1));
    t = _mm256_min_ps(t, _mm256_shuffle_ps(t, t, 0x4e));
    t = _mm256_min_ps(t, _mm256_shuffle_ps(t, t, 0xb1));
    const __m256 eq = _mm256_cmp_ps(b, t, _CMP_EQ_OQ);
    __m256i c = seli(eq, idx, _mm256_set1_epi32(INT_MAX));
    c = _mm256_min_epi32(c, _mm256_permute2x128_si256(c, c, 1));
    c = _mm256_min_epi32(c, _mm256_shuffle_epi32(c, 0x4e));
    c = _mm256_min_epi32(c, _mm256_shuffle_epi32(c, 0xb1));
    *v = _mm256_cvtss_f32(t);
    const int r = _mm256_cvtsi256_si32(c);
    *l = r == INT_MAX ? 0 : r;
  }
  // Lanes holding exactly (v, a).
  static M same(F b, I idx, float v, std::int32_t a) {
    return _mm256_and_ps(_mm256_cmp_ps(b, _mm256_set1_ps(v), _CMP_EQ_OQ),
                         _mm256_castsi256_ps(_mm256_cmpeq_epi32(idx, _mm256_set1_epi32(a))));
  }
  // fp64 (accumulate_sums)
  using D = __m256d;
  static D set1d(double v) { return _mm256_set1_pd(v); }
  static D loadd(const double* p) { return _mm256_loadu_pd(p); }
  static void stored(double* p, D v) { _mm256_storeu_pd(p, v); }
  static D addd(D a, D b) { return _mm256_add_pd(a, b); }
  static D muld(D a, D b) { return _mm256_mul_pd(a, b); }
  static D cvt(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
};

constexpr int kRows1 = 6;
constexpr int kRows2 = 4;
constexpr int kRowsN = 3;
constexpr int kVecN = 4;
constexpr int kRows2nd = 2;
constexpr int kRowsSt = 4;
constexpr int kTTiles = 1;    // rows-in-lanes: 8 rows ...
constexpr int kTCents = 8;    // ... × 8 centroids = 8 accumulators (16 ymm in all)
constexpr std::size_t kTMaxK = 0;    // centroids-in-lanes measured faster for every k on AVX2
constexpr std::size_t kTAutoMaxD = 0;
constexpr Isa kIsa = Isa::avx2;

#include "simd_kernels.inl"

}  // namespace

const detail::KernelTable kTable = {
    kIsa,          &row_norms_k,  &nearest_k,  &nearest2_k, &sqdist_panels_k,
    &dot_panels_k, &accumulate_k, &fma_spin_k, &read_sum_k,
};

}  // namespace personakit::avx2
