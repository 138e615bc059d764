// Internal: the 4-stream layout of ScoreKernelTable::moments_given's scratch (see
// kernel_table.hpp), shared by the per-ISA kernels. Header-only and ISA-neutral: plain
// scalar code, inline in an unnamed namespace so each ISA's copy stays its own.
#pragma once
#include <algorithm>
#include <cstddef>

namespace personakit::score_detail {
namespace {

// Stream q, cluster s: scratch + (q·k + s)·(d + 3) holds [sum_0 .. sum_{d-1}, sqg, dist, cnt].
inline double* moments_slot(double* scratch, std::size_t q, std::size_t s, std::size_t k, std::size_t d) {
  return scratch + (q * k + s) * (d + 3);
}

inline void moments_clear(double* scratch, std::size_t k, std::size_t d) {
  std::fill(scratch, scratch + 4 * k * (d + 3), 0.0);
}

// Adds the 4 streams, (0+1)+(2+3), into the caller's arrays.
inline void moments_merge(const double* scratch, std::size_t k, std::size_t d, double* cnt, double* sum, double* sqg,
                          double* dist) {
  const std::size_t w = d + 3, qs = k * w;
  for (std::size_t s = 0; s < k; ++s) {
    const double* a = scratch + s * w;
    auto add = [&](std::size_t t) { return (a[t] + a[qs + t]) + (a[2 * qs + t] + a[3 * qs + t]); };
    for (std::size_t j = 0; j < d; ++j) sum[s * d + j] += add(j);
    sqg[s] += add(d);
    dist[s] += add(d + 1);
    cnt[s] += add(d + 2);
  }
}

}  // namespace
}  // namespace personakit::score_detail
