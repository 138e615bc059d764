// Internal: the fused distance → sqrt → sum kernel of the exact silhouette.
#pragma once
#include <cstddef>

namespace personakit::score_detail {

// Columns (points, sorted by cluster, cut into chunks inside one cluster) packed as
// panels of 16: panel p holds d rows of 16 floats (feature-major), so one vector load
// gives one feature of 16 points.
constexpr std::size_t kSilPanel = 16;

namespace avx512 {
// One tile of the symmetric all-pairs pass: nr rows (xr: nr×d row-major, xn: their
// canonical norms) against the valid columns of np consecutive panels (cn: np×16
// norms; the last panel has `last_valid` = 1..16 valid lanes). With e = sqrt(canonical
// sqdist):
//   rowsum[r] += sum over columns of e            (nr fp64)
//   colsum[c] += sum over rows of e               (np×16 fp64; skipped when nullptr)
// fp32 partial sums hold at most 16 terms per lane before they are widened to fp64.
// scratch: np×16 floats, 64-byte aligned. Single-threaded; allocates nothing.
void silhouette_tile(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels,
                     const float* cn, std::size_t np, unsigned last_valid, double* rowsum, double* colsum,
                     float* scratch);
}  // namespace avx512

}  // namespace personakit::score_detail
