// AVX2 ScoreKernelTable::moments_given (kernel_table.hpp): the AVX-512 scheme with 4
// fp64 lanes, two accumulators (alternate steps) to halve the FMA chain per row.
#include <immintrin.h>

#include <cmath>

#include "kernel_table.hpp"
#include "score/moments_streams.hpp"

namespace personakit::avx2 {

void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch) {
  using namespace score_detail;
  moments_clear(scratch, k, d);
  const std::size_t tail = d % 4;
  const __m128i tm32 = _mm_setr_epi32(tail > 0 ? -1 : 0, tail > 1 ? -1 : 0, tail > 2 ? -1 : 0, 0);
  const __m256i tm64 = _mm256_cvtepi32_epi64(tm32);
  for (std::size_t i = 0; i < m; ++i) {
    if (sl[i] < 0) continue;
    const auto s = static_cast<std::size_t>(sl[i]);
    const float* xi = x + i * d;
    const double* c = cent + s * d;
    double* su = moments_slot(scratch, i & 3, s, k, d);  // [sums, sqg, dist, cnt] of stream i mod 4
    __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    std::size_t j = 0;
    int q = 0;
    for (; j + 4 <= d; j += 4, q ^= 1) {
      const __m256d xv = _mm256_cvtps_pd(_mm_loadu_ps(xi + j));
      _mm256_storeu_pd(su + j, _mm256_add_pd(_mm256_loadu_pd(su + j), xv));
      const __m256d t = _mm256_sub_pd(xv, _mm256_loadu_pd(c + j));
      acc[q] = _mm256_fmadd_pd(t, t, acc[q]);
    }
    if (tail) {
      const __m256d xv = _mm256_cvtps_pd(_mm_maskload_ps(xi + j, tm32));
      _mm256_maskstore_pd(su + j, tm64, _mm256_add_pd(_mm256_maskload_pd(su + j, tm64), xv));
      const __m256d t = _mm256_sub_pd(xv, _mm256_maskload_pd(c + j, tm64));  // 0 in masked lanes
      acc[q] = _mm256_fmadd_pd(t, t, acc[q]);
    }
    const __m256d a = _mm256_add_pd(acc[0], acc[1]);
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    const double g = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    su[d] += g;
    su[d + 1] += std::sqrt(g);
    su[d + 2] += 1;
  }
  moments_merge(scratch, k, d, cnt, sum, sqg, dist);
}

}  // namespace personakit::avx2
