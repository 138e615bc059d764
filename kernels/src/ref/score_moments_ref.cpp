// Scalar reference of ScoreKernelTable::moments_given (kernel_table.hpp): pass 1 of the
// streamed scores with given centroids, one sweep per row, fp64, 4 interleaved streams.
#include <cmath>

#include "kernel_table.hpp"
#include "score/moments_streams.hpp"

namespace personakit::scalar {

void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch) {
  using namespace score_detail;
  moments_clear(scratch, k, d);
  for (std::size_t i = 0; i < m; ++i) {
    if (sl[i] < 0) continue;
    const auto s = static_cast<std::size_t>(sl[i]);
    const float* xi = x + i * d;
    const double* c = cent + s * d;
    double* a = moments_slot(scratch, i & 3, s, k, d);
    // Four partial sums (j mod 4), added as (0+1)+(2+3): four add chains instead of one.
    double p[4] = {0, 0, 0, 0};
    for (std::size_t j = 0; j < d; ++j) {
      a[j] += xi[j];
      const double t = double(xi[j]) - c[j];
      p[j % 4] += t * t;
    }
    const double g = (p[0] + p[1]) + (p[2] + p[3]);
    a[d] += g;
    a[d + 1] += std::sqrt(g);
    a[d + 2] += 1;
  }
  moments_merge(scratch, k, d, cnt, sum, sqg, dist);
}

}  // namespace personakit::scalar
