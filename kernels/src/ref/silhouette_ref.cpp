// Scalar reference of the exact silhouette's fused tile (ScoreKernelTable in
// kernel_table.hpp): plain loops, the canonical distance, fp64 sums. Clear, not fast.
#include <cmath>

#include "kernel_table.hpp"
#include "score/silhouette_kernel.hpp"

namespace personakit::scalar {
namespace {

using score_detail::kSilPanel;

void silhouette_tile_ref(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels,
                         const float* cn, std::size_t np, unsigned last_valid, double* rowsum, double* colsum,
                         float* /*scratch*/) {
  for (std::size_t r = 0; r < nr; ++r) {
    const float* x = xr + r * d;
    double acc = 0;
    for (std::size_t p = 0; p < np; ++p) {
      const float* P = panels + p * d * kSilPanel;
      const std::size_t valid = p + 1 == np ? last_valid : kSilPanel;
      for (std::size_t lane = 0; lane < valid; ++lane) {
        float dot = 0.0f;  // canonical: fp32 FMAs, j ascending, from 0
        for (std::size_t j = 0; j < d; ++j) dot = std::fma(x[j], P[j * kSilPanel + lane], dot);
        const float sq = std::fmax(0.0f, std::fma(-2.0f, dot, xn[r] + cn[p * kSilPanel + lane]));
        const double e = std::sqrt(sq);  // fp32 sqrt, correctly rounded, then widened
        acc += e;
        if (colsum) colsum[p * kSilPanel + lane] += e;
      }
    }
    rowsum[r] += acc;
  }
}

}  // namespace

const detail::ScoreKernelTable kScoreTable = {Isa::scalar, &silhouette_tile_ref, &moments_given};

}  // namespace personakit::scalar
