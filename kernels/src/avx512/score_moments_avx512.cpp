// AVX-512 ScoreKernelTable::moments_given (kernel_table.hpp): pass 1 of the streamed
// scores with given centroids. Per row, 8 features per step widened to fp64: one masked
// load + convert, the cluster's sum read-modify-written (L1: K×d fp64), the difference
// to the centroid squared into one accumulator, then a fixed reduction tree and a
// scalar sqrt. At d = 16: 2 steps per row instead of 16 scalar ones. Rows go to 4
// interleaved accumulation streams (kernel_table.hpp) so a hot cluster's sums do not
// form one store-forwarded chain. (Batching 8 rows' sqrt into one vsqrtpd was tried:
// no measurable gain, the pass is bound by the reader.)
#include <immintrin.h>

#include <cmath>

#include "kernel_table.hpp"
#include "score/moments_streams.hpp"

namespace personakit::avx512 {

void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch) {
  using namespace score_detail;
  moments_clear(scratch, k, d);
  const std::size_t tail = d % 8;
  const __mmask8 tm = static_cast<__mmask8>((1u << tail) - 1u);
  for (std::size_t i = 0; i < m; ++i) {
    if (sl[i] < 0) continue;
    const auto s = static_cast<std::size_t>(sl[i]);
    const float* xi = x + i * d;
    const double* c = cent + s * d;
    double* su = moments_slot(scratch, i & 3, s, k, d);  // [sums, sqg, dist, cnt] of stream i mod 4
    __m512d acc = _mm512_setzero_pd();
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
      const __m512d xv = _mm512_cvtps_pd(_mm256_loadu_ps(xi + j));
      _mm512_storeu_pd(su + j, _mm512_add_pd(_mm512_loadu_pd(su + j), xv));
      const __m512d t = _mm512_sub_pd(xv, _mm512_loadu_pd(c + j));
      acc = _mm512_fmadd_pd(t, t, acc);
    }
    if (tail) {
      const __m512d xv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(tm, xi + j));
      _mm512_mask_storeu_pd(su + j, tm, _mm512_add_pd(_mm512_maskz_loadu_pd(tm, su + j), xv));
      const __m512d t = _mm512_sub_pd(xv, _mm512_maskz_loadu_pd(tm, c + j));  // 0 in masked lanes
      acc = _mm512_fmadd_pd(t, t, acc);
    }
    const double g = _mm512_reduce_add_pd(acc);
    su[d] += g;
    su[d + 1] += std::sqrt(g);
    su[d + 2] += 1;
  }
  moments_merge(scratch, k, d, cnt, sum, sqg, dist);
}

}  // namespace personakit::avx512
