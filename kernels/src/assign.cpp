// Dispatched entry points for the assignment kernels: argument checks, the
// kernel table read once per call, and OpenMP over fixed row blocks. The kernels
// themselves (kernel_table.hpp) are serial; see simd_kernels.inl.
#include <algorithm>
#include <cmath>
#include <string>
#include <cstdint>
#include <cstring>
#include <limits>

#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "kernel_table.hpp"

#include <omp.h>

namespace personakit {

void PackedCentroids::pack(const float* c, std::size_t k, std::size_t d) {
  if (k == 0 || d == 0) throw Error("PackedCentroids: k and d must be at least 1");
  k_ = k; d_ = d;
  const std::size_t np = panels();
  data_.assign(np * d * kPanel + 16, 0.0f);
  const auto addr = reinterpret_cast<std::uintptr_t>(data_.data());
  pad_ = ((64 - addr % 64) % 64) / sizeof(float);
  float* base = data_.data() + pad_;
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t p = j / kPanel, q = j % kPanel;
    for (std::size_t f = 0; f < d; ++f) base[p * d * kPanel + f * kPanel + q] = c[j * d + f];
  }
  norms_.assign(np * kPanel, std::numeric_limits<float>::infinity());
  for (std::size_t j = 0; j < k; ++j) norms_[j] = sqnorm_canonical(c + j * d, d);
  rows_.assign(c, c + k * d);
}

namespace {

// Below this many rows a call runs on the calling thread alone.
constexpr std::size_t kMinParallelRows = 2048;

// Runs f(i0, i1) over [0, n): from serial code, each OpenMP thread takes one
// contiguous slice (a multiple of 64 rows), so each kernel call streams one long
// range and its software prefetch stays ahead; from inside an OpenMP region (the
// Lloyd engine calls us per 4096-row chunk from its own parallel loop) serially.
// Rows are independent, so the split never changes a result.
template <class Fn>
void over_rows(std::size_t n, Fn&& f) {
  if (n < kMinParallelRows || omp_in_parallel() || omp_get_max_threads() == 1) {
    if (n) f(std::size_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const auto nt = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t per = ((n + nt - 1) / nt + 63) / 64 * 64;
    const std::size_t i0 = std::min(n, t * per), i1 = std::min(n, i0 + per);
    if (i0 < i1) f(i0, i1);
  }
}

void check_d(const char* what, std::size_t d, const PackedCentroids& c) {
  if (c.k() == 0) throw Error(std::string(what) + ": centroids are empty (pack them first)");
  if (d != c.d())
    throw Error(std::string(what) + ": data has d = " + std::to_string(d) + " but centroids have d = " +
                std::to_string(c.d()));
}

}  // namespace

void row_norms(const float* x, std::size_t n, std::size_t d, float* out) {
  const auto& kt = detail::kernel_table();
  over_rows(n, [&](std::size_t i0, std::size_t i1) { kt.row_norms(x + i0 * d, i1 - i0, d, out + i0); });
}

void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                    const PackedCentroids& c, std::int32_t* labels, float* dist) {
  check_d("assign_nearest", d, c);
  const auto& kt = detail::kernel_table();
  over_rows(n, [&](std::size_t i0, std::size_t i1) {
    kt.nearest(x + i0 * d, i1 - i0, d, xnorm ? xnorm + i0 : nullptr, c, labels + i0,
               dist ? dist + i0 : nullptr);
  });
}

void assign_nearest2(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                     const PackedCentroids& c, std::int32_t* labels, float* dist,
                     std::int32_t* label2, float* dist2) {
  check_d("assign_nearest2", d, c);
  const auto& kt = detail::kernel_table();
  over_rows(n, [&](std::size_t i0, std::size_t i1) {
    kt.nearest2(x + i0 * d, i1 - i0, d, xnorm ? xnorm + i0 : nullptr, c, labels + i0,
                dist ? dist + i0 : nullptr, label2 + i0, dist2 ? dist2 + i0 : nullptr);
  });
}

void sqdist_rows(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                 const PackedCentroids& c, float* out, std::size_t ldo) {
  check_d("sqdist_rows", d, c);
  if (ldo < c.k()) throw Error("sqdist_rows: ldo must be at least k");
  const auto& kt = detail::kernel_table();
  const std::size_t np = c.panels();
  over_rows(n, [&](std::size_t i0, std::size_t i1) {
    kt.sqdist_panels(x + i0 * d, i1 - i0, d, xnorm ? xnorm + i0 : nullptr, c, 0, np, out + i0 * ldo, ldo);
  });
}

void accumulate_sums(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                     const float* weights, double* sums, double* counts) {
  detail::kernel_table().accumulate(x, n, d, labels, weights, sums, counts);
}

}  // namespace personakit
