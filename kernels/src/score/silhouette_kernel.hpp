// Internal: the layout shared by the exact silhouette (score/silhouette.cpp) and its
// fused distance → sqrt → sum kernels (ScoreKernelTable::silhouette_tile in
// kernel_table.hpp: ref/silhouette_ref.cpp, avx2/silhouette_avx2.cpp,
// avx512/silhouette_avx512.cpp).
#pragma once
#include <cstddef>

namespace personakit::score_detail {

// Columns (points, sorted by cluster, cut into chunks inside one cluster) packed as
// panels of 16: panel p holds d rows of 16 floats (feature-major), so one vector load
// gives one feature of 16 (AVX-512) or 8 (AVX2, two loads per panel) points.
constexpr std::size_t kSilPanel = 16;

}  // namespace personakit::score_detail
